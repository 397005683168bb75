// Package storetest is the conformance suite of persist.Store: the file
// system store and the SQL stores all run Run against themselves.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/persist"
)

// Harness adapts a backend to the suite.
type Harness struct {
	// New creates an empty, isolated store keeping keep revisions per app (0:
	// the default, 3) and returns a function opening handles on it. Every
	// handle sees the same checkpoints; New registers cleanup with t.Cleanup.
	New func(t *testing.T, keep int) (open func() persist.Store)
	// Corrupt damages the stored state of app's revision behind the store's
	// back, keeping its size, so that it no longer matches its checksum.
	Corrupt func(t *testing.T, s persist.Store, app string, revision uint64)
	// SharedHandles is true when several handles (processes) may write to one
	// store at once; the suite then races writers on different handles.
	SharedHandles bool
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		f    func(*testing.T, Harness)
	}{
		{"SaveLatestLoad", testSaveLatestLoad},
		{"AutoRevision", testAutoRevision},
		{"Keep", testKeep},
		{"EmptyAndLargeState", testSizes},
		{"NotFound", testNotFound},
		{"CorruptFallback", testCorrupt},
		{"Stale", testStale},
		{"NewerEpochSupersedes", testSupersede},
		{"ChecksumCheckedOnSave", testChecksumOnSave},
		{"Clear", testClear},
		{"AppNames", testAppNames},
		{"BadInput", testBadInput},
		{"Reopen", testReopen},
		{"CanceledContext", testCanceled},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, h) })
	}
}

func newStore(t *testing.T, h Harness, keep int) persist.Store {
	t.Helper()
	return h.New(t, keep)()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func manifest(app string, epoch, lsn, rev uint64) persist.Manifest {
	return persist.Manifest{App: app, AppHash: "h-" + app, Epoch: epoch, LSN: lsn, Revision: rev}
}

func save(t *testing.T, s persist.Store, m persist.Manifest, state []byte) persist.Manifest {
	t.Helper()
	got, err := s.Save(ctxT(t), m, state)
	if err != nil {
		t.Fatalf("Save(%s rev %d epoch %d): %v", m.App, m.Revision, m.Epoch, err)
	}
	return got
}

func latest(t *testing.T, s persist.Store, app string) (persist.Manifest, []byte) {
	t.Helper()
	m, state, err := s.Latest(ctxT(t), app)
	if err != nil {
		t.Fatalf("Latest(%q): %v", app, err)
	}
	return m, state
}

func list(t *testing.T, s persist.Store, app string) []persist.Manifest {
	t.Helper()
	ms, err := s.List(ctxT(t), app)
	if err != nil {
		t.Fatalf("List(%q): %v", app, err)
	}
	return ms
}

func revisions(ms []persist.Manifest) []uint64 {
	var r []uint64
	for _, m := range ms {
		r = append(r, m.Revision)
	}
	return r
}

// sameManifest compares manifests, times by instant.
func sameManifest(a, b persist.Manifest) bool {
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created, b.Created = time.Time{}, time.Time{}
	return a == b
}

func wantCheckpoint(t *testing.T, what string, gotM persist.Manifest, gotState []byte, wantM persist.Manifest, wantState []byte) {
	t.Helper()
	if !sameManifest(gotM, wantM) {
		t.Fatalf("%s: manifest %+v, want %+v", what, gotM, wantM)
	}
	if !bytes.Equal(gotState, wantState) {
		t.Fatalf("%s: state of %d bytes differs from the %d saved", what, len(gotState), len(wantState))
	}
}

func testSaveLatestLoad(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	state := []byte("state one")
	in := manifest("app", 1, 42, 1)
	before := time.Now()
	m := save(t, s, in, state)
	sum := sha256.Sum256(state)
	want := in
	want.Checksum, want.Size, want.Created = hex.EncodeToString(sum[:]), int64(len(state)), m.Created
	if !sameManifest(m, want) {
		t.Fatalf("Save returned %+v, want %+v", m, want)
	}
	if m.Created.Location() != time.UTC || m.Created.Before(before.Add(-time.Second)) || m.Created.After(time.Now().Add(time.Second)) {
		t.Fatalf("Created = %v, want now in UTC", m.Created)
	}
	gotM, gotState := latest(t, s, "app")
	wantCheckpoint(t, "Latest", gotM, gotState, m, state)
	gotM, gotState, err := s.Load(ctxT(t), "app", 1)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantCheckpoint(t, "Load", gotM, gotState, m, state)
	if ms := list(t, s, "app"); len(ms) != 1 || !sameManifest(ms[0], m) {
		t.Fatalf("List = %+v, want [%+v]", ms, m)
	}
	// A given creation time is kept.
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	in2 := manifest("app", 1, 50, 2)
	in2.Created = created
	m2 := save(t, s, in2, []byte("two"))
	if !m2.Created.Equal(created) || m2.Created.Location() != time.UTC {
		t.Fatalf("Created = %v, want %v in UTC", m2.Created, created)
	}
	gotM, _ = latest(t, s, "app")
	if !sameManifest(gotM, m2) {
		t.Fatalf("Latest = %+v, want %+v", gotM, m2)
	}
}

func testAutoRevision(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	for i := uint64(1); i <= 3; i++ {
		if m := save(t, s, manifest("a", 1, i, 0), []byte{byte(i)}); m.Revision != i {
			t.Fatalf("auto revision %d, want %d", m.Revision, i)
		}
	}
	save(t, s, manifest("a", 1, 10, 10), []byte("ten"))
	if m := save(t, s, manifest("a", 1, 11, 0), []byte("eleven")); m.Revision != 11 {
		t.Fatalf("auto revision after 10 = %d, want 11", m.Revision)
	}
	if m := save(t, s, manifest("b", 1, 1, 0), []byte("b")); m.Revision != 1 {
		t.Fatalf("first auto revision of another app = %d, want 1", m.Revision)
	}
}

func testKeep(t *testing.T, h Harness) {
	for _, tc := range []struct{ keep, want int }{{0, 3}, {1, 1}, {5, 5}} {
		t.Run(fmt.Sprint(tc.keep), func(t *testing.T) {
			s := newStore(t, h, tc.keep)
			const n = 7
			for i := uint64(1); i <= n; i++ {
				save(t, s, manifest("a", 1, i, i), []byte{byte(i)})
			}
			var want []uint64
			for i := n - tc.want + 1; i <= n; i++ {
				want = append(want, uint64(i))
			}
			if got := revisions(list(t, s, "a")); !slices.Equal(got, want) {
				t.Fatalf("revisions kept = %v, want %v", got, want)
			}
			if _, _, err := s.Load(ctxT(t), "a", want[0]-1); !errors.Is(err, persist.ErrNotFound) {
				t.Fatalf("Load of a pruned revision = %v, want ErrNotFound", err)
			}
			for _, r := range want {
				if _, state, err := s.Load(ctxT(t), "a", r); err != nil || !bytes.Equal(state, []byte{byte(r)}) {
					t.Fatalf("Load(%d) = %v, %v", r, state, err)
				}
			}
		})
	}
}

func testSizes(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	large := randBytes(t, 5<<20)
	for i, state := range [][]byte{nil, {}, {0}, large} {
		app := fmt.Sprintf("app%d", i)
		m := save(t, s, manifest(app, 1, 1, 1), state)
		if m.Size != int64(len(state)) {
			t.Fatalf("%s: Size = %d, want %d", app, m.Size, len(state))
		}
		gotM, gotState := latest(t, s, app)
		wantCheckpoint(t, app, gotM, gotState, m, state)
	}
}

func testNotFound(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	if _, _, err := s.Latest(ctxT(t), "nope"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Latest of an unknown app = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Load(ctxT(t), "nope", 1); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Load of an unknown app = %v, want ErrNotFound", err)
	}
	if ms := list(t, s, "nope"); len(ms) != 0 {
		t.Fatalf("List of an unknown app = %+v", ms)
	}
	save(t, s, manifest("a", 1, 1, 1), []byte("x"))
	if _, _, err := s.Load(ctxT(t), "a", 2); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Load of a missing revision = %v, want ErrNotFound", err)
	}
}

func testCorrupt(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	var ms []persist.Manifest
	var states [][]byte
	for i := uint64(1); i <= 3; i++ {
		state := randBytes(t, 100)
		ms = append(ms, save(t, s, manifest("a", 1, i*10, i), state))
		states = append(states, state)
	}
	h.Corrupt(t, s, "a", 3)
	if _, _, err := s.Load(ctxT(t), "a", 3); !errors.Is(err, persist.ErrCorrupt) {
		t.Fatalf("Load of a corrupt revision = %v, want ErrCorrupt", err)
	}
	m, state := latest(t, s, "a")
	wantCheckpoint(t, "Latest with the newest corrupt", m, state, ms[1], states[1])
	h.Corrupt(t, s, "a", 2)
	m, state = latest(t, s, "a")
	wantCheckpoint(t, "Latest with two corrupt", m, state, ms[0], states[0])
	h.Corrupt(t, s, "a", 1)
	if _, _, err := s.Latest(ctxT(t), "a"); !errors.Is(err, persist.ErrCorrupt) {
		t.Fatalf("Latest with every revision corrupt = %v, want ErrCorrupt", err)
	}
	// A new checkpoint heals the app.
	good := save(t, s, manifest("a", 1, 40, 0), []byte("fresh"))
	m, state = latest(t, s, "a")
	wantCheckpoint(t, "Latest after a new save", m, state, good, []byte("fresh"))
}

func testStale(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	m5 := save(t, s, manifest("a", 2, 50, 5), []byte("five"))
	for _, tc := range []struct {
		name  string
		m     persist.Manifest
		state string
	}{
		{"same revision, other state", manifest("a", 2, 50, 5), "other"},
		{"older revision", manifest("a", 2, 40, 4), "four"},
		{"older epoch", manifest("a", 1, 60, 6), "six"},
		{"older epoch, auto revision", manifest("a", 1, 60, 0), "six"},
	} {
		_, err := s.Save(ctxT(t), tc.m, []byte(tc.state))
		if !errors.Is(err, persist.ErrStale) {
			t.Errorf("%s: Save = %v, want ErrStale", tc.name, err)
		}
	}
	// Saving the same checkpoint again is a no-op.
	again := manifest("a", 2, 50, 5)
	again.Created = m5.Created.Add(time.Hour)
	got := save(t, s, again, []byte("five"))
	if !sameManifest(got, m5) {
		t.Fatalf("re-Save returned %+v, want the stored %+v", got, m5)
	}
	m, state := latest(t, s, "a")
	wantCheckpoint(t, "Latest after refused saves", m, state, m5, []byte("five"))
	if got := revisions(list(t, s, "a")); !slices.Equal(got, []uint64{5}) {
		t.Fatalf("revisions = %v, want [5]", got)
	}
}

func testSupersede(t *testing.T, h Harness) {
	s := newStore(t, h, 5)
	var old []persist.Manifest
	for i := uint64(1); i <= 4; i++ {
		old = append(old, save(t, s, manifest("a", 1, i, i), []byte{byte(i)}))
	}
	// The new active (epoch 2) knew revisions up to 2 and writes its own 3.
	m3 := save(t, s, manifest("a", 2, 30, 3), []byte("new three"))
	ms := list(t, s, "a")
	if len(ms) != 3 || !sameManifest(ms[0], old[0]) || !sameManifest(ms[1], old[1]) || !sameManifest(ms[2], m3) {
		t.Fatalf("after a newer epoch's revision 3: %+v, want revisions 1, 2 of epoch 1 and 3 of epoch 2", ms)
	}
	m, state := latest(t, s, "a")
	wantCheckpoint(t, "Latest", m, state, m3, []byte("new three"))
	if _, err := s.Save(ctxT(t), manifest("a", 1, 4, 4), []byte{4}); !errors.Is(err, persist.ErrStale) {
		t.Fatalf("the old epoch saving again = %v, want ErrStale", err)
	}
}

func testChecksumOnSave(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	m := manifest("a", 1, 1, 1)
	m.Checksum = strings.Repeat("0", 64)
	if _, err := s.Save(ctxT(t), m, []byte("x")); !errors.Is(err, persist.ErrCorrupt) {
		t.Fatalf("Save with a wrong checksum = %v, want ErrCorrupt", err)
	}
	m = manifest("a", 1, 1, 1)
	m.Size = 5
	if _, err := s.Save(ctxT(t), m, []byte("x")); !errors.Is(err, persist.ErrCorrupt) {
		t.Fatalf("Save with a wrong size = %v, want ErrCorrupt", err)
	}
	if _, _, err := s.Latest(ctxT(t), "a"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("a refused save left something: %v", err)
	}
	// The right checksum is accepted: a checkpoint shipped with its manifest.
	src := save(t, newStore(t, h, 0), manifest("a", 1, 1, 1), []byte("x"))
	got := save(t, s, src, []byte("x"))
	if !sameManifest(got, src) {
		t.Fatalf("Save of a shipped manifest returned %+v, want %+v", got, src)
	}
}

func testClear(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	for i := uint64(1); i <= 3; i++ {
		save(t, s, manifest("a", 1, i, i), []byte("a"))
		save(t, s, manifest("b", 1, i, i), []byte("b"))
	}
	if err := s.Clear(ctxT(t), "a"); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if _, _, err := s.Latest(ctxT(t), "a"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Latest after Clear = %v, want ErrNotFound", err)
	}
	if ms := list(t, s, "a"); len(ms) != 0 {
		t.Fatalf("List after Clear = %+v", ms)
	}
	if _, state := latest(t, s, "b"); string(state) != "b" {
		t.Fatal("Clear of a touched another app")
	}
	if err := s.Clear(ctxT(t), "never"); err != nil {
		t.Fatalf("Clear of an unknown app: %v", err)
	}
	if err := s.Clear(ctxT(t), "a"); err != nil {
		t.Fatalf("second Clear: %v", err)
	}
	// A cleared app starts again from revision 1, at any epoch.
	if m := save(t, s, manifest("a", 1, 1, 0), []byte("again")); m.Revision != 1 {
		t.Fatalf("first revision after Clear = %d, want 1", m.Revision)
	}
	if l, ok := s.(persist.Lister); ok {
		apps, err := l.Apps(ctxT(t))
		if err != nil || !slices.Equal(apps, []string{"a", "b"}) {
			t.Fatalf("Apps = %v, %v; want [a b]", apps, err)
		}
	}
}

func testAppNames(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	names := []string{
		"a/b", "../x", ".", "..", ".hidden", "a b", "ünïcödé", "日本語", "x%41", "xA", "App", "app",
		"a\\b", "a:b", "a*b?", "CON", strings.Repeat("é", 100), strings.Repeat("z", 200),
		strings.Repeat("y", 199) + "1", strings.Repeat("y", 199) + "2", "tab\tname", "new\nline",
	}
	for i, app := range names {
		save(t, s, manifest(app, 1, 1, 1), []byte(fmt.Sprint("state ", i)))
	}
	for i, app := range names {
		m, state := latest(t, s, app)
		if m.App != app || string(state) != fmt.Sprint("state ", i) {
			t.Errorf("Latest(%q) = %q with state %q", app, m.App, state)
		}
	}
	if l, ok := s.(persist.Lister); ok {
		apps, err := l.Apps(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(names)
		slices.Sort(want)
		if !slices.Equal(apps, want) {
			t.Fatalf("Apps = %q, want %q", apps, want)
		}
	}
	for _, app := range names {
		if err := s.Clear(ctxT(t), app); err != nil {
			t.Fatalf("Clear(%q): %v", app, err)
		}
	}
	if l, ok := s.(persist.Lister); ok {
		if apps, err := l.Apps(ctxT(t)); err != nil || len(apps) != 0 {
			t.Fatalf("Apps after clearing all = %q, %v", apps, err)
		}
	}
}

func testBadInput(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	ctx := ctxT(t)
	for _, app := range []string{"", strings.Repeat("a", 201), "\xff", "a\x00b"} {
		if _, err := s.Save(ctx, manifest(app, 1, 1, 1), []byte("x")); err == nil {
			t.Errorf("Save(%q) succeeded", app)
		}
		if _, _, err := s.Latest(ctx, app); err == nil || errors.Is(err, persist.ErrNotFound) {
			t.Errorf("Latest(%q) = %v, want an error about the name", app, err)
		}
		if _, _, err := s.Load(ctx, app, 1); err == nil || errors.Is(err, persist.ErrNotFound) {
			t.Errorf("Load(%q) = %v, want an error about the name", app, err)
		}
		if _, err := s.List(ctx, app); err == nil {
			t.Errorf("List(%q) succeeded", app)
		}
		if err := s.Clear(ctx, app); err == nil {
			t.Errorf("Clear(%q) succeeded", app)
		}
	}
	for _, m := range []persist.Manifest{
		manifest("a", math.MaxUint64, 1, 1),
		manifest("a", 1, math.MaxUint64, 1),
		manifest("a", 1, 1, math.MaxUint64),
		{App: "a", AppHash: strings.Repeat("h", 256), Revision: 1},
		{App: "a", AppHash: "\xff", Revision: 1},
	} {
		if _, err := s.Save(ctx, m, []byte("x")); err == nil {
			t.Errorf("Save(%+v) succeeded", m)
		}
	}
	if ms := list(t, s, "a"); len(ms) != 0 {
		t.Fatalf("bad saves stored %+v", ms)
	}
}

func testReopen(t *testing.T, h Harness) {
	open := h.New(t, 0)
	s1 := open()
	m := save(t, s1, manifest("a", 3, 7, 0), []byte("durable"))
	s2 := open()
	got, state := latest(t, s2, "a")
	wantCheckpoint(t, "Latest on a new handle", got, state, m, []byte("durable"))
	if m2 := save(t, s2, manifest("a", 3, 8, 0), []byte("next")); m2.Revision != m.Revision+1 {
		t.Fatalf("revision on a new handle = %d, want %d", m2.Revision, m.Revision+1)
	}
}

func testCanceled(t *testing.T, h Harness) {
	s := newStore(t, h, 0)
	save(t, s, manifest("a", 1, 1, 1), []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Save(ctx, manifest("a", 1, 2, 2), []byte("y")); err == nil {
		t.Error("Save with a canceled context succeeded")
	}
	if _, _, err := s.Latest(ctx, "a"); err == nil {
		t.Error("Latest with a canceled context succeeded")
	}
	if _, _, err := s.Load(ctx, "a", 1); err == nil {
		t.Error("Load with a canceled context succeeded")
	}
	if _, err := s.List(ctx, "a"); err == nil {
		t.Error("List with a canceled context succeeded")
	}
	if err := s.Clear(ctx, "a"); err == nil {
		t.Error("Clear with a canceled context succeeded")
	}
	if got := revisions(list(t, s, "a")); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("canceled calls changed the store: revisions %v", got)
	}
}

// testConcurrent has writers save with automatic revisions while readers
// read: every save gets its own revision, readers only ever see intact
// checkpoints, and the newest Keep remain.
func testConcurrent(t *testing.T, h Harness) {
	open := h.New(t, 0)
	handles := []persist.Store{open()}
	if h.SharedHandles {
		handles = append(handles, open())
	}
	const writers, saves = 4, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		revs []uint64
	)
	ctx := ctxT(t)
	errc := make(chan error, 64)
	done := make(chan struct{})
	for w := range writers {
		s := handles[w%len(handles)]
		wg.Go(func() {
			for i := range saves {
				state := fmt.Appendf(nil, "writer %d save %d", w, i)
				m, err := s.Save(ctx, manifest("a", 1, uint64(i), 0), state)
				if err != nil {
					errc <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				mu.Lock()
				revs = append(revs, m.Revision)
				mu.Unlock()
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 2 {
		s := handles[r%len(handles)]
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				_, _, err := s.Latest(ctx, "a")
				if err != nil && !errors.Is(err, persist.ErrNotFound) {
					errc <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	slices.Sort(revs)
	want := make([]uint64, writers*saves)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if !slices.Equal(revs, want) {
		t.Fatalf("revisions assigned = %v, want 1..%d once each", revs, writers*saves)
	}
	if got := revisions(list(t, handles[0], "a")); !slices.Equal(got, want[len(want)-3:]) {
		t.Fatalf("revisions kept = %v, want the newest 3", got)
	}
}
