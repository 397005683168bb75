package httpsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "StockStream", Attrs: []event.Attribute{
	{Name: "symbol", Type: event.String},
	{Name: "price", Type: event.Double},
}}

type call struct {
	stream string
	rows   [][]event.Value
	key    string
}

// fakeIngester records batches. With block set, Ingest signals entered and
// waits for block to close or its context to end.
type fakeIngester struct {
	err     error
	block   chan struct{}
	entered chan struct{}

	mu    sync.Mutex
	calls []call
}

func (f *fakeIngester) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	if f.block != nil {
		f.entered <- struct{}{}
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{stream, rows, key})
	return nil
}

func (f *fakeIngester) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func newSpec(options map[string]string) source.Spec {
	return source.Spec{App: "app", Stream: schema, Type: "http", Options: options, Map: source.MapSpec{Type: "json"}}
}

// start starts a source on 127.0.0.1:0 at path and returns it with its URL.
func start(t *testing.T, ss *Servers, path string, ing source.Ingester, extra map[string]string) (*Source, string) {
	t.Helper()
	options := map[string]string{"receiver.url": "http://127.0.0.1:0" + path}
	for k, v := range extra {
		options[k] = v
	}
	src, err := New(ss, newSpec(options), ing, source.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { src.Stop(context.Background()) })
	return src, "http://" + src.Addr().String() + path
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func post(t *testing.T, url, body string, header map[string]string) response {
	t.Helper()
	return do(t, http.MethodPost, url, body, header)
}

func do(t *testing.T, method, url, body string, header map[string]string) response {
	t.Helper()
	r, err := tryDo(method, url, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryDo makes one request; unlike do it may be called from any goroutine.
func tryDo(method, url, body string, header map[string]string) (response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return r, fmt.Errorf("response body %q is not a JSON object: %w", raw, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return r, fmt.Errorf("Content-Type = %q, want application/json", ct)
	}
	return r, nil
}

// postAsync posts from a goroutine and delivers the response, or a status of
// -1 on error.
func postAsync(t *testing.T, url, body string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		r, err := tryDo(http.MethodPost, url, body, nil)
		if err != nil {
			t.Error(err)
			r.status = -1
		}
		ch <- r
	}()
	return ch
}

const goodBody = `[{"event":{"symbol":"WSO2","price":55.6}},{"symbol":"IBM","price":75}]`

func TestIngest(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	_, url := start(t, ss, "/stocks", ing, nil)

	r := post(t, url, goodBody, map[string]string{"Idempotency-Key": "batch-1"})
	if r.status != http.StatusOK || r.body["accepted"] != 2.0 {
		t.Fatalf("POST = %d %v, want 200 accepted 2", r.status, r.body)
	}
	r = post(t, url, `{"event":{"symbol":"X","price":1}}`, nil)
	if r.status != http.StatusOK || r.body["accepted"] != 1.0 {
		t.Fatalf("POST single = %d %v, want 200 accepted 1", r.status, r.body)
	}
	r = post(t, url, `[]`, nil)
	if r.status != http.StatusOK || r.body["accepted"] != 0.0 {
		t.Fatalf("POST [] = %d %v, want 200 accepted 0", r.status, r.body)
	}

	calls := ing.Calls()
	if len(calls) != 2 {
		t.Fatalf("got %d Ingest calls, want 2 (none for an empty batch)", len(calls))
	}
	c := calls[0]
	if c.stream != "StockStream" || c.key != "batch-1" || len(c.rows) != 2 {
		t.Fatalf("call 0 = %+v", c)
	}
	want := [][]event.Value{
		{event.StringValue("WSO2"), event.DoubleValue(55.6)},
		{event.StringValue("IBM"), event.DoubleValue(75)},
	}
	for i := range want {
		for j := range want[i] {
			if !c.rows[i][j].Equal(want[i][j]) {
				t.Errorf("row %d value %d = %v, want %v", i, j, c.rows[i][j], want[i][j])
			}
		}
	}
	if calls[1].key != "" {
		t.Errorf("call 1 key = %q, want none", calls[1].key)
	}
}

func TestRejects(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	_, url := start(t, ss, "/stocks", ing, map[string]string{"max.body.size": "1KB"})
	base := strings.TrimSuffix(url, "/stocks")

	tests := []struct {
		name, method, url, body string
		header                  map[string]string
		status                  int
		errPart                 string
	}{
		{"get", http.MethodGet, url, "", nil, 405, "method GET not allowed: use POST"},
		{"put", http.MethodPut, url, goodBody, nil, 405, "use POST"},
		{"syntax", http.MethodPost, url, `[{"event":{"symbol":"a","price":1}},`, nil, 400, "syntax error"},
		{"half good batch", http.MethodPost, url, `[{"symbol":"a","price":1},{"symbol":"b","price":"x"}]`, nil, 400,
			`event 1: attribute "price": expected double, got a string`},
		{"missing attr", http.MethodPost, url, `{"symbol":"a"}`, nil, 400, `missing attribute "price"`},
		{"empty", http.MethodPost, url, ``, nil, 400, "empty body"},
		{"too large", http.MethodPost, url, `[` + strings.Repeat(`{"symbol":"a","price":1},`, 100) + `]`, nil, 413, "larger than 1024 bytes"},
		{"long key", http.MethodPost, url, goodBody, map[string]string{"Idempotency-Key": strings.Repeat("k", 257)}, 400, "Idempotency-Key is longer than 256 bytes"},
		{"unknown path", http.MethodPost, base + "/other", goodBody, nil, 404, "no source at /other"},
		{"sub path", http.MethodPost, url + "/x", goodBody, nil, 404, "no source at /stocks/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, tc.url, tc.body, tc.header)
			if r.status != tc.status {
				t.Errorf("status = %d, want %d (%v)", r.status, tc.status, r.body)
			}
			if msg, _ := r.body["error"].(string); !strings.Contains(msg, tc.errPart) {
				t.Errorf("error = %q, want it to contain %q", msg, tc.errPart)
			}
			if tc.status == 405 && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
			}
		})
	}
	if n := len(ing.Calls()); n != 0 {
		t.Errorf("rejected requests made %d Ingest calls", n)
	}
}

func TestChunkedTooLarge(t *testing.T) {
	// Without a Content-Length the limit is enforced while reading.
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	_, url := start(t, ss, "/s", ing, map[string]string{"max.body.size": "64"})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`[` + strings.Repeat(`{"symbol":"a","price":1},`, 10)))
		pw.Close()
	}()
	resp, err := http.Post(url, "application/json", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", resp.StatusCode)
	}
}

func TestIngestError(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{err: errors.New("app queue closed")}
	_, url := start(t, ss, "/s", ing, nil)
	r := post(t, url, goodBody, nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", r.status)
	}
	if msg, _ := r.body["error"].(string); !strings.Contains(msg, "app queue closed") {
		t.Errorf("error = %q, want the Ingest error", msg)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestSharedAddress(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ingA, ingB := &fakeIngester{}, &fakeIngester{}
	a, urlA := start(t, ss, "/a", ingA, nil)
	b, urlB := start(t, ss, "/b", ingB, nil)
	if a.Addr().String() != b.Addr().String() {
		t.Fatalf("sources on one address got listeners %s and %s", a.Addr(), b.Addr())
	}
	if r := post(t, urlA, goodBody, nil); r.status != 200 {
		t.Fatalf("POST a = %d", r.status)
	}
	if r := post(t, urlB, goodBody, nil); r.status != 200 {
		t.Fatalf("POST b = %d", r.status)
	}
	if len(ingA.Calls()) != 1 || len(ingB.Calls()) != 1 {
		t.Fatalf("calls a=%d b=%d, want 1 each", len(ingA.Calls()), len(ingB.Calls()))
	}

	// The same path twice on one address is refused.
	dup, err := New(ss, newSpec(map[string]string{"receiver.url": "http://127.0.0.1:0/a"}), ingA, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "already served by app app stream StockStream") {
		t.Errorf("Start on a taken path: %v", err)
	}

	addr := a.Addr().String()
	if err := a.Stop(context.Background()); err != nil {
		t.Fatalf("Stop a: %v", err)
	}
	if a.Addr() != nil {
		t.Error("Addr after Stop is not nil")
	}
	if r := post(t, urlA, goodBody, nil); r.status != 404 {
		t.Errorf("POST to stopped a = %d, want 404", r.status)
	}
	if r := post(t, urlB, goodBody, nil); r.status != 200 {
		t.Errorf("POST b after a stopped = %d, want 200", r.status)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatalf("Stop b: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("listener %s still open after its last source stopped", addr)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestRestart(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	src, _ := start(t, ss, "/s", ing, nil)
	if err := src.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	for i := range 3 {
		if err := src.Stop(context.Background()); err != nil {
			t.Fatalf("Stop %d: %v", i, err)
		}
		if err := src.Start(context.Background()); err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		if r := post(t, "http://"+src.Addr().String()+"/s", goodBody, nil); r.status != 200 {
			t.Fatalf("POST after restart %d = %d", i, r.status)
		}
	}
}

func TestStopWaitsForInflight(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	src, url := start(t, ss, "/s", ing, nil)
	_, otherURL := start(t, ss, "/other", &fakeIngester{}, nil)

	result := postAsync(t, url, goodBody)
	<-ing.entered

	stopped := make(chan error, 1)
	go func() { stopped <- src.Stop(context.Background()) }()

	// While stopping, new requests are refused with 503 ...
	waitFor(t, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return !src.running
	})
	if r := post(t, url, goodBody, nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("POST while stopping = %d, want 503", r.status)
	}
	// ... and Stop waits for the request in flight.
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(ing.block)
	if r := <-result; r.status != http.StatusOK {
		t.Errorf("in-flight request = %d, want 200", r.status)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	if r := post(t, otherURL, goodBody, nil); r.status != 200 {
		t.Errorf("other source after Stop = %d, want 200", r.status)
	}
}

func TestStopDeadlineAbortsIngest(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	src, url := start(t, ss, "/s", ing, nil)
	addr := src.Addr().String()

	result := postAsync(t, url, goodBody)
	<-ing.entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := src.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want deadline exceeded", err)
	}
	if r := <-result; r.status != http.StatusServiceUnavailable {
		t.Errorf("aborted request = %d, want 503", r.status)
	}
	if len(ing.Calls()) != 0 {
		t.Error("aborted batch was recorded")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("listener %s still open", addr)
	}
}

func TestConcurrentRequests(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	_, url := start(t, ss, "/s", ing, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				key := fmt.Sprintf("k%d-%d", i, j)
				r, err := tryDo(http.MethodPost, url, goodBody, map[string]string{"Idempotency-Key": key})
				if err != nil || r.status != 200 {
					t.Errorf("POST %s = %d, %v", key, r.status, err)
				}
			}
		})
	}
	wg.Wait()
	keys := map[string]bool{}
	for _, c := range ing.Calls() {
		keys[c.key] = true
	}
	if len(keys) != 80 {
		t.Errorf("got %d distinct keys, want 80", len(keys))
	}
}

// TestPooledBodies checks that the rows an Ingester keeps do not alias the
// request bodies, which are reused: every batch, posted concurrently with
// different contents and sizes (chunked ones too), must still read as sent
// after all the others.
func TestPooledBodies(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	_, url := start(t, ss, "/s", ing, nil)
	batch := func(i, j int) (string, int) {
		n := 1 + (i*7+j)%40
		var b strings.Builder
		b.WriteByte('[')
		for k := range n {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"event":{"symbol":"%s","price":%d.5}}`, strings.Repeat(string(rune('a'+k%26)), 1+(i+j+k)%30), i*1000+j)
		}
		b.WriteByte(']')
		return b.String(), n
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			for j := range 20 {
				body, n := batch(i, j)
				key := fmt.Sprintf("%d/%d", i, j)
				var r response
				var err error
				if j%3 == 0 { // no Content-Length: the buffer grows as it reads
					r, err = tryChunked(url, body, key)
				} else {
					r, err = tryDo(http.MethodPost, url, body, map[string]string{"Idempotency-Key": key})
				}
				if err != nil || r.status != 200 || r.body["accepted"] != float64(n) {
					t.Errorf("POST %s = %d %v, %v", key, r.status, r.body, err)
				}
			}
		})
	}
	wg.Wait()
	calls := ing.Calls()
	if len(calls) != 120 {
		t.Fatalf("%d batches ingested, want 120", len(calls))
	}
	for _, c := range calls {
		var i, j int
		if _, err := fmt.Sscanf(c.key, "%d/%d", &i, &j); err != nil {
			t.Fatalf("key %q: %v", c.key, err)
		}
		body, n := batch(i, j)
		want, err := mustDecoder(t).Decode([]byte(body))
		if err != nil || len(c.rows) != n {
			t.Fatalf("batch %s: %d rows, want %d (%v)", c.key, len(c.rows), n, err)
		}
		for k := range want {
			for a := range want[k] {
				if !c.rows[k][a].Equal(want[k][a]) {
					t.Errorf("batch %s row %d value %d = %v, want %v", c.key, k, a, c.rows[k][a], want[k][a])
				}
			}
		}
	}
}

// tryChunked posts body without a Content-Length.
func tryChunked(url, body, key string) (response, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(body[:len(body)/2]))
		pw.Write([]byte(body[len(body)/2:]))
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, url, pr)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	var r response
	r.status, r.header = resp.StatusCode, resp.Header
	err = json.NewDecoder(resp.Body).Decode(&r.body)
	return r, err
}

func mustDecoder(t *testing.T) *jsonmap.Decoder {
	t.Helper()
	d, err := jsonmap.NewDecoder(schema, source.MapSpec{Type: "json"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHTTPListenOverride(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	spec := newSpec(map[string]string{"receiver.url": "http://0.0.0.0:8280/stocks"})
	src, err := New(ss, spec, ing, source.Env{HTTPListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer src.Stop(context.Background())
	host, _, _ := net.SplitHostPort(src.Addr().String())
	if host != "127.0.0.1" {
		t.Errorf("listening on %s, want 127.0.0.1", src.Addr())
	}
	if r := post(t, "http://"+src.Addr().String()+"/stocks", goodBody, nil); r.status != 200 {
		t.Errorf("POST = %d", r.status)
	}
}

func TestServersClose(t *testing.T) {
	ss := NewServers(nil)
	src, _ := start(t, ss, "/s", &fakeIngester{}, nil)
	addr := src.Addr().String()
	if err := ss.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("listener %s still open after Close", addr)
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Errorf("Stop after Close: %v", err)
	}
	if err := src.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Start after Close = %v, want closed error", err)
	}
}

func TestListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	src, err := New(ss, newSpec(map[string]string{"receiver.url": "http://" + busy.Addr().String() + "/s"}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Start on a busy port = %v, want a listen error", err)
	}
}

func TestNewErrors(t *testing.T) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	ing := &fakeIngester{}
	tests := []struct {
		name    string
		options map[string]string
		mapSpec source.MapSpec
		env     source.Env
		want    string
	}{
		{"no url", map[string]string{}, source.MapSpec{}, source.Env{}, `option "receiver.url" is required`},
		{"blank url", map[string]string{"receiver.url": " "}, source.MapSpec{}, source.Env{}, `option "receiver.url" is required`},
		{"https", map[string]string{"receiver.url": "https://0.0.0.0:8443/s"}, source.MapSpec{}, source.Env{}, "https is not supported"},
		{"scheme", map[string]string{"receiver.url": "tcp://0.0.0.0:80/s"}, source.MapSpec{}, source.Env{}, `scheme "tcp" is not http`},
		{"no scheme", map[string]string{"receiver.url": "0.0.0.0:8280/s"}, source.MapSpec{}, source.Env{}, `receiver.url`},
		{"no host", map[string]string{"receiver.url": "http:///s"}, source.MapSpec{}, source.Env{}, "no host:port"},
		{"bad port", map[string]string{"receiver.url": "http://0.0.0.0:99999/s"}, source.MapSpec{}, source.Env{}, "receiver.url"},
		{"query", map[string]string{"receiver.url": "http://0.0.0.0:8280/s?x=1"}, source.MapSpec{}, source.Env{}, "query or fragment"},
		{"user", map[string]string{"receiver.url": "http://u:p@0.0.0.0:8280/s"}, source.MapSpec{}, source.Env{}, "user info"},
		{"unparsable", map[string]string{"receiver.url": "http://[::1/s"}, source.MapSpec{}, source.Env{}, "receiver.url"},
		{"unknown option", map[string]string{"receiver.url": "http://0.0.0.0:8280/s", "basic.auth.enabled": "true"}, source.MapSpec{}, source.Env{},
			`unknown option "basic.auth.enabled" (known: max.body.size, receiver.url)`},
		{"bad size", map[string]string{"receiver.url": "http://0.0.0.0:8280/s", "max.body.size": "big"}, source.MapSpec{}, source.Env{}, `option "max.body.size"`},
		{"map type", map[string]string{"receiver.url": "http://0.0.0.0:8280/s"}, source.MapSpec{Type: "xml"}, source.Env{}, `unknown map type "xml"`},
		{"map option", map[string]string{"receiver.url": "http://0.0.0.0:8280/s"}, source.MapSpec{Options: map[string]string{"x": "1"}}, source.Env{}, `@map(type='json'): unknown option "x"`},
		{"bad override", map[string]string{"receiver.url": "http://0.0.0.0:8280/s"}, source.MapSpec{}, source.Env{HTTPListen: "8281"}, "listen address override"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := newSpec(tc.options)
			spec.Map = tc.mapSpec
			_, err := Factory(ss)(spec, ing, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Factory error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(ss, newSpec(map[string]string{"receiver.url": "http://0.0.0.0:8280/s"}), nil, source.Env{}); err == nil {
		t.Error("nil Ingester accepted")
	}
	if _, err := New(nil, newSpec(map[string]string{"receiver.url": "http://0.0.0.0:8280/s"}), ing, source.Env{}); err == nil {
		t.Error("nil Servers accepted")
	}
}

func TestParseReceiverURL(t *testing.T) {
	tests := []struct{ url, addr, path string }{
		{"http://0.0.0.0:8280/stocks", "0.0.0.0:8280", "/stocks"},
		{"http://localhost/a/b", "localhost:80", "/a/b"},
		{"http://[::1]:9000", "[::1]:9000", "/"},
		{" http://h:1/x/ ", "h:1", "/x/"},
	}
	for _, tc := range tests {
		addr, path, err := parseReceiverURL(tc.url)
		if err != nil || addr != tc.addr || path != tc.path {
			t.Errorf("parseReceiverURL(%q) = %q, %q, %v; want %q, %q", tc.url, addr, path, err, tc.addr, tc.path)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStartWaitsForClosingListener(t *testing.T) {
	// While the last source of an address is shutting its server down, a new
	// source for that address waits for the port instead of failing to bind.
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	a, _ := start(t, ss, "/a", &fakeIngester{}, nil)

	// A client that has sent half a request keeps the server's Shutdown
	// waiting until the connection goes away.
	conn, err := net.Dial("tcp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /a HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the server read it

	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	waitFor(t, func() bool {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return len(ss.closing) == 1
	})

	b, err := New(ss, newSpec(map[string]string{"receiver.url": "http://127.0.0.1:0/b"}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- b.Start(context.Background()) }()
	select {
	case err := <-started:
		t.Fatalf("Start returned (%v) while the address was closing", err)
	case <-time.After(50 * time.Millisecond):
	}
	conn.Close()
	if err := <-stopped; err != nil {
		t.Errorf("Stop a: %v", err)
	}
	if err := <-started; err != nil {
		t.Fatalf("Start b: %v", err)
	}
	if r := post(t, "http://"+b.Addr().String()+"/b", goodBody, nil); r.status != 200 {
		t.Errorf("POST b = %d", r.status)
	}

	// A Start whose context ends while it waits gives up with that error.
	conn2, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if _, err := conn2.Write([]byte("POST /b HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	go func() { stopped <- b.Stop(context.Background()) }()
	waitFor(t, func() bool {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return len(ss.closing) == 1
	})
	c, err := New(ss, newSpec(map[string]string{"receiver.url": "http://127.0.0.1:0/c"}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := c.Start(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for 127.0.0.1:0 to close") {
		t.Errorf("Start with an expiring context = %v", err)
	}
	conn2.Close()
	if err := <-stopped; err != nil {
		t.Errorf("Stop b: %v", err)
	}
}

func BenchmarkPost100(b *testing.B) {
	ss := NewServers(nil)
	defer ss.Close(context.Background())
	src, err := New(ss, newSpec(map[string]string{"receiver.url": "http://127.0.0.1:0/s"}), &fakeIngester{}, source.Env{})
	if err != nil {
		b.Fatal(err)
	}
	src.ing = nopIngester{}
	if err := src.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer src.Stop(context.Background())
	url := "http://" + src.Addr().String() + "/s"
	var body strings.Builder
	body.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"event":{"symbol":"S%d","price":%d.5}}`, i, i)
	}
	body.WriteByte(']')
	payload := body.String()
	client := &http.Client{}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(url, "application/json", strings.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

type nopIngester struct{}

func (nopIngester) Ingest(context.Context, string, [][]event.Value, string) error { return nil }
