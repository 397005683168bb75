package httpsink

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Out", Attrs: []event.Attribute{
	{Name: "symbol", Type: event.String},
	{Name: "price", Type: event.Double},
}}

func outputs(n int) []sink.Output {
	outs := make([]sink.Output, n)
	for i := range outs {
		outs[i] = sink.Output{
			ID: "app/Out/0/" + string(rune('1'+i)), Ordinal: uint64(i + 1), Epoch: 7,
			Event: event.Event{Data: []event.Value{event.StringValue("S" + string(rune('A'+i))), event.DoubleValue(float64(i) + 0.5)}},
		}
	}
	return outs
}

type request struct {
	method, path, remote string
	header               http.Header
	body                 string
}

// receiver is a fake HTTP endpoint that records requests and answers with
// status(n) for the n-th request (0-based).
type receiver struct {
	status func(n int) int
	delay  time.Duration

	mu   sync.Mutex
	reqs []request
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, request{r.Method, r.URL.Path, r.RemoteAddr, r.Header.Clone(), string(body)})
	rc.mu.Unlock()
	if rc.delay > 0 {
		select {
		case <-time.After(rc.delay):
		case <-r.Context().Done():
		}
	}
	status := http.StatusOK
	if rc.status != nil {
		status = rc.status(n)
	}
	if status >= 300 && status < 400 {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(status)
	io.WriteString(w, "receiver says hi")
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func newSink(t *testing.T, options map[string]string) *Sink {
	t.Helper()
	s, err := New(sink.Spec{App: "app", ID: "Out/0", Stream: schema, Type: "http", Options: options, Map: source.MapSpec{Type: "json"}}, sink.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPublish(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := newSink(t, map[string]string{
		"publisher.url":       srv.URL + "/events",
		"headers":             `'X-Source:tandem', "X-Two:a,b:c" ,'Content-Type:application/vnd.x+json'`,
		"basic.auth.username": "user",
		"basic.auth.password": "pw",
	})
	if err := s.Publish(context.Background(), outputs(3)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := s.Publish(context.Background(), outputs(1)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("got %d requests, want 4", len(reqs))
	}
	wantBodies := []string{
		`{"event":{"symbol":"SA","price":0.5}}`,
		`{"event":{"symbol":"SB","price":1.5}}`,
		`{"event":{"symbol":"SC","price":2.5}}`,
	}
	for i, r := range reqs[:3] {
		if r.method != "POST" || r.path != "/events" || r.body != wantBodies[i] {
			t.Errorf("request %d = %s %s %s", i, r.method, r.path, r.body)
		}
		h := r.header
		if got, want := h.Get("Idempotency-Key"), "app/Out/0/"+string(rune('1'+i)); got != want {
			t.Errorf("request %d Idempotency-Key = %q, want %q", i, got, want)
		}
		if h.Get("X-Tandem-Epoch") != "7" || h.Get("X-Source") != "tandem" || h.Get("X-Two") != "a,b:c" ||
			h.Get("Content-Type") != "application/vnd.x+json" {
			t.Errorf("request %d headers = %v", i, h)
		}
		if auth := h.Get("Authorization"); auth != "Basic dXNlcjpwdw==" {
			t.Errorf("request %d Authorization = %q", i, auth)
		}
	}
	for _, r := range reqs[1:] {
		if r.remote != reqs[0].remote {
			t.Errorf("requests came from %s and %s: connection not reused", reqs[0].remote, r.remote)
		}
	}
}

func TestDefaults(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := newSink(t, map[string]string{"publisher.url": srv.URL, "method": "put"})
	if err := s.Publish(context.Background(), outputs(1)); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	if r.method != "PUT" || r.header.Get("Content-Type") != "application/json" || r.header.Get("Authorization") != "" {
		t.Errorf("request = %s %v", r.method, r.header)
	}
	if s.timeout != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", s.timeout, DefaultTimeout)
	}
}

func TestPublishFailures(t *testing.T) {
	tests := []struct {
		name    string
		rc      *receiver
		options map[string]string
		sent    int    // requests the receiver sees
		want    string // part of the error
	}{
		{"server error stops the batch", &receiver{status: func(n int) int {
			if n == 1 {
				return 500
			}
			return 200
		}}, nil, 2, `output app/Out/0/2: POST http://`},
		{"status and body in error", &receiver{status: func(int) int { return 503 }}, nil, 1, "503 Service Unavailable: receiver says hi"},
		{"client error", &receiver{status: func(int) int { return 400 }}, nil, 1, "400 Bad Request"},
		{"redirect", &receiver{status: func(int) int { return 307 }}, nil, 1, "307 Temporary Redirect (redirects are not followed)"},
		{"timeout", &receiver{delay: 2 * time.Second}, map[string]string{"request.timeout": "50"}, 1, "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.rc)
			defer srv.Close()
			options := map[string]string{"publisher.url": srv.URL}
			for k, v := range tc.options {
				options[k] = v
			}
			s := newSink(t, options)
			err := s.Publish(context.Background(), outputs(3))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Publish = %v, want error containing %q", err, tc.want)
			}
			if n := len(tc.rc.requests()); n != tc.sent {
				t.Errorf("receiver saw %d requests, want %d", n, tc.sent)
			}
		})
	}
}

func TestRetryResendsSameIDs(t *testing.T) {
	fail := true
	var mu sync.Mutex
	rc := &receiver{status: func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		if n == 1 && fail {
			return 502
		}
		return 200
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := newSink(t, map[string]string{"publisher.url": srv.URL})
	outs := outputs(2)
	if err := s.Publish(context.Background(), outs); err == nil {
		t.Fatal("first Publish succeeded")
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if err := s.Publish(context.Background(), outs); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rc.requests() {
		keys = append(keys, r.header.Get("Idempotency-Key"))
	}
	if got, want := strings.Join(keys, " "), "app/Out/0/1 app/Out/0/2 app/Out/0/1 app/Out/0/2"; got != want {
		t.Errorf("keys sent = %s, want %s", got, want)
	}
}

func TestTransportError(t *testing.T) {
	srv := httptest.NewServer(&receiver{})
	url := srv.URL
	srv.Close()
	s := newSink(t, map[string]string{"publisher.url": url, "basic.auth.username": "u"})
	if err := s.Publish(context.Background(), outputs(1)); err == nil || !strings.Contains(err.Error(), "output app/Out/0/1") {
		t.Errorf("Publish to a closed server = %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	rc := &receiver{delay: 5 * time.Second}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := newSink(t, map[string]string{"publisher.url": srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Publish(ctx, outputs(2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Publish took %v after its context ended", d)
	}
}

func TestClosed(t *testing.T) {
	srv := httptest.NewServer(&receiver{})
	defer srv.Close()
	s := newSink(t, map[string]string{"publisher.url": srv.URL})
	s.Close()
	if err := s.Publish(context.Background(), outputs(1)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Publish after Close = %v", err)
	}
}

func TestRedactedURL(t *testing.T) {
	rc := &receiver{status: func(int) int { return 500 }}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := newSink(t, map[string]string{"publisher.url": strings.Replace(srv.URL, "http://", "http://me:secret@", 1)})
	err := s.Publish(context.Background(), outputs(1))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Publish = %v: want an error without the password", err)
	}
}

func TestNewErrors(t *testing.T) {
	const u = "http://localhost:8080/x"
	tests := []struct {
		name    string
		options map[string]string
		mp      source.MapSpec
		want    string
	}{
		{"no url", nil, source.MapSpec{}, `option "publisher.url" is required`},
		{"bad scheme", map[string]string{"publisher.url": "ftp://h/x"}, source.MapSpec{}, `scheme "ftp" is not http or https`},
		{"no host", map[string]string{"publisher.url": "http:///x"}, source.MapSpec{}, `no host`},
		{"unparsable", map[string]string{"publisher.url": "http://[::1"}, source.MapSpec{}, `option "publisher.url"`},
		{"unknown option", map[string]string{"publisher.url": u, "oauth.username": "x"}, source.MapSpec{}, `unknown option "oauth.username"`},
		{"method", map[string]string{"publisher.url": u, "method": "GET"}, source.MapSpec{}, `"GET" is not POST, PUT or PATCH`},
		{"timeout", map[string]string{"publisher.url": u, "request.timeout": "soon"}, source.MapSpec{}, `option "request.timeout"`},
		{"password alone", map[string]string{"publisher.url": u, "basic.auth.password": "p"}, source.MapSpec{}, `"basic.auth.password" needs "basic.auth.username"`},
		{"headers", map[string]string{"publisher.url": u, "headers": "'nocolon'"}, source.MapSpec{}, `"nocolon" is not name:value`},
		{"map type", map[string]string{"publisher.url": u}, source.MapSpec{Type: "xml"}, `unknown map type "xml"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Factory(sink.Spec{App: "app", Stream: schema, Options: tc.options, Map: tc.mp}, sink.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Factory error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		list string
		want map[string]string
		err  string
	}{
		{"", map[string]string{}, ""},
		{"'a:1','b:2'", map[string]string{"A": "1", "B": "2"}, ""},
		{` 'a: x y ' , "b:c,d" `, map[string]string{"A": "x y", "B": "c,d"}, ""},
		{"a:1, b:2", map[string]string{"A": "1", "B": "2"}, ""},
		{"'a:http://x:1/'", map[string]string{"A": "http://x:1/"}, ""},
		{"'a:1'x", nil, "expected ','"},
		{"'a:1", nil, "unterminated '"},
		{"':v'", nil, `":v" is not name:value`},
		{"'a b:v'", nil, `"a b" is not a valid header name`},
		{"'a:v\x01'", nil, "control characters"},
		{"'idempotency-key:x'", nil, "header Idempotency-Key is set by the sink"},
		{"'x-tandem-epoch:1'", nil, "header X-Tandem-Epoch is set by the sink"},
		{"'Host:h'", nil, "header Host is set by the sink"},
	}
	for _, tc := range tests {
		h := http.Header{}
		err := parseHeaders(tc.list, h)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseHeaders(%q) = %v, want error %q", tc.list, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseHeaders(%q): %v", tc.list, err)
			continue
		}
		if len(h) != len(tc.want) {
			t.Errorf("parseHeaders(%q) = %v, want %v", tc.list, h, tc.want)
		}
		for k, v := range tc.want {
			if h.Get(k) != v {
				t.Errorf("parseHeaders(%q)[%s] = %q, want %q", tc.list, k, h.Get(k), v)
			}
		}
	}
}
