package httpsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Servers owns the HTTP servers of a node's http sources, one per listen
// address, shared by every source on that address. Its zero value is not
// usable; make one with NewServers and Close it when the node stops.
type Servers struct {
	logger *slog.Logger

	mu      sync.Mutex
	byAddr  map[string]*listener     // serving, with at least one source
	closing map[string]chan struct{} // shutting down; closed when the port is free
	closed  bool
}

// NewServers returns an empty set of servers that log to logger (nil
// discards).
func NewServers(logger *slog.Logger) *Servers {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Servers{
		logger:  logger,
		byAddr:  make(map[string]*listener),
		closing: make(map[string]chan struct{}),
	}
}

// listener is one bound address and its server, routing by exact path.
type listener struct {
	addr string // as configured, the key in Servers.byAddr
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when Serve has returned

	mu     sync.RWMutex
	routes map[string]*Source
}

// acquire registers src on the server for its address, starting the server
// if src is the first source there.
func (ss *Servers) acquire(ctx context.Context, src *Source) (*listener, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for {
		if ss.closed {
			return nil, errors.New("the node's HTTP servers are closed")
		}
		ch, ok := ss.closing[src.addr]
		if !ok {
			break
		}
		// The last source on this address is still shutting it down: wait
		// for the port to be free rather than fail to bind it.
		ss.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			ss.mu.Lock()
			return nil, fmt.Errorf("waiting for %s to close: %w", src.addr, ctx.Err())
		}
		ss.mu.Lock()
	}
	if l, ok := ss.byAddr[src.addr]; ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		if other, taken := l.routes[src.path]; taken {
			return nil, fmt.Errorf("http://%s%s is already served by app %s stream %s", src.addr, src.path, other.app, other.stream)
		}
		l.routes[src.path] = src
		return l, nil
	}
	ln, err := net.Listen("tcp", src.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &listener{
		addr:   src.addr,
		ln:     ln,
		done:   make(chan struct{}),
		routes: map[string]*Source{src.path: src},
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(ss.logger.Handler(), slog.LevelWarn),
	}
	ss.byAddr[src.addr] = l
	go func() {
		defer close(l.done)
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ss.logger.Error("http source server failed", "addr", l.addr, "err", err)
		}
	}()
	return l, nil
}

// release unregisters src from l and shuts l down if it was the last source.
func (ss *Servers) release(ctx context.Context, l *listener, src *Source) error {
	ss.mu.Lock()
	l.mu.Lock()
	if l.routes[src.path] == src {
		delete(l.routes, src.path)
	}
	last := len(l.routes) == 0
	l.mu.Unlock()
	if !last || ss.byAddr[l.addr] != l {
		// Others still use it, or Close already took it down.
		ss.mu.Unlock()
		return nil
	}
	delete(ss.byAddr, l.addr)
	ch := make(chan struct{})
	ss.closing[l.addr] = ch
	ss.mu.Unlock()

	err := l.shutdown(ctx)

	ss.mu.Lock()
	delete(ss.closing, l.addr)
	close(ch)
	ss.mu.Unlock()
	return err
}

// Close shuts down every server, for when the node stops. Sources should be
// stopped first; any still started lose their listener, and starting a
// source afterwards fails.
func (ss *Servers) Close(ctx context.Context) error {
	ss.mu.Lock()
	ss.closed = true
	ls := make([]*listener, 0, len(ss.byAddr))
	for addr, l := range ss.byAddr {
		ls = append(ls, l)
		delete(ss.byAddr, addr)
	}
	waits := make([]chan struct{}, 0, len(ss.closing))
	for _, ch := range ss.closing {
		waits = append(waits, ch)
	}
	ss.mu.Unlock()

	var errs []error
	for _, l := range ls {
		errs = append(errs, l.shutdown(ctx))
	}
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// shutdown closes the listener and waits for requests and Serve to finish;
// when ctx ends first it closes the remaining connections.
func (l *listener) shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.srv.Close()
		err = fmt.Errorf("shutting down %s: %w", l.addr, err)
	}
	<-l.done
	return err
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	src := l.routes[r.URL.Path]
	l.mu.RUnlock()
	if src == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no source at %s", r.URL.Path))
		return
	}
	src.ServeHTTP(w, r)
}
