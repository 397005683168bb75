package sqlcoord

import "github.com/tandem-stream/tandem/internal/sqldb"

// dialect adds to sqldb.Dialect the statements whose syntax differs between
// the databases (upserts). Queries use sqldb's markers: {p} is the table
// prefix and {now} the store clock in Unix milliseconds.
type dialect struct {
	*sqldb.Dialect
	// upsertMember is the tail of the member INSERT that updates an
	// existing row.
	upsertMember string
	insertLease  string
	// upsertApp is the tail of the app INSERT that replaces an existing
	// app (or its tombstone) and counts the version up.
	upsertApp string
}

var (
	sqliteDialect = &dialect{
		Dialect: sqldb.SQLite,
		upsertMember: `ON CONFLICT (grp, node) DO UPDATE SET api_addr = excluded.api_addr,
			repl_addr = excluded.repl_addr, data_addr = excluded.data_addr, started_ms = excluded.started_ms,
			in_sync = excluded.in_sync, seen_ms = excluded.seen_ms, live_until_ms = excluded.live_until_ms`,
		insertLease: `INSERT INTO {p}lease (grp, holder, epoch, expiry_ms) VALUES (?, '', 0, 0) ON CONFLICT (grp) DO NOTHING`,
		upsertApp: `ON CONFLICT (grp, app) DO UPDATE SET app_text = excluded.app_text, app_hash = excluded.app_hash,
			version = {p}apps.version + 1, deleted = 0, updated_ms = excluded.updated_ms`,
	}
	postgresDialect = &dialect{
		Dialect:      sqldb.Postgres,
		upsertMember: sqliteDialect.upsertMember,
		insertLease:  sqliteDialect.insertLease,
		upsertApp:    sqliteDialect.upsertApp,
	}
	mysqlDialect = &dialect{
		Dialect: sqldb.MySQL,
		upsertMember: `ON DUPLICATE KEY UPDATE api_addr = VALUES(api_addr), repl_addr = VALUES(repl_addr),
			data_addr = VALUES(data_addr), started_ms = VALUES(started_ms), in_sync = VALUES(in_sync),
			seen_ms = VALUES(seen_ms), live_until_ms = VALUES(live_until_ms)`,
		insertLease: `INSERT INTO {p}lease (grp, holder, epoch, expiry_ms) VALUES (?, '', 0, 0) ON DUPLICATE KEY UPDATE grp = grp`,
		// MySQL evaluates the assignments left to right, each seeing the
		// values already assigned; none of these reads another column.
		upsertApp: `ON DUPLICATE KEY UPDATE app_text = VALUES(app_text), app_hash = VALUES(app_hash),
			version = version + 1, deleted = 0, updated_ms = VALUES(updated_ms)`,
	}
)

// query expands the markers of q for d with table prefix p.
func (d *dialect) query(p, q string) string { return d.Expand(p, q) }
