package host

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-stream/tandem/io/sink"
)

// Gate holds publishing back while a node is not sure it still holds the
// lease. It is open while it is set open and, if a deadline is set, before
// that deadline: a process that was frozen (SIGSTOP, a long pause) finds the
// gate shut the moment it runs again, before its lease loop has noticed.
type Gate struct {
	mu    sync.Mutex
	open  bool
	until time.Time     // zero: no deadline
	ch    chan struct{} // closed when the gate opens or its deadline moves
}

// NewGate returns a gate in the given state, with no deadline.
func NewGate(open bool) *Gate {
	g := &Gate{ch: make(chan struct{})}
	g.Set(open)
	return g
}

// Set opens or closes the gate, keeping its deadline.
func (g *Gate) Set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
	g.wakeLocked()
}

// OpenUntil opens the gate until t (a time with a monotonic reading).
func (g *Gate) OpenUntil(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open, g.until = true, t
	g.wakeLocked()
}

func (g *Gate) wakeLocked() {
	if g.ch != nil {
		close(g.ch)
	}
	g.ch = make(chan struct{})
}

func (g *Gate) openLocked() bool {
	return g.open && (g.until.IsZero() || time.Now().Before(g.until))
}

// IsOpen reports whether publishing may happen now.
func (g *Gate) IsOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.openLocked()
}

// Until returns the gate's deadline, if it has one.
func (g *Gate) Until() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until, !g.until.IsZero()
}

// Wait blocks until the gate is open or ctx is done.
func (g *Gate) Wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.ch == nil {
			g.ch = make(chan struct{})
		}
		ch, open := g.ch, g.openLocked()
		g.mu.Unlock()
		if open {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// publisher delivers one sink's outputs in order, retrying a failed batch until
// it goes through, and records the highest ordinal delivered.
type publisher struct {
	id        string
	sink      sink.Sink
	gate      *Gate
	log       *slog.Logger
	maxQueue  int
	published atomic.Uint64
	// onPublished, if set, is called after each delivered batch.
	onPublished func()

	mu      sync.Mutex
	queue   []sink.Output
	wake    chan struct{} // signalled when outputs are queued
	drained chan struct{} // signalled when the queue shrinks
}

func newPublisher(id string, s sink.Sink, gate *Gate, log *slog.Logger, maxQueue int, published uint64) *publisher {
	p := &publisher{id: id, sink: s, gate: gate, log: log, maxQueue: maxQueue,
		wake: make(chan struct{}, 1), drained: make(chan struct{}, 1)}
	p.published.Store(published)
	return p
}

// enqueue adds outputs, blocking while the queue is full (back-pressure that
// reaches the sources through the apply loop) until ctx is done.
func (p *publisher) enqueue(ctx context.Context, outs []sink.Output) error {
	for {
		p.mu.Lock()
		if len(p.queue) < p.maxQueue {
			p.queue = append(p.queue, outs...)
			p.mu.Unlock()
			signal(p.wake)
			return nil
		}
		p.mu.Unlock()
		select {
		case <-p.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *publisher) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

const maxPublishBatch = 256

func (p *publisher) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		p.mu.Lock()
		n := min(len(p.queue), maxPublishBatch)
		batch := p.queue[:n:n]
		p.mu.Unlock()
		if n == 0 {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if err := p.gate.Wait(ctx); err != nil {
			return
		}
		// A batch in flight must not outlive the lease either: a process frozen
		// mid-batch (SIGSTOP) would otherwise finish it after a successor took
		// over. The sink sees the deadline and stops; the batch is retried.
		pctx, cancel := sink.WithFence(ctx, p.gate.IsOpen), context.CancelFunc(func() {})
		if until, ok := p.gate.Until(); ok {
			pctx, cancel = context.WithDeadline(pctx, until)
		}
		err := p.sink.Publish(pctx, batch)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("sink publish failed; will retry", "sink", p.id, "outputs", n, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		p.published.Store(batch[n-1].Ordinal)
		if p.onPublished != nil {
			p.onPublished()
		}
		p.mu.Lock()
		rest := copy(p.queue, p.queue[n:])
		clear(p.queue[rest:])
		p.queue = p.queue[:rest]
		p.mu.Unlock()
		signal(p.drained)
	}
}

// signal does a non-blocking send on a 1-buffered channel.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
