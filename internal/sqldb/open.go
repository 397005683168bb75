package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultBusyTimeout is how long an SQLite call waits for another process's
// write transaction when OpenSQLite is given no timeout.
const DefaultBusyTimeout = 5 * time.Second

// OpenSQLite opens (creating if needed) the SQLite database file at path in
// WAL mode, for several processes on one machine. A call waits up to busy
// (DefaultBusyTimeout if not positive) for another process's write
// transaction. Write transactions are BEGIN IMMEDIATE.
func OpenSQLite(ctx context.Context, path string, busy time.Duration) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("empty SQLite path")
	}
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("SQLite path %q: must be a plain file path without '?' or a file: prefix", path)
	}
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	// busy_timeout makes a process wait for the other's short write
	// transaction instead of failing; synchronous FULL because what the
	// stores keep (epochs, checkpoints) must survive a power loss.
	dsn := path + "?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection per handle: the process serialises its own calls and
	// only waits on other processes.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(time.Minute)
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
		if !IsBusy(err) {
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

// IsBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED:
// another connection holds a lock we need.
func IsBusy(err error) bool {
	var serr *sqlite.Error
	if !errors.As(err, &serr) {
		return false
	}
	code := serr.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// OpenPostgres connects to PostgreSQL with dsn, a URL or key=value string
// as accepted by pgx, and checks the connection.
func OpenPostgres(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenMySQL connects to MySQL or MariaDB with dsn in go-sql-driver/mysql
// syntax (e.g. "root@tcp(127.0.0.1:3306)/test") and checks the connection.
//
// Two settings are forced, whatever the DSN says: "rows affected" counts
// the rows matched, not only those whose values changed (a conditional
// UPDATE that rewrites a value within the same millisecond must still
// count), and the session time zone is UTC.
func OpenMySQL(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse MySQL DSN: %w", err)
	}
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
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Open opens a database of dialect d: for SQLite target is the file path
// and busy the busy timeout, for the others target is the DSN.
func Open(ctx context.Context, d *Dialect, target string, busy time.Duration) (*sql.DB, error) {
	switch d {
	case SQLite:
		return OpenSQLite(ctx, target, busy)
	case Postgres:
		return OpenPostgres(ctx, target)
	case MySQL:
		return OpenMySQL(ctx, target)
	}
	return nil, fmt.Errorf("unknown SQL dialect %q", d.Name)
}
