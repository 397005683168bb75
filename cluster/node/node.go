// Package node runs a Tandem cluster node: it drives the role Machine with the
// coordination store's answers and carries out its actions (promote, follow,
// fence, demote), replicates the active's logs to the passive, and serves the
// admin and status API.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/repl"
	"github.com/tandem-stream/tandem/deploy"
	"github.com/tandem-stream/tandem/host"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
	"github.com/tandem-stream/tandem/persist"
)

// Deps are the node's collaborators, built by the caller from the config.
type Deps struct {
	Coord  coord.Coordinator
	Store  persist.Store
	Plans  []*deploy.Plan
	Logger *slog.Logger
	// Connectors resolves connector types for apps deployed through the API;
	// without it the node runs only the apps of its config file.
	Connectors deploy.Connectors
}

const defaultStopTimeout = 5 * time.Second

// unit is one app on this node: its plan, its host.App for the current role,
// and its sources while active.
type unit struct {
	origin   string // originConfig or originAPI
	version  uint64 // the app store's version, for API apps
	plan     *deploy.Plan
	app      *host.App
	sources  []source.Source
	inactive string // why the app is not running here, if it is not
}

// Node is one member of a pair.
type Node struct {
	cfg   *Config
	deps  Deps
	log   *slog.Logger
	gate  *host.Gate
	start time.Time // origin of the monotonic offsets fed to the machine

	mu    sync.Mutex // guards the fields below against the status API
	m     *Machine
	units []*unit
	peers []coord.Member

	repl   *replServer
	follow *follower

	// Counters for metrics: snapshots a passive installed, and passives the
	// active resumed from their own position instead.
	snapshotsIn, resumes atomic.Uint64

	tlsServer, tlsClient *tls.Config // replication TLS, if configured

	// The in-sync record (insync.go): what this active records, what the
	// store last took, whether committing alone is allowed, and the last
	// record seen of each other holder.
	inSync, inSyncWritten string
	aloneOK               atomic.Bool
	holderInSync          map[string]string
	wake                  chan struct{} // a passive stopped acknowledging
	refused               uint64        // the epoch whose lapsed lease this node last declined

	// broken holds API-deployed apps this node cannot run, with the reason.
	broken map[string]string

	// exec runs functions on the Run goroutine, which owns the role.
	exec chan func(context.Context)
	// holdOff: after handing the lease over, do not ask for it again before
	// this (monotonic offset), so the peer takes it.
	holdOff time.Duration
}

// New returns a node; Run starts it.
func New(cfg *Config, deps Deps) (*Node, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, deps: deps, log: deps.Logger.With("node", cfg.Node.ID), gate: host.NewGate(false),
		start: time.Now(), m: NewMachine(cfg.Node.ID, cfg.Coordination.Lease), exec: make(chan func(context.Context)),
		broken: map[string]string{}, holderInSync: map[string]string{}, wake: make(chan struct{}, 1)}
	n.aloneOK.Store(true)
	for _, p := range deps.Plans {
		n.units = append(n.units, &unit{plan: p, origin: originConfig})
	}
	var err error
	if n.tlsServer, n.tlsClient, err = replTLS(cfg.Replication.TLS); err != nil {
		return nil, err
	}
	n.resetApps()
	return n, nil
}

func (n *Node) now() time.Duration { return time.Since(n.start) }

// unitList returns the node's apps. The slice is never changed in place:
// deploying or removing an app publishes a new one, so a caller may range
// over it without holding n.mu.
func (n *Node) unitList() []*unit {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.units
}

// resetApps gives every app a fresh passive host.App.
func (n *Node) resetApps() {
	for _, u := range n.unitList() {
		n.resetApp(u)
	}
}

func (n *Node) resetApp(u *unit) {
	app := u.plan.NewApp(host.Config{
		Store:      n.deps.Store,
		Logger:     n.log,
		Gate:       n.gate,
		SyncAck:    n.cfg.Replication.Ack == "sync",
		HotStandby: n.cfg.Replication.Mode == "hot",
		// Store-based sync needs the entries since the last checkpoint.
		RetainSinceCheckpoint: !n.cfg.Replication.LiveSyncOn(),
		CheckpointEvery:       n.cfg.Checkpoint.Interval,
		OnCheckpoint:          n.onCheckpoint,
		OnAppend:              n.onAppend,
		OnPublished:           n.onAppend,
		AloneOK:               n.aloneOK.Load,
		OnDetach:              func() { signal(n.wake) },
		OnDigest: func(lsn uint64, hash []byte) {
			if r := n.currentRepl(); r != nil {
				r.send(&repl.Digest{Epoch: r.epoch, App: u.plan.Name, LSN: lsn, Hash: hash})
			}
		},
		OnDiverged: func(uint64) { n.resync() },
	}, sink.Env{Logger: n.log})
	n.mu.Lock()
	u.app = app
	n.mu.Unlock()
}

// onAppend wakes the replication writer: entries were logged or outputs published.
func (n *Node) onAppend() {
	if r := n.currentRepl(); r != nil {
		r.notify()
	}
}

// resync drops the passive's replication session so that it reconnects and
// takes a fresh snapshot of every app.
func (n *Node) resync() {
	n.mu.Lock()
	f := n.follow
	n.mu.Unlock()
	if f != nil {
		f.dropConn()
	}
}

func (n *Node) onCheckpoint(m persist.Manifest, state []byte) {
	if r := n.currentRepl(); r != nil {
		r.shipCheckpoint(m, state)
	}
}

func (n *Node) currentRepl() *replServer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.repl
}

func (n *Node) info() coord.NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return coord.NodeInfo{ID: n.cfg.Node.ID, APIAddr: n.cfg.Node.API, ReplAddr: n.cfg.Replication.Advertise,
		DataAddr: n.cfg.Sources.HTTPListen, StartedAt: n.start, InSync: n.inSync}
}

// Run runs the node until ctx is done, then shuts it down gracefully: an
// active stops its sources, drains, and releases the lease.
func (n *Node) Run(ctx context.Context) error {
	api, err := n.startAPI()
	if err != nil {
		return err
	}
	defer api.Close()
	n.log.Info("node started", "group", n.cfg.Node.Group, "api", n.cfg.Node.API,
		"repl", n.cfg.Replication.Listen, "apps", len(n.unitList()))

	hb := n.cfg.Coordination.Heartbeat
	// The passive asks for the lease more often than the active renews it, so
	// that it takes over soon after the lease runs out.
	poll := min(hb, 100*time.Millisecond)
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastBeat := -hb
	for {
		select {
		case <-ctx.Done():
			n.shutdown()
			return nil
		case fn := <-n.exec:
			fn(ctx)
			continue
		case <-n.wake:
			n.syncMarker(ctx)
			continue
		case <-timer.C:
		}
		var actions []Action
		if now := n.now(); now-lastBeat >= hb {
			lastBeat = now
			// The renewal goes first: a slow heartbeat must not eat into the lease.
			if n.machine().Role() == Active {
				actions = append(actions, n.renew(ctx)...)
				n.syncMarker(ctx)
			}
			if err := n.heartbeat(ctx); errors.Is(err, coord.ErrGroupFull) {
				n.shutdown()
				return fmt.Errorf("node %s cannot join group %q: %w", n.cfg.Node.ID, n.cfg.Node.Group, err)
			}
			n.reconcile(ctx)
		}
		if n.machine().Role() == Passive {
			actions = append(actions, n.acquire(ctx, n.now() < n.holdOff)...)
		}
		n.mu.Lock()
		actions = append(actions, n.m.Tick(n.now())...)
		n.mu.Unlock()
		for _, a := range actions {
			n.do(ctx, a)
		}
		next := poll
		if m := n.machine(); m.Role() == Active {
			now := n.now()
			next = max(min(hb-(now-lastBeat), m.LeaseLeft(now)), time.Millisecond)
		}
		timer.Reset(next)
	}
}

func (n *Node) heartbeat(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, n.cfg.Coordination.Heartbeat)
	defer cancel()
	info := n.info()
	err := n.deps.Coord.Heartbeat(cctx, info, n.cfg.Coordination.Lease)
	if err == nil {
		n.mu.Lock()
		n.inSyncWritten = info.InSync
		n.mu.Unlock()
		n.refreshPeers(cctx)
	} else if ctx.Err() == nil {
		n.log.Warn("heartbeat failed", "err", err)
	}
	return err
}

// openGate lets publishing and solo commits through until the lease's local
// deadline, which every successful renewal moves on.
func (n *Node) openGate() {
	n.mu.Lock()
	until := n.start.Add(n.m.GoodUntil())
	n.mu.Unlock()
	n.gate.OpenUntil(until)
}

func (n *Node) renew(ctx context.Context) []Action {
	m := n.machine()
	sent := n.now()
	// Waiting past the local lease deadline is pointless: the lease is gone.
	cctx, cancel := context.WithTimeout(ctx, max(m.LeaseLeft(sent), 10*time.Millisecond))
	ok, err := n.deps.Coord.Renew(cctx, n.cfg.Node.ID, m.Epoch(), n.cfg.Coordination.Lease)
	cancel()
	if err != nil && ctx.Err() == nil {
		n.log.Warn("lease renewal failed", "err", err)
	}
	n.mu.Lock()
	actions := n.m.Renewed(sent, ok, err)
	n.mu.Unlock()
	if ok && err == nil && !n.machine().Fenced() {
		n.openGate()
	}
	return actions
}

// refuseTakeOver says, once per lapsed lease, why this passive waits.
func (n *Node) refuseTakeOver(l coord.Lease, why string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refused == l.Epoch {
		return
	}
	n.refused = l.Epoch
	n.log.Error("the active's lease ran out but this node may lack input it acknowledged; not taking over until it returns",
		"active", l.Holder, "epoch", l.Epoch, "why", why)
}

// acquire asks for the lease, or with onlyLook just reads who holds it (after
// a handover, so the peer gets it and this node follows the peer).
func (n *Node) acquire(ctx context.Context, onlyLook bool) []Action {
	sent := n.now()
	cctx, cancel := context.WithTimeout(ctx, n.cfg.Coordination.Heartbeat)
	var l coord.Lease
	var held bool
	var err error
	if onlyLook {
		if l, err = n.deps.Coord.Lease(cctx); err == nil && l.Valid && l.Holder != n.cfg.Node.ID {
			n.holdOff = 0 // the peer took over: this node may take the lease back when it lapses
		}
	} else if l, err = n.deps.Coord.Lease(cctx); err == nil {
		if ok, why := n.mayTakeOver(cctx, l); !ok {
			n.refuseTakeOver(l, why)
		} else {
			l, held, err = n.deps.Coord.Acquire(cctx, n.cfg.Node.ID, n.cfg.Coordination.Lease)
		}
	}
	cancel()
	if err != nil && ctx.Err() == nil {
		n.log.Warn("lease acquire failed", "err", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m.Acquired(sent, l, held, err)
}

func (n *Node) machine() *Machine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m
}

func (n *Node) refreshPeers(ctx context.Context) {
	ms, err := n.deps.Coord.Members(ctx)
	if err != nil {
		return
	}
	n.mu.Lock()
	n.peers = ms
	n.mu.Unlock()
}

func (n *Node) do(ctx context.Context, a Action) {
	n.log.Info("role action", "action", a.Kind.String(), "epoch", a.Epoch, "holder", a.Holder)
	switch a.Kind {
	case Promote:
		n.promote(ctx, a.Epoch)
	case Follow:
		n.startFollowing(a.Holder, a.Epoch)
	case Fence:
		n.gate.Set(false)
		n.log.Warn("lease not renewed in time: publishing stopped")
	case Unfence:
		n.openGate()
		for _, u := range n.unitList() {
			u.app.Recommit()
		}
		n.log.Info("lease renewed: publishing resumed")
	case Reacquire:
		n.log.Warn("lease could not be renewed; asking for it again")
		for _, a := range n.acquire(ctx, false) {
			n.do(ctx, a)
		}
		if m := n.machine(); m.Role() == Active && !m.Fenced() {
			n.openGate() // taken back before it was fenced: extend the deadline
		}
	case Demote:
		n.demote("another node holds the lease")
	}
}

func (n *Node) promote(ctx context.Context, epoch uint64) {
	n.stopFollowing()
	// A new term starts alone: no passive is in sync with it yet. Records of
	// earlier terms name other epochs, so they can never let a passive in.
	n.mu.Lock()
	n.inSync = ""
	n.mu.Unlock()
	n.aloneOK.Store(true)
	start := time.Now()
	n.openGate()
	for _, u := range n.unitList() {
		n.promoteUnit(ctx, u, epoch)
	}
	r, err := startReplServer(n, epoch)
	if err != nil {
		n.log.Error("replication listener", "err", err)
	} else {
		n.mu.Lock()
		n.repl = r
		n.mu.Unlock()
	}
	n.startSources(ctx)
	n.log.Info("node is ACTIVE", "epoch", epoch, "took", time.Since(start).Round(time.Millisecond))
}

// promoteUnit starts one app as active; an app that cannot start is marked
// inactive with the reason, and the others run on.
func (n *Node) promoteUnit(ctx context.Context, u *unit, epoch uint64) {
	if err := u.app.Promote(ctx, epoch); err != nil {
		n.log.Error("app not started", "app", u.plan.Name, "err", err)
		n.setInactive(u, err.Error())
		return
	}
	n.setInactive(u, "")
}

func (n *Node) setInactiveByName(app, reason string) {
	for _, u := range n.unitList() {
		if u.plan.Name == app {
			n.setInactive(u, reason)
		}
	}
}

func (n *Node) setInactive(u *unit, reason string) {
	n.mu.Lock()
	u.inactive = reason
	n.mu.Unlock()
}

func (n *Node) startSources(ctx context.Context) {
	for _, u := range n.unitList() {
		n.startUnitSources(ctx, u)
	}
}

func (n *Node) startUnitSources(ctx context.Context, u *unit) {
	if u.inactive != "" {
		return
	}
	srcs, err := u.plan.Sources(u.app, source.Env{Logger: n.log, HTTPListen: n.cfg.Sources.HTTPListen})
	if err != nil {
		n.log.Error("sources", "app", u.plan.Name, "err", err)
		return
	}
	for _, s := range srcs {
		if err := s.Start(ctx); err != nil {
			n.log.Error("source start", "app", u.plan.Name, "err", err)
			continue
		}
		u.sources = append(u.sources, s)
	}
}

func (n *Node) stopSources() {
	for _, u := range n.unitList() {
		for _, s := range u.sources {
			ctx, cancel := context.WithTimeout(context.Background(), defaultStopTimeout)
			if err := s.Stop(ctx); err != nil {
				n.log.Warn("source stop", "app", u.plan.Name, "err", err)
			}
			cancel()
		}
		u.sources = nil
	}
}

func (n *Node) demote(reason string) {
	n.gate.Set(false)
	// n.inSync stays: the record names this term's in-sync passive, which
	// may take over (after a handover it must); a later term never matches.
	n.stopSources()
	n.mu.Lock()
	r := n.repl
	n.repl = nil
	n.mu.Unlock()
	if r != nil {
		r.close()
	}
	for _, u := range n.unitList() {
		u.app.Stop()
	}
	n.resetApps()
	n.log.Warn("node is PASSIVE again", "reason", reason)
}

func (n *Node) shutdown() {
	n.stopFollowing()
	if n.machine().Role() != Active {
		return
	}
	n.stopSources()
	n.mu.Lock()
	r := n.repl
	n.repl = nil
	n.mu.Unlock()
	if r != nil {
		r.close()
	}
	for _, u := range n.unitList() {
		u.app.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := n.deps.Coord.Release(ctx, n.cfg.Node.ID, n.machine().Epoch()); err != nil {
		n.log.Warn("lease release", "err", err)
	}
	n.mu.Lock()
	n.m.Released()
	n.mu.Unlock()
}

// replConfig is this node's side of the replication handshake; accept
// selects the TLS config of the acceptor (active) or the dialer (passive).
func (n *Node) replConfig(epoch uint64, accept bool) repl.Config {
	c := repl.Config{NodeID: n.cfg.Node.ID, Group: n.cfg.Node.Group, Epoch: epoch,
		Secret: []byte(n.cfg.Replication.Secret), TLS: n.tlsClient}
	if accept {
		c.TLS = n.tlsServer
	}
	return c
}

func (n *Node) app(name string) *host.App {
	for _, u := range n.unitList() {
		if u.plan.Name == name {
			return u.app
		}
	}
	return nil
}

// peerAddr returns the replication address a member advertises.
func (n *Node) peerAddr(id string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.ID == id {
			return p.ReplAddr
		}
	}
	return ""
}

func (n *Node) startAPI() (*http.Server, error) {
	ln, err := net.Listen("tcp", n.cfg.Node.API)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	srv := &http.Server{Handler: n.apiHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("admin API stopped", "err", err)
		}
	}()
	return srv, nil
}
