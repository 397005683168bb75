// Package host runs one Siddhi app on a node: its input log (LSNs, timestamps,
// ticks and idempotency keys), the engine that applies committed entries in
// order, the sinks with their output ids, and checkpoints.
//
// On the active an App takes input from sources (Ingest), logs it, waits for the
// entries to be committed (acknowledged by the passive, or at once when running
// alone), applies them and publishes the outputs. On the passive an App only
// holds state: the newest checkpoint it was sent and the entries after it, until
// Promote turns it into the active by restoring and replaying them.
package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/persist"
)

// Engine is what an App needs of the engine (engine.Runtime implements it).
type Engine interface {
	InputID(stream string) (int, bool)
	OnOutput(stream string, fn func(events []event.Event))
	Send(id int, ts int64, data []event.Value)
	Advance(now int64)
	NextDeadline() (int64, bool)
	Snapshot() ([]byte, error)
	Restore(state []byte) error
}

// SinkSpec is one sink of the app: the stream it publishes and how to open it.
type SinkSpec struct {
	ID     string // "Stream/index", unique in the app
	Stream string
	Open   func() (sink.Sink, error)
}

// Config configures an App.
type Config struct {
	Name      string
	Hash      string // content hash of the app text; checkpoints of other versions are refused
	NewEngine func() (Engine, error)
	Sinks     []SinkSpec
	Store     persist.Store // the node's own checkpoint store
	Logger    *slog.Logger
	Gate      *Gate // publishing gate shared by the node; nil: always open

	// SyncAck makes Ingest wait for the passive's acknowledgement (when one is
	// attached) before the entries count as committed.
	SyncAck bool
	// CheckpointEvery is the period of automatic checkpoints; 0 disables them.
	CheckpointEvery time.Duration
	// CheckpointEntries triggers a checkpoint early once this many entries
	// were applied since the last one (default 1,000,000).
	CheckpointEntries int
	// OnCheckpoint is called (on the checkpoint goroutine) after a checkpoint is
	// durable in Store, so the node can ship it to the passive.
	OnCheckpoint func(m persist.Manifest, state []byte)
	// RetainSinceCheckpoint keeps every entry since the last checkpoint on
	// the active, so a passive that restores that checkpoint from a shared
	// store needs only the entries after it (store-based sync).
	RetainSinceCheckpoint bool
	// HotStandby makes the passive apply entries as they arrive and hold the
	// outputs, so a failover needs no restore or replay.
	HotStandby bool
	// DigestEvery is how often the active marks a point in the log where both
	// nodes hash their state, while a passive is attached (default 10s).
	DigestEvery time.Duration
	// OnDigest is called on the active with its state hash at a digest point,
	// for the node to send to the passive.
	OnDigest func(lsn uint64, hash []byte)
	// OnDiverged is called on a hot standby whose state hash differs from the
	// active's at the same LSN; the node then resynchronises it.
	OnDiverged func(lsn uint64)
	// OnAppend is called, without locks held, after entries are logged.
	OnAppend func()
	// AloneOK, if set, must also allow committing with no passive
	// acknowledging: the node first records in the coordination store that
	// its passive is no longer in sync, so that passive cannot take over
	// without what is committed alone.
	AloneOK func() bool
	// OnDetach is called, without locks held, when a passive stops
	// acknowledging (DetachPeer), so the node can update that record.
	OnDetach func()
	// OnPublished is called after a sink delivered outputs, so the node can
	// report the new position to the passive at once: the outputs published
	// but not yet reported are the ones a failover may publish again.
	OnPublished func()

	MaxUnapplied int // back-pressure: entries logged but not yet applied (default 65536)
	MaxSinkQueue int // back-pressure: outputs waiting per sink (default 65536)
	KeyMemory    int // idempotency keys remembered (default 100000)
	Now          func() time.Time
}

// ErrNotActive is returned by Ingest on an App that is not the active.
var ErrNotActive = errors.New("app is not active on this node")

type role int

const (
	rolePassive role = iota
	roleActive
	roleStopped
)

// sinkSlot numbers one sink's outputs; its publisher exists only on the active.
type sinkSlot struct {
	spec       SinkSpec
	ordinal    uint64 // outputs produced so far
	suppressTo uint64 // outputs at or below this were already published by a previous active
	pending    []sink.Output
	pub        *publisher
}

// App hosts one app. See the package comment for its two roles.
type App struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change of the fields below
	role      role
	epoch     uint64
	wal       memLog
	keys      *keyRing
	lastTs    int64
	committed uint64
	applied   uint64
	deadline  int64
	hasDL     bool
	tickedFor int64
	peer      bool   // a passive is attached and acknowledges entries
	peerAck   uint64 // highest LSN the passive holds
	published map[string]uint64
	base      []byte // passive: state at log_.base, from a snapshot or checkpoint
	lastCkpt  persist.Manifest
	srcEpoch  uint64          // passive: the term its state and entries come from
	known     map[string]bool // input streams Ingest has seen; InputID only reads the engine's plan

	// Narrower signals, for waiters that care about one thing only, so that a
	// busy log does not wake every sender and the tick loop for each change:
	// broadcast closes and replaces each when its subject changed.
	commitWake chan struct{} // committed or role changed (waitCommitted, applyLoop)
	dlWake     chan struct{} // deadline or hasDL changed (tickLoop)
	sigCommit  uint64        // committed, role, deadline and hasDL when last signalled
	sigRole    role
	sigDL      int64
	sigHasDL   bool

	// Owned by the apply goroutine while active.
	engine   Engine
	inputIDs map[string]int
	slots    []*sinkSlot
	bySink   map[string][]*sinkSlot // stream -> slots
	vals     []event.Value

	snapReq chan chan snapshotResult
	scratch sync.Pool // *ingestScratch
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// Hot standby: the passive's apply loop. Only the goroutine that feeds
	// the passive (InstallSnapshot) and Promote/Stop touch these.
	hotCancel context.CancelFunc
	hotDone   chan struct{}

	// State digests (guarded by mu): this node's hashes and the active's, by
	// LSN, each waiting for its counterpart.
	ownDigests  map[uint64][]byte
	peerDigests map[uint64][]byte
}

type snapshotResult struct {
	lsn   uint64
	state []byte
	err   error
}

// New returns an App in the passive role, holding no state yet.
func New(cfg Config) *App {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxUnapplied <= 0 {
		cfg.MaxUnapplied = 65536
	}
	if cfg.MaxSinkQueue <= 0 {
		cfg.MaxSinkQueue = 65536
	}
	if cfg.DigestEvery <= 0 {
		cfg.DigestEvery = 10 * time.Second
	}
	if cfg.CheckpointEntries <= 0 {
		cfg.CheckpointEntries = 1_000_000
	}
	if cfg.KeyMemory <= 0 {
		cfg.KeyMemory = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Gate == nil {
		cfg.Gate = NewGate(true)
	}
	return &App{
		cfg:         cfg,
		log:         cfg.Logger.With("app", cfg.Name),
		changed:     make(chan struct{}),
		commitWake:  make(chan struct{}),
		dlWake:      make(chan struct{}),
		keys:        newKeyRing(cfg.KeyMemory),
		published:   map[string]uint64{},
		known:       map[string]bool{},
		ownDigests:  map[uint64][]byte{},
		peerDigests: map[uint64][]byte{},
		snapReq:     make(chan chan snapshotResult),
	}
}

// Name returns the app's name.
func (a *App) Name() string { return a.cfg.Name }

// Hash returns the app's content hash.
func (a *App) Hash() string { return a.cfg.Hash }

// broadcast wakes everyone waiting on a change; a.mu must be held. Every
// change of state is followed by a broadcast before a.mu is released.
func (a *App) broadcast() {
	close(a.changed)
	a.changed = make(chan struct{})
	if a.committed != a.sigCommit || a.role != a.sigRole {
		a.sigCommit, a.sigRole = a.committed, a.role
		close(a.commitWake)
		a.commitWake = make(chan struct{})
	}
	if a.deadline != a.sigDL || a.hasDL != a.sigHasDL {
		a.sigDL, a.sigHasDL = a.deadline, a.hasDL
		close(a.dlWake)
		a.dlWake = make(chan struct{})
	}
}

// waitLocked releases a.mu until the next change or ctx is done, then retakes it.
func (a *App) waitLocked(ctx context.Context) error {
	return a.waitOn(ctx, a.changed)
}

// waitOn releases a.mu until ch is closed or ctx is done, then retakes it.
func (a *App) waitOn(ctx context.Context, ch chan struct{}) error {
	a.mu.Unlock()
	defer a.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- passive role ----------------------------------------------------------

// InstallSnapshot replaces the passive's state with a full state at lsn; the
// entries that follow it arrive through AppendReplicated.
func (a *App) InstallSnapshot(lsn uint64, state []byte, epoch uint64) error {
	if _, err := unmarshalState(state); err != nil {
		return fmt.Errorf("app %s: snapshot at LSN %d: %w", a.cfg.Name, lsn, err)
	}
	a.stopHot()
	a.mu.Lock()
	if a.role != rolePassive {
		a.mu.Unlock()
		return fmt.Errorf("app %s: snapshot received while not passive", a.cfg.Name)
	}
	a.base = state
	a.srcEpoch = epoch
	a.wal.reset(lsn)
	a.committed, a.applied = lsn, lsn
	clear(a.published)
	a.broadcast()
	a.mu.Unlock()
	if a.cfg.HotStandby {
		return a.startHot(state)
	}
	return nil
}

// LoadFromStore makes the newest checkpoint in the store this passive's
// state, so that the active need only send the entries after it (store-based
// sync). It reports false when there is no usable checkpoint.
func (a *App) LoadFromStore(ctx context.Context) (bool, error) {
	if a.cfg.Store == nil {
		return false, nil
	}
	m, state, err := a.cfg.Store.Latest(ctx, a.cfg.Name)
	switch {
	case errors.Is(err, persist.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("app %s: read checkpoint: %w", a.cfg.Name, err)
	case m.AppHash != a.cfg.Hash:
		return false, nil // another version's state: the active sends a snapshot
	}
	if err := a.InstallSnapshot(m.LSN, state, m.Epoch); err != nil {
		return false, err
	}
	a.mu.Lock()
	a.lastCkpt = m
	a.mu.Unlock()
	return true, nil
}

// Position reports where the passive stands: the last LSN it holds and the
// term (epoch) its state and entries come from.
func (a *App) Position() (last, epoch uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wal.last(), a.srcEpoch
}

// startHot restores state into a live engine and applies entries as they
// arrive, holding the outputs back until a failover (hot standby).
func (a *App) startHot(state []byte) error {
	eng, st, err := a.buildEngine(state)
	if err != nil {
		return err
	}
	a.setupSlots(eng, st)
	a.mu.Lock()
	a.lastTs = max(a.lastTs, st.LastTs)
	for i, k := range st.Keys {
		a.keys.add(k, st.KeyLSNs[i])
	}
	a.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	a.hotCancel = cancel
	a.hotDone = make(chan struct{})
	go func() { defer close(a.hotDone); a.applyLoop(ctx) }()
	return nil
}

// stopHot stops a hot standby's apply loop; it reports whether one ran.
func (a *App) stopHot() bool {
	if a.hotCancel == nil {
		return false
	}
	a.hotCancel()
	<-a.hotDone
	a.hotCancel = nil
	return true
}

// AppendReplicated queues entries received from the active. Entries at or
// below what the passive already holds are skipped; a gap is an error. The
// payloads are copied. It returns the highest LSN held.
func (a *App) AppendReplicated(entries []Entry) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.role != rolePassive {
		return 0, fmt.Errorf("app %s: entries received while not passive", a.cfg.Name)
	}
	// One allocation holds the payloads of the whole message.
	size := 0
	for i := range entries {
		if entries[i].LSN > a.wal.last() {
			size += len(entries[i].Payload)
		}
	}
	payloads := make([]byte, 0, size)
	for _, e := range entries {
		if e.LSN <= a.wal.last() {
			continue
		}
		if e.Payload != nil {
			at := len(payloads)
			payloads = append(payloads, e.Payload...)
			e.Payload = payloads[at:len(payloads):len(payloads)]
		}
		if err := a.wal.append(e); err != nil {
			return a.wal.last(), fmt.Errorf("app %s: %w", a.cfg.Name, err)
		}
		if e.Key != "" {
			a.keys.add(e.Key, e.LSN)
		}
		a.lastTs = max(a.lastTs, e.Timestamp)
	}
	a.committed = a.wal.last()
	a.broadcast()
	return a.wal.last(), nil
}

// SetPublished records the active's published position per sink.
func (a *App) SetPublished(positions map[string]uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, p := range positions {
		if p > a.published[id] {
			a.published[id] = p
		}
	}
}

// StoreCheckpoint saves a checkpoint shipped by the active into this node's
// store, then drops the queued entries it covers.
func (a *App) StoreCheckpoint(ctx context.Context, m persist.Manifest, state []byte) (persist.Manifest, error) {
	if _, err := unmarshalState(state); err != nil {
		return m, fmt.Errorf("app %s: checkpoint %d: %w", a.cfg.Name, m.Revision, err)
	}
	saved, err := a.cfg.Store.Save(ctx, m, state)
	if err != nil {
		return m, fmt.Errorf("app %s: store checkpoint %d: %w", a.cfg.Name, m.Revision, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.role == rolePassive && !a.cfg.HotStandby && m.LSN > a.wal.base {
		a.base = state
		a.wal.trim(m.LSN)
		a.committed, a.applied = max(a.committed, m.LSN), m.LSN
	}
	a.lastCkpt = saved
	a.broadcast()
	return saved, nil
}

// ---- active role -----------------------------------------------------------

// Promote makes the App the active at epoch: it restores the newest state it
// holds (a shipped checkpoint or snapshot, else the newest checkpoint in its
// store), opens the sinks and starts applying, which replays every queued
// entry. Outputs the previous active had already published are not published
// again.
func (a *App) Promote(ctx context.Context, epoch uint64) error {
	a.mu.Lock()
	if a.role != rolePassive {
		a.mu.Unlock()
		return fmt.Errorf("app %s: promote: not passive", a.cfg.Name)
	}
	state, base := a.base, a.wal.base
	published := make(map[string]uint64, len(a.published))
	for k, v := range a.published {
		published[k] = v
	}
	a.mu.Unlock()

	// A hot standby's engine is already current: stop its passive apply loop
	// and carry on from where it is, with no restore and no replay.
	hot := a.stopHot()
	if !hot && state == nil && base == 0 && a.cfg.Store != nil {
		m, st, err := a.cfg.Store.Latest(ctx, a.cfg.Name)
		switch {
		case errors.Is(err, persist.ErrNotFound):
		case err != nil:
			return fmt.Errorf("app %s: read checkpoint: %w", a.cfg.Name, err)
		case m.AppHash != a.cfg.Hash:
			return fmt.Errorf("app %s: the newest checkpoint (revision %d, LSN %d) was made by a different version of the app (hash %.12s, now %.12s); clear the app's state to start afresh",
				a.cfg.Name, m.Revision, m.LSN, m.AppHash, a.cfg.Hash)
		default:
			a.log.Info("restoring from checkpoint", "revision", m.Revision, "lsn", m.LSN)
			state = st
			a.mu.Lock()
			a.lastCkpt = m
			a.mu.Unlock()
		}
	}

	st := &appState{Ordinals: map[string]uint64{}}
	if !hot {
		eng, restored, err := a.buildEngine(state)
		if err != nil {
			return err
		}
		st = restored
		a.setupSlots(eng, st)
	}
	if err := a.openSinks(published, epoch); err != nil {
		return err
	}

	a.mu.Lock()
	if !hot {
		if state != nil && st.LSN > a.wal.last() {
			a.wal.reset(st.LSN)
		}
		for i, k := range st.Keys {
			a.keys.add(k, st.KeyLSNs[i])
		}
		a.applied = st.LSN
		a.lastTs = max(a.lastTs, st.LastTs)
	}
	a.committed = a.wal.last()
	a.role = roleActive
	a.epoch = epoch
	a.base = nil
	from := a.applied
	a.broadcast()
	a.mu.Unlock()

	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	for _, s := range a.slots {
		a.wg.Add(1)
		go func(p *publisher) { defer a.wg.Done(); p.run(runCtx) }(s.pub)
	}
	a.wg.Add(4)
	go func() { defer a.wg.Done(); a.digestLoop(runCtx) }()
	go func() { defer a.wg.Done(); a.applyLoop(runCtx) }()
	go func() { defer a.wg.Done(); a.tickLoop(runCtx) }()
	go func() { defer a.wg.Done(); a.checkpointLoop(runCtx) }()
	if from == 0 && a.LastLSN() == 0 {
		// A brand-new app: a first tick, logged like any other, starts its
		// clock (triggers, time-based output rates) at the same instant on
		// both nodes, rather than at its first event.
		a.appendTick(a.cfg.Now().UnixMilli())
	}
	a.log.Info("app active", "epoch", epoch, "from_lsn", from, "replay_to", a.LastLSN(), "hot", hot)
	return nil
}

// buildEngine makes a fresh engine and restores state into it (nil: empty).
func (a *App) buildEngine(state []byte) (Engine, *appState, error) {
	eng, err := a.cfg.NewEngine()
	if err != nil {
		return nil, nil, fmt.Errorf("app %s: %w", a.cfg.Name, err)
	}
	st := &appState{Ordinals: map[string]uint64{}}
	if state != nil {
		if st, err = unmarshalState(state); err != nil {
			return nil, nil, fmt.Errorf("app %s: restore: %w", a.cfg.Name, err)
		}
		if err := eng.Restore(st.Engine); err != nil {
			return nil, nil, fmt.Errorf("app %s: restore engine state at LSN %d: %w", a.cfg.Name, st.LSN, err)
		}
	}
	return eng, st, nil
}

// setupSlots attaches the engine and numbers its outputs per sink; the sinks
// themselves are opened only on the active (openSinks).
func (a *App) setupSlots(eng Engine, st *appState) {
	a.engine = eng
	a.inputIDs = map[string]int{}
	a.bySink = map[string][]*sinkSlot{}
	a.slots = nil
	for _, spec := range a.cfg.Sinks {
		slot := &sinkSlot{spec: spec, ordinal: st.Ordinals[spec.ID]}
		for _, o := range st.Pending[spec.ID] {
			o.ID = a.outputID(spec.ID, o.Ordinal)
			slot.pending = append(slot.pending, o)
		}
		a.slots = append(a.slots, slot)
		if _, seen := a.bySink[spec.Stream]; !seen {
			stream := spec.Stream
			eng.OnOutput(stream, func(events []event.Event) { a.collect(stream, events) })
		}
		a.bySink[spec.Stream] = append(a.bySink[spec.Stream], slot)
	}
}

// openSinks opens every sink with a publisher that starts after the
// positions the previous active published; outputs a hot standby already
// holds beyond them are queued first.
func (a *App) openSinks(published map[string]uint64, epoch uint64) error {
	for i, slot := range a.slots {
		s, err := slot.spec.Open()
		if err != nil {
			for _, o := range a.slots[:i] {
				o.pub.sink.Close()
				o.pub = nil
			}
			return fmt.Errorf("app %s: open sink %s: %w", a.cfg.Name, slot.spec.ID, err)
		}
		pos := published[slot.spec.ID]
		slot.suppressTo = max(slot.suppressTo, pos)
		slot.pub = newPublisher(slot.spec.ID, s, a.cfg.Gate, a.log, a.cfg.MaxSinkQueue, pos)
		slot.pub.onPublished = a.cfg.OnPublished
		keep := slot.pending[:0]
		for _, o := range slot.pending {
			if o.Ordinal > pos {
				o.Epoch = epoch // computed while passive, published by this term
				keep = append(keep, o)
			}
		}
		slot.pub.queue = append(slot.pub.queue, keep...)
		clear(slot.pending)
		slot.pending = slot.pending[:0]
	}
	return nil
}

// collect numbers outputs as the engine emits them (on the apply goroutine).
func (a *App) collect(stream string, events []event.Event) {
	for _, s := range a.bySink[stream] {
		for _, ev := range events {
			s.ordinal++
			if s.ordinal <= s.suppressTo {
				continue
			}
			data := make([]event.Value, len(ev.Data))
			copy(data, ev.Data)
			s.pending = append(s.pending, sink.Output{
				ID:      a.outputID(s.spec.ID, s.ordinal),
				Ordinal: s.ordinal,
				Epoch:   a.epoch,
				Event:   event.Event{Timestamp: ev.Timestamp, Data: data, Expired: ev.Expired},
			})
		}
	}
}

// outputID is the deterministic id of a sink's n-th output: app/sink/n.
func (a *App) outputID(sinkID string, n uint64) string {
	return a.cfg.Name + "/" + sinkID + "/" + strconv.FormatUint(n, 10)
}

// Ingest logs a batch of events for stream and waits until it is committed.
// It implements source.Ingester.
func (a *App) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	return a.ingest(ctx, stream, rows, key, nil)
}

// IngestKeyed logs rows that each carry their own idempotency key (keys[i]
// for rows[i], "" for none), as broker sources deliver them: rows whose key
// was already logged are dropped, the rest are logged together, and it
// returns once all of them are committed. It implements source.KeyedIngester.
func (a *App) IngestKeyed(ctx context.Context, stream string, rows [][]event.Value, keys []string) error {
	if len(keys) != len(rows) {
		return fmt.Errorf("app %s: %d rows with %d keys", a.cfg.Name, len(rows), len(keys))
	}
	return a.ingest(ctx, stream, rows, "", keys)
}

// ingest logs rows under one batch key (on the last row), or with a key per
// row, and waits until they are committed.
func (a *App) ingest(ctx context.Context, stream string, rows [][]event.Value, key string, keys []string) error {
	if len(rows) == 0 {
		return nil
	}
	sc, _ := a.scratch.Get().(*ingestScratch)
	if sc == nil {
		sc = new(ingestScratch)
	}
	defer sc.release(&a.scratch)
	offs := append(sc.offs[:0], 0)
	enc := sc.buf[:0]
	for _, r := range rows {
		var err error
		if enc, err = event.AppendValues(enc, r); err != nil {
			sc.buf, sc.offs = enc, offs
			return fmt.Errorf("app %s: stream %s: %w", a.cfg.Name, stream, err)
		}
		offs = append(offs, len(enc))
	}
	sc.buf, sc.offs = enc, offs
	// One allocation of the exact size holds every payload of the batch
	// for as long as the log keeps any of them.
	buf := make([]byte, len(enc))
	copy(buf, enc)
	rowKey := func(i int) string {
		if keys != nil {
			return keys[i]
		}
		if i == len(rows)-1 {
			return key
		}
		return ""
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.role != roleActive {
			return ErrNotActive
		}
		if !a.known[stream] {
			if _, ok := a.engine.InputID(stream); !ok {
				return fmt.Errorf("app %s: no stream %q", a.cfg.Name, stream)
			}
			a.known[stream] = true
		}
		if key != "" && a.keys.has(key) {
			return a.waitCommitted(ctx, a.keys.lsn[key])
		}
		if a.wal.last()-a.applied < uint64(a.cfg.MaxUnapplied) {
			break
		}
		if err := a.waitLocked(ctx); err != nil {
			return err
		}
	}
	ts := max(a.cfg.Now().UnixMilli(), a.lastTs)
	a.lastTs = ts
	var target uint64
	for i := range rows {
		k := rowKey(i)
		if keys != nil && k != "" && a.keys.has(k) {
			target = max(target, a.keys.lsn[k]) // a redelivery: already logged
			continue
		}
		e := Entry{LSN: a.wal.last() + 1, Kind: EventEntry, Stream: stream, Timestamp: ts,
			Payload: buf[offs[i]:offs[i+1]:offs[i+1]], Key: k}
		_ = a.wal.append(e) // LSN is last+1 by construction
		target = e.LSN
		if k != "" {
			a.keys.add(k, e.LSN)
		}
	}
	a.commitAloneLocked()
	a.broadcast()
	if a.cfg.OnAppend != nil {
		a.mu.Unlock()
		a.cfg.OnAppend()
		a.mu.Lock()
	}
	return a.waitCommitted(ctx, target)
}

// ingestScratch is where ingest encodes a batch before copying it into the
// log: growing a buffer while encoding would leave garbage of about the
// batch's size for every batch.
type ingestScratch struct {
	buf  []byte
	offs []int // offs[i] is where row i starts in buf; one more for the end
}

// maxScratch bounds the buffers kept for reuse.
const maxScratch = 1 << 20

func (sc *ingestScratch) release(pool *sync.Pool) {
	if cap(sc.buf) <= maxScratch && cap(sc.offs) <= maxScratch/8 {
		pool.Put(sc)
	}
}

func (a *App) waitCommitted(ctx context.Context, lsn uint64) error {
	for a.committed < lsn {
		if a.role != roleActive {
			return ErrNotActive
		}
		if err := a.waitOn(ctx, a.commitWake); err != nil {
			return err
		}
	}
	return nil
}

// appendTick logs a timer tick at now (active only).
func (a *App) appendTick(now int64) { a.appendMarker(TickEntry, now) }

// appendMarker logs an entry without an event: a tick or a digest point.
func (a *App) appendMarker(kind EntryKind, now int64) {
	a.mu.Lock()
	if a.role != roleActive {
		a.mu.Unlock()
		return
	}
	ts := max(now, a.lastTs)
	a.lastTs = ts
	_ = a.wal.append(Entry{LSN: a.wal.last() + 1, Kind: kind, Timestamp: ts})
	a.commitAloneLocked()
	a.broadcast()
	a.mu.Unlock()
	if a.cfg.OnAppend != nil {
		a.cfg.OnAppend()
	}
}

const applyBatch = 1024

func (a *App) applyLoop(ctx context.Context) {
	var batch []Entry
	for {
		a.mu.Lock()
		for a.applied >= a.committed {
			ch := a.commitWake
			a.mu.Unlock()
			select {
			case <-ch:
			case req := <-a.snapReq:
				req <- a.snapshot()
			case <-ctx.Done():
				return
			}
			a.mu.Lock()
		}
		batch = append(batch[:0], a.wal.from(a.applied+1, applyBatch)...)
		if n := a.committed - a.applied; uint64(len(batch)) > n {
			batch = batch[:n]
		}
		a.mu.Unlock()

		for i := range batch {
			a.apply(&batch[i])
		}
		for _, s := range a.slots {
			if len(s.pending) == 0 {
				continue
			}
			if s.pub == nil {
				a.trimHeld(s)
				continue
			}
			if err := s.pub.enqueue(ctx, s.pending); err != nil {
				return
			}
			clear(s.pending)
			s.pending = s.pending[:0]
		}
		dl, hasDL := a.engine.NextDeadline()

		a.mu.Lock()
		a.applied = batch[len(batch)-1].LSN
		a.deadline, a.hasDL = dl, hasDL
		a.trimLocked()
		a.broadcast()
		a.mu.Unlock()

		select {
		case req := <-a.snapReq:
			req <- a.snapshot()
		default:
		}
	}
}

// trimHeld drops the outputs a hot standby holds once the active reports
// them published (apply goroutine only).
func (a *App) trimHeld(s *sinkSlot) {
	a.mu.Lock()
	pos := a.published[s.spec.ID]
	a.mu.Unlock()
	n := 0
	for n < len(s.pending) && s.pending[n].Ordinal <= pos {
		n++
	}
	if n > 0 {
		rest := copy(s.pending, s.pending[n:])
		clear(s.pending[rest:])
		s.pending = s.pending[:rest]
	}
}

// trimLocked drops log entries nobody needs any more: applied here and held
// by the passive.
func (a *App) trimLocked() {
	upTo := a.applied
	if a.peer {
		upTo = min(upTo, a.peerAck)
	}
	if a.cfg.RetainSinceCheckpoint {
		upTo = min(upTo, a.lastCkpt.LSN)
	}
	a.wal.trim(upTo)
}

func (a *App) apply(e *Entry) {
	switch e.Kind {
	case DigestEntry:
		a.digestAt(e.LSN)
	case TickEntry:
		a.engine.Advance(e.Timestamp)
	case EventEntry:
		id, ok := a.inputIDs[e.Stream]
		if !ok {
			if id, ok = a.engine.InputID(e.Stream); !ok {
				a.log.Error("log entry for unknown stream; skipped", "lsn", e.LSN, "stream", e.Stream)
				return
			}
			a.inputIDs[e.Stream] = id
		}
		vals, _, err := event.ReadValues(e.Payload, a.vals[:0])
		if err != nil {
			a.log.Error("undecodable log entry; skipped", "lsn", e.LSN, "err", err)
			return
		}
		a.vals = vals
		a.engine.Send(id, e.Timestamp, vals)
	}
}

// stateHash hashes the engine's state and the sink ordinals (apply
// goroutine only); both are serialised deterministically.
func (a *App) stateHash() ([]byte, error) {
	eng, err := a.engine.Snapshot()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(eng)
	for _, s := range a.slots {
		h.Write([]byte(s.spec.ID))
		h.Write(binary.AppendUvarint(nil, s.ordinal))
	}
	return h.Sum(nil), nil
}

const maxPendingDigests = 16

// digestAt hashes the state at a digest entry: the active hands its hash to
// the node; a hot standby compares it with the active's.
func (a *App) digestAt(lsn uint64) {
	hash, err := a.stateHash()
	if err != nil {
		a.log.Warn("state digest", "lsn", lsn, "err", err)
		return
	}
	a.mu.Lock()
	active := a.role == roleActive
	var diverged bool
	if !active {
		if want, ok := a.peerDigests[lsn]; ok {
			delete(a.peerDigests, lsn)
			diverged = !bytes.Equal(want, hash)
		} else {
			putDigest(a.ownDigests, lsn, hash)
		}
	}
	a.mu.Unlock()
	switch {
	case active && a.cfg.OnDigest != nil:
		a.cfg.OnDigest(lsn, hash)
	case diverged:
		a.diverged(lsn)
	}
}

// CheckDigest compares the active's state hash at lsn with this hot
// standby's, now or when it reaches lsn.
func (a *App) CheckDigest(lsn uint64, hash []byte) {
	if !a.cfg.HotStandby {
		return
	}
	a.mu.Lock()
	own, ok := a.ownDigests[lsn]
	if ok {
		delete(a.ownDigests, lsn)
	} else {
		putDigest(a.peerDigests, lsn, hash)
	}
	a.mu.Unlock()
	if ok && !bytes.Equal(own, hash) {
		a.diverged(lsn)
	}
}

func (a *App) diverged(lsn uint64) {
	a.log.Error("state diverged from the active's; resynchronising", "lsn", lsn)
	if a.cfg.OnDiverged != nil {
		a.cfg.OnDiverged(lsn)
	}
}

// putDigest keeps at most maxPendingDigests, dropping the oldest.
func putDigest(m map[uint64][]byte, lsn uint64, hash []byte) {
	m[lsn] = hash
	if len(m) > maxPendingDigests {
		oldest := lsn
		for l := range m {
			oldest = min(oldest, l)
		}
		delete(m, oldest)
	}
}

func (a *App) digestLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.DigestEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.mu.Lock()
			attached := a.peer
			a.mu.Unlock()
			if attached {
				a.appendMarker(DigestEntry, a.cfg.Now().UnixMilli())
			}
		case <-ctx.Done():
			return
		}
	}
}

// snapshot captures the app's state at the applied LSN (apply goroutine only).
func (a *App) snapshot() snapshotResult {
	eng, err := a.engine.Snapshot()
	if err != nil {
		return snapshotResult{err: fmt.Errorf("app %s: engine snapshot: %w", a.cfg.Name, err)}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := appState{LSN: a.applied, LastTs: a.lastTs, Ordinals: map[string]uint64{}, Engine: eng}
	if e := a.wal.from(a.applied, 1); len(e) == 1 && e[0].LSN == a.applied {
		st.LastTs = e[0].Timestamp
	}
	for _, s := range a.slots {
		st.Ordinals[s.spec.ID] = s.ordinal
		if held := s.unpublished(); len(held) > 0 {
			if st.Pending == nil {
				st.Pending = map[string][]sink.Output{}
			}
			st.Pending[s.spec.ID] = held
		}
	}
	st.Keys, st.KeyLSNs = a.keys.upTo(a.applied)
	b, err := st.marshal()
	if err != nil {
		return snapshotResult{err: fmt.Errorf("app %s: snapshot: %w", a.cfg.Name, err)}
	}
	return snapshotResult{lsn: a.applied, state: b}
}

// unpublished returns the outputs produced but not yet published: the
// publisher's queue, or a hot standby's held outputs (apply goroutine only).
func (s *sinkSlot) unpublished() []sink.Output {
	out := append([]sink.Output(nil), s.pending...)
	if s.pub != nil {
		s.pub.mu.Lock()
		out = append(out, s.pub.queue...)
		s.pub.mu.Unlock()
	}
	return out
}

// Snapshot returns the app's full state at its applied LSN (active only).
func (a *App) Snapshot(ctx context.Context) (uint64, []byte, error) {
	req := make(chan snapshotResult, 1)
	a.mu.Lock()
	active := a.role == roleActive
	a.mu.Unlock()
	if !active {
		return 0, nil, ErrNotActive
	}
	select {
	case a.snapReq <- req:
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	select {
	case r := <-req:
		return r.lsn, r.state, r.err
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// AttachPeer takes a snapshot for a joining passive and, at the same LSN,
// starts retaining entries for it (and, with SyncAck, waiting for its
// acknowledgements). The passive installs the snapshot and then receives the
// entries after the returned LSN.
func (a *App) AttachPeer(ctx context.Context) (uint64, []byte, error) {
	lsn, state, err := a.Snapshot(ctx)
	if err != nil {
		return 0, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wal.base > lsn {
		// Entries after the snapshot were trimmed in between; the caller retries.
		return 0, nil, fmt.Errorf("app %s: log moved past snapshot", a.cfg.Name)
	}
	a.peer = true
	a.peerAck = lsn
	return lsn, state, nil
}

// AttachPeerAt attaches a passive that already holds this active's entries
// up to lsn, if the log still has every entry after it; it reports false
// when the passive needs a snapshot instead.
func (a *App) AttachPeerAt(lsn uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.role != roleActive || lsn < a.wal.base || lsn > a.wal.last() {
		return false
	}
	a.peer = true
	a.peerAck = lsn
	return true
}

// PeerAck records that the passive holds every entry up to lsn.
func (a *App) PeerAck(lsn uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.peer || lsn <= a.peerAck {
		return
	}
	a.peerAck = min(lsn, a.wal.last())
	if a.cfg.SyncAck && a.peerAck > a.committed {
		a.committed = a.peerAck
	}
	a.trimLocked()
	a.broadcast()
}

// DetachPeer stops waiting for a passive: the app runs alone, committing at once.
func (a *App) DetachPeer() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.peer {
		return
	}
	a.peer = false
	a.commitAloneLocked()
	a.trimLocked()
	a.broadcast()
	if a.cfg.OnDetach != nil {
		a.mu.Unlock()
		a.cfg.OnDetach()
		a.mu.Lock()
	}
}

// commitAloneLocked commits everything logged when no passive acknowledges
// entries (none attached, or async acks). Only while the lease is surely
// held: a deposed active that no longer reaches its passive must not
// acknowledge anything its successor will never see.
func (a *App) commitAloneLocked() {
	if (!a.peer || !a.cfg.SyncAck) && a.cfg.Gate.IsOpen() && (a.cfg.AloneOK == nil || a.cfg.AloneOK()) {
		a.committed = a.wal.last()
	}
}

// Recommit commits what was logged while the lease was in doubt, once the
// node holds it again.
func (a *App) Recommit() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.role == roleActive {
		a.commitAloneLocked()
		a.broadcast()
	}
}

// EntriesFrom copies up to max logged entries starting at lsn, for shipping.
func (a *App) EntriesFrom(lsn uint64, max int) []Entry {
	return a.AppendEntriesFrom(nil, lsn, max)
}

// AppendEntriesFrom appends to dst copies of up to max logged entries
// starting at lsn, so that a shipper can reuse one slice. The payloads are
// shared with the log, which never modifies them.
func (a *App) AppendEntriesFrom(dst []Entry, lsn uint64, max int) []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(dst, a.wal.from(lsn, max)...)
}

// Published returns the published position of each sink (active only).
func (a *App) Published() map[string]uint64 {
	out := make(map[string]uint64, len(a.cfg.Sinks))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.role != roleActive {
		for k, v := range a.published {
			out[k] = v
		}
		return out
	}
	for _, s := range a.slots {
		out[s.spec.ID] = s.pub.published.Load()
	}
	return out
}

func (a *App) tickLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		a.mu.Lock()
		dl, has, ticked, ch := a.deadline, a.hasDL, a.tickedFor, a.dlWake
		a.mu.Unlock()
		wait := time.Hour
		if has && dl != ticked {
			now := a.cfg.Now().UnixMilli()
			if now >= dl {
				a.mu.Lock()
				a.tickedFor = dl
				a.mu.Unlock()
				a.appendTick(now)
				continue
			}
			wait = time.Duration(dl-now) * time.Millisecond
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// checkpointLoop checkpoints every CheckpointEvery, and sooner when more than
// CheckpointEntries entries were applied since the last one: the passive keeps
// every entry after the last checkpoint, so this bounds its queue.
func (a *App) checkpointLoop(ctx context.Context) {
	if a.cfg.CheckpointEvery <= 0 || a.cfg.Store == nil {
		return
	}
	check := min(a.cfg.CheckpointEvery, time.Second)
	t := time.NewTicker(check)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-t.C:
			a.mu.Lock()
			backlog := a.applied - min(a.applied, a.lastCkpt.LSN)
			a.mu.Unlock()
			if time.Since(last) < a.cfg.CheckpointEvery && backlog < uint64(a.cfg.CheckpointEntries) {
				continue
			}
			last = time.Now()
			if _, err := a.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("checkpoint failed", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// Checkpoint writes the app's state to the store now and hands it to
// OnCheckpoint. It returns the manifest (the previous one if nothing changed).
func (a *App) Checkpoint(ctx context.Context) (persist.Manifest, error) {
	lsn, state, err := a.Snapshot(ctx)
	if err != nil {
		return persist.Manifest{}, err
	}
	a.mu.Lock()
	prev, epoch := a.lastCkpt, a.epoch
	a.mu.Unlock()
	if prev.Revision > 0 && prev.LSN == lsn {
		return prev, nil
	}
	// Revision 0: the store numbers it after the newest it holds.
	m := persist.Manifest{App: a.cfg.Name, AppHash: a.cfg.Hash, Epoch: epoch, LSN: lsn, Created: a.cfg.Now().UTC()}
	saved, err := a.cfg.Store.Save(ctx, m, state)
	if err != nil {
		return m, fmt.Errorf("app %s: save checkpoint: %w", a.cfg.Name, err)
	}
	a.mu.Lock()
	a.lastCkpt = saved
	a.mu.Unlock()
	a.log.Debug("checkpoint", "revision", saved.Revision, "lsn", lsn, "bytes", len(state))
	if a.cfg.OnCheckpoint != nil {
		a.cfg.OnCheckpoint(saved, state)
	}
	return saved, nil
}

// Stop ends the active's goroutines and closes its sinks. Pending Ingest calls
// return ErrNotActive.
func (a *App) Stop() {
	a.mu.Lock()
	wasActive := a.role == roleActive
	a.role = roleStopped
	a.broadcast()
	a.mu.Unlock()
	if !wasActive {
		a.stopHot()
		return
	}
	a.cancel()
	a.wg.Wait()
	for _, s := range a.slots {
		if err := s.pub.sink.Close(); err != nil {
			a.log.Warn("close sink", "sink", s.spec.ID, "err", err)
		}
	}
}

// Status is a point-in-time view of the app for status pages and metrics.
type Status struct {
	Name         string            `json:"name"`
	Role         string            `json:"role"`
	Epoch        uint64            `json:"epoch"`
	LastLSN      uint64            `json:"last_lsn"`
	Committed    uint64            `json:"committed_lsn"`
	Applied      uint64            `json:"applied_lsn"`
	PeerAttached bool              `json:"peer_attached"`
	PeerAck      uint64            `json:"peer_ack_lsn"`
	Published    map[string]uint64 `json:"published"`
	// Queued is the number of entries held in the log: on the active those
	// not yet applied or acknowledged, on the passive those since the last
	// checkpoint. SinkQueued counts outputs waiting per sink.
	Queued         int               `json:"queued"`
	SinkQueued     map[string]int    `json:"sink_queued,omitempty"`
	LastCheckpoint *persist.Manifest `json:"last_checkpoint,omitempty"`
}

// Status reports the app's state.
func (a *App) Status() Status {
	pub := a.Published()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{Name: a.cfg.Name, Epoch: a.epoch, LastLSN: a.wal.last(), Committed: a.committed,
		Applied: a.applied, PeerAttached: a.peer, PeerAck: a.peerAck, Published: pub, Queued: len(a.wal.entries)}
	switch a.role {
	case roleActive:
		s.Role = "active"
		s.SinkQueued = map[string]int{}
		for _, sl := range a.slots {
			s.SinkQueued[sl.spec.ID] = sl.pub.pending()
		}
	case rolePassive:
		s.Role = "passive"
	default:
		s.Role = "stopped"
	}
	if a.lastCkpt.Revision > 0 {
		m := a.lastCkpt
		s.LastCheckpoint = &m
	}
	return s
}

// Idle reports whether the active has applied every logged entry and
// published every output.
func (a *App) Idle() bool {
	a.mu.Lock()
	idle := a.role == roleActive && a.applied == a.wal.last()
	a.mu.Unlock()
	if !idle {
		return false
	}
	for _, s := range a.slots {
		if s.pub.pending() > 0 {
			return false
		}
	}
	return true
}

// LastLSN returns the highest LSN logged or held.
func (a *App) LastLSN() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wal.last()
}

// Changed returns a channel closed at the App's next change of state.
func (a *App) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}
