package coordtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
)

// appStore returns c's app store, or skips the test if the backend has none.
func appStore(t *testing.T, c coord.Coordinator) coord.AppStore {
	t.Helper()
	s, ok := c.(coord.AppStore)
	if !ok {
		t.Skipf("%T does not implement coord.AppStore", c)
	}
	return s
}

func putApp(t *testing.T, s coord.AppStore, name string, text []byte) coord.App {
	t.Helper()
	a, err := s.PutApp(ctxT(t), name, text)
	if err != nil {
		t.Fatalf("PutApp(%q): %v", name, err)
	}
	if a.Name != name || !bytes.Equal(a.Text, text) || a.Hash != coord.AppHash(text) || a.Version == 0 || a.Updated.IsZero() {
		t.Fatalf("PutApp(%q, %q) = %+v: want the name, text, its hash, a version and a time", name, text, a)
	}
	return a
}

func listApps(t *testing.T, s coord.AppStore) []coord.App {
	t.Helper()
	apps, err := s.Apps(ctxT(t))
	if err != nil {
		t.Fatalf("Apps: %v", err)
	}
	return apps
}

func sameApp(a, b coord.App) bool {
	return a.Name == b.Name && bytes.Equal(a.Text, b.Text) && a.Hash == b.Hash && a.Version == b.Version &&
		a.Updated.Equal(b.Updated)
}

// wantApps checks that s lists exactly want, in order.
func wantApps(t *testing.T, s coord.AppStore, want ...coord.App) {
	t.Helper()
	got := listApps(t, s)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameApp(got[i], want[i])
	}
	if !ok {
		t.Fatalf("Apps() =\n\t%s\nwant\n\t%s", fmtApps(got), fmtApps(want))
	}
}

func fmtApps(apps []coord.App) string {
	var b strings.Builder
	for _, a := range apps {
		fmt.Fprintf(&b, "{%q v%d %.8s %q %v} ", a.Name, a.Version, a.Hash, a.Text, a.Updated)
	}
	return b.String()
}

func testApps(t *testing.T, open Opener) {
	g := Group(t)
	s1, s2 := appStore(t, open(t, g)), appStore(t, open(t, g))
	if apps := listApps(t, s1); len(apps) != 0 {
		t.Fatalf("apps of a new group: %s", fmtApps(apps))
	}
	text := []byte("@app:name('b')\ndefine stream S (x int);\n")
	b1 := putApp(t, s1, "b", text)
	if b1.Version != 1 {
		t.Fatalf("first version = %d, want 1", b1.Version)
	}
	// Exact bytes, whatever they are, and names compared byte for byte.
	odd := []byte{0, 0xff, 0xfe, '\n', '\'', '?', 0}
	a := putApp(t, s2, "a", odd)
	upper := putApp(t, s2, "A", nil)
	if len(upper.Text) != 0 {
		t.Fatalf("empty text stored as %q", upper.Text)
	}
	wantApps(t, s1, upper, a, b1)

	time.Sleep(5 * time.Millisecond)
	text2 := append(bytes.Clone(text), "-- v2\n"...)
	b2 := putApp(t, s2, "b", text2)
	if b2.Version != 2 || !b2.Updated.After(b1.Updated) {
		t.Fatalf("replacing: %+v after %+v, want version 2 and a later time", b2, b1)
	}
	// The same text again is a change too: the version moves.
	b3 := putApp(t, s1, "b", text2)
	if b3.Version != 3 || b3.Hash != b2.Hash {
		t.Fatalf("putting the same text: %+v, want version 3 and the same hash", b3)
	}
	wantApps(t, s2, upper, a, b3)
}

func testAppsDelete(t *testing.T, open Opener) {
	g := Group(t)
	s1, s2 := appStore(t, open(t, g)), appStore(t, open(t, g))
	for _, name := range []string{"x", "never"} {
		if err := s1.DeleteApp(ctxT(t), name); !errors.Is(err, coord.ErrNoApp) {
			t.Fatalf("DeleteApp(%q) of a missing app = %v, want ErrNoApp", name, err)
		}
	}
	x1 := putApp(t, s1, "x", []byte("one"))
	y := putApp(t, s1, "y", []byte("why"))
	x2 := putApp(t, s1, "x", []byte("two"))
	if err := s2.DeleteApp(ctxT(t), "x"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	wantApps(t, s1, y)
	if err := s1.DeleteApp(ctxT(t), "x"); !errors.Is(err, coord.ErrNoApp) {
		t.Fatalf("second DeleteApp = %v, want ErrNoApp", err)
	}
	// Deployed again, it counts on: no node can mistake it for version 1
	// or 2, which it may still run.
	x3 := putApp(t, s2, "x", []byte("one"))
	if x3.Version <= x2.Version || x2.Version <= x1.Version {
		t.Fatalf("versions %d, %d, then %d after deletion: want increasing", x1.Version, x2.Version, x3.Version)
	}
	wantApps(t, s1, x3, y)
	// Reopening changes nothing.
	wantApps(t, appStore(t, open(t, g)), x3, y)
}

func testAppsGroups(t *testing.T, open Opener) {
	s1, s2 := appStore(t, open(t, Group(t))), appStore(t, open(t, Group(t)))
	a := putApp(t, s1, "a", []byte("1"))
	if apps := listApps(t, s2); len(apps) != 0 {
		t.Fatalf("apps of another group leak: %s", fmtApps(apps))
	}
	if err := s2.DeleteApp(ctxT(t), "a"); !errors.Is(err, coord.ErrNoApp) {
		t.Fatalf("DeleteApp in another group = %v, want ErrNoApp", err)
	}
	b := putApp(t, s2, "a", []byte("2"))
	if b.Version != 1 {
		t.Fatalf("the other group's first version = %d, want 1", b.Version)
	}
	wantApps(t, s1, a)
}

func testAppsBadInput(t *testing.T, open Opener) {
	s := appStore(t, open(t, Group(t)))
	ctx := ctxT(t)
	for _, name := range []string{"", strings.Repeat("x", 201), "a\x00b", "\xff"} {
		if _, err := s.PutApp(ctx, name, []byte("x")); err == nil {
			t.Errorf("PutApp(%q) succeeded", name)
		}
		if err := s.DeleteApp(ctx, name); err == nil || errors.Is(err, coord.ErrNoApp) {
			t.Errorf("DeleteApp(%q) = %v, want an error about the name", name, err)
		}
	}
	if _, err := s.PutApp(ctx, "big", make([]byte, coord.MaxAppSize+1)); err == nil {
		t.Error("PutApp of a text above MaxAppSize succeeded")
	}
	if apps := listApps(t, s); len(apps) != 0 {
		t.Fatalf("bad calls stored apps: %s", fmtApps(apps))
	}
	// The largest text and the longest name are fine.
	big := bytes.Repeat([]byte("0123456789abcdef"), coord.MaxAppSize/16)
	name := strings.Repeat("n", 200)
	putApp(t, s, name, big)
	if apps := listApps(t, s); len(apps) != 1 || !bytes.Equal(apps[0].Text, big) || apps[0].Name != name {
		t.Fatal("the largest app did not come back intact")
	}
}

func testAppsCanceled(t *testing.T, open Opener) {
	s := appStore(t, open(t, Group(t)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.PutApp(ctx, "a", []byte("x")); err == nil {
		t.Error("PutApp with a canceled context succeeded")
	}
	if err := s.DeleteApp(ctx, "a"); err == nil {
		t.Error("DeleteApp with a canceled context succeeded")
	}
	if _, err := s.Apps(ctx); err == nil {
		t.Error("Apps with a canceled context succeeded")
	}
	putApp(t, s, "a", []byte("x"))
}

// testAppsConcurrentPut has several handles replace one app at once: every
// put gets its own version, the versions are 1..n, and the app ends up with
// the text of the put that got the highest.
func testAppsConcurrentPut(t *testing.T, open Opener) {
	const handles, perHandle = 3, 5
	g := Group(t)
	type put struct {
		version uint64
		text    string
	}
	var (
		mu   sync.Mutex
		puts []put
		wg   sync.WaitGroup
	)
	errc := make(chan error, handles*perHandle)
	start := make(chan struct{})
	for h := range handles {
		s := appStore(t, open(t, g))
		wg.Go(func() {
			<-start
			for i := range perHandle {
				text := fmt.Sprintf("handle %d put %d", h, i)
				a, err := s.PutApp(ctxT(t), "app", []byte(text))
				if err != nil {
					errc <- err
					return
				}
				if string(a.Text) != text {
					errc <- fmt.Errorf("PutApp(%q) returned text %q", text, a.Text)
				}
				mu.Lock()
				puts = append(puts, put{a.Version, text})
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	byVersion := map[uint64]string{}
	for _, p := range puts {
		if other, dup := byVersion[p.version]; dup {
			t.Fatalf("version %d returned to two puts: %q and %q", p.version, other, p.text)
		}
		byVersion[p.version] = p.text
	}
	for v := uint64(1); v <= handles*perHandle; v++ {
		if _, ok := byVersion[v]; !ok {
			t.Fatalf("versions returned %v: want 1..%d", byVersion, handles*perHandle)
		}
	}
	apps := listApps(t, appStore(t, open(t, g)))
	if len(apps) != 1 {
		t.Fatalf("Apps() = %s, want the one app", fmtApps(apps))
	}
	last := byVersion[handles*perHandle]
	if a := apps[0]; a.Version != handles*perHandle || string(a.Text) != last || a.Hash != coord.AppHash([]byte(last)) {
		t.Fatalf("app after the race = {v%d %q}, want {v%d %q}", a.Version, a.Text, handles*perHandle, last)
	}
}
