package sqlstore

import "github.com/tandem-stream/tandem/internal/sqldb"

// dialect adds to sqldb.Dialect the statement whose syntax differs between
// the databases. Queries use sqldb's markers, {p} for the table prefix.
type dialect struct {
	*sqldb.Dialect
	// lockApp inserts or touches the app's row, which locks it until the
	// transaction ends: saves of one app are serialised across processes.
	lockApp string
}

var (
	sqliteDialect = &dialect{
		Dialect: sqldb.SQLite,
		lockApp: `INSERT INTO {p}ckpt_apps (app) VALUES (?) ON CONFLICT (app) DO UPDATE SET app = excluded.app`,
	}
	postgresDialect = &dialect{
		Dialect: sqldb.Postgres,
		lockApp: sqliteDialect.lockApp,
	}
	mysqlDialect = &dialect{
		Dialect: sqldb.MySQL,
		// ON DUPLICATE KEY takes the row's exclusive lock at once; INSERT
		// IGNORE followed by a locking read would take a shared lock first
		// and deadlock two savers upgrading it.
		lockApp: `INSERT INTO {p}ckpt_apps (app) VALUES (?) ON DUPLICATE KEY UPDATE app = VALUES(app)`,
	}
)

// query expands the markers of q for d with table prefix p.
func (d *dialect) query(p, q string) string { return d.Expand(p, q) }
