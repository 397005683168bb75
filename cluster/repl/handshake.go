package repl

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake whose context has no earlier
// deadline.
const DefaultHandshakeTimeout = 10 * time.Second

const (
	nonceSize = 32
	// Handshake frames are small; a peer that has not authenticated yet
	// cannot make us buffer more than this.
	handshakeMaxFrame = 1 << 20
)

var (
	// ErrRejected matches every *RejectError.
	ErrRejected = errors.New("repl: rejected")
	// ErrAuth matches a failed authentication, by either side.
	ErrAuth = errors.New("repl: authentication failed")
	// ErrStaleEpoch matches a rejection because one side's epoch is older
	// than the other's: an active that sees it must stop acting as active.
	ErrStaleEpoch = errors.New("repl: stale epoch")
)

// RejectError is a handshake refused by this side (ByPeer false) or by the
// peer (ByPeer true). errors.Is matches it against ErrRejected, and against
// ErrAuth or ErrStaleEpoch by its code.
type RejectError struct {
	Code   RejectCode
	Reason string
	Epoch  uint64 // the newest epoch known to the side that rejected
	ByPeer bool
}

func (e *RejectError) Error() string {
	who := "rejected peer"
	if e.ByPeer {
		who = "rejected by peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("repl: %s: %s", who, e.Code)
	}
	return fmt.Sprintf("repl: %s: %s: %s", who, e.Code, e.Reason)
}

// Is reports whether target is ErrRejected or the sentinel of e's code.
func (e *RejectError) Is(target error) bool {
	switch target {
	case ErrRejected:
		return true
	case ErrAuth:
		return e.Code == RejectAuth
	case ErrStaleEpoch:
		return e.Code == RejectEpoch
	}
	return false
}

// Config is one node's side of the handshake.
type Config struct {
	NodeID string
	Group  string
	Epoch  uint64 // the newest epoch this node knows
	// Secret is the group's shared secret. Empty turns authentication off
	// on this side; see the package comment.
	Secret []byte
	// TLS, if set, runs TLS under the replication protocol: a server
	// config for Accept, a client config for Dial.
	TLS *tls.Config
	// MaxFrame is the largest frame body accepted after the handshake; 0
	// means DefaultMaxFrame.
	MaxFrame int
	// HandshakeTimeout bounds the handshake; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// Accept runs the acceptor's (the active's) side of the handshake on a
// connection accepted from a listener: it sends a Challenge, checks the
// dialer's Hello (protocol version, group, authentication, epoch, then
// admit, if not nil) and answers Welcome or a Reject that gives the reason.
// admit lets the caller refuse a peer that passed the built-in checks, for
// example a third node when a passive is already connected; a *RejectError
// it returns is sent as is, any other error as RejectPeer with its text.
//
// On success it returns the Conn and the dialer's Hello. On error nc is
// closed; when the peer was rejected the error is a *RejectError.
func Accept(ctx context.Context, nc net.Conn, cfg Config, admit func(*Hello) error) (*Conn, *Hello, error) {
	c, hello, err := accept(ctx, nc, cfg, admit)
	if err != nil {
		if c != nil {
			c.Close()
		}
		nc.Close()
		return nil, nil, err
	}
	return c, hello, nil
}

func accept(ctx context.Context, nc net.Conn, cfg Config, admit func(*Hello) error) (c *Conn, hello *Hello, err error) {
	end := watchHandshake(ctx, nc, cfg.HandshakeTimeout)
	defer func() { err = end(err) }()
	if cfg.TLS != nil {
		tc := tls.Server(nc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("repl: accept from %s: tls: %w", nc.RemoteAddr(), err)
		}
		nc = tc
	}
	c = NewConn(nc, handshakeMaxFrame)
	nonce, err := newNonce()
	if err != nil {
		return c, nil, err
	}
	ch := &Challenge{Version: ProtocolVersion, Nonce: nonce, NodeID: cfg.NodeID, Group: cfg.Group, Epoch: cfg.Epoch}
	if err := sendFlush(c, ch); err != nil {
		return c, nil, fmt.Errorf("repl: accept from %s: %w", nc.RemoteAddr(), err)
	}
	m, err := c.Recv()
	if err != nil {
		return c, nil, fmt.Errorf("repl: accept from %s: waiting for hello: %w", nc.RemoteAddr(), err)
	}
	switch m := m.(type) {
	case *Hello:
		hello = m
	case *Reject:
		return c, nil, &RejectError{Code: m.Code, Reason: m.Reason, Epoch: m.Epoch, ByPeer: true}
	default:
		return c, nil, rejectPeer(c, cfg, &RejectError{Code: RejectOther, Reason: fmt.Sprintf("expected Hello, got %s", m.Type())})
	}
	if rej := checkHello(cfg, nonce, hello, admit); rej != nil {
		return c, nil, rejectPeer(c, cfg, rej)
	}
	w := &Welcome{NodeID: cfg.NodeID, Epoch: cfg.Epoch}
	if len(cfg.Secret) > 0 {
		w.Auth = handshakeMAC(cfg.Secret, 'W', hello.Nonce, cfg.NodeID, cfg.Group)
	}
	if err := sendFlush(c, w); err != nil {
		return c, nil, fmt.Errorf("repl: accept from %s: %w", nc.RemoteAddr(), err)
	}
	c.setMaxFrame(maxFrameOf(cfg))
	return c, hello, nil
}

func checkHello(cfg Config, nonce []byte, h *Hello, admit func(*Hello) error) *RejectError {
	switch {
	case h.Version != ProtocolVersion:
		return &RejectError{Code: RejectVersion, Reason: fmt.Sprintf("peer speaks version %d, this node %d", h.Version, ProtocolVersion)}
	case h.Group != cfg.Group:
		return &RejectError{Code: RejectGroup, Reason: fmt.Sprintf("peer is in group %q, this node in %q", h.Group, cfg.Group)}
	case len(cfg.Secret) > 0 && !hmac.Equal(h.Auth, handshakeMAC(cfg.Secret, 'H', nonce, h.NodeID, h.Group)):
		return &RejectError{Code: RejectAuth, Reason: fmt.Sprintf("node %q did not prove the group secret", h.NodeID)}
	case h.NodeID == cfg.NodeID:
		return &RejectError{Code: RejectPeer, Reason: fmt.Sprintf("peer has this node's own id %q", h.NodeID)}
	case h.Epoch > cfg.Epoch:
		return &RejectError{Code: RejectEpoch, Reason: fmt.Sprintf("peer knows epoch %d, this node is at %d", h.Epoch, cfg.Epoch)}
	}
	if admit != nil {
		if err := admit(h); err != nil {
			var rej *RejectError
			if errors.As(err, &rej) {
				r := *rej
				r.ByPeer = false
				return &r
			}
			return &RejectError{Code: RejectPeer, Reason: err.Error()}
		}
	}
	return nil
}

// Dial connects to an active's replication listener at addr (host:port) and
// runs the dialer's (the passive's) side of the handshake, sending apps in
// its Hello. With cfg.TLS whose ServerName is empty, the host of addr is
// verified. It returns the Conn and the active's Welcome.
func Dial(ctx context.Context, addr string, cfg Config, apps []AppPos) (*Conn, *Welcome, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("repl: dial %s: %w", addr, err)
	}
	if cfg.TLS != nil && cfg.TLS.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("repl: dial %s: %w", addr, err)
		}
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.ServerName = host
	}
	return DialConn(ctx, nc, cfg, apps)
}

// DialConn runs the dialer's side of the handshake on an established
// connection; see Dial. On error nc is closed; when either side rejected the
// other, the error is a *RejectError.
func DialConn(ctx context.Context, nc net.Conn, cfg Config, apps []AppPos) (*Conn, *Welcome, error) {
	c, w, err := dial(ctx, nc, cfg, apps)
	if err != nil {
		if c != nil {
			c.Close()
		}
		nc.Close()
		return nil, nil, err
	}
	return c, w, nil
}

func dial(ctx context.Context, nc net.Conn, cfg Config, apps []AppPos) (c *Conn, w *Welcome, err error) {
	end := watchHandshake(ctx, nc, cfg.HandshakeTimeout)
	defer func() { err = end(err) }()
	if cfg.TLS != nil {
		tc := tls.Client(nc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("repl: dial %s: tls: %w", nc.RemoteAddr(), err)
		}
		nc = tc
	}
	c = NewConn(nc, handshakeMaxFrame)
	m, err := c.Recv()
	if err != nil {
		return c, nil, fmt.Errorf("repl: dial %s: waiting for challenge: %w", nc.RemoteAddr(), err)
	}
	var ch *Challenge
	switch m := m.(type) {
	case *Challenge:
		ch = m
	case *Reject:
		return c, nil, &RejectError{Code: m.Code, Reason: m.Reason, Epoch: m.Epoch, ByPeer: true}
	default:
		return c, nil, rejectPeer(c, cfg, &RejectError{Code: RejectOther, Reason: fmt.Sprintf("expected Challenge, got %s", m.Type())})
	}
	if rej := checkChallenge(cfg, ch); rej != nil {
		return c, nil, rejectPeer(c, cfg, rej)
	}
	nonce, err := newNonce()
	if err != nil {
		return c, nil, err
	}
	h := &Hello{Version: ProtocolVersion, NodeID: cfg.NodeID, Group: cfg.Group, Epoch: cfg.Epoch, Nonce: nonce, Apps: apps}
	if len(cfg.Secret) > 0 {
		h.Auth = handshakeMAC(cfg.Secret, 'H', ch.Nonce, cfg.NodeID, cfg.Group)
	}
	if err := sendFlush(c, h); err != nil {
		return c, nil, fmt.Errorf("repl: dial %s: %w", nc.RemoteAddr(), err)
	}
	if m, err = c.Recv(); err != nil {
		return c, nil, fmt.Errorf("repl: dial %s: waiting for welcome: %w", nc.RemoteAddr(), err)
	}
	switch m := m.(type) {
	case *Welcome:
		w = m
	case *Reject:
		return c, nil, &RejectError{Code: m.Code, Reason: m.Reason, Epoch: m.Epoch, ByPeer: true}
	default:
		return c, nil, rejectPeer(c, cfg, &RejectError{Code: RejectOther, Reason: fmt.Sprintf("expected Welcome, got %s", m.Type())})
	}
	if len(cfg.Secret) > 0 && !hmac.Equal(w.Auth, handshakeMAC(cfg.Secret, 'W', nonce, w.NodeID, cfg.Group)) {
		return c, nil, rejectPeer(c, cfg, &RejectError{Code: RejectAuth, Reason: fmt.Sprintf("node %q did not prove the group secret", w.NodeID)})
	}
	if w.NodeID != ch.NodeID {
		return c, nil, rejectPeer(c, cfg, &RejectError{Code: RejectOther, Reason: fmt.Sprintf("challenge came from %q, welcome from %q", ch.NodeID, w.NodeID)})
	}
	c.setMaxFrame(maxFrameOf(cfg))
	return c, w, nil
}

func checkChallenge(cfg Config, ch *Challenge) *RejectError {
	switch {
	case ch.Version != ProtocolVersion:
		return &RejectError{Code: RejectVersion, Reason: fmt.Sprintf("peer speaks version %d, this node %d", ch.Version, ProtocolVersion)}
	case ch.Group != cfg.Group:
		return &RejectError{Code: RejectGroup, Reason: fmt.Sprintf("peer is in group %q, this node in %q", ch.Group, cfg.Group)}
	case len(ch.Nonce) != nonceSize:
		return &RejectError{Code: RejectOther, Reason: fmt.Sprintf("challenge nonce of %d bytes, want %d", len(ch.Nonce), nonceSize)}
	case ch.NodeID == cfg.NodeID:
		return &RejectError{Code: RejectPeer, Reason: fmt.Sprintf("peer has this node's own id %q", ch.NodeID)}
	case ch.Epoch < cfg.Epoch:
		return &RejectError{Code: RejectEpoch, Reason: fmt.Sprintf("peer is at epoch %d, this node knows %d", ch.Epoch, cfg.Epoch)}
	}
	return nil
}

// rejectPeer tells the peer why it is refused, best effort, and returns rej
// as this side's error.
func rejectPeer(c *Conn, cfg Config, rej *RejectError) error {
	rej.Epoch = cfg.Epoch
	_ = sendFlush(c, &Reject{Epoch: cfg.Epoch, Code: rej.Code, Reason: rej.Reason})
	return rej
}

func sendFlush(c *Conn, m Message) error {
	if err := c.Send(m); err != nil {
		return err
	}
	return c.Flush()
}

func maxFrameOf(cfg Config) int {
	if cfg.MaxFrame <= 0 {
		return DefaultMaxFrame
	}
	return cfg.MaxFrame
}

func newNonce() ([]byte, error) {
	b := make([]byte, nonceSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("repl: nonce: %w", err)
	}
	return b, nil
}

// handshakeMAC is HMAC-SHA256(secret, dir || nonce || len(nodeID) nodeID ||
// len(group) group). dir ('H' for Hello, 'W' for Welcome) keeps a MAC of one
// direction from being valid in the other.
func handshakeMAC(secret []byte, dir byte, nonce []byte, nodeID, group string) []byte {
	mac := hmac.New(sha256.New, secret)
	buf := make([]byte, 0, 1+len(nonce)+2*binary.MaxVarintLen64+len(nodeID)+len(group))
	buf = append(buf, dir)
	buf = append(buf, nonce...)
	buf = appendString(buf, nodeID)
	buf = appendString(buf, group)
	mac.Write(buf)
	return mac.Sum(nil)
}

// watchHandshake bounds the handshake by the timeout and ctx, and returns
// the function that ends the watch, clears the deadline and turns a
// deadline error caused by a cancelled ctx into ctx's error.
func watchHandshake(ctx context.Context, nc net.Conn, timeout time.Duration) func(error) error {
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past wakes every blocked read and write.
		_ = nc.SetDeadline(time.Unix(1, 0))
	})
	return func(err error) error {
		if !stop() {
			// ctx ended: the connection may already be unusable.
			if err == nil {
				err = fmt.Errorf("repl: handshake: %w", ctx.Err())
			} else {
				err = fmt.Errorf("%w: %w", ctx.Err(), err)
			}
			return err
		}
		if err == nil {
			if derr := nc.SetDeadline(time.Time{}); derr != nil {
				return fmt.Errorf("repl: handshake: clear deadline: %w", derr)
			}
		}
		return err
	}
}
