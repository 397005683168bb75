package sqlstore

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

// dialect holds what differs between the SQL backends. Queries are written
// once with ? placeholders and {p} for the table prefix.
//
// The connection helpers repeat those of cluster/coord/sqlcoord; both would
// belong in a shared internal package.
type dialect struct {
	name string
	// key is the column type of app names. MySQL gets VARBINARY because its
	// VARCHAR comparisons ignore case and trailing spaces, and app "a" must
	// never be app "A".
	key, text, blob string
	dollar          bool // PostgreSQL numbers its placeholders
	tableOpts       string
	// lockApp inserts or touches the app's row, which locks it until the
	// transaction ends: saves of one app are serialised across processes.
	lockApp string
	txOpts  *sql.TxOptions
}

var (
	sqliteDialect = &dialect{
		name:    "sqlite",
		key:     "TEXT",
		text:    "TEXT",
		blob:    "BLOB",
		lockApp: `INSERT INTO {p}ckpt_apps (app) VALUES (?) ON CONFLICT (app) DO UPDATE SET app = excluded.app`,
		// Transactions are BEGIN IMMEDIATE (see openSQLite), which already
		// serialises writers.
	}
	postgresDialect = &dialect{
		name:    "postgres",
		key:     "VARCHAR(200)",
		text:    "VARCHAR(255)",
		blob:    "BYTEA",
		dollar:  true,
		lockApp: sqliteDialect.lockApp,
		txOpts:  &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
	mysqlDialect = &dialect{
		name:      "mysql",
		key:       "VARBINARY(200)",
		text:      "VARBINARY(255)",
		blob:      "LONGBLOB",
		tableOpts: " ENGINE=InnoDB",
		// ON DUPLICATE KEY takes the row's exclusive lock at once; INSERT
		// IGNORE followed by a locking read would take a shared lock first
		// and deadlock two savers upgrading it.
		lockApp: `INSERT INTO {p}ckpt_apps (app) VALUES (?) ON DUPLICATE KEY UPDATE app = VALUES(app)`,
		// Read committed: the manifests read after the app lock must include
		// those committed while we waited.
		txOpts: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
)

// query expands the markers of q for d with table prefix p.
func (d *dialect) query(p, q string) string {
	q = strings.NewReplacer("{p}", p, "{key}", d.key, "{text}", d.text, "{blob}", d.blob).Replace(q)
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
	// busy_timeout makes a process wait for another's short write
	// transaction instead of failing; synchronous FULL because a saved
	// checkpoint must survive a power loss.
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
