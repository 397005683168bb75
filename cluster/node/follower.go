package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tandem-stream/tandem/cluster/repl"
)

// follower is the passive's side of replication: it connects to the active,
// installs the snapshots it sends, queues its entries and stores its
// checkpoints, acknowledging each as soon as it is held.
type follower struct {
	n      *Node
	holder string
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	conn *repl.Conn // the current session's, for dropConn

	attempts map[string]int // per app: sessions that brought no state for it (run goroutine only)
}

// checkAppSync retries (by ending the session) while an app has had no
// state from the active, up to Replication.AppSyncRetries times; then it marks
// the app inactive with the reason and goes on replicating the others.
func (f *follower) checkAppSync(synced map[string]bool, active string) error {
	var missing []string
	for _, u := range f.n.unitList() {
		name := u.plan.Name
		if synced[name] {
			continue
		}
		f.attempts[name]++
		if f.attempts[name] <= f.n.cfg.Replication.AppSyncRetries {
			missing = append(missing, name)
			continue
		}
		reason := fmt.Sprintf("no state from the active %s after %d tries, %v apart: it does not run this app, or the app is inactive there",
			active, f.attempts[name], f.n.cfg.Replication.RetryAppSyncPeriod)
		f.n.setInactiveByName(name, reason)
	}
	if len(missing) > 0 {
		return fmt.Errorf("no state yet from the active for %v; retrying", missing)
	}
	return nil
}

// dropConn ends the current session; the follower reconnects and takes a
// fresh snapshot.
func (f *follower) dropConn() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Close()
	}
}

func (n *Node) startFollowing(holder string, epoch uint64) {
	n.stopFollowing()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{n: n, holder: holder, cancel: cancel, done: make(chan struct{}), attempts: map[string]int{}}
	n.mu.Lock()
	n.follow = f
	n.mu.Unlock()
	go func() {
		defer close(f.done)
		f.run(ctx, epoch)
	}()
}

func (n *Node) stopFollowing() {
	n.mu.Lock()
	f := n.follow
	n.follow = nil
	n.mu.Unlock()
	if f != nil {
		f.cancel()
		<-f.done
	}
}

func (f *follower) run(ctx context.Context, epoch uint64) {
	if !f.n.cfg.Replication.LiveSyncOn() {
		// Store-based sync: start from the newest checkpoint in the store;
		// the active then sends only the entries after it, if it still has them.
		for _, u := range f.n.unitList() {
			if last, from := u.app.Position(); last != 0 || from != 0 {
				continue
			}
			if ok, err := u.app.LoadFromStore(ctx); err != nil {
				f.n.log.Warn("store-based sync", "app", u.plan.Name, "err", err)
			} else if ok {
				last, from := u.app.Position()
				f.n.log.Info("restored the newest checkpoint from the store", "app", u.plan.Name, "lsn", last, "epoch", from)
			}
		}
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		addr := f.n.peerAddr(f.holder)
		if addr == "" {
			f.n.log.Debug("active's replication address not known yet", "active", f.holder)
		} else if err := f.session(ctx, addr, epoch); err != nil && ctx.Err() == nil {
			var rej *repl.RejectError
			if errors.As(err, &rej) {
				f.n.log.Error("the active refused this node as its passive", "active", f.holder, "reason", err)
				backoff = 2 * time.Second
			} else {
				f.n.log.Warn("replication from the active interrupted", "active", f.holder, "err", err)
			}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (f *follower) session(ctx context.Context, addr string, epoch uint64) error {
	var pos []repl.AppPos
	for _, u := range f.n.unitList() {
		last, from := u.app.Position()
		pos = append(pos, repl.AppPos{App: u.plan.Name, AppHash: u.plan.Hash, LastLSN: last, Epoch: from})
	}
	dctx, cancel := context.WithTimeout(ctx, f.n.cfg.Coordination.Lease)
	conn, welcome, err := repl.Dial(dctx, addr, f.n.replConfig(epoch, false), pos)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	f.mu.Lock()
	f.conn = conn
	f.mu.Unlock()
	f.n.log.Info("replicating from the active", "active", welcome.NodeID, "epoch", welcome.Epoch)
	known := max(epoch, welcome.Epoch)
	silence := f.n.cfg.Replication.PeerTimeout
	// Say at once what is held, so an active that resumes this passive from
	// its own position (no snapshot) counts it as synced.
	acks := map[string]uint64{}
	synced := map[string]bool{}
	for _, p := range pos {
		if p.Epoch == welcome.Epoch {
			acks[p.App] = p.LastLSN
			synced[p.App] = true // unless a snapshot follows, it resumes
		}
	}
	// Apps that get no state from the active (it does not run them, or they
	// are inactive there) are retried, then marked inactive with the reason.
	syncCheck := time.Now().Add(f.n.cfg.Replication.RetryAppSyncPeriod)
	for {
		if !syncCheck.IsZero() && time.Now().After(syncCheck) {
			syncCheck = time.Time{}
			if err := f.checkAppSync(synced, welcome.NodeID); err != nil {
				return err
			}
		}
		conn.SetReadDeadline(time.Now().Add(silence))
		m, err := conn.Recv()
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *repl.Snapshot:
			app := f.n.app(m.App)
			if app == nil {
				continue
			}
			if err := app.InstallSnapshot(m.LSN, m.State, m.Epoch); err != nil {
				return err
			}
			acks[m.App] = m.LSN
			synced[m.App] = true
			f.n.snapshotsIn.Add(1)
			f.attempts[m.App] = 0
			f.n.setInactiveByName(m.App, "")
			f.n.log.Info("took the active's state", "app", m.App, "lsn", m.LSN, "bytes", len(m.State))
		case *repl.Entries:
			if m.Epoch < known {
				conn.Send(&repl.Reject{Epoch: known, Code: repl.RejectEpoch, Reason: "stale epoch"})
				conn.Flush()
				return fmt.Errorf("entries from stale epoch %d (know %d)", m.Epoch, known)
			}
			app := f.n.app(m.App)
			if app == nil {
				continue
			}
			held, err := app.AppendReplicated(m.Entries)
			if err != nil {
				return err
			}
			if len(m.Published) > 0 {
				pos := make(map[string]uint64, len(m.Published))
				for _, p := range m.Published {
					pos[p.Sink] = p.Position
				}
				app.SetPublished(pos)
			}
			acks[m.App] = held
		case *repl.Checkpoint:
			app := f.n.app(m.Manifest.App)
			if app == nil {
				continue
			}
			if err := m.Verify(); err != nil {
				return err
			}
			saved, err := app.StoreCheckpoint(ctx, m.Manifest, m.State)
			if err != nil {
				return err
			}
			if err := conn.Send(&repl.CheckpointAck{Epoch: known, App: saved.App, Revision: saved.Revision, LSN: saved.LSN}); err != nil {
				return err
			}
		case *repl.Digest:
			if app := f.n.app(m.App); app != nil {
				app.CheckDigest(m.LSN, m.Hash)
			}
		case *repl.Ping:
			if err := conn.Send(&repl.Pong{Epoch: m.Epoch, Nanos: m.Nanos}); err != nil {
				return err
			}
		case *repl.Reject:
			return fmt.Errorf("active ended replication: %s", m.Reason)
		}
		// Acknowledge once the frames already received are handled, so a busy
		// stream gets one ack per burst rather than one per frame.
		if conn.Buffered() == 0 {
			for app, lsn := range acks {
				if err := conn.Send(&repl.Ack{Epoch: known, App: app, LSN: lsn}); err != nil {
					return err
				}
			}
			clear(acks)
			conn.SetWriteDeadline(time.Now().Add(silence))
			if err := conn.Flush(); err != nil {
				return err
			}
		}
	}
}
