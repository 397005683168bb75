package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/internal/sqldb"
	"github.com/tandem-stream/tandem/internal/sqldb/sqldbtest"
)

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		d    *sqldb.Dialect
		in   string
		want string
	}{
		{sqldb.SQLite, "SELECT a FROM {p}t WHERE x = ? AND y = ?", "SELECT a FROM pre_t WHERE x = ? AND y = ?"},
		{sqldb.Postgres, "SELECT a FROM {p}t WHERE x = ? AND y = ?", "SELECT a FROM pre_t WHERE x = $1 AND y = $2"},
		{sqldb.Postgres, "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?", "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10"},
		{sqldb.MySQL, "SELECT {now}", "SELECT " + sqldb.MySQL.Now},
		{sqldb.Postgres, "SELECT 1{forupdate}", "SELECT 1 FOR UPDATE"},
		{sqldb.SQLite, "SELECT 1{forupdate}", "SELECT 1"},
		{sqldb.MySQL, "CREATE TABLE {p}x (k {key}, t {text}, b {blob}){tableopts}",
			"CREATE TABLE pre_x (k VARBINARY(200), t VARBINARY(255), b LONGBLOB) ENGINE=InnoDB"},
		{sqldb.Postgres, "CREATE TABLE {p}x (k {key}, b {blob}){tableopts}", "CREATE TABLE pre_x (k VARCHAR(200), b BYTEA)"},
		{sqldb.SQLite, "ünïcode ? {p}", "ünïcode ? pre_"},
		{sqldb.Postgres, "ünïcode ? {p}", "ünïcode $1 pre_"},
	} {
		if got := tc.d.Expand("pre_", tc.in); got != tc.want {
			t.Errorf("%s: Expand(%q) = %q, want %q", tc.d.Name, tc.in, got, tc.want)
		}
	}
}

// FuzzExpand checks that PostgreSQL placeholders are numbered 1..n in
// order and nothing else changes.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "?", "a = ? AND b = ?", "$1 ?", "{p}?{now}", "\xff?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.ContainsAny(q, "{$") {
			return // markers are tested by TestExpand; a $ would confuse the check
		}
		got := sqldb.Postgres.Expand("p_", q)
		if strings.ContainsRune(got, '?') {
			t.Fatalf("Expand(%q) = %q still has a ?", q, got)
		}
		// Undo the numbering from the end and compare.
		n := strings.Count(q, "?")
		back := got
		for i := n; i >= 1; i-- {
			tag := "$" + strconv.Itoa(i)
			j := strings.LastIndex(back, tag)
			if j < 0 {
				t.Fatalf("Expand(%q) = %q lacks %s", q, got, tag)
			}
			back = back[:j] + "?" + back[j+len(tag):]
		}
		if back != q {
			t.Fatalf("Expand(%q) = %q changed more than placeholders (%q)", q, got, back)
		}
	})
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"a", "_", "tandem_", "T1_x", strings.Repeat("p", 40)} {
		if err := sqldb.CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "1x", "x y", "x;DROP TABLE y", "é", strings.Repeat("p", 41), "a-b", "a.b"} {
		if err := sqldb.CheckPrefix(p); err == nil {
			t.Errorf("CheckPrefix(%q) accepted", p)
		}
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{"", filepath.Join(dir, "c.db") + "?mode=ro", "file:" + filepath.Join(dir, "c.db"),
		filepath.Join(dir, "no", "such", "c.db")} {
		if db, err := sqldb.OpenSQLite(t.Context(), path, 0); err == nil {
			db.Close()
			t.Errorf("OpenSQLite(%q) succeeded", path)
		}
	}
	if _, err := sqldb.OpenPostgres(t.Context(), "::not a dsn::"); err == nil {
		t.Error("OpenPostgres with a bad DSN succeeded")
	}
	if _, err := sqldb.OpenMySQL(t.Context(), "tcp(unterminated"); err == nil {
		t.Error("OpenMySQL with a bad DSN succeeded")
	}
}

// TestOpenSQLiteConcurrently opens one new file from several handles at
// once: the switch to WAL must not fail any of them.
func TestOpenSQLiteConcurrently(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("c%d.db", round))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				db, err := sqldb.OpenSQLite(ctx, path, time.Second)
				if err != nil {
					errs[i] = err
					return
				}
				defer db.Close()
				var mode string
				if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
					errs[i] = err
				} else if mode != "wal" {
					errs[i] = fmt.Errorf("journal mode %q", mode)
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d handle %d: %v", round, i, err)
			}
		}
	}
}

type service struct {
	d    *sqldb.Dialect
	open func(t *testing.T) (*sql.DB, string) // the database and its target
}

func services() []service {
	return []service{
		{sqldb.SQLite, func(t *testing.T) (*sql.DB, string) {
			path := filepath.Join(t.TempDir(), "s.db")
			return openT(t, sqldb.SQLite, path), path
		}},
		{sqldb.Postgres, func(t *testing.T) (*sql.DB, string) {
			dsn := sqldbtest.DSN(t, sqldb.Postgres)
			return openT(t, sqldb.Postgres, dsn), dsn
		}},
		{sqldb.MySQL, func(t *testing.T) (*sql.DB, string) {
			dsn := sqldbtest.DSN(t, sqldb.MySQL)
			return openT(t, sqldb.MySQL, dsn), dsn
		}},
	}
}

func openT(t *testing.T, d *sqldb.Dialect, target string) *sql.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), d, target, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDialects runs the same statements on every database: table creation
// from several handles at once, a blob round trip, the clock expression,
// transactions that roll back, and rows affected counting matched rows.
func TestDialects(t *testing.T) {
	for _, s := range services() {
		t.Run(s.d.Name, func(t *testing.T) {
			db, target := s.open(t)
			d := s.d
			prefix := sqldbtest.Prefix(t)
			if d != sqldb.SQLite {
				sqldbtest.DropAfter(t, d, target, prefix, "kv")
			}
			ctx := t.Context()
			ddl := []string{`CREATE TABLE IF NOT EXISTS {p}kv (k {key} NOT NULL PRIMARY KEY, v {blob} NOT NULL, n BIGINT NOT NULL){tableopts}`}
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i := range errs {
				wg.Go(func() {
					h, err := sqldb.Open(ctx, d, target, 0)
					if err != nil {
						errs[i] = err
						return
					}
					defer h.Close()
					errs[i] = d.CreateTables(ctx, h, prefix, 424242, ddl)
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("CreateTables: %v", err)
				}
			}

			blob := []byte{0, 1, 0xff, 0xfe, '\'', '?', 0}
			if _, err := db.ExecContext(ctx, d.Expand(prefix, `INSERT INTO {p}kv (k, v, n) VALUES (?, ?, {now})`), "a", blob); err != nil {
				t.Fatal(err)
			}
			var got []byte
			var n int64
			if err := db.QueryRowContext(ctx, d.Expand(prefix, `SELECT v, n FROM {p}kv WHERE k = ?`), "a").Scan(&got, &n); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(blob) {
				t.Errorf("blob = %q, want %q", got, blob)
			}
			if now := time.Now().UnixMilli(); n < now-5000 || n > now+5000 {
				t.Errorf("{now} = %d, local clock %d: clock expression is off", n, now)
			}
			// Keys are compared byte for byte.
			var count int
			if err := db.QueryRowContext(ctx, d.Expand(prefix, `SELECT COUNT(*) FROM {p}kv WHERE k = ?`), "A").Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != 0 {
				t.Errorf("key %q matched %q", "A", "a")
			}

			boom := errors.New("boom")
			err := d.InTx(ctx, db, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, d.Expand(prefix, `DELETE FROM {p}kv`)); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx = %v, want the function's error", err)
			}
			if err := db.QueryRowContext(ctx, d.Expand(prefix, `SELECT COUNT(*) FROM {p}kv`)).Scan(&count); err != nil || count != 1 {
				t.Fatalf("after a rolled back delete: %d rows, %v", count, err)
			}

			// An update that changes nothing still counts the row.
			res, err := db.ExecContext(ctx, d.Expand(prefix, `UPDATE {p}kv SET n = n WHERE k = ?`), "a")
			if err != nil {
				t.Fatal(err)
			}
			if affected, err := res.RowsAffected(); err != nil || affected != 1 {
				t.Fatalf("rows affected by a no-change update = %d, %v; want 1", affected, err)
			}
		})
	}
}
