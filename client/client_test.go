package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fast is a client configuration for tests: short timeouts and backoffs.
func fast(nodes ...*fakeNode) Config {
	cfg := Config{RequestTimeout: 2 * time.Second, StatusTimeout: time.Second,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	for _, n := range nodes {
		cfg.Nodes = append(cfg.Nodes, n.addr())
	}
	return cfg
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSendToActive(t *testing.T) {
	p, a, b := newFakePair(t)
	// The passive is listed first: the client must not take the first node.
	c := newClient(t, fast(b, a))
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 10 {
		if err := c.Send(ctx, "/trades", batchOf(i*3, i*3+3)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	seqs, _, byNode := p.snapshot()
	checkSeqs(t, seqs, 30)
	if byNode["node-a"] != 10 {
		t.Errorf("batches logged by node: %v, want all 10 on node-a", byNode)
	}
	st := c.Stats()
	if st.Batches != 10 || st.Retries != 0 || st.Failovers != 0 || st.Active != "node-a" || st.Epoch != 1 {
		t.Errorf("stats %+v", st)
	}
	// The active is cached: one discovery (one status call per node) only.
	if a.calls() != 1 || b.calls() != 1 {
		t.Errorf("status calls a=%d b=%d, want 1 each", a.calls(), b.calls())
	}
}

// TestFailover kills the active right after it logged a batch and before it
// answered; the passive takes over a little later. The batch must be sent
// again to the new active under the same key, and dropped there as a
// repeat.
func TestFailover(t *testing.T) {
	p, a, b := newFakePair(t)
	const batches, per = 40, 5
	var killedKey string
	var promoted sync.WaitGroup
	t.Cleanup(promoted.Wait)
	a.mu.Lock()
	a.after = func(w http.ResponseWriter, r *http.Request, key string) {
		p.mu.Lock()
		n := p.byNode["node-a"]
		p.mu.Unlock()
		if n != 15 || killedKey != "" {
			fmt.Fprint(w, `{"accepted":5}`)
			return
		}
		killedKey = key
		a.die()
		dropConn(t, w)
		// The node dies: its ports close at once, and the lease expires a
		// little later, when the passive takes over with the next epoch.
		promoted.Go(func() {
			a.kill()
			time.Sleep(100 * time.Millisecond)
			b.set("active", 2)
		})
	}
	a.mu.Unlock()

	c := newClient(t, fast(a, b))
	ctx := ctxTimeout(t, 20*time.Second)
	for i := range batches {
		if err := c.Send(ctx, "/trades", batchOf(i*per, i*per+per)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	seqs, requests, byNode := p.snapshot()
	checkSeqs(t, seqs, batches*per)
	if killedKey == "" {
		t.Fatal("the active was never killed")
	}
	if requests[killedKey] < 2 {
		t.Errorf("batch %s was sent %d times; its answer was lost, so it must be sent again under its key", killedKey, requests[killedKey])
	}
	if byNode["node-a"] != 15 || byNode["node-b"] != batches-15 {
		t.Errorf("batches logged by node: %v, want node-a 15, node-b %d", byNode, batches-15)
	}
	st := c.Stats()
	if st.Failovers != 1 || st.Active != "node-b" || st.Epoch != 2 || st.Batches != batches || st.Retries == 0 {
		t.Errorf("stats %+v, want 1 failover to node-b epoch 2, %d batches, some retries", st, batches)
	}
}

// TestLostResponseSameNode: the active logs a batch and the connection
// breaks before the answer; the retry goes to the same node with the same
// key and is not processed again.
func TestLostResponseSameNode(t *testing.T) {
	p, a, b := newFakePair(t)
	drops := 0
	a.mu.Lock()
	a.after = func(w http.ResponseWriter, r *http.Request, key string) {
		if drops < 2 {
			drops++
			dropConn(t, w)
			return
		}
		fmt.Fprint(w, `{"accepted":4}`)
	}
	a.mu.Unlock()
	c := newClient(t, fast(a, b))
	if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 4)); err != nil {
		t.Fatal(err)
	}
	seqs, requests, _ := p.snapshot()
	checkSeqs(t, seqs, 4)
	if len(requests) != 1 {
		t.Fatalf("requests under %d keys, want one key for all attempts: %v", len(requests), requests)
	}
	for k, n := range requests {
		if n != 3 {
			t.Errorf("key %s sent %d times, want 3", k, n)
		}
	}
	if st := c.Stats(); st.Retries != 2 || st.Failovers != 0 {
		t.Errorf("stats %+v, want 2 retries and no failover", st)
	}
}

// TestHandover: the active answers 503 while it hands over, then reports
// itself passive; the client finds the new active.
func TestHandover(t *testing.T) {
	p, a, b := newFakePair(t)
	c := newClient(t, fast(a, b))
	ctx := ctxTimeout(t, 10*time.Second)
	if err := c.Send(ctx, "/trades", batchOf(0, 2)); err != nil {
		t.Fatal(err)
	}
	a.setHook(func(w http.ResponseWriter, r *http.Request, key string) bool {
		a.set("passive", 2)
		b.set("active", 2)
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":"source is stopping"}`)
		return true
	})
	start := time.Now()
	if err := c.Send(ctx, "/trades", batchOf(2, 4)); err != nil {
		t.Fatal(err)
	}
	// A 503's Retry-After is not honoured: the client looks for the new
	// active at once rather than stand still for its 5s.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("handover took %v", d)
	}
	seqs, _, byNode := p.snapshot()
	checkSeqs(t, seqs, 4)
	if byNode["node-b"] != 1 {
		t.Errorf("batches by node %v, want the second on node-b", byNode)
	}
	if st := c.Stats(); st.Failovers != 1 || st.Active != "node-b" {
		t.Errorf("stats %+v", st)
	}
}

// TestHungActive: the active stops answering (SIGSTOP) after it logged a
// batch; attempts time out and the batch goes to the new active.
func TestHungActive(t *testing.T) {
	p, a, b := newFakePair(t)
	hang := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
	}
	a.mu.Lock()
	a.after = func(w http.ResponseWriter, r *http.Request, key string) {
		a.mu.Lock()
		a.adminHook = func(w http.ResponseWriter, r *http.Request) bool { hang(r); return true }
		a.mu.Unlock()
		b.set("active", 2)
		hang(r)
	}
	a.mu.Unlock()
	cfg := fast(a, b)
	cfg.RequestTimeout, cfg.StatusTimeout = 100*time.Millisecond, 100*time.Millisecond
	c := newClient(t, cfg)
	start := time.Now()
	if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 3)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to get past a hung active", d)
	}
	seqs, requests, _ := p.snapshot()
	checkSeqs(t, seqs, 3)
	for k, n := range requests {
		if n != 2 {
			t.Errorf("key %s sent %d times, want 2 (timed out on node-a, repeat on node-b)", k, n)
		}
	}
}

// TestHungActiveProbe: with a long RequestTimeout, an attempt on an active
// that hangs is abandoned as soon as a probe sees that another node took
// over, whether the hung node's admin API hangs too or still claims the old
// epoch.
func TestHungActiveProbe(t *testing.T) {
	for _, adminHangs := range []bool{false, true} {
		t.Run(fmt.Sprint("adminHangs=", adminHangs), func(t *testing.T) {
			p, a, b := newFakePair(t)
			hang := func(r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-p.release:
				}
			}
			a.setHook(func(w http.ResponseWriter, r *http.Request, key string) bool {
				if adminHangs {
					a.mu.Lock()
					a.adminHook = func(w http.ResponseWriter, r *http.Request) bool { hang(r); return true }
					a.mu.Unlock()
				}
				b.set("active", 2)
				hang(r)
				return true
			})
			cfg := fast(a, b)
			cfg.RequestTimeout = time.Minute
			cfg.StatusTimeout = 100 * time.Millisecond
			cfg.ProbeInterval = 50 * time.Millisecond
			c := newClient(t, cfg)
			start := time.Now()
			if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 3)); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to leave a hung active", d)
			}
			seqs, _, byNode := p.snapshot()
			checkSeqs(t, seqs, 3)
			if byNode["node-b"] != 1 {
				t.Errorf("batches by node %v, want the batch on node-b", byNode)
			}
		})
	}
}

// TestDiscoverHungNode: once one node reports itself active, a node whose
// admin API hangs delays the client by discoverGrace, not StatusTimeout.
func TestDiscoverHungNode(t *testing.T) {
	p, a, b := newFakePair(t)
	a.set("passive", 2)
	b.set("active", 2)
	a.mu.Lock()
	a.adminHook = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
		return true
	}
	a.mu.Unlock()
	cfg := fast(a, b)
	cfg.StatusTimeout = 10 * time.Second
	c := newClient(t, cfg)
	start := time.Now()
	if err := c.Send(ctxTimeout(t, 20*time.Second), "/trades", batchOf(0, 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: discovery waited for the hung node", d)
	}
	// Status, which shows every node, does wait for it (here, until ctx).
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	sts, err := c.Status(ctx)
	if err != nil || sts[0].Err == nil || sts[1].Err != nil {
		t.Errorf("Status: %v %+v", err, sts)
	}
}

// TestSlowAnswerNotAbandoned: probes that find the same active leave a slow
// attempt alone.
func TestSlowAnswerNotAbandoned(t *testing.T) {
	p, a, b := newFakePair(t)
	a.mu.Lock()
	a.after = func(w http.ResponseWriter, r *http.Request, key string) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, `{"accepted":1}`)
	}
	a.mu.Unlock()
	cfg := fast(a, b)
	cfg.ProbeInterval = 20 * time.Millisecond
	c := newClient(t, cfg)
	if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 1)); err != nil {
		t.Fatal(err)
	}
	_, requests, _ := p.snapshot()
	for k, n := range requests {
		if n != 1 {
			t.Errorf("key %s sent %d times, want once", k, n)
		}
	}
	if a.calls() < 5 {
		t.Errorf("%d status calls: the probe did not run", a.calls())
	}
}

// TestStaleActive: the old active still believes it is active at the old
// epoch; the client takes the higher epoch. A fenced active is never taken.
func TestStaleActive(t *testing.T) {
	for _, fenced := range []bool{false, true} {
		t.Run(fmt.Sprint("fenced=", fenced), func(t *testing.T) {
			p, a, b := newFakePair(t)
			a.mu.Lock()
			a.fenced = fenced
			a.mu.Unlock()
			b.set("active", 2)
			c := newClient(t, fast(a, b))
			if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 1)); err != nil {
				t.Fatal(err)
			}
			if _, _, byNode := p.snapshot(); byNode["node-b"] != 1 {
				t.Errorf("batches by node %v, want node-b (epoch 2)", byNode)
			}
		})
	}
}

func TestPermanentError(t *testing.T) {
	tests := []struct {
		code int
		body string
		want string
	}{
		{http.StatusBadRequest, `{"error":"line 1: attribute \"price\" is missing"}`, `attribute "price" is missing`},
		{http.StatusRequestEntityTooLarge, `{"error":"body is larger than 8388608 bytes"}`, "larger than 8388608"},
		{http.StatusMethodNotAllowed, "plain text\nsecond line", "plain text"},
		{http.StatusUnprocessableEntity, ``, "422 Unprocessable Entity"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			p, a, b := newFakePair(t)
			a.setHook(func(w http.ResponseWriter, r *http.Request, key string) bool {
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
				return true
			})
			c := newClient(t, fast(a, b))
			err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 1))
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err = %v, want a *StatusError %d", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			_, requests, _ := p.snapshot()
			for k, n := range requests {
				if n != 1 {
					t.Errorf("batch %s sent %d times, want once: a permanent error is not retried", k, n)
				}
			}
			if len(requests) != 1 {
				t.Errorf("requests %v, want one batch", requests)
			}
		})
	}
}

// TestRetryableStatus: 408 and 429 are retried on the same node without
// asking for the active again; 500 and 503 make the client ask again.
func TestRetryableStatus(t *testing.T) {
	tests := []struct {
		code       int
		retryAfter string
		rediscover bool
	}{
		{http.StatusRequestTimeout, "", false},
		{http.StatusTooManyRequests, "0", false},
		{http.StatusInternalServerError, "", true},
		{http.StatusServiceUnavailable, "1", true},
		{http.StatusBadGateway, "", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			p, a, b := newFakePair(t)
			fails := 2
			a.setHook(func(w http.ResponseWriter, r *http.Request, key string) bool {
				if fails == 0 {
					return false
				}
				fails--
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.code)
				fmt.Fprint(w, `{"error":"try again"}`)
				return true
			})
			c := newClient(t, fast(a, b))
			if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 2)); err != nil {
				t.Fatal(err)
			}
			seqs, _, _ := p.snapshot()
			checkSeqs(t, seqs, 2)
			want := 1
			if tc.rediscover {
				want = 3
			}
			if a.calls() != want {
				t.Errorf("status calls on node-a: %d, want %d", a.calls(), want)
			}
		})
	}
}

func TestRetryAfter429(t *testing.T) {
	_, a, b := newFakePair(t)
	first := true
	a.setHook(func(w http.ResponseWriter, r *http.Request, key string) bool {
		if !first {
			return false
		}
		first = false
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	c := newClient(t, fast(a, b))
	start := time.Now()
	if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, before the 429's Retry-After of 1s", d)
	}
}

// TestNotFound: a 404 soon after the client found the active is a source
// that is still opening and is retried; later it is a wrong path.
func TestNotFound(t *testing.T) {
	notFound := func(n int) func(w http.ResponseWriter, r *http.Request, key string) bool {
		return func(w http.ResponseWriter, r *http.Request, key string) bool {
			if n == 0 {
				return false
			}
			n--
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":"no source at %s"}`, r.URL.Path)
			return true
		}
	}
	t.Run("opening", func(t *testing.T) {
		p, a, b := newFakePair(t)
		a.setHook(notFound(3))
		cfg := fast(a, b)
		cfg.NotFoundGrace = time.Hour
		c := newClient(t, cfg)
		if err := c.Send(ctxTimeout(t, 10*time.Second), "/trades", batchOf(0, 1)); err != nil {
			t.Fatal(err)
		}
		seqs, _, _ := p.snapshot()
		checkSeqs(t, seqs, 1)
	})
	t.Run("wrong path", func(t *testing.T) {
		_, a, b := newFakePair(t)
		a.setHook(notFound(1000))
		cfg := fast(a, b)
		cfg.NotFoundGrace = time.Nanosecond
		c := newClient(t, cfg)
		err := c.Send(ctxTimeout(t, 10*time.Second), "/nowhere", batchOf(0, 1))
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusNotFound || !strings.Contains(err.Error(), "no source at /nowhere") {
			t.Fatalf("err = %v, want 404 with the server's message", err)
		}
	})
	t.Run("grace runs out", func(t *testing.T) {
		_, a, b := newFakePair(t)
		a.setHook(notFound(1000))
		cfg := fast(a, b)
		cfg.NotFoundGrace = 200 * time.Millisecond
		c := newClient(t, cfg)
		start := time.Now()
		err := c.Send(ctxTimeout(t, 10*time.Second), "/nowhere", batchOf(0, 1))
		if d := time.Since(start); err == nil || d < 200*time.Millisecond || d > 5*time.Second {
			t.Fatalf("err = %v after %v, want a 404 after the 200ms grace", err, d)
		}
	})
}

func TestContextEnds(t *testing.T) {
	_, a, b := newFakePair(t)
	a.set("passive", 1) // no active at all
	c := newClient(t, fast(a, b))
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Send(ctx, "/trades", batchOf(0, 1))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNoActive) {
		t.Fatalf("err = %v, want the deadline and ErrNoActive", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned %v after the deadline", d)
	}
	// An ended context sends nothing.
	if err := c.Send(ctx, "/trades", batchOf(0, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func TestNoDataAddr(t *testing.T) {
	_, a, b := newFakePair(t)
	a.mu.Lock()
	a.dataAddr = "nonsense"
	a.mu.Unlock()
	c := newClient(t, fast(a, b))
	err := c.Send(ctxTimeout(t, 300*time.Millisecond), "/trades", batchOf(0, 1))
	if !errors.Is(err, ErrNoActive) || !strings.Contains(err.Error(), `data_addr "nonsense"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestDataAddrListenAddress: a node whose sources listen on all interfaces
// reports 0.0.0.0:port; the client dials the host it reached the admin API at.
func TestDataAddrListenAddress(t *testing.T) {
	p, a, b := newFakePair(t)
	a.mu.Lock()
	_, port, _ := strings.Cut(a.data.Listener.Addr().String(), ":")
	a.dataAddr = "0.0.0.0:" + port
	a.mu.Unlock()
	c := newClient(t, fast(a, b))
	if err := c.Send(ctxTimeout(t, 5*time.Second), "/trades", batchOf(0, 1)); err != nil {
		t.Fatal(err)
	}
	seqs, _, _ := p.snapshot()
	checkSeqs(t, seqs, 1)
}

// TestConcurrent: several goroutines send at once through a failover; each
// one's batches are logged in its order, and nothing twice.
func TestConcurrent(t *testing.T) {
	p, a, b := newFakePair(t)
	const senders, batches = 6, 25
	var once sync.Once
	var bg sync.WaitGroup
	t.Cleanup(bg.Wait)
	a.mu.Lock()
	a.after = func(w http.ResponseWriter, r *http.Request, key string) {
		p.mu.Lock()
		n := p.byNode["node-a"]
		p.mu.Unlock()
		if n >= 40 {
			once.Do(func() {
				a.die()
				bg.Go(func() {
					a.kill()
					time.Sleep(50 * time.Millisecond)
					b.set("active", 2)
				})
			})
			dropConn(t, w)
			return
		}
		fmt.Fprint(w, `{"accepted":1}`)
	}
	a.mu.Unlock()
	c := newClient(t, fast(a, b))
	ctx := ctxTimeout(t, 20*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := range senders {
		wg.Go(func() {
			for i := range batches {
				// seq = sender*1000 + i: order is checked per sender.
				if err := c.Send(ctx, "/trades", batchOf(s*1000+i, s*1000+i+1)); err != nil {
					errs <- fmt.Errorf("sender %d batch %d: %w", s, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seqs, _, _ := p.snapshot()
	next := make([]int, senders)
	for _, s := range seqs {
		sender, i := s/1000, s%1000
		if i != next[sender] {
			t.Errorf("sender %d: logged batch %d, want %d", sender, i, next[sender])
		}
		next[sender] = i + 1
	}
	if len(seqs) != senders*batches {
		t.Errorf("logged %d events, want %d", len(seqs), senders*batches)
	}
	if st := c.Stats(); st.Failovers != 1 || st.Batches != senders*batches {
		t.Errorf("stats %+v", st)
	}
}

func TestSendEvents(t *testing.T) {
	p, a, b := newFakePair(t)
	c := newClient(t, fast(a, b))
	ctx := ctxTimeout(t, 5*time.Second)
	evs := []map[string]any{{"seq": 0, "symbol": "IBM", "price": 1.5}, {"seq": 1, "symbol": "WSO2", "price": 2}}
	if err := c.SendEvents(ctx, "/trades", evs); err != nil {
		t.Fatal(err)
	}
	seqs, requests, _ := p.snapshot()
	checkSeqs(t, seqs, 2)
	if len(requests) != 1 {
		t.Fatalf("requests %v, want one", requests)
	}
	p.mu.Lock()
	bodies := p.bodies
	p.mu.Unlock()
	const want = `[{"event":{"price":1.5,"seq":0,"symbol":"IBM"}},{"event":{"price":2,"seq":1,"symbol":"WSO2"}}]`
	for _, got := range bodies {
		if got != want {
			t.Errorf("body %s, want %s", got, want)
		}
	}
	if err := c.SendEvents(ctx, "/trades", nil); err != nil {
		t.Errorf("empty: %v", err)
	}
	if err := c.SendEvents(ctx, "/trades", []map[string]any{nil}); err == nil {
		t.Error("a nil event was accepted")
	}
	if err := c.SendEvents(ctx, "/trades", []map[string]any{{"f": func() {}}}); err == nil {
		t.Error("an event that JSON cannot encode was accepted")
	}
	if _, requests, _ = p.snapshot(); len(requests) != 1 {
		t.Errorf("requests %v: empty and bad batches must send nothing", requests)
	}
}

func TestKeys(t *testing.T) {
	c1 := newClient(t, Config{Nodes: []string{"127.0.0.1:1"}})
	c2 := newClient(t, Config{Nodes: []string{"127.0.0.1:1"}})
	seen := map[string]bool{}
	for _, c := range []*Client{c1, c2} {
		for range 100 {
			k := c.NewKey()
			if seen[k] {
				t.Fatalf("key %s given twice", k)
			}
			seen[k] = true
			if err := checkKey(k); err != nil {
				t.Fatalf("generated key %q: %v", k, err)
			}
		}
	}
}

func TestSendWithKeyChecks(t *testing.T) {
	c := newClient(t, Config{Nodes: []string{"127.0.0.1:1"}})
	ctx := t.Context()
	tests := []struct {
		path, key, want string
	}{
		{"trades", "k", "must start with /"},
		{"/tr ades", "k", "not a valid URL path"},
		{"/trades#x", "k", "not a valid URL path"},
		{"/trades", "", "empty idempotency key"},
		{"/trades", "a b", "printable ASCII"},
		{"/trades", "a\nb", "printable ASCII"},
		{"/trades", strings.Repeat("k", MaxKeyLength+1), "longer than"},
	}
	for _, tc := range tests {
		err := c.SendWithKey(ctx, tc.path, tc.key, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SendWithKey(%q, %q) = %v, want %q", tc.path, tc.key, err, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // error substring; "" for success
	}{
		{"ok", Config{Nodes: []string{"127.0.0.1:9091", "https://b.example:9092/"}}, ""},
		{"no nodes", Config{}, "no nodes"},
		{"empty", Config{Nodes: []string{" "}}, "empty node address"},
		{"no port", Config{Nodes: []string{"a.example"}}, "want host:port"},
		{"bad port", Config{Nodes: []string{"a:http"}}, "bad port"},
		{"port 0", Config{Nodes: []string{"a:0"}}, "bad port"},
		{"scheme", Config{Nodes: []string{"ftp://a:1"}}, "http or https"},
		{"path", Config{Nodes: []string{"http://a:1/api"}}, "nothing after it"},
		{"twice", Config{Nodes: []string{"a:1", "http://a:1"}}, "given twice"},
		{"negative", Config{Nodes: []string{"a:1"}, RequestTimeout: -1}, "RequestTimeout is negative"},
		{"backoff", Config{Nodes: []string{"a:1"}, MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "above MaxBackoff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestDataURL(t *testing.T) {
	n, err := parseNode("10.1.2.3:9091")
	if err != nil {
		t.Fatal(err)
	}
	v6, err := parseNode("[fe80::1]:9091")
	if err != nil {
		t.Fatal(err)
	}
	zone, err := parseNode("[fe80::1%eth0]:9091")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n        node
		dataAddr string
		want     string // "" for an error
	}{
		{n, "10.9.9.9:8281", "http://10.9.9.9:8281"},
		{n, "data.example:8281", "http://data.example:8281"},
		{n, ":8281", "http://10.1.2.3:8281"},
		{n, "0.0.0.0:8281", "http://10.1.2.3:8281"},
		{n, "[::]:8281", "http://10.1.2.3:8281"},
		{v6, ":8281", "http://[fe80::1]:8281"},
		{zone, ":8281", "http://[fe80::1%25eth0]:8281"},
		{n, "a b:1", ""},
		{n, "8281", ""},
		{n, "host:", ""},
		{n, "host:99999", ""},
	}
	for _, tc := range tests {
		got, err := dataURL(tc.n, tc.dataAddr)
		if tc.want == "" {
			if err == nil {
				t.Errorf("dataURL(%q) = %q, want an error", tc.dataAddr, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("dataURL(%q) = %q, %v, want %q", tc.dataAddr, got, err, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	_, a, b := newFakePair(t)
	c := newClient(t, fast(a, b))
	ctx := ctxTimeout(t, 5*time.Second)
	sts, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].Addr != a.addr() || sts[1].Addr != b.addr() {
		t.Fatalf("statuses %+v", sts)
	}
	if sts[0].Status == nil || !sts[0].Status.Serving() || sts[1].Status == nil || sts[1].Status.Role != "passive" {
		t.Errorf("roles: %+v %+v", sts[0].Status, sts[1].Status)
	}

	b.kill()
	sts, err = c.Status(ctx)
	if err != nil {
		t.Fatalf("one node answered, yet: %v", err)
	}
	if sts[0].Err != nil || sts[1].Err == nil || sts[1].Status != nil {
		t.Errorf("with node-b down: %+v", sts)
	}

	a.kill()
	sts, err = c.Status(ctx)
	if err == nil || len(sts) != 2 || sts[0].Err == nil || sts[1].Err == nil {
		t.Errorf("with both down: %v %+v", err, sts)
	}
}

func TestStatusBadAnswers(t *testing.T) {
	tests := []struct {
		name string
		code int
		body string
		want string
	}{
		{"not json", 200, "<html>", "decoding status"},
		{"not tandem", 200, `{"hello":1}`, "no role"},
		{"error", 500, `{"error":"boom"}`, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, a, b := newFakePair(t)
			a.mu.Lock()
			a.adminHook = func(w http.ResponseWriter, r *http.Request) bool {
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
				return true
			}
			a.mu.Unlock()
			c := newClient(t, fast(a, b))
			sts, err := c.Status(ctxTimeout(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if sts[0].Err == nil || !strings.Contains(sts[0].Err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", sts[0].Err, tc.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"error":"bad"}`, "bad"},
		{"  text\nmore", "text"},
		{"", ""},
		{strings.Repeat("é", 300), strings.Repeat("é", 100) + "..."},
		{"\xff\xfe", "?"},
	}
	for _, tc := range tests {
		if got := errorMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("errorMessage(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"2", 2 * time.Second}, {" 3 ", 3 * time.Second}, {"-1", 0},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0}, {"99999999", maxRetryAfter},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.v); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{next: 10 * time.Millisecond, max: 80 * time.Millisecond}
	caps := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, c := range caps {
		c *= time.Millisecond
		if d := b.wait(); d < c/2 || d > c {
			t.Errorf("wait %d = %v, want in [%v, %v]", i, d, c/2, c)
		}
	}
}
