// Package sqldb is what Tandem's SQL stores (the coordination store and the
// checkpoint store) share: opening SQLite, PostgreSQL and MySQL/MariaDB the
// same way, the dialect differences in query text, table prefix checks and
// transactions.
//
// Queries are written once with ? placeholders and markers in braces
// ({p} for the table prefix, {now} for the database clock, column types...)
// and expanded per dialect by Dialect.Expand.
package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Dialect holds what differs between the SQL databases for the statements
// Tandem uses. Packages add their own statements (upserts, row locks) keyed
// by Dialect.
type Dialect struct {
	Name string // "sqlite", "postgres" or "mysql"
	// Now is an SQL expression for the database clock in milliseconds since
	// the Unix epoch, evaluated by the database, so that every client reads
	// the same clock.
	Now string
	// Key is the column type of ids and names. MySQL gets VARBINARY because
	// its VARCHAR comparisons ignore case and trailing spaces, and "a" must
	// never be "A".
	Key string
	// Text is the column type of short strings (addresses, hashes), up to
	// 255 bytes; Blob is the type of unbounded byte strings.
	Text, Blob string
	// Dollar is set where placeholders are numbered: $1, $2, ...
	Dollar bool
	// ForUpdate is the row lock suffix of a SELECT; "" where a write
	// transaction is already exclusive.
	ForUpdate string
	// TableOpts follows the closing parenthesis of CREATE TABLE.
	TableOpts string
	// TxOptions are the options of read-write transactions.
	TxOptions *sql.TxOptions
}

var (
	// SQLite is the embedded database. Its write transactions are BEGIN
	// IMMEDIATE (see OpenSQLite): the write lock is taken up front, so they
	// are serialised and there is no read-to-write upgrade that the busy
	// timeout cannot resolve.
	SQLite = &Dialect{
		Name: "sqlite",
		// 'now' is read once per statement step; rounding avoids losing a
		// millisecond to the float representation.
		Now:  "CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)",
		Key:  "TEXT",
		Text: "TEXT",
		Blob: "BLOB",
	}
	// Postgres is PostgreSQL.
	Postgres = &Dialect{
		Name: "postgres",
		// clock_timestamp, not now(): now() is frozen at transaction start,
		// which may be long before a lock wait ends.
		Now:       "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)",
		Key:       "VARCHAR(200)",
		Text:      "VARCHAR(255)",
		Blob:      "BYTEA",
		Dollar:    true,
		ForUpdate: " FOR UPDATE",
		TxOptions: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
	// MySQL is MySQL or MariaDB with InnoDB tables.
	MySQL = &Dialect{
		Name: "mysql",
		// The session time zone is pinned to UTC (see OpenMySQL), so the
		// conversion is exact even across daylight saving changes.
		Now:       "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
		Key:       "VARBINARY(200)",
		Text:      "VARBINARY(255)",
		Blob:      "LONGBLOB",
		ForUpdate: " FOR UPDATE",
		TableOpts: " ENGINE=InnoDB",
		// Read committed: a read after a row lock must see the rows
		// committed while we waited for it, not a snapshot from before.
		TxOptions: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
)

// Expand returns q for d with table prefix p: the markers {p}, {now},
// {key}, {text}, {blob}, {forupdate} and {tableopts} replaced and, for
// PostgreSQL, the ? placeholders numbered. Queries must not contain a ?
// other than placeholders (in string literals, say).
func (d *Dialect) Expand(p, q string) string {
	q = strings.NewReplacer("{p}", p, "{now}", d.Now, "{key}", d.Key, "{text}", d.Text, "{blob}", d.Blob,
		"{forupdate}", d.ForUpdate, "{tableopts}", d.TableOpts).Replace(q)
	if !d.Dollar {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	// Byte by byte: '?' is ASCII, so it never occurs inside a multi-byte
	// UTF-8 sequence, and other bytes pass through untouched.
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// InTx runs f in a read-write transaction of d and commits it if f
// succeeds; otherwise it rolls back and returns f's error.
func (d *Dialect) InTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, d.TxOptions)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CreateTables runs the CREATE TABLE IF NOT EXISTS statements ddl (with
// markers, see Expand) in one transaction. lockKey names the set of tables:
// PostgreSQL can fail concurrent CREATE TABLE IF NOT EXISTS of one table on
// a catalog unique index, so there the creators are serialised by an
// advisory lock on lockKey. MySQL commits DDL implicitly, so there the
// statements are not atomic; each is idempotent.
func (d *Dialect) CreateTables(ctx context.Context, db *sql.DB, prefix string, lockKey int64, ddl []string) error {
	return d.InTx(ctx, db, func(tx *sql.Tx) error {
		if d == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
				return fmt.Errorf("lock table creation: %w", err)
			}
		}
		for _, stmt := range ddl {
			if _, err := tx.ExecContext(ctx, d.Expand(prefix, stmt)); err != nil {
				return err
			}
		}
		return nil
	})
}

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,39}$`)

// CheckPrefix rejects table prefixes that are not plain identifiers: they
// are pasted into SQL text.
func CheckPrefix(p string) error {
	if !prefixRE.MatchString(p) {
		return fmt.Errorf("invalid table prefix %q: want a letter or _ followed by up to 39 letters, digits or _", p)
	}
	return nil
}
