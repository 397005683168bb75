package natssource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Trades", Attrs: []event.Attribute{
	{Name: "sym", Type: event.String},
	{Name: "n", Type: event.Long},
}}

func spec(options map[string]string) source.Spec {
	return source.Spec{App: "app", Stream: schema, Type: Type, Options: options, Map: source.MapSpec{Type: "json"}}
}

func TestNewErrors(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"destination": "a.b"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<delete>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		options map[string]string
		want    string
	}{
		{base("destination", "<delete>"), `option "destination" (the subject) is required`},
		{base("destination", "a..b"), "empty token"},
		{base("destination", "a.>.b"), "'>' must be the last token"},
		{base("destination", "a.b*"), "wildcards must be whole tokens"},
		{base("destination", "a b"), "whitespace"},
		{base("queue.group.name", "g"), `unknown option "queue.group.name"`},
		{base("streaming.cluster.id", "c"), `unknown option "streaming.cluster.id"`},
		{base("stream.name", "a.b"), "not a valid stream name"},
		{base("durable.name", "d*"), "not a valid consumer name"},
		{base("durable.name", ""), "not a valid consumer name"},
		{base("subscription.sequence", "0"), "not a stream sequence"},
		{base("subscription.sequence", "x"), "not a stream sequence"},
		{base("ack.wait", "soon"), "neither seconds nor a duration"},
		{base("ack.wait", "0"), "must be positive"},
		{base("ack.wait", "100ms"), "shorter than a second"},
		{base("ack.wait", "99999999"), "more than a day"},
		{base("buffer.size", "0"), "not a count from 1 to 65536"},
		{base("buffer.size", "lots"), "not a count from 1 to 65536"},
		{base("server.urls", "http://x:4222"), `scheme "http" is not nats, tls, ws or wss`},
		{base("server.urls", "nats://:4222"), "no host"},
		{base("server.urls", "nats://h:99999"), "bad port"},
		{base("server.urls", " , "), "no server URL"},
		{base("server.urls", "nats://u:p@h:4222"), "credentials in the URL"},
		{base("server.urls", "nats://a:4222", "bootstrap.servers", "nats://b:4222"), "disagree"},
		{base("bootstrap.servers", "ftp://x"), `option "bootstrap.servers"`},
		{base("username", "u"), "need auth.type"},
		{base("auth.type", "user"), `needs option "username"`},
		{base("auth.type", "user", "username", "u", "token", "t"), "does not go with"},
		{base("auth.type", "token"), `needs option "token"`},
		{base("auth.type", "token", "token", "t", "password", "p"), "do not go with"},
		{base("auth.type", "tls"), "not supported"},
		{base("auth.type", "kerberos"), "is not user or token"},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), &fakeIngester{}, source.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) error = %v, want %q", tc.options, err, tc.want)
		}
	}

	if _, err := New(spec(base()), nil, source.Env{}); err == nil {
		t.Error("New without an Ingester succeeded")
	}
	sp := spec(base())
	sp.Stream = nil
	if _, err := New(sp, &fakeIngester{}, source.Env{}); err == nil {
		t.Error("New without a schema succeeded")
	}
	sp = spec(base())
	sp.Map = source.MapSpec{Type: "xml"}
	if _, err := New(sp, &fakeIngester{}, source.Env{}); err == nil || !strings.Contains(err.Error(), "unknown map type") {
		t.Errorf("New with @map(type='xml') error = %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(spec(map[string]string{"destination": "orders.>"}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.durable != "tandem-app-Trades" || s.jsStream != "" || s.ackWait != DefaultAckWait || s.buffer != DefaultBufferSize {
		t.Errorf("defaults: durable %q stream %q ack.wait %v buffer %d", s.durable, s.jsStream, s.ackWait, s.buffer)
	}
	if got := strings.Join(s.conn.Servers, ","); got != DefaultServers {
		t.Errorf("servers = %s", got)
	}

	s, err = New(spec(map[string]string{
		"destination": "orders.*", "stream.name": "ORDERS", "durable.name": "d1", "subscription.sequence": "7",
		"ack.wait": "30", "buffer.size": "8", "bootstrap.servers": "nats://a:4222, tls://b",
		"client.id": "me", "auth.type": "USER", "username": "u", "password": "p",
	}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.durable != "d1" || s.jsStream != "ORDERS" || s.startSeq != 7 || s.ackWait != 30*time.Second || s.buffer != 8 {
		t.Errorf("options: %+v", s)
	}
	want := Conn{Servers: []string{"nats://a:4222", "tls://b"}, Name: "me", User: "u", Password: "p"}
	if fmt.Sprint(s.conn) != fmt.Sprint(want) {
		t.Errorf("conn = %+v, want %+v", s.conn, want)
	}
}

func TestDefaultDurable(t *testing.T) {
	tests := []struct{ app, stream, want string }{
		{"app", "S", "tandem-app-S"},
		{"my app.v2", "In*", "tandem-my_app_v2-In_"},
		{"ü", "s", "tandem-__-s"},
		{strings.Repeat("a", 300), "s", "tandem-" + strings.Repeat("a", 248)},
	}
	for _, tc := range tests {
		got := DefaultDurable(tc.app, tc.stream)
		if got != tc.want || !ValidName(got) {
			t.Errorf("DefaultDurable(%q, %q) = %q, want %q", tc.app, tc.stream, got, tc.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		v    string
		want time.Duration
		err  bool
	}{
		{"5", 5 * time.Second, false},
		{" 1500ms ", 1500 * time.Millisecond, false},
		{"2m", 2 * time.Minute, false},
		{"-1", 0, true},
		{"0s", 0, true},
		{"x", 0, true},
	}
	for _, tc := range tests {
		got, err := Seconds("@x", map[string]string{"k": tc.v}, "k", time.Hour)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Seconds(%q) = %v, %v; want %v, error %v", tc.v, got, err, tc.want, tc.err)
		}
	}
	if got, err := Seconds("@x", nil, "k", time.Hour); got != time.Hour || err != nil {
		t.Errorf("Seconds(absent) = %v, %v", got, err)
	}
}

// FuzzNew checks that no option value makes New panic and that what it
// accepts is usable.
func FuzzNew(f *testing.F) {
	f.Add("a.b", "S", "d", "1", "10", "64", "nats://127.0.0.1:4222")
	f.Add("a.>", "", "", "", "1500ms", "1", "tls://h,ws://h:80")
	f.Add("*.*", "s.t", "d d", "-1", "0", "0", "nats://:0")
	f.Add("", "\x00", ">", "18446744073709551616", "1e9", "65537", "nats://[::1]:4222")
	f.Fuzz(func(t *testing.T, dest, stream, durable, seq, ackWait, buffer, servers string) {
		options := map[string]string{"destination": dest, "durable.name": durable, "server.urls": servers}
		if stream != "" {
			options["stream.name"] = stream
		}
		if seq != "" {
			options["subscription.sequence"] = seq
		}
		options["ack.wait"], options["buffer.size"] = ackWait, buffer
		s, err := New(spec(options), &fakeIngester{}, source.Env{})
		if err != nil {
			return
		}
		if !ValidName(s.durable) || checkSubject(s.subject) != nil || s.buffer < 1 || s.ackWait < time.Second || len(s.conn.Servers) == 0 {
			t.Errorf("accepted bad options %v: %+v", options, s)
		}
	})
}

// --- against a NATS server ---

// call is one Ingester call: key for Ingest, keys for IngestKeyed.
type call struct {
	stream string
	rows   [][]event.Value
	key    string
	keys   []string
}

// fakeIngester records batches; it has Ingest only, like an Ingester that
// takes one key per batch. hook, when set, runs first with the call's keys
// and its error is returned.
type fakeIngester struct {
	hook func(ctx context.Context, keys []string) error

	mu    sync.Mutex
	calls []call
	tried [][]string // the keys of every call, taken or not
}

func (f *fakeIngester) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	return f.record(ctx, call{stream: stream, rows: rows, key: key}, []string{key})
}

func (f *fakeIngester) record(ctx context.Context, c call, keys []string) error {
	f.mu.Lock()
	f.tried = append(f.tried, keys)
	f.mu.Unlock()
	if f.hook != nil {
		if err := f.hook(ctx, keys); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return nil
}

func (f *fakeIngester) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeIngester) Tried() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.tried...)
}

// Rows returns every event taken, in order, as "<values>@<key>": the key of
// its own for IngestKeyed, the batch's key for Ingest.
func (f *fakeIngester) Rows() []string {
	var out []string
	for _, c := range f.Calls() {
		for i, r := range c.rows {
			k := c.key
			if c.keys != nil {
				k = "<no key>"
				if i < len(c.keys) {
					k = c.keys[i]
				}
			}
			out = append(out, fmt.Sprint(r)+"@"+k)
		}
	}
	return out
}

// keyedIngester is a fakeIngester that is also a source.KeyedIngester, as
// the host's is.
type keyedIngester struct{ *fakeIngester }

func (k keyedIngester) IngestKeyed(ctx context.Context, stream string, rows [][]event.Value, keys []string) error {
	if len(keys) != len(rows) {
		return fmt.Errorf("%d rows with %d keys", len(rows), len(keys))
	}
	return k.record(ctx, call{stream: stream, rows: rows, keys: keys}, keys)
}

// modes runs a test against both kinds of Ingester.
var modes = []struct {
	name  string
	keyed bool
	wrap  func(*fakeIngester) source.Ingester
}{
	{"plain", false, func(f *fakeIngester) source.Ingester { return f }},
	{"keyed", true, func(f *fakeIngester) source.Ingester { return keyedIngester{f} }},
}

const natsURL = "nats://127.0.0.1:4222"

// jetStream connects to the local NATS server and creates a stream with a
// unique name and subject prefix, deleted when the test ends. It skips when
// the server is not reachable, unless TANDEM_REQUIRE_SERVICES=1.
func jetStream(t testing.TB) (js jetstream.JetStream, stream, prefix string) {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
			t.Fatalf("NATS at %s: %v", natsURL, err)
		}
		t.Skipf("NATS at %s not reachable: %v", natsURL, err)
	}
	t.Cleanup(nc.Close)
	if js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	stream, prefix = "TANDEM_TEST_"+id, "tandem.test."+id
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatalf("create stream (is JetStream enabled?): %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil {
			t.Errorf("delete stream %s: %v", stream, err)
		}
	})
	return js, stream, prefix
}

func publish(t testing.TB, js jetstream.JetStream, subject string, bodies ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, b := range bodies {
		if _, err := js.Publish(ctx, subject, []byte(b)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

func newSource(t testing.TB, ing source.Ingester, options map[string]string) *Source {
	t.Helper()
	options["server.urls"] = natsURL
	s, err := New(spec(options), ing, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func stop(t testing.TB, s *Source, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Stop(ctx)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func consumerInfo(t testing.TB, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestConsume(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			js, stream, prefix := jetStream(t)
			publish(t, js, prefix+".new",
				`{"event":{"sym":"A","n":1}}`,
				`[{"sym":"B","n":2},{"sym":"C","n":3}]`,
				`{"sym":"bad","n":"x"}`, // does not decode: terminated, not ingested
				`[]`,
				`{"sym":"D","n":4}`)
			f := &fakeIngester{}
			// No stream.name: the source asks the server which stream holds the subject.
			s := newSource(t, m.wrap(f), map[string]string{"destination": prefix + ".new", "durable.name": "d"})
			waitFor(t, "four events", func() bool { return len(f.Rows()) == 4 })
			// Everything was acknowledged (or terminated): nothing is pending.
			waitFor(t, "the ack floor at 5", func() bool {
				info := consumerInfo(t, js, stream, "d")
				return info.AckFloor.Stream == 5 && info.NumAckPending == 0
			})
			if err := stop(t, s, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			k1, k2, k5 := Key(stream, "d", 1), Key(stream, "d", 2), Key(stream, "d", 5)
			want := []string{"[A 1]@" + k1, "[B 2]@" + k2, "[C 3]@" + k2, "[D 4]@" + k5}
			if m.keyed {
				// Each event of message 2 has a key of its own.
				want[1], want[2] = "[B 2]@"+k2+"/0", "[C 3]@"+k2+"/1"
			} else if n := len(f.Calls()); n != 3 {
				t.Errorf("%d Ingest calls, want one per message with events (3)", n)
			}
			if got := f.Rows(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("events %q, want %q", got, want)
			}
			for _, c := range f.Calls() {
				if c.stream != "Trades" || (c.keys == nil) == m.keyed {
					t.Errorf("call %+v: wrong stream or Ingester method", c)
				}
			}

			// Started again, it continues after what was acknowledged.
			publish(t, js, prefix+".new", `{"sym":"E","n":5}`)
			s = newSource(t, m.wrap(f), map[string]string{"destination": prefix + ".new", "durable.name": "d", "stream.name": stream})
			defer stop(t, s, 5*time.Second)
			waitFor(t, "the fifth event", func() bool { return len(f.Rows()) == 5 })
			if got, want := f.Rows()[4], "[E 5]@"+Key(stream, "d", 6); got != want {
				t.Errorf("after restart: %q, want %q", got, want)
			}
		})
	}
}

// TestKeyedBatches: with a KeyedIngester, the messages received while the
// app is busy go to it in one call, in order, and are all acknowledged.
func TestKeyedBatches(t *testing.T) {
	js, stream, prefix := jetStream(t)
	const n = 20
	var bodies []string
	for i := 1; i <= n; i++ {
		switch i {
		case 5:
			bodies = append(bodies, `[{"sym":"M","n":50},{"sym":"M","n":51},{"sym":"M","n":52}]`)
		case 7:
			bodies = append(bodies, `not json`)
		default:
			bodies = append(bodies, fmt.Sprintf(`{"sym":"S","n":%d}`, i))
		}
	}
	publish(t, js, prefix+".x", bodies...)
	first := true
	f := &fakeIngester{hook: func(ctx context.Context, _ []string) error {
		if first {
			// Hold the first call until the broker has sent every message
			// and they have had time to arrive. (Not waitFor: this is not
			// the test's goroutine.)
			first = false
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				c, err := js.Consumer(ctx, stream, "kb")
				if err != nil {
					continue
				}
				if info, err := c.Info(ctx); err == nil && info.Delivered.Stream == n {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		return nil
	}}
	s := newSource(t, keyedIngester{f}, map[string]string{"destination": prefix + ".x", "stream.name": stream, "durable.name": "kb"})
	defer stop(t, s, 5*time.Second)
	waitFor(t, "the ack floor at 20", func() bool {
		info := consumerInfo(t, js, stream, "kb")
		return info.AckFloor.Stream == n && info.NumAckPending == 0
	})
	var want []string
	for i := 1; i <= n; i++ {
		k := Key(stream, "kb", uint64(i))
		switch i {
		case 5:
			want = append(want, "[M 50]@"+k+"/0", "[M 51]@"+k+"/1", "[M 52]@"+k+"/2")
		case 7:
		default:
			want = append(want, fmt.Sprintf("[S %d]@%s", i, k))
		}
	}
	if got := f.Rows(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
	t.Logf("%d messages in %d calls", n, len(f.Calls()))
	if c := len(f.Calls()); c > 2 {
		t.Errorf("%d calls: the messages that waited for the first call were not taken in one", c)
	}
}

func TestAppendKeys(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "[x]"},
		{1, "[x k]"},
		{3, "[x k/0 k/1 k/2]"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(appendKeys([]string{"x"}, "k", tc.n)); got != tc.want {
			t.Errorf("appendKeys(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestKeyedDetected(t *testing.T) {
	for _, m := range modes {
		s, err := New(spec(map[string]string{"destination": "a"}), m.wrap(&fakeIngester{}), source.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if (s.keyed != nil) != m.keyed {
			t.Errorf("%s: keyed = %v", m.name, s.keyed != nil)
		}
	}
}

// TestRedeliveredSameKey logs a message and "crashes" before acknowledging it
// (the connection is gone when the Ingester returns); the next active gets
// the message again from the broker with the same key, so the app drops it.
func TestRedeliveredSameKey(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			js, stream, prefix := jetStream(t)
			publish(t, js, prefix+".x", `{"sym":"A","n":1}`)
			options := map[string]string{"destination": prefix + ".x", "stream.name": stream, "durable.name": "ha", "ack.wait": "1"}

			var crashed sync.Once
			var first *Source
			started := make(chan struct{})
			ing1 := &fakeIngester{hook: func(context.Context, []string) error {
				<-started
				crashed.Do(func() { first.nc.Close() }) // the ack cannot go out
				return nil
			}}
			first = newSource(t, m.wrap(ing1), options)
			close(started)
			waitFor(t, "the first delivery", func() bool { return len(ing1.Rows()) == 1 })
			_ = stop(t, first, 2*time.Second)

			ing2 := &fakeIngester{}
			second := newSource(t, m.wrap(ing2), options)
			defer stop(t, second, 5*time.Second)
			waitFor(t, "the redelivery", func() bool { return len(ing2.Rows()) == 1 })
			want := "[A 1]@" + Key(stream, "ha", 1)
			if r1, r2 := ing1.Rows()[0], ing2.Rows()[0]; r1 != want || r2 != want {
				t.Errorf("delivered as %q and %q, want both %q", r1, r2, want)
			}
			waitFor(t, "the ack", func() bool { return consumerInfo(t, js, stream, "ha").AckFloor.Stream == 1 })
		})
	}
}

// TestStopGivesBack stops the source while the app holds the first message:
// that call is cancelled, and every message, those of the call and the
// buffered ones, goes straight back to the broker (nak), long before
// ack.wait.
func TestStopGivesBack(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			js, stream, prefix := jetStream(t)
			var bodies []string
			for i := range 10 {
				bodies = append(bodies, fmt.Sprintf(`{"sym":"S","n":%d}`, i))
			}
			publish(t, js, prefix+".x", bodies...)
			options := map[string]string{"destination": prefix + ".x", "stream.name": stream, "durable.name": "g", "ack.wait": "60"}

			entered := make(chan struct{}, 1)
			ing1 := &fakeIngester{hook: func(ctx context.Context, _ []string) error {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-ctx.Done()
				return ctx.Err()
			}}
			first := newSource(t, m.wrap(ing1), options)
			<-entered
			waitFor(t, "the buffer to fill", func() bool { return consumerInfo(t, js, stream, "g").NumAckPending == 10 })
			if err := stop(t, first, 200*time.Millisecond); err == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Stop with a blocked Ingester = %v, want the deadline", err)
			}
			if n := len(ing1.Calls()); n != 0 {
				t.Fatalf("blocked ingester took %d batches", n)
			}

			ing2 := &fakeIngester{}
			began := time.Now()
			second := newSource(t, m.wrap(ing2), options)
			defer stop(t, second, 5*time.Second)
			waitFor(t, "all ten", func() bool { return len(ing2.Rows()) == 10 })
			if d := time.Since(began); d > 30*time.Second {
				t.Errorf("redelivery took %v: the messages were not given back", d)
			}
			var want []string
			for i := range 10 {
				want = append(want, fmt.Sprintf("[S %d]@%s", i, Key(stream, "g", uint64(i+1))))
			}
			if got := ing2.Rows(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("delivered again %q, want %q", got, want)
			}
			tried := ing1.Tried()
			if len(tried) != 1 || len(tried[0]) == 0 || tried[0][0] != Key(stream, "g", 1) || !m.keyed && len(tried[0]) != 1 {
				t.Errorf("first source tried %q, want one call starting at message 1", tried)
			}
		})
	}
}

// TestIngestRetried: a batch the app refuses is retried in place, in order,
// with the same keys, and acknowledged once taken.
func TestIngestRetried(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			js, stream, prefix := jetStream(t)
			publish(t, js, prefix+".x", `{"sym":"A","n":1}`, `{"sym":"B","n":2}`)
			var mu sync.Mutex
			fails := 3
			ing := &fakeIngester{hook: func(context.Context, []string) error {
				mu.Lock()
				defer mu.Unlock()
				if fails > 0 {
					fails--
					return errors.New("queue full")
				}
				return nil
			}}
			s := newSource(t, m.wrap(ing), map[string]string{"destination": prefix + ".x", "stream.name": stream, "durable.name": "r"})
			defer stop(t, s, 5*time.Second)
			waitFor(t, "both events", func() bool { return len(ing.Rows()) == 2 })
			k1, k2 := Key(stream, "r", 1), Key(stream, "r", 2)
			if got, want := ing.Rows(), []string{"[A 1]@" + k1, "[B 2]@" + k2}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("events %q, want %q", got, want)
			}
			// The first call is tried four times alike; with Ingest the
			// second message then has a call of its own.
			tried := ing.Tried()
			if len(tried) != 3+len(ing.Calls()) || tried[0][0] != k1 {
				t.Errorf("tried %q", tried)
			}
			for i := 1; i < 4 && i < len(tried); i++ {
				if fmt.Sprint(tried[i]) != fmt.Sprint(tried[0]) {
					t.Errorf("retry %d with keys %q, first try %q", i, tried[i], tried[0])
				}
			}
			if !m.keyed && fmt.Sprint(tried[4:]) != fmt.Sprint([][]string{{k2}}) {
				t.Errorf("tried %q, want four times %q then %q", tried, k1, k2)
			}
			waitFor(t, "the ack floor at 2", func() bool { return consumerInfo(t, js, stream, "r").AckFloor.Stream == 2 })
		})
	}
}

// TestSlowIngest: while the app pushes back for longer than ack.wait, the
// source keeps the messages in progress, so the broker does not deliver them
// again.
func TestSlowIngest(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			js, stream, prefix := jetStream(t)
			publish(t, js, prefix+".x", `{"sym":"A","n":1}`)
			ing := &fakeIngester{hook: func(ctx context.Context, _ []string) error {
				select {
				case <-time.After(2500 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
			s := newSource(t, m.wrap(ing), map[string]string{"destination": prefix + ".x", "stream.name": stream, "durable.name": "slow", "ack.wait": "1"})
			defer stop(t, s, 5*time.Second)
			waitFor(t, "the batch", func() bool { return len(ing.Calls()) == 1 })
			waitFor(t, "the ack", func() bool { return consumerInfo(t, js, stream, "slow").AckFloor.Stream == 1 })
			if info := consumerInfo(t, js, stream, "slow"); info.NumRedelivered != 0 {
				t.Errorf("%d redeliveries", info.NumRedelivered)
			}
			if tried := ing.Tried(); len(tried) != 1 {
				t.Errorf("Ingester called %d times: %v", len(tried), tried)
			}
		})
	}
}

// TestStartWithoutStream: a source whose stream does not exist yet starts,
// retries in the background and consumes once the stream is there.
func TestStartWithoutStream(t *testing.T) {
	js, _, prefix := jetStream(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	late := "TANDEM_LATE_" + hex.EncodeToString(b[:])
	subj := prefix + "late.x" // outside the test stream's subjects
	subj = strings.Replace(subj, "tandem.test.", "tandem.late.", 1)
	ing := &fakeIngester{}
	s := newSource(t, keyedIngester{ing}, map[string]string{"destination": subj, "durable.name": "late"})
	defer stop(t, s, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: late, Subjects: []string{subj}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	defer js.DeleteStream(context.Background(), late)
	publish(t, js, subj, `{"sym":"L","n":1}`)
	waitFor(t, "the late message", func() bool { return len(ing.Rows()) == 1 })
	if got, want := ing.Rows()[0], "[L 1]@"+Key(late, "late", 1); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// BenchmarkConsume measures messages per second from a stream into an
// Ingester that takes each call at once ("instant") or after sleeping 100µs,
// about a replication round trip with ack: sync ("commit100us"), through
// Ingest, one call per message ("plain"), or IngestKeyed, one call per batch
// at hand ("keyed").
func BenchmarkConsume(b *testing.B) {
	for _, m := range modes {
		for _, c := range []struct {
			name  string
			delay time.Duration
		}{{"instant", 0}, {"commit100us", 100 * time.Microsecond}} {
			b.Run(m.name+"/"+c.name, func(b *testing.B) {
				js, stream, prefix := jetStream(b)
				for i := 0; i < b.N; i++ {
					if _, err := js.PublishAsync(prefix+".x", []byte(`{"sym":"S","n":1}`)); err != nil {
						b.Fatal(err)
					}
					if i%1000 == 999 || i == b.N-1 {
						select {
						case <-js.PublishAsyncComplete():
						case <-time.After(time.Minute):
							b.Fatal("publishing timed out")
						}
					}
				}
				var mu sync.Mutex
				n, calls := 0, 0
				done := make(chan struct{})
				ing := &fakeIngester{hook: func(_ context.Context, keys []string) error {
					if c.delay > 0 {
						time.Sleep(c.delay)
					}
					mu.Lock()
					defer mu.Unlock()
					calls++
					if n += len(keys); n == b.N {
						close(done)
					}
					return nil
				}}
				b.ResetTimer()
				s := newSource(b, m.wrap(ing), map[string]string{"destination": prefix + ".x", "stream.name": stream, "durable.name": "bench", "buffer.size": "256"})
				select {
				case <-done:
				case <-time.After(2 * time.Minute):
					b.Fatal("consuming timed out")
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64(b.N)/float64(calls), "msgs/call")
				_ = stop(b, s, 5*time.Second)
			})
		}
	}
}
