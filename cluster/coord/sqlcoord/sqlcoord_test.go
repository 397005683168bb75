package sqlcoord

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/coordtest"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
	"github.com/tandem-stream/tandem/internal/sqldb"
	"github.com/tandem-stream/tandem/internal/sqldb/sqldbtest"
	"github.com/tandem-stream/tandem/internal/tcpproxy"
)

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coord.db")
	coordtest.Run(t, func(t *testing.T, group string) coord.Coordinator {
		return openT(t, func(ctx context.Context) (*Store, error) {
			return OpenSQLite(ctx, path, group, Options{})
		})
	})
}

func TestPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	prefix := uniquePrefix(t, postgresDialect, dsn)
	coordtest.Run(t, func(t *testing.T, group string) coord.Coordinator {
		return openT(t, func(ctx context.Context) (*Store, error) {
			return OpenPostgres(ctx, dsn, group, Options{TablePrefix: prefix})
		})
	})
}

func TestMySQL(t *testing.T) {
	dsn := mysqlDSN(t)
	prefix := uniquePrefix(t, mysqlDialect, dsn)
	coordtest.Run(t, func(t *testing.T, group string) coord.Coordinator {
		return openT(t, func(ctx context.Context) (*Store, error) {
			return OpenMySQL(ctx, dsn, group, Options{TablePrefix: prefix})
		})
	})
}

func TestPostgresOutage(t *testing.T) {
	dsn := postgresDSN(t)
	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			p := startProxy(t, "127.0.0.1:5432")
			proxied := withParam(strings.Replace(dsn, "127.0.0.1:5432", p.Addr(), 1), "connect_timeout=2")
			s := openT(t, func(ctx context.Context) (*Store, error) {
				return OpenPostgres(ctx, proxied, coordtest.Group(t), Options{TablePrefix: uniquePrefix(t, postgresDialect, dsn)})
			})
			coordtest.Outage(t, s, downFunc(p, mode), p.Restore)
		})
	}
}

func TestMySQLOutage(t *testing.T) {
	dsn := mysqlDSN(t)
	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			p := startProxy(t, "127.0.0.1:3306")
			proxied := withParam(strings.Replace(dsn, "127.0.0.1:3306", p.Addr(), 1), "timeout=2s")
			s := openT(t, func(ctx context.Context) (*Store, error) {
				return OpenMySQL(ctx, proxied, coordtest.Group(t), Options{TablePrefix: uniquePrefix(t, mysqlDialect, dsn)})
			})
			coordtest.Outage(t, s, downFunc(p, mode), p.Restore)
		})
	}
}

// withParam adds a key=value parameter to a URL-style DSN.
func withParam(dsn, kv string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + kv
	}
	return dsn + "?" + kv
}

func downFunc(p *tcpproxy.Proxy, mode string) func() {
	if mode == "stall" {
		return p.Stall
	}
	return p.Cut
}

func startProxy(t *testing.T, target string) *tcpproxy.Proxy {
	t.Helper()
	p, err := tcpproxy.Start(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestSQLiteTwoProcesses races two real processes (this test binary, run
// again) for the lease on one SQLite file, and checks the leases they
// observed: one holder per epoch, no epoch skipped.
func TestSQLiteTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "coord.db")
	group := coordtest.Group(t)
	// The children also race to create the file and the tables.
	var procs []*exec.Cmd
	var outs []*bufio.Scanner
	for i := range 2 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "SQLCOORD_HELPER=1", "SQLCOORD_PATH="+path,
			"SQLCOORD_GROUP="+group, "SQLCOORD_NODE=p"+strconv.Itoa(i))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		outs = append(outs, bufio.NewScanner(out))
	}
	holder := map[uint64]string{}
	wins := map[string]int{}
	for i, sc := range outs {
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "lease" {
				t.Logf("p%d: %s", i, sc.Text())
				continue
			}
			epoch, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatalf("helper output %q: %v", sc.Text(), err)
			}
			if h, ok := holder[epoch]; ok && h != f[1] {
				t.Errorf("epoch %d held by both %q and %q", epoch, h, f[1])
			}
			holder[epoch] = f[1]
			if f[1] == "p"+strconv.Itoa(i) {
				wins[f[1]]++
			}
		}
	}
	for _, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	for e := uint64(1); e <= uint64(len(holder)); e++ {
		if _, ok := holder[e]; !ok {
			t.Fatalf("epoch %d never observed among %d epochs", e, len(holder))
		}
	}
	if wins["p0"] == 0 || wins["p1"] == 0 || len(holder) < 3 {
		t.Fatalf("wins %v over %d epochs: the processes did not really compete", wins, len(holder))
	}
	t.Logf("wins %v, %d epochs", wins, len(holder))
}

// TestHelperProcess is the child of TestSQLiteTwoProcesses.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("SQLCOORD_HELPER") != "1" {
		t.Skip("helper for TestSQLiteTwoProcesses")
	}
	node := os.Getenv("SQLCOORD_NODE")
	// Race for a second, and on until this process has both won and seen
	// the other win a few times: on a loaded machine one process can be
	// starved for a while, by the scheduler or by SQLite's busy backoff.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	enough := time.Now().Add(time.Second)
	var won, lost int
	s, err := OpenSQLite(ctx, os.Getenv("SQLCOORD_PATH"), os.Getenv("SQLCOORD_GROUP"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for n := 0; ctx.Err() == nil && (time.Now().Before(enough) || won < 5 || lost < 5); n++ {
		l, ok, err := s.Acquire(ctx, node, 20*time.Millisecond)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatal(err)
		}
		if l.Holder != "" {
			fmt.Fprintf(w, "lease %s %d\n", l.Holder, l.Epoch)
		}
		switch {
		case ok:
			won++
		case l.Holder != "" && l.Holder != node:
			lost++
		}
		if ok && n%2 == 0 {
			s.Release(ctx, node, l.Epoch)
		}
		time.Sleep(time.Duration(n%3) * time.Millisecond)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.db")
	for _, tc := range []struct {
		name        string
		path, group string
		opts        Options
	}{
		{"empty group", path, "", Options{}},
		{"long group", path, strings.Repeat("g", 201), Options{}},
		{"bad prefix", path, "g", Options{TablePrefix: "x; DROP TABLE y"}},
		{"digit prefix", path, "g", Options{TablePrefix: "1x"}},
		{"long prefix", path, "g", Options{TablePrefix: strings.Repeat("p", 41)}},
		{"empty path", "", "g", Options{}},
		{"query in path", path + "?mode=ro", "g", Options{}},
		{"uri path", "file:" + path, "g", Options{}},
		{"missing dir", filepath.Join(dir, "no", "such", "c.db"), "g", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenSQLite(ctx, tc.path, tc.group, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("OpenSQLite succeeded")
			}
			t.Log(err)
		})
	}
	if _, err := OpenPostgres(ctx, "::not a dsn::", "g", Options{}); err == nil {
		t.Error("OpenPostgres with a bad DSN succeeded")
	}
	if _, err := OpenMySQL(ctx, "tcp(unterminated", "g", Options{}); err == nil {
		t.Error("OpenMySQL with a bad DSN succeeded")
	}
}

// TestStoreClock checks that the three dialects' clock expressions agree
// with the local clock (all services run on this machine).
func TestStoreClock(t *testing.T) {
	opens := map[string]func(context.Context, string) (*Store, error){
		"sqlite": func(ctx context.Context, g string) (*Store, error) {
			return OpenSQLite(ctx, filepath.Join(t.TempDir(), "c.db"), g, Options{})
		},
	}
	if dsn, ok := sqldbtest.Reachable(sqldb.Postgres); ok {
		opens["postgres"] = func(ctx context.Context, g string) (*Store, error) {
			return OpenPostgres(ctx, dsn, g, Options{TablePrefix: uniquePrefix(t, postgresDialect, dsn)})
		}
	}
	if dsn, ok := sqldbtest.Reachable(sqldb.MySQL); ok {
		opens["mysql"] = func(ctx context.Context, g string) (*Store, error) {
			return OpenMySQL(ctx, dsn, g, Options{TablePrefix: uniquePrefix(t, mysqlDialect, dsn)})
		}
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			s := openT(t, func(ctx context.Context) (*Store, error) { return open(ctx, "g") })
			before := time.Now()
			l, ok, err := s.Acquire(t.Context(), "a", time.Hour)
			after := time.Now()
			if err != nil || !ok {
				t.Fatalf("Acquire = %v, %v", ok, err)
			}
			lo, hi := before.Add(time.Hour-time.Second), after.Add(time.Hour+time.Second)
			if l.Expiry.Before(lo) || l.Expiry.After(hi) {
				t.Fatalf("expiry %v not within [%v, %v]: store clock expression is off", l.Expiry, lo, hi)
			}
		})
	}
}

// FuzzNodeID checks that any node id is either refused with an error or
// stored and read back exactly.
func FuzzNodeID(f *testing.F) {
	for _, s := range []string{"a", "node-1", "Ä", "a ", "A", "", "\x00", "\xff\xfe", strings.Repeat("z", 200), "'; DROP TABLE x; --", "?", "$1"} {
		f.Add(s)
	}
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(f.TempDir(), "c.db"), "g", Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, id string) {
		if err := s.Heartbeat(ctx, coord.NodeInfo{ID: id, APIAddr: id}, time.Millisecond); err != nil {
			if errors.Is(err, coord.ErrGroupFull) {
				return // two earlier ids still alive within the millisecond
			}
			if id != "" && len(id) <= check.MaxIDLen && !strings.ContainsRune(id, 0) && utf8.ValidString(id) {
				t.Fatalf("Heartbeat(%q): %v", id, err)
			}
			return
		}
		ms, err := s.Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.ID == id {
				if m.APIAddr != id {
					t.Fatalf("member %q has API address %q", id, m.APIAddr)
				}
				return
			}
		}
		t.Fatalf("member %q not listed after its heartbeat", id)
	})
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

// uniquePrefix returns a table prefix for this test and drops its tables
// from the server at dsn afterwards.
func uniquePrefix(t *testing.T, d *dialect, dsn string) string {
	t.Helper()
	p := sqldbtest.Prefix(t)
	sqldbtest.DropAfter(t, d.Dialect, dsn, p, "lease", "members", "apps")
	return p
}

func postgresDSN(t *testing.T) string { return sqldbtest.DSN(t, sqldb.Postgres) }
func mysqlDSN(t *testing.T) string    { return sqldbtest.DSN(t, sqldb.MySQL) }
