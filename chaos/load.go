package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// LoadConfig configures a Load. Zero values take the defaults.
type LoadConfig struct {
	Rate    int           // events per second (default 2000)
	Batch   int           // events per request (default 20)
	Timeout time.Duration // per request (default 2s)
	// GiveUp fails the load when no node accepted a batch for this long
	// (default 60s).
	GiveUp time.Duration
}

// Load sends App's input, batch after batch, to whichever node accepts it.
// Batches go one at a time, so the input order is defined; each carries an
// idempotency key, and a batch that fails is sent again, with the same key, to
// the other node and back until one acknowledges it, as an HA-aware client
// would. An acknowledged batch counts as sent.
type Load struct {
	cfg     LoadConfig
	targets []string
	http    *http.Client
	stop    chan struct{}
	done    chan struct{}

	mu       sync.Mutex
	sent     int64
	lastAck  time.Time
	maxStall time.Duration
	err      error
}

// StartLoad starts a load against the cluster's nodes; it runs until Stop or
// until ctx is done.
func (c *Cluster) StartLoad(ctx context.Context, cfg LoadConfig) *Load {
	if cfg.Rate <= 0 {
		cfg.Rate = 2000
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = 60 * time.Second
	}
	l := &Load{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}), lastAck: time.Now(),
		http: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}}
	for _, n := range c.Nodes {
		l.targets = append(l.targets, "http://"+n.Source+SourcePath)
	}
	go func() {
		defer close(l.done)
		err := l.run(ctx)
		l.http.CloseIdleConnections()
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	}()
	return l
}

// Sent is the number of events acknowledged so far; they are inputs 0 to
// Sent()-1.
func (l *Load) Sent() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}

// MaxStall is the longest time between two acknowledged batches so far: how
// long a sender stood still.
func (l *Load) MaxStall() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxStall
}

// Done is closed when the load has ended, by Stop or by an error.
func (l *Load) Done() <-chan struct{} { return l.done }

// Err returns the error that ended the load, if any.
func (l *Load) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Stop ends the load once the batch in flight is acknowledged (it may be
// logged already, so Sent must know its fate) and returns the load's error.
func (l *Load) Stop() error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.Err()
}

func (l *Load) stopping() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *Load) run(ctx context.Context) error {
	interval := time.Duration(float64(time.Second) * float64(l.cfg.Batch) / float64(l.cfg.Rate))
	next := time.Now()
	target := 0
	var body []byte
	for batch := int64(0); ; batch++ {
		if l.stopping() || ctx.Err() != nil {
			return nil
		}
		seq := batch * int64(l.cfg.Batch)
		body = append(body[:0], '[')
		for i := range int64(l.cfg.Batch) {
			if i > 0 {
				body = append(body, ',')
			}
			body = appendInput(body, seq+i)
		}
		body = append(body, ']')
		key := "chaos-batch-" + strconv.FormatInt(batch, 10)
		giveUp := time.Now().Add(l.cfg.GiveUp)
		for {
			err := l.post(ctx, l.targets[target], key, body)
			if err == nil {
				break
			}
			var perm permanentError
			if errors.As(err, &perm) {
				return fmt.Errorf("batch %d: %w", batch, err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(giveUp) {
				return fmt.Errorf("batch %d: no node accepted it for %v (last error: %w)", batch, l.cfg.GiveUp, err)
			}
			target = (target + 1) % len(l.targets)
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		now := time.Now()
		l.mu.Lock()
		l.sent = seq + int64(l.cfg.Batch)
		l.maxStall = max(l.maxStall, now.Sub(l.lastAck))
		l.lastAck = now
		l.mu.Unlock()
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-l.stop:
				return nil
			case <-ctx.Done():
				return nil
			}
		} else {
			next = time.Now()
		}
	}
}

// permanentError is an answer that sending again cannot fix.
type permanentError struct{ error }

func (l *Load) post(ctx context.Context, url, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := l.http.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return permanentError{fmt.Errorf("%s refused it: %s: %s", url, resp.Status, bytes.TrimSpace(msg))}
	}
	return fmt.Errorf("%s: %s", url, resp.Status)
}
