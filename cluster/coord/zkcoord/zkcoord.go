// Package zkcoord implements coord.Coordinator and coord.AppStore over
// ZooKeeper (github.com/go-zookeeper/zk).
//
// # The store clock
//
// ZooKeeper has no now() to call, but it stamps every write with the
// leader's clock: a znode's mtime. That is the store clock here, as the SQL
// server's clock is for sqlcoord. To read it, a handle writes to the
// group's clock znode and takes the mtime of the write; when a decision
// depends on the time (is the lease expired? is a member alive?), the clock
// write is one transaction (a multi) with a version check of the znode the
// decision is about, so the znode read is exactly the state at that time.
// Every later conditional write is a compare-and-set on the version read,
// so nothing can have changed between decision and write.
//
// After a leader change in an ensemble the new leader's clock stamps the
// writes: keep the servers' clocks in sync (NTP), as for a replicated SQL
// server.
//
// # Layout
//
// Under Options.Root, a group G has
//
//	/root/G/lease       {"holder":..., "epoch":..., "ttl_ms":...}; persistent
//	/root/G/clock       empty; written to read the clock
//	/root/G/members/N   a member's NodeInfo and liveness window; ephemeral
//	/root/G/apps/A      an app: a header line with its hash, then its text
//
// with names escaped (see escape). The lease expires at the lease znode's
// mtime plus its ttl; Acquire, Renew and Release are compare-and-sets on
// its version, and the epoch is incremented exactly when the holder changes,
// as in sqlcoord.
//
// The lease is deliberately not an ephemeral znode tied to the holder's
// session. A lease must outlive the handle that took it (a node restarting
// within its lease keeps it, and the epoch must survive), its ttl is chosen
// per call and can be shortened, and ZooKeeper sessions cannot be shorter
// than two server ticks nor change their timeout. An expired session still
// ends a lease: its holder can no longer renew it.
//
// Members are ephemeral znodes owned by the session of the handle that
// last beat for the node, so a crashed node's entry vanishes when its
// session expires; until then, and for a node whose handle is still open,
// liveness is the mtime plus the liveness window, as in sqlcoord. Every
// heartbeat bumps the version of the members znode in the same multi, so
// concurrent heartbeats are serialised and at most two nodes are alive.
//
// Apps are persistent znodes; a deleted app stays as a tombstone, and an
// app's version is its znode's version plus one.
package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

// DefaultRoot is the root znode when Options.Root is empty.
const DefaultRoot = "/tandem"

// Options configure a Store. The zero value is usable.
type Options struct {
	// Root is the znode under which groups live; default DefaultRoot.
	// Tests use a unique root to isolate themselves.
	Root string
	// SessionTimeout is the ZooKeeper session timeout the handle asks for
	// (the server bounds it to 2 to 20 ticks); default 6s. It is how long
	// a crashed node's member znode stays, and two thirds of it is how
	// long the client waits on a silent server before trying another.
	SessionTimeout time.Duration
	// ConnectTimeout bounds how long Open waits for a session if ctx has
	// no earlier deadline; default 30s.
	ConnectTimeout time.Duration
	// ACL is given to the znodes the store creates; nil means open to
	// everyone (zk.WorldACL(zk.PermAll)).
	ACL []zk.ACL
	// Auth is added to the session, and again after every reconnection;
	// for instance {Scheme: "digest", Secret: []byte("user:password")}
	// with an ACL from zk.DigestACL.
	Auth []Auth
	// Logger receives lease changes, session events and errors worth a
	// look; nil discards.
	Logger *slog.Logger
}

// Auth is one authentication of a ZooKeeper session.
type Auth struct {
	Scheme string
	Secret []byte
}

// Store is a coordination store for one group. It is safe for concurrent
// use.
type Store struct {
	conn  *zk.Conn
	group string
	acl   []zk.ACL
	log   *slog.Logger

	base, leasePath, clockPath, membersPath, appsPath string

	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup // requests in flight, see call
}

var (
	_ coord.Coordinator = (*Store)(nil)
	_ coord.AppStore    = (*Store)(nil)
)

// Open connects to the ZooKeeper ensemble servers (host:port each) for
// group, waits for a session, and creates the group's znodes if missing.
func Open(ctx context.Context, servers []string, group string, opts Options) (*Store, error) {
	if err := check.ID("group", group); err != nil {
		return nil, fmt.Errorf("zkcoord: %w", err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("zkcoord: no ZooKeeper servers given")
	}
	root := opts.Root
	if root == "" {
		root = DefaultRoot
	}
	if err := checkRoot(root); err != nil {
		return nil, fmt.Errorf("zkcoord: %w", err)
	}
	session := opts.SessionTimeout
	if session <= 0 {
		session = 6 * time.Second
	}
	connectTimeout := opts.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("group", group, "store", "zookeeper")
	acl := opts.ACL
	if acl == nil {
		acl = zk.WorldACL(zk.PermAll)
	}

	up := make(chan struct{})
	var upOnce sync.Once
	var state atomic.Int32
	onEvent := func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		prev := zk.State(state.Swap(int32(ev.State)))
		switch {
		case ev.State == zk.StateHasSession:
			upOnce.Do(func() { close(up) })
			if prev != zk.StateHasSession {
				log.Info("zookeeper session established", "server", ev.Server)
			}
		case ev.State == zk.StateExpired:
			log.Warn("zookeeper session expired; a new one follows, and member znodes are recreated by the next heartbeat", "server", ev.Server)
		case prev == zk.StateHasSession:
			log.Warn("zookeeper connection lost", "server", ev.Server, "state", ev.State.String())
		}
	}
	conn, _, err := zk.Connect(servers, session, zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false),
		zk.WithEventCallback(onEvent))
	if err != nil {
		return nil, fmt.Errorf("zkcoord: connect to %v: %w", servers, err)
	}
	wait, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	select {
	case <-up:
	case <-wait.Done():
		conn.Close()
		return nil, fmt.Errorf("zkcoord: connect to %v: no session (%s): %w", servers, zk.State(state.Load()), wait.Err())
	}
	base := root + "/" + escape(group)
	s := &Store{
		conn: conn, group: group, acl: acl, log: log,
		base: base, leasePath: base + "/lease", clockPath: base + "/clock",
		membersPath: base + "/members", appsPath: base + "/apps",
	}
	if err := s.init(ctx, opts.Auth); err != nil {
		s.Close()
		return nil, fmt.Errorf("zkcoord: init group %q under %s: %w", group, root, err)
	}
	return s, nil
}

// init authenticates the session and creates the root's and the group's
// znodes that do not exist yet. Concurrent creators are fine: a znode
// someone else created first is as good.
func (s *Store) init(ctx context.Context, auth []Auth) error {
	for _, a := range auth {
		if err := s.call(ctx, func(c *zk.Conn) error { return c.AddAuth(a.Scheme, a.Secret) }); err != nil {
			return fmt.Errorf("authenticate with scheme %q: %w", a.Scheme, err)
		}
	}
	var paths []string
	for i := 1; i < len(s.base); i++ {
		if s.base[i] == '/' {
			paths = append(paths, s.base[:i])
		}
	}
	paths = append(paths, s.base, s.clockPath, s.membersPath, s.appsPath)
	for _, p := range paths {
		if err := s.create(ctx, p, nil); err != nil {
			return err
		}
	}
	return s.create(ctx, s.leasePath, encodeLease(leaseData{}))
}

func (s *Store) create(ctx context.Context, path string, data []byte) error {
	err := s.call(ctx, func(c *zk.Conn) error {
		_, err := c.Create(path, data, 0, s.acl)
		return err
	})
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// errClosed is returned by calls on a closed Store.
var errClosed = errors.New("zkcoord: store closed")

// do runs f, one or more requests to ZooKeeper, bounded by ctx, and
// returns f's result. go-zookeeper takes no contexts: a request waits until
// the server answers or the connection is given up (two thirds of the
// session timeout for a silent server). So f runs in a goroutine that may
// outlive the call, and hands its result back over a channel: f must not
// write variables of its caller. Close waits for these goroutines, which
// end at once when the connection closes.
//
// A request abandoned this way may still be carried out, as with any
// request whose answer is lost; every write is a compare-and-set, so it
// can at worst renew or take a lease for the node that asked, or store an
// app as asked.
func do[T any](ctx context.Context, s *Store, f func(*zk.Conn) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return zero, errClosed
	}
	s.calls.Add(1)
	s.mu.Unlock()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer s.calls.Done()
		v, err := f(s.conn)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// call is do for requests without a result.
func (s *Store) call(ctx context.Context, f func(*zk.Conn) error) error {
	_, err := do(ctx, s, func(c *zk.Conn) (struct{}, error) { return struct{}{}, f(c) })
	return err
}

// now reads the store clock, in Unix milliseconds, by writing the clock
// znode. If path is not "", the write is one transaction with a check that
// path is at version; zk.ErrBadVersion or zk.ErrNoNode then mean it is
// not, and the caller should read path again.
func (s *Store) now(ctx context.Context, path string, version int32) (int64, error) {
	return do(ctx, s, func(c *zk.Conn) (int64, error) {
		if path == "" {
			st, err := c.Set(s.clockPath, nil, -1)
			if err != nil {
				return 0, err
			}
			return st.Mtime, nil
		}
		res, err := c.Multi(&zk.CheckVersionRequest{Path: path, Version: version},
			&zk.SetDataRequest{Path: s.clockPath, Version: -1})
		if err != nil {
			return 0, err
		}
		if len(res) != 2 || res[1].Stat == nil {
			return 0, fmt.Errorf("clock write: unexpected multi response %+v", res)
		}
		return res[1].Stat.Mtime, nil
	})
}

// conflict reports whether err means that a znode changed between a read
// and a conditional write, so the operation should start over.
func conflict(err error) bool {
	return errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode)
}

// retry runs op until it does not report a conflict. Each attempt makes at
// least one request bounded by ctx, so the loop ends with ctx.
func retry(ctx context.Context, op func() error) error {
	for {
		err := op()
		if err == nil || !conflict(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (after a conflict: %v)", ctx.Err(), err)
		}
	}
}

// Close closes the session, which removes this handle's member znodes, and
// waits for requests still in flight.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.conn.Close()
	s.calls.Wait()
	return nil
}

// zkLogger passes go-zookeeper's log lines to slog at debug level: the
// store logs what matters (session events) itself.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "go-zookeeper")
	}
}

// missing explains an error reading one of the group's own znodes: Open
// created them, so if one is gone someone removed it, and the operation
// must fail rather than retry as after a conflict.
func missing(path string, err error) error {
	if errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("znode %s missing (removed while open?)", path)
	}
	return fmt.Errorf("read %s: %w", path, err)
}
