package sqlcoord

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between the SQL backends. Every query is
// written once with ? placeholders and {p} (table prefix) and {now} (the
// store clock in Unix milliseconds) markers, then expanded per dialect.
type dialect struct {
	name string
	// now is an SQL expression for the store clock in milliseconds since the
	// Unix epoch, evaluated by the database so that every node reads the
	// same clock.
	now string
	// key is the column type of ids. MySQL gets VARBINARY because its
	// VARCHAR comparisons ignore case and trailing spaces, and node "a" must
	// never be holder "A".
	key, text string
	dollar    bool   // PostgreSQL numbers its placeholders: $1, $2, ...
	forUpdate string // row lock suffix for SELECT; "" where the transaction already is exclusive
	tableOpts string
	// upsertMember is the tail of the member INSERT that updates an existing
	// row.
	upsertMember string
	insertLease  string
	txOpts       *sql.TxOptions
}

var (
	sqliteDialect = &dialect{
		name: "sqlite",
		// 'now' is read once per statement step; rounding avoids losing a
		// millisecond to the float representation.
		now:  "CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)",
		key:  "TEXT",
		text: "TEXT",
		upsertMember: `ON CONFLICT (grp, node) DO UPDATE SET api_addr = excluded.api_addr,
			repl_addr = excluded.repl_addr, data_addr = excluded.data_addr, started_ms = excluded.started_ms,
			apps_digest = excluded.apps_digest, seen_ms = excluded.seen_ms, live_until_ms = excluded.live_until_ms`,
		insertLease: `INSERT INTO {p}lease (grp, holder, epoch, expiry_ms) VALUES (?, '', 0, 0) ON CONFLICT (grp) DO NOTHING`,
		// Transactions are BEGIN IMMEDIATE (see sqliteDSN): the write lock
		// is taken up front, so there is no read-to-write upgrade that
		// busy_timeout cannot resolve.
	}
	postgresDialect = &dialect{
		name: "postgres",
		// clock_timestamp, not now(): now() is frozen at transaction start,
		// which may be long before a lock wait ends.
		now:          "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)",
		key:          "VARCHAR(200)",
		text:         "VARCHAR(255)",
		dollar:       true,
		forUpdate:    " FOR UPDATE",
		upsertMember: sqliteDialect.upsertMember,
		insertLease:  sqliteDialect.insertLease,
		txOpts:       &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
	mysqlDialect = &dialect{
		name: "mysql",
		// The session time zone is pinned to UTC (see openMySQL), so the
		// conversion is exact even across daylight saving changes.
		now:       "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
		key:       "VARBINARY(200)",
		text:      "VARBINARY(255)",
		forUpdate: " FOR UPDATE",
		tableOpts: " ENGINE=InnoDB",
		upsertMember: `ON DUPLICATE KEY UPDATE api_addr = VALUES(api_addr), repl_addr = VALUES(repl_addr),
			data_addr = VALUES(data_addr), started_ms = VALUES(started_ms), apps_digest = VALUES(apps_digest),
			seen_ms = VALUES(seen_ms), live_until_ms = VALUES(live_until_ms)`,
		insertLease: `INSERT INTO {p}lease (grp, holder, epoch, expiry_ms) VALUES (?, '', 0, 0) ON DUPLICATE KEY UPDATE grp = grp`,
		// Read committed: the member count after the group lock must see
		// rows committed while we waited, not a snapshot from before.
		txOpts: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
)

// query expands the markers of q for d with table prefix p.
func (d *dialect) query(p, q string) string {
	q = strings.NewReplacer("{p}", p, "{now}", d.now, "{key}", d.key, "{text}", d.text, "{forupdate}", d.forUpdate).Replace(q)
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,39}$`)

// checkPrefix rejects table prefixes that are not plain identifiers: they
// are pasted into SQL text.
func checkPrefix(p string) error {
	if !prefixRE.MatchString(p) {
		return fmt.Errorf("invalid table prefix %q: want a letter or _ followed by up to 39 letters, digits or _", p)
	}
	return nil
}

func openSQLite(ctx context.Context, path string, busy time.Duration) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("empty SQLite path")
	}
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("SQLite path %q: must be a plain file path without '?' or a file: prefix", path)
	}
	// busy_timeout makes a process wait for the other's short write
	// transaction instead of failing; synchronous FULL because an epoch
	// must never go backwards, not even after a power loss.
	dsn := path + "?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection per handle: the process serialises its own calls and
	// only waits on the other process.
	db.SetMaxOpenConns(1)
	if err := setWAL(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("SQLite database %q: %w", path, err)
	}
	return db, nil
}

// setWAL switches the database file to WAL mode, which lets readers run
// beside a writer. The mode is stored in the file, so only the first opener
// really switches; but two processes opening a new file at once can
// deadlock inside the switch, where SQLite answers SQLITE_BUSY at once or
// only after the whole busy timeout. So the switch runs with a short busy
// timeout and is retried until ctx ends.
func setWAL(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var restore int64
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&restore); err != nil {
		return fmt.Errorf("read busy_timeout: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 20"); err != nil {
		return fmt.Errorf("set busy_timeout: %w", err)
	}
	delay := time.Millisecond
	for {
		var mode string
		err = conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %q: WAL is not available", mode)
			}
			break
		}
		var serr *sqlite.Error
		if !errors.As(err, &serr) || (serr.Code()&0xff != sqlite3.SQLITE_BUSY && serr.Code()&0xff != sqlite3.SQLITE_LOCKED) {
			return fmt.Errorf("set WAL mode: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("set WAL mode: %w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(restore, 10)); err != nil {
		return fmt.Errorf("set busy_timeout: %w", err)
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openMySQL(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse MySQL DSN: %w", err)
	}
	// Renew and Release read "rows affected" as "rows matched"; by default
	// MySQL counts only rows whose values changed, which a renewal within
	// the same millisecond would not.
	cfg.ClientFoundRows = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("MySQL connector: %w", err)
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
