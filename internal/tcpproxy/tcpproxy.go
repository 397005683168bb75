// Package tcpproxy is a small TCP proxy for tests that simulate outages of a
// service (a database, a peer) without touching the service itself: point the
// client at the proxy, then Cut, Stall and Restore the path.
package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections from a loopback port to a target address.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // canceled by Close; bounds dials
	cancel context.CancelFunc
	stop   func() bool // unregisters the Close on the Start context
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[*pair]struct{}
	cut   bool
	// flow is closed while bytes may flow and open while stalled; copiers
	// wait on it before writing.
	flow      chan struct{}
	closed    bool
	closeErr  error
	closeOnce sync.Once
}

// Start listens on 127.0.0.1 on a free port and forwards every connection to
// target. The proxy runs until Close or until ctx is done.
func Start(ctx context.Context, target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("tcpproxy: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcpproxy: listen: %w", err)
	}
	flow := make(chan struct{})
	close(flow)
	pctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: pctx, cancel: cancel, conns: map[*pair]struct{}{}, flow: flow}
	p.wg.Add(1)
	go p.accept()
	p.stop = context.AfterFunc(ctx, func() { p.Close() })
	return p, nil
}

// Addr is the proxy's listening address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Conns is the number of connections currently proxied.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Cut resets every proxied connection and resets new ones as soon as they
// are accepted, as a service that died would. The listener stays open so that
// no other process can take its port before Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := p.conns
	p.conns = map[*pair]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.close(true)
	}
}

// Stall keeps connections open but forwards nothing, in either direction, as
// a network partition or a frozen (SIGSTOPped) service would: clients see
// timeouts, not errors. Bytes read meanwhile are delivered after Restore.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flow:
		p.flow = make(chan struct{})
	default: // already stalled
	}
}

// Restore undoes Cut and Stall: new connections are forwarded again and
// stalled bytes flow.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	select {
	case <-p.flow:
	default:
		close(p.flow)
	}
}

// Close stops the proxy, closes every connection and waits for its
// goroutines. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.stop()
		p.mu.Lock()
		p.closed = true
		conns := p.conns
		p.conns = nil
		p.mu.Unlock()
		p.cancel()
		p.closeErr = p.ln.Close()
		for c := range conns {
			c.close(false)
		}
		p.wg.Wait()
	})
	return p.closeErr
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: try again shortly
			// rather than spin.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		if !refuse {
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	var d net.Dialer
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		reset(client)
		return
	}
	c := &pair{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.cut || p.closed {
		p.mu.Unlock()
		c.close(true)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { p.copy(c, server, client) })
	p.copy(c, client, server)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// copy forwards src to dst until either side fails, then closes the pair so
// that the other direction ends too.
func (p *Proxy) copy(c *pair, dst, src net.Conn) {
	defer c.close(false)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitFlow(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitFlow blocks while the proxy is stalled; false means the pair closed
// meanwhile.
func (p *Proxy) waitFlow(c *pair) bool {
	p.mu.Lock()
	flow := p.flow
	p.mu.Unlock()
	select {
	case <-flow:
		return true
	case <-c.done:
		return false
	}
}

// pair is one proxied connection.
type pair struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
}

func (c *pair) close(rst bool) {
	c.once.Do(func() {
		close(c.done)
		if rst {
			reset(c.client)
			reset(c.server)
			return
		}
		c.client.Close()
		c.server.Close()
	})
}

// reset closes c with a TCP RST instead of an orderly FIN, so the peer gets
// "connection reset" at once, as when a host dies.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
