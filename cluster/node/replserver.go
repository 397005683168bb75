package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-stream/tandem/cluster/repl"
	"github.com/tandem-stream/tandem/host"
	"github.com/tandem-stream/tandem/persist"
)

// replServer is the active's side of replication: it admits one passive at a
// time and streams every app's log to it.
type replServer struct {
	n      *Node
	epoch  uint64
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // an app logged entries

	mu      sync.Mutex
	session *session
}

// session is one connected passive.
type session struct {
	peer   string
	conn   *repl.Conn
	cancel context.CancelFunc
	done   chan struct{}
	// holding is set while the writer holds entries back until the passive
	// acknowledges its last flush; readAcks then wakes it with each ack.
	holding atomic.Bool

	mu       sync.Mutex
	attachAt map[string]uint64 // per app: the LSN the passive starts from
	outbox   []repl.Message    // checkpoints and digests waiting to be sent
	lagLSN   map[string]uint64
	rtt      time.Duration
	sent     map[string]map[string]uint64 // published positions last sent, per app
}

func startReplServer(n *Node, epoch uint64) (*replServer, error) {
	ln, err := net.Listen("tcp", n.cfg.Replication.Listen)
	if err != nil {
		return nil, fmt.Errorf("replication listen %s: %w", n.cfg.Replication.Listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replServer{n: n, epoch: epoch, ln: ln, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.acceptLoop() }()
	return r, nil
}

func (r *replServer) notify() { signal(r.wake) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (r *replServer) close() {
	r.cancel()
	r.ln.Close()
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s != nil {
		s.cancel()
		s.conn.Close()
	}
	r.wg.Wait()
}

func (r *replServer) acceptLoop() {
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			if r.ctx.Err() == nil {
				r.n.log.Error("replication accept", "err", err)
			}
			return
		}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.serve(nc) }()
	}
}

// admit refuses a second passive while one is connected; a reconnect of the
// same node replaces its old session.
func (r *replServer) admit(h *repl.Hello) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.NodeID == r.n.cfg.Node.ID {
		return &repl.RejectError{Code: repl.RejectPeer, Reason: "a node cannot replicate from itself; check node.id"}
	}
	if s := r.session; s != nil && s.peer != h.NodeID {
		return &repl.RejectError{Code: repl.RejectPeer,
			Reason: fmt.Sprintf("node %s is already the passive of this pair; a group has only two nodes", s.peer)}
	}
	for _, a := range h.Apps {
		u := r.n.app(a.App)
		if u != nil && u.Hash() != a.AppHash {
			return &repl.RejectError{Code: repl.RejectOther,
				Reason: fmt.Sprintf("app %s differs between the nodes (hash %.12s here, %.12s there); deploy the same version on both", a.App, u.Hash(), a.AppHash)}
		}
	}
	return nil
}

func (r *replServer) serve(nc net.Conn) {
	cfg := r.n.replConfig(r.epoch, true)
	conn, hello, err := repl.Accept(r.ctx, nc, cfg, r.admit)
	if err != nil {
		if r.ctx.Err() == nil {
			r.n.log.Warn("replication peer refused", "remote", nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	s := &session{peer: hello.NodeID, conn: conn, cancel: cancel, done: make(chan struct{}), lagLSN: map[string]uint64{}, sent: map[string]map[string]uint64{},
		attachAt: map[string]uint64{}}
	r.mu.Lock()
	old := r.session
	r.session = s
	r.mu.Unlock()
	if old != nil {
		old.cancel()
		old.conn.Close()
		<-old.done
	}
	defer func() {
		cancel()
		conn.Close()
		for _, u := range r.n.unitList() {
			u.app.DetachPeer()
		}
		r.mu.Lock()
		if r.session == s {
			r.session = nil
		}
		r.mu.Unlock()
		close(s.done)
	}()
	r.n.log.Info("passive connected", "peer", s.peer)
	if err := r.stream(ctx, s, hello); err != nil && ctx.Err() == nil {
		r.n.log.Warn("passive disconnected; running alone", "peer", s.peer, "err", err)
	} else {
		r.n.log.Info("passive disconnected", "peer", s.peer)
	}
}

// stream sends each app's snapshot, then its entries as they are logged, with
// the published positions, while a reader goroutine takes the acks.
func (r *replServer) stream(ctx context.Context, s *session, hello *repl.Hello) error {
	held := map[string]repl.AppPos{}
	for _, p := range hello.Apps {
		held[p.App] = p
	}
	silence := r.n.cfg.Replication.PeerTimeout
	cursor := map[string]uint64{}
	for _, u := range r.n.unitList() {
		app := u.app
		// A passive that holds this term's entries up to a point still in
		// the log resumes there: no snapshot, just the entries it missed.
		if p, ok := held[app.Name()]; ok && p.Epoch == r.epoch && p.AppHash == app.Hash() && app.AttachPeerAt(p.LastLSN) {
			r.n.log.Info("passive resumes from its own position", "app", app.Name(), "lsn", p.LastLSN)
			r.n.resumes.Add(1)
			cursor[app.Name()] = p.LastLSN + 1
			s.mu.Lock()
			s.attachAt[app.Name()] = p.LastLSN
			s.mu.Unlock()
			continue
		}
		var lsn uint64
		var state []byte
		var err error
		for range 10 { // the log may move past a snapshot while it is taken
			if lsn, state, err = app.AttachPeer(ctx); err == nil {
				break
			}
		}
		if errors.Is(err, host.ErrNotActive) {
			continue // the app failed to start here; the passive keeps what it has
		}
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", app.Name(), err)
		}
		if err := s.conn.Send(&repl.Snapshot{Epoch: r.epoch, App: app.Name(), AppHash: app.Hash(), LSN: lsn, State: state}); err != nil {
			return err
		}
		cursor[app.Name()] = lsn + 1
		s.mu.Lock()
		s.attachAt[app.Name()] = lsn
		s.mu.Unlock()
	}
	s.conn.SetWriteDeadline(time.Now().Add(silence))
	if err := s.conn.Flush(); err != nil {
		return err
	}

	readErr := make(chan error, 1)
	go func() { readErr <- r.readAcks(ctx, s) }()

	ping := time.NewTicker(r.n.cfg.Coordination.Heartbeat / 2)
	defer ping.Stop()
	sendPing := func() error {
		if err := s.conn.Send(&repl.Ping{Epoch: r.epoch, Nanos: time.Now().UnixNano()}); err != nil {
			return err
		}
		s.conn.SetWriteDeadline(time.Now().Add(silence))
		return s.conn.Flush()
	}
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	defer hold.Stop()
	published := map[string]map[string]uint64{}
	flushed := map[string]uint64{} // per app: the last LSN of the newest flush
	var flushedAt time.Time
	var es []host.Entry // reused: Send encodes the entries and keeps none
	for {
		if wait := r.holdFor(s, cursor, flushed, flushedAt, time.Now()); wait > 0 {
			hold.Reset(wait)
			select {
			case <-r.wake:
			case <-hold.C:
			case <-ping.C:
				if err := sendPing(); err != nil {
					return err
				}
			case err := <-readErr:
				return err
			case <-ctx.Done():
				return nil
			}
			hold.Stop()
			continue
		}
		sent, entries := false, false
		for _, u := range r.n.unitList() {
			app := u.app
			from, ok := cursor[app.Name()]
			if !ok {
				continue
			}
			pos := app.Published()
			// Everything logged goes in this flush, in messages of up to
			// maxShip entries, up to a bound that keeps the loop turning.
			for range maxMessages {
				es = app.AppendEntriesFrom(es[:0], from, maxShip)
				if len(es) == 0 && samePositions(published[app.Name()], pos) {
					break
				}
				msg := &repl.Entries{Epoch: r.epoch, App: app.Name(), Entries: es}
				for id, p := range pos {
					msg.Published = append(msg.Published, repl.SinkPos{Sink: id, Position: p})
				}
				published[app.Name()] = pos
				s.mu.Lock()
				s.sent[app.Name()] = pos
				s.mu.Unlock()
				if err := s.conn.Send(msg); err != nil {
					return err
				}
				sent = true
				n := len(es)
				if n > 0 {
					from = es[n-1].LSN + 1
					cursor[app.Name()] = from
					flushed[app.Name()] = from - 1
					entries = true
				}
				clear(es) // let the log's trimmed payloads go
				if n < maxShip {
					break
				}
			}
		}
		s.mu.Lock()
		outbox := s.outbox
		s.outbox = nil
		s.mu.Unlock()
		for _, m := range outbox {
			if err := s.conn.Send(m); err != nil {
				return err
			}
			sent = true
		}
		if sent {
			s.conn.SetWriteDeadline(time.Now().Add(silence))
			if err := s.conn.Flush(); err != nil {
				return err
			}
			if entries {
				flushedAt = time.Now()
			}
			continue
		}
		select {
		case <-r.wake:
		case <-ping.C:
			if err := sendPing(); err != nil {
				return err
			}
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

const (
	maxShip     = 4096 // entries per Entries message
	maxMessages = 16   // Entries messages per app and flush
	// maxHold bounds how long new entries wait for the passive to
	// acknowledge the previous flush, and holdEntries how many may wait.
	maxHold     = time.Millisecond
	holdEntries = maxShip
)

// holdFor returns how long the writer should hold newly logged entries
// back, 0 for not at all; the last flush of entries was at at. It holds them
// while the passive has not yet
// acknowledged the last flush of entries (group commit): the entries of
// concurrent senders then go out together, so one write here and one read,
// append and ack on the passive serve many batches rather than each. A lone
// sender never waits, since its last batch was acknowledged before it sent
// the next; nor does anything wait behind a checkpoint or digest to send.
func (r *replServer) holdFor(s *session, cursor, flushed map[string]uint64, at, now time.Time) time.Duration {
	s.holding.Store(false)
	left := maxHold - now.Sub(at)
	if len(flushed) == 0 || left <= 0 {
		return 0
	}
	pending := uint64(0)
	for _, u := range r.n.unitList() {
		if from, ok := cursor[u.app.Name()]; ok {
			if last := u.app.LastLSN(); last >= from {
				pending += last - from + 1
			}
		}
	}
	if pending == 0 || pending >= holdEntries {
		return 0
	}
	// Set before reading the acks, so that readAcks, which stores an ack
	// before looking at the flag, wakes the writer for any ack it misses.
	s.holding.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outbox) > 0 {
		return 0
	}
	for app, lsn := range flushed {
		// An app the passive never acknowledged (it does not run it) is
		// no reason to wait.
		if acked, ok := s.lagLSN[app]; ok && acked < lsn {
			return left
		}
	}
	return 0
}

func samePositions(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// readAcks applies the passive's acknowledgements. A passive that says nothing
// for replication.peerTimeout (it answers every Ping) is dropped, so a frozen
// passive cannot stall the sources for long.
func (r *replServer) readAcks(ctx context.Context, s *session) error {
	silence := r.n.cfg.Replication.PeerTimeout
	for {
		s.conn.SetReadDeadline(time.Now().Add(silence))
		m, err := s.conn.Recv()
		if err != nil {
			return fmt.Errorf("read from passive: %w", err)
		}
		switch m := m.(type) {
		case *repl.Ack:
			if app := r.n.app(m.App); app != nil {
				app.PeerAck(m.LSN)
				s.mu.Lock()
				s.lagLSN[m.App] = m.LSN
				s.mu.Unlock()
				if s.holding.Load() {
					r.notify()
				}
			}
		case *repl.CheckpointAck:
			r.n.log.Debug("passive stored checkpoint", "app", m.App, "revision", m.Revision, "lsn", m.LSN)
		case *repl.Pong:
			s.mu.Lock()
			s.rtt = time.Duration(time.Now().UnixNano() - m.Nanos)
			s.mu.Unlock()
		case *repl.Reject:
			return fmt.Errorf("passive rejected the stream: %s", m.Reason)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// dropSession disconnects the passive; it reconnects and takes a fresh snapshot.
func (r *replServer) dropSession() {
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s != nil {
		s.cancel()
		s.conn.Close()
	}
}

// drained reports whether the passive holds everything: every app idle, every
// entry acknowledged, every published position sent.
func (r *replServer) drained() bool {
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s == nil {
		return false
	}
	for _, u := range r.n.unitList() {
		st := u.app.Status()
		if st.Role != "active" {
			continue
		}
		if !u.app.Idle() {
			return false
		}
		s.mu.Lock()
		acked, sent := s.lagLSN[st.Name], s.sent[st.Name]
		s.mu.Unlock()
		if acked < st.LastLSN || !samePositions(sent, st.Published) {
			return false
		}
	}
	return true
}

func (r *replServer) shipCheckpoint(m persist.Manifest, state []byte) {
	r.send(&repl.Checkpoint{Epoch: r.epoch, Manifest: m, State: state})
}

// send queues a message for the passive, after the entries logged so far.
func (r *replServer) send(m repl.Message) {
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	s.outbox = append(s.outbox, m)
	s.mu.Unlock()
	r.notify()
}

// peerStatus reports the connected passive, if any. It is synced once it has
// acknowledged the snapshot of every app: from then on a failover loses nothing.
func (r *replServer) peerStatus() (peer string, acked map[string]uint64, rtt time.Duration, synced bool) {
	r.mu.Lock()
	s := r.session
	r.mu.Unlock()
	if s == nil {
		return "", nil, 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acked = make(map[string]uint64, len(s.lagLSN))
	for k, v := range s.lagLSN {
		acked[k] = v
	}
	synced = len(s.attachAt) > 0
	for app, at := range s.attachAt {
		if l, ok := s.lagLSN[app]; !ok || l < at {
			synced = false
		}
	}
	return s.peer, acked, s.rtt, synced
}
