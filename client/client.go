package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Client. Only Nodes is required.
type Config struct {
	// Nodes are the admin API addresses of the pair's nodes (node.api in
	// their configs): host:port, or a base URL such as https://host:port.
	Nodes []string
	// HTTP makes every request; nil uses a client of the Client's own.
	// Timeouts are applied per request through contexts, so HTTP.Timeout
	// may stay zero.
	HTTP *http.Client
	// Logger receives changes of the active (Info) and retries (Debug); nil
	// discards.
	Logger *slog.Logger
	// RequestTimeout bounds one attempt to send a batch (default 10s). The
	// active answers once the passive holds the batch, so this covers
	// replication too, not just the network.
	RequestTimeout time.Duration
	// StatusTimeout bounds one status request (default 1s). A node that
	// hangs costs this much when the client looks for the active while the
	// other node is not yet active.
	StatusTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between two attempts to send a
	// batch (defaults 20ms and 500ms). It doubles after each failed attempt.
	// Keep MaxBackoff short: during a failover it adds to the time the
	// sender stands still.
	MinBackoff, MaxBackoff time.Duration
	// ProbeInterval is how long an attempt may go unanswered before the
	// client asks the nodes whether its target is still the active, and
	// then how often it asks again (default 1s). When another node has
	// become active the attempt is abandoned and the batch goes there.
	ProbeInterval time.Duration
	// NotFoundGrace is how long after the client found a node active a 404
	// from it is taken for a source that is still opening (the sources of a
	// new active open one app at a time) rather than for a wrong path
	// (default 3s). After it, a 404 is a permanent error.
	NotFoundGrace time.Duration
}

// Defaults of Config.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultStatusTimeout  = time.Second
	DefaultMinBackoff     = 20 * time.Millisecond
	DefaultMaxBackoff     = 500 * time.Millisecond
	DefaultNotFoundGrace  = 3 * time.Second
	DefaultProbeInterval  = time.Second
)

// MaxKeyLength is the longest idempotency key a Tandem HTTP source takes.
const MaxKeyLength = 256

// maxRetryAfter bounds how long a 429's Retry-After can hold a batch back.
const maxRetryAfter = time.Minute

// ErrNoActive is wrapped by the errors of attempts that found no node active
// (during a failover, say); Send keeps retrying them until its context ends.
var ErrNoActive = errors.New("client: no active node")

// A Client sends batches to the active node of a pair. It is safe for
// concurrent use. Send returns once the batch is acknowledged, so batches
// sent one after another from one goroutine are logged in that order.
type Client struct {
	cfg   Config
	http  *http.Client
	own   bool // http was made by New
	log   *slog.Logger
	nodes []node
	id    string // random, so that keys of different clients never collide
	seq   atomic.Uint64

	batches, retries, failovers atomic.Uint64

	mu     sync.Mutex
	cur    *target // where batches go; nil until found and after a failed attempt
	last   *target // the last active found, to notice failovers
	flight *flight // the discovery in progress, shared by all who need it
}

// node is a configured admin API.
type node struct {
	addr string // as configured
	base string // scheme://host:port
	host string // host alone, for data addresses that leave it out
}

// target is an active node and where its sources listen.
type target struct {
	node  string
	epoch uint64
	url   string    // http://host:port of its HTTP sources
	since time.Time // when this client first found it active at this epoch
}

type flight struct {
	done chan struct{}
	t    target
	err  error
}

// New returns a client for the pair whose admin APIs are cfg.Nodes. It does
// not contact them: the first Send does.
func New(cfg Config) (*Client, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("client: no nodes given")
	}
	c := &Client{cfg: cfg, http: cfg.HTTP, log: cfg.Logger}
	seen := make(map[string]bool)
	for _, a := range cfg.Nodes {
		n, err := parseNode(a)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		if seen[n.base] {
			return nil, fmt.Errorf("client: node %s given twice", a)
		}
		seen[n.base] = true
		c.nodes = append(c.nodes, n)
	}
	for _, d := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&c.cfg.RequestTimeout, DefaultRequestTimeout, "RequestTimeout"},
		{&c.cfg.StatusTimeout, DefaultStatusTimeout, "StatusTimeout"},
		{&c.cfg.MinBackoff, DefaultMinBackoff, "MinBackoff"},
		{&c.cfg.MaxBackoff, DefaultMaxBackoff, "MaxBackoff"},
		{&c.cfg.NotFoundGrace, DefaultNotFoundGrace, "NotFoundGrace"},
		{&c.cfg.ProbeInterval, DefaultProbeInterval, "ProbeInterval"},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("client: %s is negative (%v)", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if c.cfg.MinBackoff > c.cfg.MaxBackoff {
		return nil, fmt.Errorf("client: MinBackoff %v is above MaxBackoff %v", c.cfg.MinBackoff, c.cfg.MaxBackoff)
	}
	if c.http == nil {
		tr, ok := http.DefaultTransport.(*http.Transport)
		if ok {
			tr = tr.Clone()
		} else {
			tr = &http.Transport{}
		}
		c.http = &http.Client{Transport: tr}
		c.own = true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// rand.Text has 128 random bits: two clients never share an id.
	c.id = rand.Text()
	return c, nil
}

// parseNode reads an admin API address: host:port or http(s)://host:port.
func parseNode(addr string) (node, error) {
	s := strings.TrimSpace(addr)
	if s == "" {
		return node{}, errors.New("empty node address")
	}
	scheme := "http"
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return node{}, fmt.Errorf("node address %q: %w", addr, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return node{}, fmt.Errorf("node address %q: scheme must be http or https", addr)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return node{}, fmt.Errorf("node address %q: want scheme://host:port with nothing after it", addr)
		}
		scheme, s = u.Scheme, u.Host
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return node{}, fmt.Errorf("node address %q: want host:port: %w", addr, err)
	}
	if host == "" {
		host = "localhost"
	}
	if err := checkPort(port); err != nil {
		return node{}, fmt.Errorf("node address %q: %w", addr, err)
	}
	base, err := hostURL(scheme, host, port)
	if err != nil {
		return node{}, fmt.Errorf("node address %q: %w", addr, err)
	}
	return node{addr: addr, base: base, host: host}, nil
}

// hostURL returns scheme://host:port, escaped (an IPv6 zone's %), and
// checks that it parses back to the same host.
func hostURL(scheme, host, port string) (string, error) {
	hp := net.JoinHostPort(host, port)
	s := (&url.URL{Scheme: scheme, Host: hp}).String()
	u, err := url.Parse(s)
	if err != nil || u.Host != hp || u.Path != "" {
		return "", fmt.Errorf("bad host %q", host)
	}
	return s, nil
}

func checkPort(port string) error {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// dataURL is the base URL of a node's HTTP sources. A data address that is a
// listen address (":8281", "0.0.0.0:8281") names no host to dial, so the host
// the client reached the node's admin API at stands in for it.
func dataURL(n node, dataAddr string) (string, error) {
	host, port, err := net.SplitHostPort(dataAddr)
	if err != nil {
		return "", fmt.Errorf("data_addr %q: %w", dataAddr, err)
	}
	if err := checkPort(port); err != nil {
		return "", fmt.Errorf("data_addr %q: %w", dataAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = n.host
	}
	u, err := hostURL("http", host, port)
	if err != nil {
		return "", fmt.Errorf("data_addr %q: %w", dataAddr, err)
	}
	return u, nil
}

// NewKey returns a fresh idempotency key: the client's random id and a
// counter. Send uses one per batch; SendWithKey lets a caller keep the key of
// a batch whose fate it does not know, to send it again later.
func (c *Client) NewKey() string {
	return c.id + "-" + strconv.FormatUint(c.seq.Add(1), 10)
}

// Send posts batch, a JSON body for a Tandem HTTP source (one object or an
// array of them), to path on the active node, under a new idempotency key.
// See SendWithKey.
func (c *Client) Send(ctx context.Context, path string, batch []byte) error {
	return c.SendWithKey(ctx, path, c.NewKey(), batch)
}

// SendEvents sends events as one batch of {"event":{...}} objects. An empty
// slice sends nothing.
func (c *Client) SendEvents(ctx context.Context, path string, events []map[string]any) error {
	if len(events) == 0 {
		return nil
	}
	type wrapped struct {
		Event map[string]any `json:"event"`
	}
	ws := make([]wrapped, len(events))
	for i, e := range events {
		if e == nil {
			return fmt.Errorf("client: event %d is nil", i)
		}
		ws[i].Event = e
	}
	body, err := json.Marshal(ws)
	if err != nil {
		return fmt.Errorf("client: encoding events: %w", err)
	}
	return c.Send(ctx, path, body)
}

// SendWithKey posts batch to path on the active node with the given
// idempotency key and returns once the active has acknowledged it. Until
// then it sends the same batch under the same key again, after a backoff,
// looking for the active anew after connection errors, timeouts and 5xx
// answers, and giving up on an unanswered attempt once another node is
// active (see Config.ProbeInterval). The key makes the pair drop a batch it
// logged before a failover, so none is processed twice. It stops with an error when ctx ends (the batch may or
// may not have been logged: send it again with the same key to be sure) or
// when an answer is permanent (see StatusError.Permanent).
func (c *Client) SendWithKey(ctx context.Context, path, key string, batch []byte) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := checkKey(key); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("client: batch %s not sent: %w", key, err)
	}
	b := backoff{next: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	var last error // of the last attempt that ctx did not cut short
	giveUp := func(err error) error {
		if last == nil {
			last = err
		}
		return fmt.Errorf("client: batch %s not acknowledged: %w (last error: %w)", key, ctx.Err(), last)
	}
	for attempt := 1; ; attempt++ {
		wait, err := c.attempt(ctx, path, key, batch)
		if err == nil {
			c.batches.Add(1)
			return nil
		}
		if errors.Is(err, errPermanent) {
			return fmt.Errorf("client: batch %s refused: %w", key, err)
		}
		if ctx.Err() != nil {
			// The attempt's own error is likely just ctx's; the one before
			// says more about why the batch got nowhere.
			return giveUp(err)
		}
		last = err
		wait = max(wait, b.wait())
		c.log.Debug("batch not acknowledged, retrying", "key", key, "attempt", attempt, "wait", wait, "err", err)
		if !sleep(ctx, wait) {
			return giveUp(err)
		}
		c.retries.Add(1)
	}
}

// errPermanent marks attempt errors that no retry can fix.
var errPermanent = errors.New("permanent")

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, errPermanent} }

// attempt sends the batch once. It returns how long to wait at least before
// the next attempt (a 429's Retry-After), and the error.
func (c *Client) attempt(ctx context.Context, path, key string, batch []byte) (time.Duration, error) {
	t, err := c.active(ctx)
	if err != nil {
		return 0, err
	}
	err = c.post(ctx, t, path, key, batch)
	if err == nil {
		return 0, nil
	}
	var se *StatusError
	if !errors.As(err, &se) {
		// Connection refused or reset, timeout: the node may be gone.
		c.forget(t)
		return 0, err
	}
	switch {
	case se.Code == http.StatusNotFound:
		if c.notFoundIsPermanent(ctx, t) {
			return 0, permanentError{err}
		}
		return 0, err
	case se.Code == http.StatusTooManyRequests:
		return se.retryAfter, err
	case se.Code == http.StatusRequestTimeout:
		return 0, err
	case se.Permanent():
		return 0, permanentError{err}
	}
	// 503 from a node that is handing over or stopping, other 5xx: look
	// again for the active.
	c.forget(t)
	return 0, err
}

// notFoundIsPermanent decides whether a 404 from t means a wrong path: only
// when t, asked afresh, is still the active at the same epoch and has been
// for NotFoundGrace. Until then it may be a source not yet open on a new
// active, or one already closed on an active that is handing over.
func (c *Client) notFoundIsPermanent(ctx context.Context, t target) bool {
	c.forget(t)
	now, err := c.active(ctx)
	if err != nil || now.node != t.node || now.epoch != t.epoch {
		return false
	}
	return time.Since(now.since) >= c.cfg.NotFoundGrace
}

func (c *Client) post(ctx context.Context, t target, path, key string, batch []byte) error {
	u := t.url + path
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	ctx, abandon := context.WithCancelCause(ctx)
	defer abandon(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(batch))
	if err != nil {
		return fmt.Errorf("POST %s: %w", u, err)
	}
	req.Header.Set("Content-Type", "application/json")
	// With this header net/http also knows the request may be replayed on a
	// fresh connection when a kept-alive one turns out to be closed.
	req.Header.Set("Idempotency-Key", key)
	stop := c.watch(ctx, t, abandon)
	resp, err := c.http.Do(req)
	stop()
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errSuperseded) {
			return fmt.Errorf("POST %s: %w", u, cause)
		}
		return err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Drain so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	se := newStatusError(http.MethodPost, u, resp)
	if resp.StatusCode == http.StatusTooManyRequests {
		se.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return se
}

// errSuperseded ends an attempt whose node is no longer the active.
var errSuperseded = errors.New("abandoned: another node became active")

// watch asks the nodes every ProbeInterval, for as long as an attempt on t
// goes unanswered, whether t is still the active, and abandons the attempt
// when another node is. Without it a sender would wait out RequestTimeout on
// an active that hangs (stopped, or cut off) while the passive has long
// taken over. Abandoning is always safe: the batch is sent again under the
// same key. The returned stop ends the watch and waits for it.
func (c *Client) watch(ctx context.Context, t target, abandon context.CancelCauseFunc) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(c.cfg.ProbeInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now, err := c.discover(ctx)
			if err == nil && (now.node != t.node || now.epoch != t.epoch) {
				// Adopted here, the next attempt need not look again; unless
				// a concurrent look found a newer one already.
				c.mu.Lock()
				if c.last == nil || now.epoch >= c.last.epoch {
					c.adopt(&now)
				}
				c.mu.Unlock()
				abandon(fmt.Errorf("%w: %s at epoch %d", errSuperseded, now.node, now.epoch))
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// parseRetryAfter reads a Retry-After of seconds; dates and junk give 0.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0
	}
	return min(time.Duration(s)*time.Second, maxRetryAfter)
}

// active returns the active node, finding it if it is not known. Concurrent
// callers share one discovery.
func (c *Client) active(ctx context.Context) (target, error) {
	c.mu.Lock()
	if c.cur != nil {
		t := *c.cur
		c.mu.Unlock()
		return t, nil
	}
	if f := c.flight; f != nil {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.t, f.err
		case <-ctx.Done():
			return target{}, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.flight = f
	c.mu.Unlock()

	f.t, f.err = c.discover(ctx)
	c.mu.Lock()
	c.flight = nil
	if f.err == nil {
		c.adopt(&f.t)
	}
	c.mu.Unlock()
	close(f.done)
	return f.t, f.err
}

// adopt makes t the current active and counts a failover when it is not
// the last one found. c.mu must be held.
func (c *Client) adopt(t *target) {
	switch {
	case c.last == nil:
		t.since = time.Now()
		c.log.Info("found the active node", "node", t.node, "epoch", t.epoch, "data", t.url)
	case c.last.node == t.node && c.last.epoch == t.epoch:
		t.since = c.last.since
	default:
		t.since = time.Now()
		c.failovers.Add(1)
		c.log.Info("the active node changed", "from", c.last.node, "from_epoch", c.last.epoch,
			"node", t.node, "epoch", t.epoch, "data", t.url)
	}
	cur, last := *t, *t
	c.cur, c.last = &cur, &last
}

// forget drops t as the current active after an attempt on it failed,
// unless another caller has already found a different one.
func (c *Client) forget(t target) {
	c.mu.Lock()
	if c.cur != nil && c.cur.node == t.node && c.cur.epoch == t.epoch && c.cur.url == t.url {
		c.cur = nil
	}
	c.mu.Unlock()
}

// discoverGrace is how long discover waits for the other nodes once one
// reports itself active: long enough for a healthy node to answer, short
// enough that a node that hangs (stopped, cut off) costs little.
const discoverGrace = 200 * time.Millisecond

// discover asks every node for its status and picks the active. Should two
// claim to be (an old active that has not yet noticed it lost its lease),
// the higher epoch wins: the lease's holder is the newer one. Once one node
// is found active the others get discoverGrace to answer, not StatusTimeout.
func (c *Client) discover(ctx context.Context) (target, error) {
	type answer struct {
		i   int
		st  *Status
		err error
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before the Wait: it cuts short the stragglers
	answers := make(chan answer, len(c.nodes))
	for i, n := range c.nodes {
		wg.Go(func() {
			st, err := c.fetchStatus(ctx, n)
			answers <- answer{i, st, err}
		})
	}
	var (
		best  target
		found bool
		errs  []error
		grace <-chan time.Time
	)
wait:
	for range c.nodes {
		var a answer
		select {
		case a = <-answers:
		case <-grace:
			break wait
		}
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		st, addr := a.st, c.nodes[a.i].addr
		if !st.Serving() || (found && st.Epoch <= best.epoch) {
			continue
		}
		if st.DataAddr == "" {
			errs = append(errs, fmt.Errorf("node %s (%s) is active but reports no data_addr: set sources.httpListen in its config", st.Node, addr))
			continue
		}
		u, err := dataURL(c.nodes[a.i], st.DataAddr)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s (%s): %w", st.Node, addr, err))
			continue
		}
		best, found = target{node: st.Node, epoch: st.Epoch, url: u}, true
		if grace == nil {
			t := time.NewTimer(discoverGrace)
			defer t.Stop()
			grace = t.C
		}
	}
	if found {
		return best, nil
	}
	if len(errs) == 0 {
		return target{}, ErrNoActive
	}
	return target{}, fmt.Errorf("%w: %w", ErrNoActive, errors.Join(errs...))
}

// Stats counts what a client has done.
type Stats struct {
	Batches   uint64 // batches acknowledged
	Retries   uint64 // attempts beyond each batch's first
	Failovers uint64 // times the active changed (another node or a new epoch) after the first was found
	Active    string // node id of the last active found; "" before the first
	Epoch     uint64 // its epoch
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	s := Stats{Batches: c.batches.Load(), Retries: c.retries.Load(), Failovers: c.failovers.Load()}
	c.mu.Lock()
	if c.last != nil {
		s.Active, s.Epoch = c.last.node, c.last.epoch
	}
	c.mu.Unlock()
	return s
}

// Close releases idle connections of a client New made itself. Sends that
// are under way still finish.
func (c *Client) Close() {
	if c.own {
		c.http.CloseIdleConnections()
	}
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q must start with /", p)
	}
	if _, err := url.ParseRequestURI(p); err != nil || strings.ContainsAny(p, "# \t\r\n") {
		return fmt.Errorf("path %q is not a valid URL path", p)
	}
	return nil
}

// checkKey admits what the HTTP source takes and a header can carry.
func checkKey(k string) error {
	if k == "" {
		return errors.New("empty idempotency key")
	}
	if len(k) > MaxKeyLength {
		return fmt.Errorf("idempotency key is longer than %d bytes", MaxKeyLength)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return fmt.Errorf("idempotency key %q: only printable ASCII without spaces", k)
		}
	}
	return nil
}

// backoff doubles from a minimum to a maximum, with jitter so that senders
// that failed together do not come back together.
type backoff struct{ next, max time.Duration }

func (b *backoff) wait() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	return d/2 + randv2.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
