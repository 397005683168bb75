package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/internal/sqldb"
	"github.com/tandem-stream/tandem/internal/sqldb/sqldbtest"
	"github.com/tandem-stream/tandem/persist"
	"github.com/tandem-stream/tandem/persist/storetest"
)

type opener func(ctx context.Context, opts Options) (*Store, error)

func harness(open opener, dropAfter func(t *testing.T, prefix string)) storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T, keep int) func() persist.Store {
			prefix := uniquePrefix(t)
			if dropAfter != nil {
				t.Cleanup(func() { dropAfter(t, prefix) })
			}
			return func() persist.Store {
				return openT(t, func(ctx context.Context) (*Store, error) {
					return open(ctx, Options{TablePrefix: prefix, Keep: keep})
				})
			}
		},
		Corrupt:       corrupt,
		SharedHandles: true,
	}
}

// corrupt flips a byte of a stored state.
func corrupt(t *testing.T, ps persist.Store, app string, rev uint64) {
	t.Helper()
	s := ps.(*Store)
	ctx := t.Context()
	var state []byte
	q := s.d.query(s.prefix, `SELECT state FROM {p}ckpt_states WHERE app = ? AND revision = ?`)
	if err := s.db.QueryRowContext(ctx, q, app, int64(rev)).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if len(state) == 0 {
		t.Fatal("cannot corrupt an empty state")
	}
	state[len(state)/2] ^= 0xff
	q = s.d.query(s.prefix, `UPDATE {p}ckpt_states SET state = ? WHERE app = ? AND revision = ?`)
	if _, err := s.db.ExecContext(ctx, q, state, app, int64(rev)); err != nil {
		t.Fatal(err)
	}
}

func sqliteOpener(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "ckpt.db")
	return func(ctx context.Context, opts Options) (*Store, error) { return OpenSQLite(ctx, path, opts) }
}

func postgresOpener(t *testing.T) opener {
	dsn := sqldbtest.DSN(t, sqldb.Postgres)
	return func(ctx context.Context, opts Options) (*Store, error) { return OpenPostgres(ctx, dsn, opts) }
}

func mysqlOpener(t *testing.T) opener {
	dsn := sqldbtest.DSN(t, sqldb.MySQL)
	return func(ctx context.Context, opts Options) (*Store, error) { return OpenMySQL(ctx, dsn, opts) }
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, harness(sqliteOpener(t), nil))
}

func TestPostgres(t *testing.T) {
	open := postgresOpener(t)
	storetest.Run(t, harness(open, dropper(open)))
}

func TestMySQL(t *testing.T) {
	open := mysqlOpener(t)
	storetest.Run(t, harness(open, dropper(open)))
}

// TestStateMissing removes a state row behind the store's back: the
// manifest's checkpoint is corrupt and Latest falls back.
func TestStateMissing(t *testing.T) {
	s := openT(t, func(ctx context.Context) (*Store, error) { return sqliteOpener(t)(ctx, Options{}) })
	ctx := t.Context()
	for rev := uint64(1); rev <= 2; rev++ {
		if _, err := s.Save(ctx, persist.Manifest{App: "a", Revision: rev}, []byte{byte(rev)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, s.d.query(s.prefix, `DELETE FROM {p}ckpt_states WHERE revision = 2`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "a", 2); !errors.Is(err, persist.ErrCorrupt) {
		t.Fatalf("Load without state = %v, want ErrCorrupt", err)
	}
	m, state, err := s.Latest(ctx, "a")
	if err != nil || m.Revision != 1 || string(state) != "\x01" {
		t.Fatalf("Latest = rev %d %q %v, want revision 1", m.Revision, state, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "c.db")
	for _, tc := range []struct {
		name string
		path string
		opts Options
	}{
		{"bad prefix", path, Options{TablePrefix: "x y"}},
		{"negative keep", path, Options{Keep: -1}},
		{"empty path", "", Options{}},
		{"query in path", path + "?x=1", Options{}},
		{"missing dir", filepath.Join(t.TempDir(), "no", "c.db"), Options{}},
	} {
		if s, err := OpenSQLite(ctx, tc.path, tc.opts); err == nil {
			s.Close()
			t.Errorf("%s: OpenSQLite succeeded", tc.name)
		}
	}
	if _, err := OpenPostgres(ctx, "::bad::", Options{}); err == nil {
		t.Error("OpenPostgres with a bad DSN succeeded")
	}
	if _, err := OpenMySQL(ctx, "tcp(", Options{}); err == nil {
		t.Error("OpenMySQL with a bad DSN succeeded")
	}
}

func openT(t *testing.T, open func(context.Context) (*Store, error)) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func uniquePrefix(t *testing.T) string { return sqldbtest.Prefix(t) }

// dropper returns a cleanup that drops a test's tables.
func dropper(open opener) func(t *testing.T, prefix string) {
	return func(t *testing.T, prefix string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := open(ctx, Options{TablePrefix: prefix})
		if err != nil {
			t.Errorf("cleanup of tables %s*: %v", prefix, err)
			return
		}
		defer s.Close()
		for _, tbl := range []string{"ckpt_manifests", "ckpt_states", "ckpt_apps"} {
			if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+prefix+tbl); err != nil {
				t.Errorf("drop %s%s: %v", prefix, tbl, err)
			}
		}
	}
}

// FuzzAppName checks that any app name is either refused or stored and read
// back exactly, never confused with another.
func FuzzAppName(f *testing.F) {
	for _, s := range []string{"a", "A", "a ", "", "\x00", "\xff", "é", "'; DROP TABLE x; --", "?", "$1", "%", "_"} {
		f.Add(s)
	}
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(f.TempDir(), "c.db"), Options{Keep: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, app string) {
		state := []byte("state of " + app)
		if _, err := s.Save(ctx, persist.Manifest{App: app}, state); err != nil {
			if app != "" && len(app) <= 200 && utf8.ValidString(app) && !strings.ContainsRune(app, 0) {
				t.Fatalf("Save(%q): %v", app, err)
			}
			return
		}
		m, got, err := s.Latest(ctx, app)
		if err != nil || m.App != app || string(got) != string(state) {
			t.Fatalf("Latest(%q) = %q, %q, %v", app, m.App, got, err)
		}
	})
}
