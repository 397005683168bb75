// Package coordtest is the conformance suite of coord.Coordinator and
// coord.AppStore: every backend runs Run against its own store, so they all
// behave alike. The app tests skip for a backend without an app store.
//
// Lease timings in the suite are short (tens to hundreds of milliseconds),
// but no assertion depends on a call finishing within a lease: a lease that
// must still be valid is taken for seconds, and one that must expire is first
// shortened by a renewal with a tiny ttl.
package coordtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
)

// Opener opens a new handle on group. Two calls with the same group must
// give two independent handles on one store, as two processes would have;
// the backend's test isolates runs (with a table prefix or a temporary
// file). Opener registers closing the handle with t.Cleanup.
type Opener func(t *testing.T, group string) coord.Coordinator

const (
	long  = 10 * time.Second       // a lease that must not expire during a test
	short = 50 * time.Millisecond  // a lease about to expire
	wait  = 5 * time.Second        // how long to wait for an expiry to show
	live  = 150 * time.Millisecond // a liveness window that must lapse
)

// Run runs the whole suite against open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		f    func(*testing.T, Opener)
	}{
		{"FirstAcquire", testFirstAcquire},
		{"AcquireByHolderKeepsEpoch", testAcquireByHolder},
		{"AcquireRefusedWhileHeld", testAcquireRefused},
		{"Renew", testRenew},
		{"ExpiryAndTakeover", testTakeover},
		{"RenewAfterExpiry", testRenewAfterExpiry},
		{"Release", testRelease},
		{"EpochSurvivesReopen", testReopen},
		{"GroupsIsolated", testGroupsIsolated},
		{"HeartbeatMembers", testMembers},
		{"GroupFull", testGroupFull},
		{"LivenessWindow", testLiveness},
		{"BadInput", testBadInput},
		{"CanceledContext", testCanceled},
		{"ConcurrentAcquire", testConcurrentAcquire},
		{"ConcurrentJoin", testConcurrentJoin},
		{"Apps", testApps},
		{"AppsDeleteAndRedeploy", testAppsDelete},
		{"AppsGroupsIsolated", testAppsGroups},
		{"AppsBadInput", testAppsBadInput},
		{"AppsCanceledContext", testAppsCanceled},
		{"AppsConcurrentPut", testAppsConcurrentPut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open) })
	}
}

// Group returns a group name unique to this test run.
func Group(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "g-" + hex.EncodeToString(b[:])
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func acquire(t *testing.T, c coord.Coordinator, node string, ttl time.Duration) (coord.Lease, bool) {
	t.Helper()
	l, ok, err := c.Acquire(ctxT(t), node, ttl)
	if err != nil {
		t.Fatalf("Acquire(%q, %v): %v", node, ttl, err)
	}
	if ok && (l.Holder != node || !l.Valid) {
		t.Fatalf("Acquire(%q) reported success with lease %+v", node, l)
	}
	return l, ok
}

func mustAcquire(t *testing.T, c coord.Coordinator, node string, ttl time.Duration, epoch uint64) coord.Lease {
	t.Helper()
	l, ok := acquire(t, c, node, ttl)
	if !ok {
		t.Fatalf("Acquire(%q) = not held, lease %+v; want held", node, l)
	}
	if l.Epoch != epoch {
		t.Fatalf("Acquire(%q) epoch = %d, want %d", node, l.Epoch, epoch)
	}
	return l
}

func refuseAcquire(t *testing.T, c coord.Coordinator, node, holder string, epoch uint64) {
	t.Helper()
	l, ok := acquire(t, c, node, long)
	if ok {
		t.Fatalf("Acquire(%q) succeeded while %q holds the lease: %+v", node, holder, l)
	}
	if l.Holder != holder || l.Epoch != epoch || !l.Valid {
		t.Fatalf("after refused Acquire(%q): lease %+v, want valid, held by %q at epoch %d", node, l, holder, epoch)
	}
}

func renew(t *testing.T, c coord.Coordinator, node string, epoch uint64, ttl time.Duration) bool {
	t.Helper()
	ok, err := c.Renew(ctxT(t), node, epoch, ttl)
	if err != nil {
		t.Fatalf("Renew(%q, %d): %v", node, epoch, err)
	}
	return ok
}

func lease(t *testing.T, c coord.Coordinator) coord.Lease {
	t.Helper()
	l, err := c.Lease(ctxT(t))
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	return l
}

// expire shortens node's lease and waits until the store says it expired.
func expire(t *testing.T, c coord.Coordinator, node string, epoch uint64) {
	t.Helper()
	if !renew(t, c, node, epoch, short) {
		t.Fatalf("Renew(%q, %d) to shorten the lease failed", node, epoch)
	}
	waitFor(t, "lease expiry", func() error {
		if l := lease(t, c); l.Valid {
			return fmt.Errorf("lease still valid: %+v", l)
		}
		return nil
	})
}

// waitFor polls f until it returns nil or wait has passed.
func waitFor(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testFirstAcquire(t *testing.T, open Opener) {
	c := open(t, Group(t))
	if l := lease(t, c); l.Holder != "" || l.Epoch != 0 || l.Valid {
		t.Fatalf("lease of a new group = %+v, want empty", l)
	}
	l := mustAcquire(t, c, "a", long, 1)
	if got := lease(t, c); got != l {
		t.Fatalf("Lease() = %+v, want %+v as returned by Acquire", got, l)
	}
}

func testAcquireByHolder(t *testing.T, open Opener) {
	c := open(t, Group(t))
	l1 := mustAcquire(t, c, "a", time.Second, 1)
	time.Sleep(5 * time.Millisecond)
	l2 := mustAcquire(t, c, "a", long, 1)
	if !l2.Expiry.After(l1.Expiry) {
		t.Fatalf("re-Acquire did not extend the lease: expiry %v then %v", l1.Expiry, l2.Expiry)
	}
}

func testAcquireRefused(t *testing.T, open Opener) {
	g := Group(t)
	c1, c2 := open(t, g), open(t, g)
	mustAcquire(t, c1, "a", long, 1)
	refuseAcquire(t, c2, "b", "a", 1)
	refuseAcquire(t, c1, "b", "a", 1)
}

func testRenew(t *testing.T, open Opener) {
	g := Group(t)
	c1, c2 := open(t, g), open(t, g)
	l := mustAcquire(t, c1, "a", time.Second, 1)
	time.Sleep(5 * time.Millisecond)
	if !renew(t, c2, "a", 1, long) {
		t.Fatal("Renew by the holder failed")
	}
	after := lease(t, c1)
	if !after.Expiry.After(l.Expiry) || after.Epoch != 1 || after.Holder != "a" {
		t.Fatalf("after Renew: lease %+v, want later expiry than %v, epoch 1, holder a", after, l.Expiry)
	}
	for _, tc := range []struct {
		node  string
		epoch uint64
	}{{"a", 0}, {"a", 2}, {"b", 1}, {"b", 0}} {
		if renew(t, c2, tc.node, tc.epoch, long) {
			t.Errorf("Renew(%q, %d) succeeded on a lease held by a at epoch 1", tc.node, tc.epoch)
		}
	}
	if got := lease(t, c1); got != after {
		t.Fatalf("refused renewals changed the lease: %+v, want %+v", got, after)
	}
}

func testTakeover(t *testing.T, open Opener) {
	g := Group(t)
	a, b := open(t, g), open(t, g)
	mustAcquire(t, a, "a", long, 1)
	refuseAcquire(t, b, "b", "a", 1)
	expire(t, a, "a", 1)
	mustAcquire(t, b, "b", long, 2)
	// The old holder is fenced: its epoch is stale and the lease is taken.
	if renew(t, a, "a", 1, long) {
		t.Fatal("Renew by the deposed holder at the old epoch succeeded")
	}
	if renew(t, a, "a", 2, long) {
		t.Fatal("Renew by the deposed holder at the new epoch succeeded")
	}
	refuseAcquire(t, a, "a", "b", 2)
	if err := a.Release(ctxT(t), "a", 1); err != nil {
		t.Fatalf("Release by the deposed holder: %v", err)
	}
	if l := lease(t, b); l.Holder != "b" || l.Epoch != 2 || !l.Valid {
		t.Fatalf("a stale Release changed the lease: %+v", l)
	}
	if !renew(t, b, "b", 2, long) {
		t.Fatal("Renew by the new holder failed")
	}
	// And back again: epochs keep increasing.
	expire(t, b, "b", 2)
	mustAcquire(t, a, "a", long, 3)
}

func testRenewAfterExpiry(t *testing.T, open Opener) {
	c := open(t, Group(t))
	mustAcquire(t, c, "a", long, 1)
	expire(t, c, "a", 1)
	if renew(t, c, "a", 1, long) {
		t.Fatal("Renew of an expired lease succeeded")
	}
	// Nobody else held it, so the holder gets it back at the same epoch.
	mustAcquire(t, c, "a", long, 1)
}

func testRelease(t *testing.T, open Opener) {
	g := Group(t)
	a, b := open(t, g), open(t, g)
	mustAcquire(t, a, "a", long, 1)
	// Releases that do not match holder and epoch change nothing.
	for _, tc := range []struct {
		node  string
		epoch uint64
	}{{"a", 0}, {"a", 2}, {"b", 1}} {
		if err := b.Release(ctxT(t), tc.node, tc.epoch); err != nil {
			t.Fatalf("Release(%q, %d): %v", tc.node, tc.epoch, err)
		}
	}
	refuseAcquire(t, b, "b", "a", 1)
	if err := a.Release(ctxT(t), "a", 1); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if l := lease(t, b); l.Valid {
		t.Fatalf("lease still valid after Release: %+v", l)
	}
	if renew(t, a, "a", 1, long) {
		t.Fatal("Renew after Release succeeded")
	}
	if err := a.Release(ctxT(t), "a", 1); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	// The successor need not wait for the old expiry.
	mustAcquire(t, b, "b", long, 2)
}

func testReopen(t *testing.T, open Opener) {
	g := Group(t)
	a := open(t, g)
	mustAcquire(t, a, "a", long, 1)
	if err := a.Release(ctxT(t), "a", 1); err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, a, "b", long, 2)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c := open(t, g)
	if l := lease(t, c); l.Holder != "b" || l.Epoch != 2 || !l.Valid {
		t.Fatalf("lease after reopening = %+v, want held by b at epoch 2", l)
	}
	refuseAcquire(t, c, "c", "b", 2)
	if !renew(t, c, "b", 2, long) {
		t.Fatal("Renew through a new handle failed")
	}
}

func testGroupsIsolated(t *testing.T, open Opener) {
	x, y := open(t, Group(t)), open(t, Group(t))
	mustAcquire(t, x, "a", long, 1)
	mustAcquire(t, y, "b", long, 1)
	mustAcquire(t, x, "a", long, 1)
	if err := x.Heartbeat(ctxT(t), coord.NodeInfo{ID: "a"}, long); err != nil {
		t.Fatal(err)
	}
	ms, err := y.Members(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		t.Fatalf("members of another group leak: %+v", ms)
	}
}

func heartbeat(t *testing.T, c coord.Coordinator, n coord.NodeInfo, liveFor time.Duration) {
	t.Helper()
	if err := c.Heartbeat(ctxT(t), n, liveFor); err != nil {
		t.Fatalf("Heartbeat(%q): %v", n.ID, err)
	}
}

func members(t *testing.T, c coord.Coordinator) map[string]coord.Member {
	t.Helper()
	ms, err := c.Members(ctxT(t))
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	out := map[string]coord.Member{}
	for _, m := range ms {
		if _, dup := out[m.ID]; dup {
			t.Fatalf("Members lists %q twice: %+v", m.ID, ms)
		}
		out[m.ID] = m
	}
	return out
}

func testMembers(t *testing.T, open Opener) {
	g := Group(t)
	a, b := open(t, g), open(t, g)
	started := time.UnixMilli(time.Now().UnixMilli()).UTC()
	na := coord.NodeInfo{ID: "a", APIAddr: "127.0.0.1:8001", ReplAddr: "127.0.0.1:9001", DataAddr: "127.0.0.1:7001",
		StartedAt: started, InSync: "d1"}
	nb := coord.NodeInfo{ID: "b", APIAddr: "[::1]:8002", ReplAddr: "[::1]:9002"}
	heartbeat(t, a, na, long)
	heartbeat(t, b, nb, long)
	ms := members(t, a)
	if len(ms) != 2 {
		t.Fatalf("Members = %+v, want a and b", ms)
	}
	for _, want := range []coord.NodeInfo{na, nb} {
		m := ms[want.ID]
		if !m.StartedAt.Equal(want.StartedAt) {
			t.Errorf("member %q StartedAt = %v, want %v", want.ID, m.StartedAt, want.StartedAt)
		}
		m.StartedAt = want.StartedAt
		if m.NodeInfo != want {
			t.Errorf("member %q info = %+v, want %+v", want.ID, m.NodeInfo, want)
		}
		if !m.Alive || m.LastSeen.IsZero() {
			t.Errorf("member %q = %+v, want alive with LastSeen", want.ID, m)
		}
	}
	// A heartbeat updates the published info.
	na.InSync = "d2"
	na.APIAddr = "127.0.0.1:8101"
	time.Sleep(5 * time.Millisecond)
	heartbeat(t, a, na, long)
	m := members(t, b)["a"]
	if m.InSync != "d2" || m.APIAddr != "127.0.0.1:8101" {
		t.Fatalf("after a new heartbeat member a = %+v, want digest d2 and the new API address", m)
	}
	if !m.LastSeen.After(ms["a"].LastSeen) {
		t.Fatalf("LastSeen did not advance: %v then %v", ms["a"].LastSeen, m.LastSeen)
	}
}

func testGroupFull(t *testing.T, open Opener) {
	g := Group(t)
	a, b, c := open(t, g), open(t, g), open(t, g)
	heartbeat(t, a, coord.NodeInfo{ID: "a"}, long)
	heartbeat(t, b, coord.NodeInfo{ID: "b"}, live)
	err := c.Heartbeat(ctxT(t), coord.NodeInfo{ID: "c"}, long)
	if !errors.Is(err, coord.ErrGroupFull) {
		t.Fatalf("third node's Heartbeat = %v, want ErrGroupFull", err)
	}
	if _, ok := members(t, a)["c"]; ok {
		t.Fatal("a refused node is listed as a member")
	}
	// Members keep beating while the group is full.
	heartbeat(t, a, coord.NodeInfo{ID: "a"}, long)
	// Once b's window lapses, the third node takes its place and b is
	// the one refused.
	waitFor(t, "b to be dead", func() error {
		if m := members(t, a)["b"]; m.Alive {
			return fmt.Errorf("b still alive: %+v", m)
		}
		return nil
	})
	heartbeat(t, c, coord.NodeInfo{ID: "c"}, long)
	if err := b.Heartbeat(ctxT(t), coord.NodeInfo{ID: "b"}, long); !errors.Is(err, coord.ErrGroupFull) {
		t.Fatalf("Heartbeat of the lapsed node = %v, want ErrGroupFull", err)
	}
	ms := members(t, c)
	if !ms["a"].Alive || !ms["c"].Alive || ms["b"].Alive || len(ms) != 3 {
		t.Fatalf("members = %+v, want a and c alive, b dead", ms)
	}
}

func testLiveness(t *testing.T, open Opener) {
	c := open(t, Group(t))
	heartbeat(t, c, coord.NodeInfo{ID: "a"}, live)
	first := members(t, c)["a"]
	waitFor(t, "a to be dead", func() error {
		if m := members(t, c)["a"]; m.Alive {
			return fmt.Errorf("a still alive: %+v", m)
		}
		return nil
	})
	heartbeat(t, c, coord.NodeInfo{ID: "a"}, long)
	m := members(t, c)["a"]
	if !m.Alive || !m.LastSeen.After(first.LastSeen) {
		t.Fatalf("after a new heartbeat a = %+v, want alive and seen after %v", m, first.LastSeen)
	}
}

func testBadInput(t *testing.T, open Opener) {
	c := open(t, Group(t))
	ctx := ctxT(t)
	for _, id := range []string{"", strings.Repeat("x", 201), "a\x00b", "\xff"} {
		if _, _, err := c.Acquire(ctx, id, long); err == nil {
			t.Errorf("Acquire(%q) succeeded", id)
		}
		if _, err := c.Renew(ctx, id, 1, long); err == nil {
			t.Errorf("Renew(%q) succeeded", id)
		}
		if err := c.Release(ctx, id, 1); err == nil {
			t.Errorf("Release(%q) succeeded", id)
		}
		if err := c.Heartbeat(ctx, coord.NodeInfo{ID: id}, long); err == nil {
			t.Errorf("Heartbeat(%q) succeeded", id)
		}
	}
	for _, d := range []time.Duration{0, -time.Second, time.Microsecond} {
		if _, _, err := c.Acquire(ctx, "a", d); err == nil {
			t.Errorf("Acquire with ttl %v succeeded", d)
		}
		if _, err := c.Renew(ctx, "a", 1, d); err == nil {
			t.Errorf("Renew with ttl %v succeeded", d)
		}
		if err := c.Heartbeat(ctx, coord.NodeInfo{ID: "a"}, d); err == nil {
			t.Errorf("Heartbeat with window %v succeeded", d)
		}
	}
	if l := lease(t, c); l.Holder != "" || l.Epoch != 0 {
		t.Fatalf("bad calls changed the lease: %+v", l)
	}
	if ms := members(t, c); len(ms) != 0 {
		t.Fatalf("bad calls added members: %+v", ms)
	}
}

func testCanceled(t *testing.T, open Opener) {
	c := open(t, Group(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := c.Acquire(ctx, "a", long); err == nil {
		t.Error("Acquire with a canceled context succeeded")
	}
	if _, err := c.Renew(ctx, "a", 1, long); err == nil {
		t.Error("Renew with a canceled context succeeded")
	}
	if err := c.Release(ctx, "a", 1); err == nil {
		t.Error("Release with a canceled context succeeded")
	}
	if err := c.Heartbeat(ctx, coord.NodeInfo{ID: "a"}, long); err == nil {
		t.Error("Heartbeat with a canceled context succeeded")
	}
	if _, err := c.Members(ctx); err == nil {
		t.Error("Members with a canceled context succeeded")
	}
	if _, err := c.Lease(ctx); err == nil {
		t.Error("Lease with a canceled context succeeded")
	}
	// The handle still works afterwards.
	mustAcquire(t, c, "a", long, 1)
}

// testConcurrentAcquire races nodes on several handles (processes) for the
// lease with a tiny ttl, releasing now and then, and checks the fencing
// invariants on every lease they read back: one holder per epoch, no epoch
// skipped, and no node seeing the epoch go back.
func testConcurrentAcquire(t *testing.T, open Opener) {
	const handles, perHandle = 3, 3
	g := Group(t)
	type seen struct {
		node  string
		epoch uint64
	}
	var (
		mu   sync.Mutex
		obs  []seen // every lease read back, won or not
		wins int
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctxT(t), 1500*time.Millisecond)
	defer cancel()
	errc := make(chan error, handles*perHandle)
	for h := range handles {
		c := open(t, g)
		for i := range perHandle {
			node := fmt.Sprintf("n%d-%d", h, i)
			wg.Go(func() {
				var last uint64
				for n := 0; ctx.Err() == nil; n++ {
					l, ok, err := c.Acquire(ctx, node, 30*time.Millisecond)
					if err != nil {
						if ctx.Err() == nil {
							errc <- fmt.Errorf("Acquire(%q): %w", node, err)
						}
						return
					}
					if l.Epoch < last {
						errc <- fmt.Errorf("node %q saw epoch %d after %d", node, l.Epoch, last)
						return
					}
					last = l.Epoch
					mu.Lock()
					if l.Holder != "" {
						obs = append(obs, seen{l.Holder, l.Epoch})
					}
					if ok {
						wins++
					}
					mu.Unlock()
					if !ok {
						time.Sleep(time.Millisecond)
						continue
					}
					switch n % 3 {
					case 0:
						c.Release(ctx, node, l.Epoch)
					case 1:
						c.Renew(ctx, node, l.Epoch, 30*time.Millisecond)
					}
					time.Sleep(time.Duration(n%5) * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	holder := map[uint64]string{}
	for _, o := range obs {
		if h, ok := holder[o.epoch]; ok && h != o.node {
			t.Errorf("epoch %d held by both %q and %q", o.epoch, h, o.node)
		}
		holder[o.epoch] = o.node
	}
	epochs := make([]uint64, 0, len(holder))
	for e := range holder {
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	for i, e := range epochs {
		if e != uint64(i+1) {
			t.Fatalf("epochs won = %v, want 1..%d without gaps", epochs, len(epochs))
		}
	}
	if len(epochs) < 3 {
		t.Fatalf("only %d changes of holder in the race; the test proves nothing", len(epochs))
	}
	t.Logf("%d acquisitions, %d epochs", wins, len(epochs))
}

// testConcurrentJoin has five nodes join at once: two get in.
func testConcurrentJoin(t *testing.T, open Opener) {
	const n = 5
	g := Group(t)
	cs := make([]coord.Coordinator, n)
	for i := range cs {
		cs[i] = open(t, g)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range cs {
		wg.Go(func() {
			<-start
			errs[i] = c.Heartbeat(ctxT(t), coord.NodeInfo{ID: fmt.Sprintf("n%d", i)}, long)
		})
	}
	close(start)
	wg.Wait()
	joined := 0
	for i, err := range errs {
		switch {
		case err == nil:
			joined++
		case !errors.Is(err, coord.ErrGroupFull):
			t.Errorf("node n%d: %v", i, err)
		}
	}
	if joined != 2 {
		t.Fatalf("%d nodes joined, want 2 (errors %v)", joined, errs)
	}
	alive := 0
	for _, m := range members(t, cs[0]) {
		if m.Alive {
			alive++
		}
	}
	if alive != 2 {
		t.Fatalf("%d live members, want 2", alive)
	}
}

// Outage checks a Coordinator whose store goes away: down takes the store
// away (for instance tcpproxy's Cut or Stall) and up brings it back. While
// it is away every call must fail within its context's deadline plus a
// little, not hang; once it is back calls work again and the lease (and
// the apps, if c is also an app store) are as they were.
func Outage(t *testing.T, c coord.Coordinator, down, up func()) {
	mustAcquire(t, c, "a", long, 1)
	heartbeat(t, c, coord.NodeInfo{ID: "a"}, long)
	as, hasApps := c.(coord.AppStore)
	var app coord.App
	if hasApps {
		app = putApp(t, as, "app", []byte("text"))
	}
	down()
	const timeout = 500 * time.Millisecond
	const slack = 2 * time.Second
	calls := []struct {
		name string
		f    func(context.Context) error
	}{
		{"Acquire", func(ctx context.Context) error { _, _, err := c.Acquire(ctx, "a", long); return err }},
		{"Renew", func(ctx context.Context) error { _, err := c.Renew(ctx, "a", 1, long); return err }},
		{"Heartbeat", func(ctx context.Context) error { return c.Heartbeat(ctx, coord.NodeInfo{ID: "a"}, long) }},
		{"Members", func(ctx context.Context) error { _, err := c.Members(ctx); return err }},
		{"Lease", func(ctx context.Context) error { _, err := c.Lease(ctx); return err }},
		{"Release", func(ctx context.Context) error { return c.Release(ctx, "b", 1) }},
	}
	if hasApps {
		calls = append(calls, []struct {
			name string
			f    func(context.Context) error
		}{
			{"PutApp", func(ctx context.Context) error { _, err := as.PutApp(ctx, "app", []byte("other")); return err }},
			{"DeleteApp", func(ctx context.Context) error { return as.DeleteApp(ctx, "app") }},
			{"Apps", func(ctx context.Context) error { _, err := as.Apps(ctx); return err }},
		}...)
	}
	for _, call := range calls {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		start := time.Now()
		err := call.f(ctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Errorf("%s succeeded while the store is down", call.name)
		}
		if took > timeout+slack {
			t.Errorf("%s took %v with a %v deadline", call.name, took, timeout)
		}
		t.Logf("%s while down: %v after %v", call.name, err, took.Round(time.Millisecond))
	}
	up()
	waitFor(t, "the store to come back", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		ok, err := c.Renew(ctx, "a", 1, long)
		if err != nil {
			return err
		}
		if !ok {
			t.Fatal("Renew after the outage: lease lost")
		}
		return nil
	})
	if l := lease(t, c); l.Holder != "a" || l.Epoch != 1 || !l.Valid {
		t.Fatalf("lease after the outage = %+v, want held by a at epoch 1", l)
	}
	heartbeat(t, c, coord.NodeInfo{ID: "a"}, long)
	if hasApps {
		// A put or delete sent while the store was away may have reached
		// it all the same, as with any request whose answer is lost; the
		// app is one of the three possible states.
		apps := listApps(t, as)
		switch {
		case len(apps) == 1 && sameApp(apps[0], app):
		case len(apps) == 1 && string(apps[0].Text) == "other" && apps[0].Version > app.Version:
		case len(apps) == 0:
		default:
			t.Fatalf("apps after the outage = %s, want %s or its replacement or none", fmtApps(apps), fmtApps([]coord.App{app}))
		}
		putApp(t, as, "app", []byte("after"))
	}
}
