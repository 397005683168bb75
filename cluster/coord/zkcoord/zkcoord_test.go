package zkcoord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/coordtest"
	"github.com/tandem-stream/tandem/cluster/coord/zkcoord/zktest"
	"github.com/tandem-stream/tandem/internal/tcpproxy"
)

// server is the test binary's private ZooKeeper, started on first use.
var server zktest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

// uniqueRoot returns a root znode for this test.
func uniqueRoot(t *testing.T) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "/t" + hex.EncodeToString(b[:]) + "/coord"
}

func openT(t *testing.T, addr, group string, opts Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, []string{addr}, group, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestZooKeeper(t *testing.T) {
	addr := server.Server(t).Addr()
	root := uniqueRoot(t)
	coordtest.Run(t, func(t *testing.T, group string) coord.Coordinator {
		return openT(t, addr, group, Options{Root: root})
	})
}

func TestOutage(t *testing.T) {
	addr := server.Server(t).Addr()
	for _, mode := range []string{"cut", "stall"} {
		t.Run(mode, func(t *testing.T) {
			p, err := tcpproxy.Start(t.Context(), addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			s := openT(t, p.Addr(), coordtest.Group(t), Options{Root: uniqueRoot(t), SessionTimeout: 3 * time.Second})
			down := p.Cut
			if mode == "stall" {
				down = p.Stall
			}
			coordtest.Outage(t, s, down, p.Restore)
		})
	}
}

// TestServerRestart checks that the lease, its epoch and the apps survive a
// restart of ZooKeeper itself, and that a handle carries on through it.
func TestServerRestart(t *testing.T) {
	server.Server(t) // skips if ZooKeeper is not installed
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := zktest.Start(ctx, t.TempDir(), zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	group := coordtest.Group(t)
	s := openT(t, srv.Addr(), group, Options{Root: uniqueRoot(t), SessionTimeout: 4 * time.Second})
	if _, ok, err := s.Acquire(ctx, "a", time.Minute); err != nil || !ok {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	if err := s.Release(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	l, ok, err := s.Acquire(ctx, "b", time.Minute)
	if err != nil || !ok || l.Epoch != 2 {
		t.Fatalf("Acquire(b) = %+v, %v, %v", l, ok, err)
	}
	app, err := s.PutApp(ctx, "app", []byte("text"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var after coord.Lease
	deadline := time.Now().Add(20 * time.Second)
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		after, err = s.Lease(cctx)
		ccancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Lease after the restart: %v\nserver log:\n%s", err, srv.Log())
	}
	if after.Holder != "b" || after.Epoch != 2 || !after.Valid || !after.Expiry.Equal(l.Expiry) {
		t.Fatalf("lease after the restart = %+v, want %+v", after, l)
	}
	apps, err := s.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Version != app.Version || string(apps[0].Text) != "text" {
		t.Fatalf("apps after the restart = %+v, %v", apps, err)
	}
	if l, ok, err := s.Acquire(ctx, "c", time.Minute); err != nil || ok || l.Epoch != 2 {
		t.Fatalf("Acquire(c) after the restart = %+v, %v, %v; want refused at epoch 2", l, ok, err)
	}
}

// TestSessionEnd checks the ZooKeeper difference: the member znode of a
// node goes away with the session of the handle that last beat for it.
func TestSessionEnd(t *testing.T) {
	addr := server.Server(t).Addr()
	root, group := uniqueRoot(t), coordtest.Group(t)
	a := openT(t, addr, group, Options{Root: root})
	b1 := openT(t, addr, group, Options{Root: root})
	b2 := openT(t, addr, group, Options{Root: root})
	ctx := t.Context()
	for _, hb := range []struct {
		s  *Store
		id string
	}{{a, "a"}, {b1, "b"}, {b2, "b"}} {
		if err := hb.s.Heartbeat(ctx, coord.NodeInfo{ID: hb.id}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// b restarted: its new handle b2 owns the znode now, so closing the
	// old one does not remove it.
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	if ids := memberIDs(t, a); ids != "a b" {
		t.Fatalf("members after closing b's old handle: %q, want a and b", ids)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if ids := memberIDs(t, a); ids != "a" {
		t.Fatalf("members after closing b's handle: %q, want a", ids)
	}
}

func memberIDs(t *testing.T, s *Store) string {
	t.Helper()
	ms, err := s.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		if !m.Alive {
			t.Fatalf("member %+v not alive", m)
		}
		ids = append(ids, m.ID)
	}
	return strings.Join(ids, " ")
}

// TestStoreClock checks that leases are timed on a clock that agrees with
// the local one (the server runs on this machine).
func TestStoreClock(t *testing.T) {
	addr := server.Server(t).Addr()
	s := openT(t, addr, "g", Options{Root: uniqueRoot(t)})
	before := time.Now()
	l, ok, err := s.Acquire(t.Context(), "a", time.Hour)
	after := time.Now()
	if err != nil || !ok {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	lo, hi := before.Add(time.Hour-time.Second), after.Add(time.Hour+time.Second)
	if l.Expiry.Before(lo) || l.Expiry.After(hi) {
		t.Fatalf("expiry %v not within [%v, %v]", l.Expiry, lo, hi)
	}
}

// TestTamperedZnodes edits the group's znodes behind the store's back:
// every call fails at once with an error naming the znode, and never
// loops or panics.
func TestTamperedZnodes(t *testing.T) {
	addr := server.Server(t).Addr()
	root, group := uniqueRoot(t), "g"
	s := openT(t, addr, group, Options{Root: root})
	conn := rawConn(t, addr)
	base := root + "/g"
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	set := func(path string, data []byte) {
		t.Helper()
		if _, err := conn.Set(path, data, -1); err != nil {
			t.Fatalf("set %s: %v", path, err)
		}
	}
	wantErr := func(what, path string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded with %s tampered", what, path)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("%s error %q does not name %s", what, err, path)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s took until the deadline: %v", what, err)
		}
	}
	set(base+"/lease", []byte(`{"holder":"\u0000","epoch":1}`))
	_, err := s.Lease(ctx)
	wantErr("Lease", base+"/lease", err)
	set(base+"/lease", []byte(`not json`))
	_, _, err = s.Acquire(ctx, "a", time.Second)
	wantErr("Acquire", base+"/lease", err)
	if err := conn.Delete(base+"/lease", -1); err != nil {
		t.Fatal(err)
	}
	_, err = s.Renew(ctx, "a", 1, time.Second)
	wantErr("Renew", base+"/lease", err)

	if _, err := conn.Create(base+"/members/x", []byte(`{"id":"y","live_for_ms":1000}`), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Members(ctx)
	wantErr("Members", base+"/members/x", err)
	if _, err := conn.Create(base+"/apps/%zz", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Apps(ctx)
	wantErr("Apps", base+"/apps/%zz", err)
	if _, err := conn.Create(base+"/apps/a", []byte("{\"hash\":\"00\"}\ntext"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	err = s.DeleteApp(ctx, "a")
	wantErr("DeleteApp", base+"/apps/a", err)
}

func rawConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogInfo(false), zk.WithLogger(discard{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

type discard struct{}

func (discard) Printf(string, ...any) {}

func TestOpenErrors(t *testing.T) {
	addr := server.Server(t).Addr()
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		servers []string
		group   string
		opts    Options
	}{
		{"no servers", nil, "g", Options{}},
		{"empty group", []string{addr}, "", Options{}},
		{"long group", []string{addr}, strings.Repeat("g", 201), Options{}},
		{"relative root", []string{addr}, "g", Options{Root: "tandem"}},
		{"trailing slash", []string{addr}, "g", Options{Root: "/tandem/"}},
		{"dot dot", []string{addr}, "g", Options{Root: "/a/../b"}},
		{"empty component", []string{addr}, "g", Options{Root: "/a//b"}},
		{"zookeeper's own", []string{addr}, "g", Options{Root: "/zookeeper/x"}},
		{"control char", []string{addr}, "g", Options{Root: "/a\x01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.servers, tc.group, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
		})
	}
	// Nothing listens: Open gives up when its context ends.
	p, err := tcpproxy.Start(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	p.Cut()
	defer p.Close()
	start := time.Now()
	if s, err := Open(ctx, []string{p.Addr()}, "g", Options{ConnectTimeout: 500 * time.Millisecond}); err == nil {
		s.Close()
		t.Fatal("Open with the server away succeeded")
	} else if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Open with the server away took %v (%v)", took, err)
	}
}

func TestClosed(t *testing.T) {
	s := openT(t, server.Server(t).Addr(), "g", Options{Root: uniqueRoot(t)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Lease(t.Context()); !errors.Is(err, errClosed) {
		t.Fatalf("Lease on a closed store = %v, want errClosed", err)
	}
}

// BenchmarkOps measures the calls a node makes every heartbeat period,
// against the test server (forceSync off, so without the fsync of each
// write a production server does).
func BenchmarkOps(b *testing.B) {
	addr := server.Server(b).Addr()
	ctx := b.Context()
	open := func() *Store {
		s, err := Open(ctx, []string{addr}, "bench", Options{Root: "/bench" + strings.ReplaceAll(b.Name(), "/", "_")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	s, other := open(), open()
	l, ok, err := s.Acquire(ctx, "a", time.Hour)
	if err != nil || !ok {
		b.Fatal(ok, err)
	}
	b.Run("Renew", func(b *testing.B) {
		for b.Loop() {
			if ok, err := s.Renew(ctx, "a", l.Epoch, time.Hour); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("AcquireRefused", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := other.Acquire(ctx, "b", time.Hour); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("Lease", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Lease(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Heartbeat", func(b *testing.B) {
		other.Heartbeat(ctx, coord.NodeInfo{ID: "b"}, time.Hour)
		for b.Loop() {
			if err := s.Heartbeat(ctx, coord.NodeInfo{ID: "a", APIAddr: "127.0.0.1:1"}, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Members", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Members(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
