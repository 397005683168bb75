// Package sqldbtest finds the local database services for tests and isolates
// tests from each other with unique table prefixes.
//
// The services are PostgreSQL at 127.0.0.1:5432 (trust auth, database test)
// and MariaDB/MySQL at 127.0.0.1:3306 (root without password, database
// test). A test that needs one skips when it is unreachable, unless
// TANDEM_REQUIRE_SERVICES=1, when it fails.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/internal/sqldb"
)

// Candidates are the DSNs tried per dialect name, first that connects wins.
var Candidates = map[string][]string{
	"postgres": {
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	},
	"mysql": {"root@tcp(127.0.0.1:3306)/test"},
}

// Reachable returns the first DSN of d's service that connects.
func Reachable(d *sqldb.Dialect) (string, bool) {
	for _, dsn := range Candidates[d.Name] {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		db, err := sqldb.Open(ctx, d, dsn, 0)
		cancel()
		if err == nil {
			db.Close()
			return dsn, true
		}
	}
	return "", false
}

// DSN returns the DSN of d's service; it skips the test if the service is
// unreachable, or fails it when TANDEM_REQUIRE_SERVICES=1.
func DSN(t testing.TB, d *sqldb.Dialect) string {
	t.Helper()
	if dsn, ok := Reachable(d); ok {
		return dsn
	}
	if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s unreachable at %v and TANDEM_REQUIRE_SERVICES=1", d.Name, Candidates[d.Name])
	}
	t.Skipf("%s unreachable at %v", d.Name, Candidates[d.Name])
	return ""
}

// Prefix returns a table prefix unique to this call, "t" and ten hex
// digits and "_".
func Prefix(t testing.TB) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b[:]) + "_"
}

// DropAfter registers a cleanup that drops the tables prefix+name for each
// name from d's database at dsn.
func DropAfter(t testing.TB, d *sqldb.Dialect, dsn, prefix string, names ...string) {
	t.Helper()
	if err := sqldb.CheckPrefix(prefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		db, err := sqldb.Open(ctx, d, dsn, 0)
		if err != nil {
			t.Errorf("cleanup of %s tables %s*: %v", d.Name, prefix, err)
			return
		}
		defer db.Close()
		for _, name := range names {
			if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+prefix+name); err != nil {
				t.Errorf("drop %s%s: %v", prefix, name, err)
			}
		}
	})
}
