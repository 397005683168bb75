// Package httpsink implements Siddhi's http sink:
//
//	@sink(type='http', publisher.url='http://host:8080/events', method='POST',
//	      headers="'X-Source:tandem','Authorization:Bearer t'", @map(type='json'))
//
// Each output is one request whose body is the event's JSON,
// {"event":{...}}, with the headers Idempotency-Key (the output id) and
// X-Tandem-Epoch (the publisher's lease epoch), so a receiver can drop the
// repeats that follow a failover and fence a stale publisher. Outputs of a
// batch are sent in order, one at a time; a transport error or a status other
// than 2xx fails the batch, and the caller sends it again later, so receivers
// see the outputs already accepted a second time, with the same ids. Redirects
// are not followed: a 3xx is an error.
//
// Options: publisher.url (required, http or https), method (POST, PUT or
// PATCH; default POST), headers (Siddhi's "'name:value','name:value'" list),
// basic.auth.username and basic.auth.password, and request.timeout (per
// request: milliseconds or a duration such as 5s; default 5s).
package httpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
)

// Type is the sink type name, as in @sink(type='http').
const Type = "http"

// DefaultTimeout bounds each request unless request.timeout says otherwise.
const DefaultTimeout = 5 * time.Second

const (
	optURL      = "publisher.url"
	optMethod   = "method"
	optHeaders  = "headers"
	optUser     = "basic.auth.username"
	optPassword = "basic.auth.password"
	optTimeout  = "request.timeout"
)

// reserved headers are set by the sink or by net/http and may not be given.
var reserved = []string{"Idempotency-Key", "X-Tandem-Epoch", "Content-Length", "Host", "Transfer-Encoding", "Connection"}

// Sink posts outputs to an HTTP endpoint over a client of its own, keeping
// connections alive between requests.
type Sink struct {
	url       string
	shownURL  string // url without a password, for errors
	method    string
	header    http.Header
	user      string
	password  string
	basicAuth bool
	timeout   time.Duration
	enc       *jsonmap.Encoder
	client    *http.Client
	transport *http.Transport
	closed    atomic.Bool
}

// Factory is the sink.Factory for http sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns an http sink.
func New(spec sink.Spec, _ sink.Env) (*Sink, error) {
	const what = "http sink"
	if spec.Stream == nil {
		return nil, errors.New("http sink: no stream schema")
	}
	if err := opts.Check(what, spec.Options, optURL, optMethod, optHeaders, optUser, optPassword, optTimeout); err != nil {
		return nil, err
	}
	raw := strings.TrimSpace(spec.Options[optURL])
	if raw == "" {
		return nil, fmt.Errorf("http sink: option %q is required, e.g. publisher.url='http://localhost:8080/events'", optURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("http sink: option %q: %w", optURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("http sink: option %q: scheme %q is not http or https", optURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("http sink: option %q: no host", optURL)
	}
	s := &Sink{url: u.String(), shownURL: u.Redacted(), method: http.MethodPost, header: http.Header{}}
	if m, ok := spec.Options[optMethod]; ok {
		s.method = strings.ToUpper(strings.TrimSpace(m))
		switch s.method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
		default:
			return nil, fmt.Errorf("http sink: option %q: %q is not POST, PUT or PATCH", optMethod, m)
		}
	}
	s.header.Set("Content-Type", "application/json")
	if h, ok := spec.Options[optHeaders]; ok {
		if err := parseHeaders(h, s.header); err != nil {
			return nil, fmt.Errorf("http sink: option %q: %w", optHeaders, err)
		}
	}
	s.user, s.basicAuth = spec.Options[optUser]
	if p, ok := spec.Options[optPassword]; ok {
		if !s.basicAuth {
			return nil, fmt.Errorf("http sink: option %q needs %q", optPassword, optUser)
		}
		s.password = p
	}
	if s.timeout, err = opts.Duration(what, spec.Options, optTimeout, DefaultTimeout); err != nil {
		return nil, err
	}
	if s.enc, err = jsonmap.NewEncoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("http sink: %w", err)
	}
	// Outputs go one at a time, so a couple of idle connections suffice.
	s.transport = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   s.timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	s.client = &http.Client{
		Transport: s.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s, nil
}

// parseHeaders reads Siddhi's header list, "'name:value','name:value'",
// into h. Items may also be double-quoted or, without commas in them, bare.
func parseHeaders(list string, h http.Header) error {
	rest := strings.TrimSpace(list)
	for rest != "" {
		var item string
		if q := rest[0]; q == '\'' || q == '"' {
			end := strings.IndexByte(rest[1:], q)
			if end < 0 {
				return fmt.Errorf("unterminated %c in %q", q, list)
			}
			item, rest = rest[1:1+end], strings.TrimSpace(rest[2+end:])
			if rest != "" {
				if rest[0] != ',' {
					return fmt.Errorf("expected ',' after %c%s%c in %q", q, item, q, list)
				}
				rest = strings.TrimSpace(rest[1:])
			}
		} else {
			item, rest, _ = strings.Cut(rest, ",")
			rest = strings.TrimSpace(rest)
		}
		name, value, ok := strings.Cut(item, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return fmt.Errorf("%q is not name:value", item)
		}
		if !validName(name) {
			return fmt.Errorf("%q is not a valid header name", name)
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return fmt.Errorf("header %s: value has control characters", name)
		}
		for _, r := range reserved {
			if strings.EqualFold(name, r) {
				return fmt.Errorf("header %s is set by the sink", r)
			}
		}
		h.Set(name, value)
	}
	return nil
}

// validName reports whether s is an RFC 9110 token.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// Publish sends each output of the batch in order and stops at the first
// failure.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	if s.closed.Load() {
		return errors.New("http sink: closed")
	}
	var body []byte
	for _, out := range outs {
		var err error
		if body, err = s.enc.AppendEvent(body[:0], out.Event.Data); err != nil {
			return fmt.Errorf("http sink: output %s: %w", out.ID, err)
		}
		if err := sink.Check(ctx); err != nil {
			return fmt.Errorf("http sink: output %s: %w", out.ID, err)
		}
		if err := s.send(ctx, out, body); err != nil {
			return fmt.Errorf("http sink: output %s: %w", out.ID, err)
		}
	}
	return nil
}

func (s *Sink) send(ctx context.Context, out sink.Output, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	req.Header.Set("Idempotency-Key", out.ID)
	req.Header.Set("X-Tandem-Epoch", strconv.FormatUint(out.Epoch, 10))
	if s.basicAuth {
		req.SetBasicAuth(s.user, s.password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err // already names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	msg := fmt.Sprintf("%s %s: %s", s.method, s.shownURL, resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirects are not followed)"
	}
	if t := strings.TrimSpace(string(snippet)); t != "" {
		msg += ": " + strings.ToValidUTF8(t, "?")
	}
	return errors.New(msg)
}

// Close releases the sink's idle connections; later Publish calls fail.
func (s *Sink) Close() error {
	s.closed.Store(true)
	s.transport.CloseIdleConnections()
	return nil
}
