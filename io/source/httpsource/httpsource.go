// Package httpsource implements Siddhi's http source:
//
//	@source(type='http', receiver.url='http://0.0.0.0:8280/stocks', @map(type='json'))
//
// Each source serves POST requests on one path. Sources of any app on the same
// host:port share one HTTP server, owned by a Servers value that the node
// creates and passes to Factory; the server listens while at least one of its
// sources is started.
//
// A request is answered 200 only after the app's Ingester has accepted the
// whole batch, which is the durability point (with replication ack: sync the
// passive holds it). A batch is all or nothing: a body that does not decode is
// refused with 400 and nothing of it is ingested. The Idempotency-Key request
// header is passed on, so a sender that retries after a failover is not
// counted twice.
//
// Responses carry a JSON body: {"accepted":N} on success and {"error":"..."}
// otherwise, with status 400 (malformed body or header), 404 (no source on that
// path), 405 (not POST), 413 (body too large) or 503 (not accepted now: the
// app failed to take the batch or the source is stopping; retry later).
//
// Options: receiver.url (required; http only) and max.body.size (bytes, or
// with a KB/MB/GB suffix; default 8MB). The only mapping is json.
package httpsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/source"
)

// Type is the source type name, as in @source(type='http').
const Type = "http"

// DefaultMaxBodySize is the default limit of a request body.
const DefaultMaxBodySize = 8 << 20

// MaxKeyLength bounds the Idempotency-Key header, which the app logs with
// every batch.
const MaxKeyLength = 256

const (
	optURL     = "receiver.url"
	optMaxBody = "max.body.size"
)

// Factory returns the source.Factory for http sources that serve through
// servers.
func Factory(servers *Servers) source.Factory {
	return func(spec source.Spec, ing source.Ingester, env source.Env) (source.Source, error) {
		return New(servers, spec, ing, env)
	}
}

// New validates spec and returns a stopped source; Start binds it.
func New(servers *Servers, spec source.Spec, ing source.Ingester, env source.Env) (*Source, error) {
	const what = "http source"
	if servers == nil {
		return nil, errors.New("http source: no Servers")
	}
	if ing == nil {
		return nil, errors.New("http source: no Ingester")
	}
	if spec.Stream == nil {
		return nil, errors.New("http source: no stream schema")
	}
	if err := opts.Check(what, spec.Options, optURL, optMaxBody); err != nil {
		return nil, err
	}
	raw, ok := spec.Options[optURL]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("http source: option %q is required, e.g. receiver.url='http://0.0.0.0:8280/%s'", optURL, spec.Stream.Name)
	}
	addr, path, err := parseReceiverURL(raw)
	if err != nil {
		return nil, fmt.Errorf("http source: option %q: %w", optURL, err)
	}
	if env.HTTPListen != "" {
		if err := checkHostPort(env.HTTPListen); err != nil {
			return nil, fmt.Errorf("http source: listen address override %q: %w", env.HTTPListen, err)
		}
		addr = env.HTTPListen
	}
	maxBody, err := opts.Size(what, spec.Options, optMaxBody, DefaultMaxBodySize)
	if err != nil {
		return nil, err
	}
	dec, err := jsonmap.NewDecoder(spec.Stream, spec.Map)
	if err != nil {
		return nil, fmt.Errorf("http source: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{
		servers: servers,
		ing:     ing,
		dec:     dec,
		app:     spec.App,
		stream:  spec.Stream.Name,
		addr:    addr,
		path:    path,
		maxBody: maxBody,
		logger:  logger.With("source", Type, "app", spec.App, "stream", spec.Stream.Name, "path", path),
	}, nil
}

// parseReceiverURL splits a receiver.url into the listen address and path.
func parseReceiverURL(raw string) (addr, path string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", "", err
	}
	switch {
	case u.Scheme == "https":
		return "", "", errors.New("https is not supported: terminate TLS in front of the node")
	case u.Scheme != "http":
		return "", "", fmt.Errorf("scheme %q is not http", u.Scheme)
	case u.Host == "":
		return "", "", errors.New("no host:port")
	case u.User != nil:
		return "", "", errors.New("user info is not supported")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", "", errors.New("a query or fragment is not supported")
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	if err := checkHostPort(addr); err != nil {
		return "", "", err
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return addr, path, nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// Source is one started-or-stopped http source. It may be started again after
// Stop.
type Source struct {
	servers *Servers
	ing     source.Ingester
	dec     *jsonmap.Decoder
	app     string
	stream  string
	addr    string // the host:port to listen on
	path    string
	maxBody int64
	logger  *slog.Logger
	bodies  sync.Pool // *bytes.Buffer: request bodies, reused once decoded

	mu       sync.Mutex
	running  bool               // accepting requests
	lis      *listener          // set while registered
	inflight sync.WaitGroup     // requests past the running check
	ctx      context.Context    // cancelled to abort in-flight Ingest calls
	cancel   context.CancelFunc // cancels ctx
}

// Addr returns the address the source listens on, or nil when it is stopped.
// With port 0 in receiver.url it tells which port was picked.
func (s *Source) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return nil
	}
	return s.lis.ln.Addr()
}

// Start registers the source's path on the shared server for its address,
// listening first if it is the first source there.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis != nil {
		return fmt.Errorf("http source %s/%s: already started", s.app, s.stream)
	}
	lis, err := s.servers.acquire(ctx, s)
	if err != nil {
		return fmt.Errorf("http source %s/%s: %w", s.app, s.stream, err)
	}
	s.lis = lis
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.running = true
	s.logger.Info("http source listening", "addr", lis.ln.Addr().String())
	return nil
}

// Stop refuses new requests with 503, waits for those in flight, then
// unregisters the path; the last source of an address closes its listener.
// When ctx ends first, in-flight Ingest calls are cancelled (their senders get
// 503) and Stop still waits for them to return.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.lis == nil {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	lis, cancel := s.lis, s.cancel
	s.mu.Unlock()

	var errs []error
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		<-done
		errs = append(errs, fmt.Errorf("http source %s/%s: in-flight requests aborted: %w", s.app, s.stream, ctx.Err()))
	}
	cancel()
	if err := s.servers.release(ctx, lis, s); err != nil {
		errs = append(errs, fmt.Errorf("http source %s/%s: %w", s.app, s.stream, err))
	}

	s.mu.Lock()
	s.lis = nil
	s.mu.Unlock()
	s.logger.Info("http source stopped")
	return errors.Join(errs...)
}

// begin admits one request unless the source is stopping; the caller must
// call s.inflight.Done when it returns true.
func (s *Source) begin() (context.Context, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil, false
	}
	s.inflight.Add(1)
	return s.ctx, true
}
