package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/persist"
)

// countEngine is a deterministic stand-in for the engine: for every event on
// "In" it emits (value, running count) on "Out"; ticks emit nothing.
type countEngine struct {
	skew  int64 // added per event: a stand-in for a non-deterministic bug
	count int64
	now   int64
	out   func([]event.Event)
}

func (e *countEngine) InputID(s string) (int, bool) { return 0, s == "In" }
func (e *countEngine) OnOutput(s string, fn func([]event.Event)) {
	if s == "Out" {
		e.out = fn
	}
}
func (e *countEngine) Send(_ int, ts int64, data []event.Value) {
	e.count += 1 + e.skew
	e.now = max(e.now, ts)
	if e.out != nil {
		e.out([]event.Event{{Timestamp: ts, Data: []event.Value{data[0], event.LongValue(e.count)}}})
	}
}
func (e *countEngine) Advance(now int64)           { e.now = max(e.now, now) }
func (e *countEngine) NextDeadline() (int64, bool) { return 0, false }
func (e *countEngine) Snapshot() ([]byte, error) {
	return binary.AppendVarint(nil, e.count), nil
}
func (e *countEngine) Restore(b []byte) error {
	v, n := binary.Varint(b)
	if n <= 0 {
		return errors.New("bad state")
	}
	e.count = v
	return nil
}

// memSink records what it is given.
type memSink struct {
	mu   sync.Mutex
	outs []sink.Output
}

func (s *memSink) Publish(_ context.Context, outs []sink.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outs = append(s.outs, outs...)
	return nil
}
func (s *memSink) Close() error { return nil }
func (s *memSink) snapshot() []sink.Output {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sink.Output(nil), s.outs...)
}

// memStore is a persist.Store in memory.
type memStore struct {
	mu   sync.Mutex
	list []persist.Manifest
	data map[uint64][]byte
}

func (m *memStore) Save(_ context.Context, man persist.Manifest, state []byte) (persist.Manifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[uint64][]byte{}
	}
	man.Size = int64(len(state))
	if man.Revision == 0 {
		man.Revision = uint64(len(m.list)) + 1
	}
	m.list = append(m.list, man)
	m.data[man.Revision] = append([]byte(nil), state...)
	return man, nil
}
func (m *memStore) Latest(ctx context.Context, app string) (persist.Manifest, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.list) == 0 {
		return persist.Manifest{}, nil, persist.ErrNotFound
	}
	man := m.list[len(m.list)-1]
	return man, m.data[man.Revision], nil
}
func (m *memStore) Load(ctx context.Context, app string, rev uint64) (persist.Manifest, []byte, error) {
	return persist.Manifest{}, nil, persist.ErrNotFound
}
func (m *memStore) List(ctx context.Context, app string) ([]persist.Manifest, error) {
	return m.list, nil
}
func (m *memStore) Clear(ctx context.Context, app string) error { return nil }

func newTestApp(t *testing.T, s *memSink, store persist.Store, sync bool) *App {
	t.Helper()
	return New(Config{
		Name: "t", Hash: "h1", SyncAck: sync, Store: store,
		NewEngine: func() (Engine, error) { return &countEngine{}, nil },
		Sinks:     []SinkSpec{{ID: "Out/0", Stream: "Out", Open: func() (sink.Sink, error) { return s, nil }}},
	})
}

func row(v int64) [][]event.Value { return [][]event.Value{{event.LongValue(v)}} }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAloneIngestPublishes(t *testing.T) {
	ctx := context.Background()
	s := &memSink{}
	a := newTestApp(t, s, &memStore{}, true)
	if err := a.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	for i := int64(1); i <= 5; i++ {
		if err := a.Ingest(ctx, "In", row(i*10), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Ingest(ctx, "Nope", row(1), ""); err == nil {
		t.Fatal("ingest into an unknown stream succeeded")
	}
	waitFor(t, "5 outputs", func() bool { return len(s.snapshot()) == 5 })
	for i, o := range s.snapshot() {
		if want := fmt.Sprintf("t/Out/0/%d", i+1); o.ID != want || o.Event.Data[1].Int() != int64(i+1) {
			t.Fatalf("output %d = %s %v, want id %s count %d", i, o.ID, o.Event.Data, want, i+1)
		}
	}
	// A retried batch with the same key is not processed twice.
	if err := a.Ingest(ctx, "In", row(99), "k1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Ingest(ctx, "In", row(99), "k1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "6 outputs", func() bool { return len(s.snapshot()) == 6 })
	time.Sleep(20 * time.Millisecond)
	if n := len(s.snapshot()); n != 6 {
		t.Fatalf("retried key produced %d outputs, want 6", n)
	}
}

// TestFailoverReplay drives an active and a passive by hand: the passive gets a
// snapshot, the entries and a checkpoint, then is promoted and must publish
// exactly the outputs the active had not yet published.
func TestFailoverReplay(t *testing.T) {
	for _, hot := range []bool{false, true} {
		t.Run(fmt.Sprintf("hot=%v", hot), func(t *testing.T) { testFailover(t, hot) })
	}
}

func testFailover(t *testing.T, hot bool) {
	ctx := context.Background()
	s1, s2 := &memSink{}, &memSink{}
	store1, store2 := &memStore{}, &memStore{}
	active := newTestApp(t, s1, store1, true)
	passive := newTestApp(t, s2, store2, true)
	passive.cfg.HotStandby = hot
	active.cfg.OnCheckpoint = func(m persist.Manifest, st []byte) {
		if _, err := passive.StoreCheckpoint(ctx, m, st); err != nil {
			t.Error(err)
		}
	}
	if err := active.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer active.Stop()

	lsn, st, err := active.AttachPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := passive.InstallSnapshot(lsn, st, 1); err != nil {
		t.Fatal(err)
	}
	// Ship entries and acks as a replication link would.
	var shipped uint64 = lsn
	ship := func() {
		es := active.EntriesFrom(shipped+1, 0)
		if len(es) == 0 {
			return
		}
		held, err := passive.AppendReplicated(es)
		if err != nil {
			t.Error(err)
			return
		}
		shipped = held
		active.PeerAck(held)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				ship()
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	for i := int64(1); i <= 20; i++ {
		if err := active.Ingest(ctx, "In", row(i), fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			if _, err := active.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-done
	waitFor(t, "20 outputs on the active", func() bool { return len(s1.snapshot()) == 20 })
	// The active reported publishing only up to 15 before it "died".
	passive.SetPublished(map[string]uint64{"Out/0": 15})
	active.Stop()
	if hot {
		waitFor(t, "the hot standby to apply everything", func() bool {
			st := passive.Status()
			return st.Applied == st.LastLSN
		})
		if n := len(s2.snapshot()); n != 0 {
			t.Fatalf("hot standby published %d outputs while passive", n)
		}
	}

	if err := passive.Promote(ctx, 2); err != nil {
		t.Fatal(err)
	}
	defer passive.Stop()
	waitFor(t, "5 outputs on the new active", func() bool { return len(s2.snapshot()) == 5 })
	for i, o := range s2.snapshot() {
		if o.Ordinal != uint64(16+i) || o.Event.Data[1].Int() != int64(16+i) || o.Epoch != 2 {
			t.Fatalf("replayed output %d = ordinal %d data %v epoch %d", i, o.Ordinal, o.Event.Data, o.Epoch)
		}
		if o.ID != s1.snapshot()[15+i].ID {
			t.Fatalf("output id %s differs from the old active's %s", o.ID, s1.snapshot()[15+i].ID)
		}
	}
	// A sender retrying batch k20 after the failover is not processed again.
	if err := passive.Ingest(ctx, "In", row(20), "k20"); err != nil {
		t.Fatal(err)
	}
	if err := passive.Ingest(ctx, "In", row(21), "k21"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "6 outputs", func() bool { return len(s2.snapshot()) == 6 })
	if got := s2.snapshot()[5].Event.Data[1].Int(); got != 21 {
		t.Fatalf("count after retry = %d, want 21", got)
	}
}

// TestIngestKeyed logs rows with a key each: a redelivered row is dropped on
// its own while the new rows of the same batch are logged.
func TestIngestKeyed(t *testing.T) {
	ctx := context.Background()
	s := &memSink{}
	a := newTestApp(t, s, &memStore{}, true)
	if err := a.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	rows := [][]event.Value{{event.LongValue(1)}, {event.LongValue(2)}}
	if err := a.IngestKeyed(ctx, "In", rows, []string{"m1", "m2"}); err != nil {
		t.Fatal(err)
	}
	rows = [][]event.Value{{event.LongValue(2)}, {event.LongValue(3)}, {event.LongValue(4)}}
	if err := a.IngestKeyed(ctx, "In", rows, []string{"m2", "m3", ""}); err != nil {
		t.Fatal(err)
	}
	if err := a.IngestKeyed(ctx, "In", rows, []string{"m2"}); err == nil {
		t.Fatal("rows and keys of different lengths accepted")
	}
	waitFor(t, "4 outputs", func() bool { return len(s.snapshot()) == 4 })
	var got []int64
	for _, o := range s.snapshot() {
		got = append(got, o.Event.Data[0].Int())
	}
	if fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("outputs %v, want [1 2 3 4]", got)
	}
}

func TestStateRoundTrip(t *testing.T) {
	in := appState{LSN: 42, LastTs: 1234, Ordinals: map[string]uint64{"O/0": 7}, Keys: []string{"a", "b"},
		KeyLSNs: []uint64{3, 9}, Engine: []byte{1, 2, 3}}
	enc, err := in.marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := unmarshalState(enc)
	if err != nil {
		t.Fatal(err)
	}
	if out.LSN != 42 || out.LastTs != 1234 || out.Ordinals["O/0"] != 7 || len(out.Keys) != 2 ||
		out.KeyLSNs[1] != 9 || string(out.Engine) != "\x01\x02\x03" {
		t.Fatalf("round trip = %+v", out)
	}
	in.Pending = map[string][]sink.Output{"O/0": {{Ordinal: 8, Epoch: 2, Event: event.Event{Timestamp: 5, Data: []event.Value{event.LongValue(3)}}}}}
	b, err := in.marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalState(b)
	if err != nil || len(got.Pending["O/0"]) != 1 || got.Pending["O/0"][0].Ordinal != 8 || got.Pending["O/0"][0].Event.Data[0].Int() != 3 {
		t.Fatalf("pending outputs round trip: %+v %v", got, err)
	}
	for i := 0; i < len(b); i++ {
		if _, err := unmarshalState(b[:i]); err == nil {
			t.Fatalf("truncated state (%d of %d bytes) accepted", i, len(b))
		}
	}
}

func FuzzUnmarshalState(f *testing.F) {
	seed, _ := (&appState{LSN: 1, Ordinals: map[string]uint64{"x": 1}, Keys: []string{"k"}, KeyLSNs: []uint64{1},
		Pending: map[string][]sink.Output{"x": {{Ordinal: 2, Event: event.Event{Data: []event.Value{event.StringValue("s")}}}}}}).marshal()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := unmarshalState(b)
		if err == nil && len(s.Keys) != len(s.KeyLSNs) {
			t.Fatal("keys and their LSNs differ in length")
		}
	})
}

// TestDigests runs a hot standby beside an active and checks that state
// digests pass when the engines agree and report divergence when they do not.
func TestDigests(t *testing.T) {
	for _, skew := range []int64{0, 1} {
		t.Run(fmt.Sprintf("skew=%d", skew), func(t *testing.T) {
			ctx := context.Background()
			active := newTestApp(t, &memSink{}, &memStore{}, true)
			passive := newTestApp(t, &memSink{}, &memStore{}, true)
			passive.cfg.HotStandby = true
			passive.cfg.NewEngine = func() (Engine, error) { return &countEngine{skew: skew}, nil }
			var mu sync.Mutex
			var digests, diverged int
			active.cfg.DigestEvery = 10 * time.Millisecond
			active.cfg.OnDigest = func(lsn uint64, h []byte) {
				mu.Lock()
				digests++
				mu.Unlock()
				passive.CheckDigest(lsn, h)
			}
			passive.cfg.OnDiverged = func(uint64) { mu.Lock(); diverged++; mu.Unlock() }
			if err := active.Promote(ctx, 1); err != nil {
				t.Fatal(err)
			}
			defer active.Stop()
			defer passive.Stop()
			lsn, st, err := active.AttachPeer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := passive.InstallSnapshot(lsn, st, 1); err != nil {
				t.Fatal(err)
			}
			shipped := lsn
			for i := int64(0); i < 40; i++ {
				done := make(chan error, 1)
				go func() { done <- active.Ingest(ctx, "In", row(i), "") }()
				// Ship until the ingest is acknowledged, as the link would.
				for acked := false; !acked; {
					if es := active.EntriesFrom(shipped+1, 0); len(es) > 0 {
						held, err := passive.AppendReplicated(es)
						if err != nil {
							t.Fatal(err)
						}
						shipped = held
						active.PeerAck(held)
					}
					select {
					case err := <-done:
						if err != nil {
							t.Fatal(err)
						}
						acked = true
					case <-time.After(time.Millisecond):
					}
				}
				time.Sleep(time.Millisecond)
			}
			waitFor(t, "a few digests", func() bool { mu.Lock(); defer mu.Unlock(); return digests >= 3 })
			// Ship the last digest points and let the standby reach them.
			if es := active.EntriesFrom(shipped+1, 0); len(es) > 0 {
				if _, err := passive.AppendReplicated(es); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if skew == 0 && diverged != 0 {
				t.Fatalf("%d divergences reported between identical engines", diverged)
			}
			if skew != 0 && diverged == 0 {
				t.Fatalf("divergence not detected over %d digests", digests)
			}
		})
	}
}

// downSink fails every publish, like a downstream system that is down.
type downSink struct{}

func (downSink) Publish(context.Context, []sink.Output) error { return errors.New("503") }
func (downSink) Close() error                                 { return nil }

// TestUnpublishedOutputsTravelWithCheckpoints: the sink is down, so outputs
// pile up unpublished; a checkpoint lets a (warm) passive drop the entries
// that produced them; after a failover the new active must still publish
// them all. (A hot standby applies the entries itself and holds the outputs.)
func TestUnpublishedOutputsTravelWithCheckpoints(t *testing.T) {
	for _, hot := range []bool{false} {
		t.Run(fmt.Sprintf("hot=%v", hot), func(t *testing.T) {
			ctx := context.Background()
			good := &memSink{}
			active := New(Config{Name: "t", Hash: "h1", SyncAck: true, Store: &memStore{},
				NewEngine: func() (Engine, error) { return &countEngine{}, nil },
				Sinks:     []SinkSpec{{ID: "Out/0", Stream: "Out", Open: func() (sink.Sink, error) { return downSink{}, nil }}}})
			passive := newTestApp(t, good, &memStore{}, true)
			passive.cfg.HotStandby = hot
			active.cfg.OnCheckpoint = func(m persist.Manifest, st []byte) {
				if _, err := passive.StoreCheckpoint(ctx, m, st); err != nil {
					t.Error(err)
				}
			}
			if err := active.Promote(ctx, 1); err != nil {
				t.Fatal(err)
			}
			lsn, st, err := active.AttachPeer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := passive.InstallSnapshot(lsn, st, 1); err != nil {
				t.Fatal(err)
			}
			active.DetachPeer() // entries reach the passive only through the checkpoint here
			for i := int64(1); i <= 10; i++ {
				if err := active.Ingest(ctx, "In", row(i), ""); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "10 outputs queued", func() bool { return active.Status().SinkQueued["Out/0"] == 10 })
			if _, err := active.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			active.Stop()
			if err := passive.Promote(ctx, 2); err != nil {
				t.Fatal(err)
			}
			defer passive.Stop()
			waitFor(t, "10 outputs published by the new active", func() bool { return len(good.snapshot()) == 10 })
			for i, o := range good.snapshot() {
				if o.Ordinal != uint64(i+1) || o.ID != fmt.Sprintf("t/Out/0/%d", i+1) || o.Epoch != 2 {
					t.Fatalf("output %d: %+v", i, o)
				}
			}
		})
	}
}

// TestSyncAckWaiters checks every way an Ingest waiting for the passive's
// acknowledgement ends: the ack (in any order across senders, acks covering
// several batches at once), its context, and Stop. Waiters sleep on a signal
// of commits only, so each of these must reach them.
func TestSyncAckWaiters(t *testing.T) {
	ctx := context.Background()
	active := newTestApp(t, &memSink{}, nil, true)
	if err := active.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer active.Stop()
	if _, _, err := active.AttachPeer(ctx); err != nil {
		t.Fatal(err)
	}

	// Concurrent senders: none returns before the passive holds its batch.
	const senders, batches = 8, 25
	var wg sync.WaitGroup
	returned := make(chan uint64, senders*batches)
	for s := range senders {
		wg.Go(func() {
			for b := range batches {
				if err := active.Ingest(ctx, "In", row(int64(s*1000+b)), fmt.Sprintf("%d/%d", s, b)); err != nil {
					t.Error(err)
					return
				}
				active.mu.Lock()
				returned <- active.committed
				active.mu.Unlock()
			}
		})
	}
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		for done := 0; done < senders*batches; {
			last := active.LastLSN()
			active.mu.Lock()
			peerAck := active.peerAck
			active.mu.Unlock()
			if last > peerAck {
				// Acknowledge part of what is logged, as a passive mid-burst does.
				active.PeerAck(peerAck + (last-peerAck+1)/2)
			}
			for len(returned) > 0 {
				<-returned
				done++
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	wg.Wait()
	<-acked
	if st := active.Status(); st.Committed != st.LastLSN || st.PeerAck != st.LastLSN {
		t.Errorf("after the senders returned: committed %d, acked %d, logged %d", st.Committed, st.PeerAck, st.LastLSN)
	}
	waitFor(t, "every committed entry applied", func() bool {
		st := active.Status()
		return st.Applied == st.Committed
	})

	// With no ack coming, a waiter ends with its context...
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := active.Ingest(cctx, "In", row(1), "cancelled"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ingest with no ack and an expiring context = %v", err)
	}
	// ...or when the app stops.
	errc := make(chan error, 1)
	go func() { errc <- active.Ingest(ctx, "In", row(2), "stopped") }()
	waitFor(t, "the batch logged", func() bool {
		active.mu.Lock()
		defer active.mu.Unlock()
		return active.keys.has("stopped")
	})
	active.Stop()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNotActive) {
			t.Errorf("Ingest waiting at Stop = %v, want ErrNotActive", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ingest still waiting after Stop")
	}
}

// deadlineEngine asks for a tick 5 ms after each event and records the ticks.
type deadlineEngine struct {
	countEngine
	mu    sync.Mutex
	dl    int64
	ticks []int64
}

func (e *deadlineEngine) Send(id int, ts int64, data []event.Value) {
	e.countEngine.Send(id, ts, data)
	e.dl = ts + 5
}
func (e *deadlineEngine) Advance(now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ticks = append(e.ticks, now)
}
func (e *deadlineEngine) NextDeadline() (int64, bool) { return e.dl, e.dl != 0 }
func (e *deadlineEngine) ticked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ticks)
}

// TestTickOnNewDeadline checks that the tick loop, which sleeps until the
// engine's deadline changes, logs a tick for each new deadline.
func TestTickOnNewDeadline(t *testing.T) {
	ctx := context.Background()
	eng := &deadlineEngine{}
	a := New(Config{Name: "t", Hash: "h1", NewEngine: func() (Engine, error) { return eng, nil }})
	if err := a.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	waitFor(t, "the first tick", func() bool { return eng.ticked() >= 1 })
	for i := range 3 {
		before := eng.ticked()
		if err := a.Ingest(ctx, "In", row(int64(i)), ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("a tick after event %d", i), func() bool { return eng.ticked() > before })
	}
}

// TestIngestPayloadsOwned checks that the log's payloads do not share memory
// with the scratch buffer Ingest encodes in, which later batches reuse.
func TestIngestPayloadsOwned(t *testing.T) {
	ctx := context.Background()
	a := newTestApp(t, &memSink{}, nil, false)
	if err := a.Promote(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if _, _, err := a.AttachPeer(ctx); err != nil { // keeps every entry until acked
		t.Fatal(err)
	}
	first := a.LastLSN() + 1
	var want []int64
	for b := range 50 {
		var rows [][]event.Value
		for i := range 1 + b%7 {
			v := int64(b*100 + i)
			rows = append(rows, []event.Value{event.LongValue(v), event.StringValue(fmt.Sprint("s", v))})
			want = append(want, v)
		}
		if err := a.Ingest(ctx, "In", rows, ""); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	for _, e := range a.AppendEntriesFrom(make([]Entry, 0, 1), first, 0) {
		if e.Kind != EventEntry {
			continue
		}
		vals, _, err := event.ReadValues(e.Payload, nil)
		if err != nil || len(vals) != 2 || vals[1].Str() != fmt.Sprint("s", vals[0].Int()) {
			t.Fatalf("entry %d: %v %v", e.LSN, vals, err)
		}
		got = append(got, vals[0].Int())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged %v, want %v", got, want)
	}
}

// TestAppendReplicatedCopies checks that the passive keeps its own copy of
// each payload: the replication connection reuses the memory of a message
// for the next one.
func TestAppendReplicatedCopies(t *testing.T) {
	p := newTestApp(t, &memSink{}, nil, true)
	st, err := (&appState{LSN: 10, Ordinals: map[string]uint64{}}).marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.InstallSnapshot(10, st, 1); err != nil {
		t.Fatal(err)
	}
	frame := []byte{1, 2, 3, 4, 5, 6}
	in := []Entry{
		{LSN: 9, Kind: EventEntry, Stream: "In", Payload: frame[0:1]}, // held already: skipped
		{LSN: 11, Kind: EventEntry, Stream: "In", Payload: frame[1:3]},
		{LSN: 12, Kind: TickEntry, Timestamp: 5},
		{LSN: 13, Kind: EventEntry, Stream: "In", Payload: frame[3:6]},
	}
	held, err := p.AppendReplicated(in)
	if err != nil || held != 13 {
		t.Fatalf("AppendReplicated = %d, %v", held, err)
	}
	clear(frame)
	got := p.EntriesFrom(11, 0)
	if len(got) != 3 || string(got[0].Payload) != "\x02\x03" || got[1].Payload != nil || string(got[2].Payload) != "\x04\x05\x06" {
		t.Fatalf("held %+v", got)
	}
	// A payload cannot grow into its neighbour's memory.
	if cap(got[0].Payload) != 2 {
		t.Errorf("payload capacity %d, want 2", cap(got[0].Payload))
	}
}
