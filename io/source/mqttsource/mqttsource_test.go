package mqttsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Readings", Attrs: []event.Attribute{
	{Name: "id", Type: event.String},
	{Name: "v", Type: event.Double},
	{Name: "n", Type: event.Long},
	{Name: "ok", Type: event.Bool},
}}

func spec(options map[string]string) source.Spec {
	return source.Spec{App: "app", Stream: schema, Type: Type, Options: options, Map: source.MapSpec{Type: "json"}}
}

func TestNewErrors(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"url": "tcp://localhost:1883", "topic": "a/b"}
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
		{base("url", "<delete>"), `option "url" is required`},
		{base("url", "http://h:1883"), `scheme "http" is not tcp`},
		{base("url", "tcp://:1883"), "no host"},
		{base("url", "tcp://h:0"), "bad port"},
		{base("url", "tcp://u:p@h:1883"), "credentials in the URL"},
		{base("topic", "<delete>"), `option "topic" is required`},
		{base("topic", " , "), `option "topic" is required`},
		{base("topic", "a/#/b"), "'#' must be the last level"},
		{base("topic", "a/b+"), "wildcards must be whole levels"},
		{base("topic", "a,\x00"), "NUL"},
		{base("qos", "3"), `option "qos": "3" is not 0, 1 or 2`},
		{base("quality.of.service", "x"), `option "quality.of.service"`},
		{base("qos", "1", "quality.of.service", "2"), "disagree"},
		{base("client.id", " "), "is not a client id"},
		{base("password", "p"), `"password" needs "username"`},
		{base("clean.session", "maybe"), "is not true or false"},
		{base("keep.alive", "-1"), "must be positive"},
		{base("connection.timeout", "soon"), "neither seconds nor a duration"},
		{base("max.reconnect.delay", "0"), "must be positive"},
		{base("max.inflight", "10"), `unknown option "max.inflight"`},
		{base("idempotency.attribute", "nope"), `stream Readings has no attribute "nope"`},
		{base("idempotency.attribute", "v"), "is double; an id must be a string, int or long"},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), &fakeIngester{}, source.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) error = %v, want %q", tc.options, err, tc.want)
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
}

func TestNewOptions(t *testing.T) {
	s, err := New(spec(map[string]string{"url": "tcp://localhost:1883", "topic": "a/+/c, d/#"}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	b := s.broker
	if b.QoS != 1 || b.CleanSession || !b.AutoReconnect || b.KeepAlive != time.Minute || b.ConnectTimeout != 30*time.Second || b.MaxReconnectDelay != 128*time.Second {
		t.Errorf("defaults: %+v", b)
	}
	if fmt.Sprint(s.topics) != "[a/+/c d/#]" || s.idAttr != -1 {
		t.Errorf("topics %q idAttr %d", s.topics, s.idAttr)
	}
	if want := DefaultClientID("app", "Readings", "tcp://localhost:1883", "a/+/c,d/#"); b.ClientID != want {
		t.Errorf("client id %q, want %q", b.ClientID, want)
	}
	if DefaultClientID("app", "S", "tcp://h:1", "a") == DefaultClientID("app", "S", "tcp://h:1", "b") {
		t.Error("different topics share a default client id")
	}

	s, err = New(spec(map[string]string{
		"url": "ssl://h", "topic": "t", "quality.of.service": "2", "client.id": "me", "username": "u", "password": "p",
		"clean.session": "TRUE", "keep.alive": "5", "connection.timeout": "1500ms", "automatic.reconnect": "false",
		"max.reconnect.delay": "2000", "idempotency.attribute": "n",
	}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	want := Broker{URL: "ssl://h", ClientID: "me", User: "u", Password: "p", CleanSession: true, KeepAlive: 5 * time.Second,
		ConnectTimeout: 1500 * time.Millisecond, MaxReconnectDelay: 2 * time.Second, QoS: 2}
	if s.broker != want || s.idAttr != 2 {
		t.Errorf("broker %+v idAttr %d, want %+v", s.broker, s.idAttr, want)
	}
}

func TestCheckTopic(t *testing.T) {
	tests := []struct {
		topic      string
		filter, ok bool
	}{
		{"a/b", false, true},
		{"a/b", true, true},
		{"/", false, true},
		{"a/+", false, false},
		{"a/+", true, true},
		{"#", true, true},
		{"a/#", true, true},
		{"a/#/b", true, false},
		{"a#", true, false},
		{"+a", true, false},
		{"", true, false},
		{"a\x00", false, false},
		{strings.Repeat("a", 65536), false, false},
	}
	for _, tc := range tests {
		if err := CheckTopic(tc.topic, tc.filter); (err == nil) != tc.ok {
			t.Errorf("CheckTopic(%.20q, %v) = %v, want ok %v", tc.topic, tc.filter, err, tc.ok)
		}
	}
}

func TestKey(t *testing.T) {
	long := strings.Repeat("x", maxKeyID+1)
	tests := []struct {
		v    event.Value
		want string
	}{
		{event.StringValue("a-1"), "mqtt:S:a-1"},
		{event.LongValue(-42), "mqtt:S:-42"},
		{event.IntValue(7), "mqtt:S:7"},
		{event.NullValue(), ""},
		{event.StringValue(strings.Repeat("x", maxKeyID)), "mqtt:S:" + strings.Repeat("x", maxKeyID)},
	}
	for _, tc := range tests {
		if got := Key("S", tc.v); got != tc.want {
			t.Errorf("Key(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if k := Key("S", event.StringValue(long)); !strings.HasPrefix(k, "mqtt:S:sha256:") || len(k) != len("mqtt:S:sha256:")+64 {
		t.Errorf("long id key %q", k)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("tcp://127.0.0.1:1883", "a/b", "1", "false", "60", "id")
	f.Add("ws://h/mqtt", "a/+/#,b", "2", "TRUE", "1500ms", "")
	f.Add("tcp://[::1]:0", "#/a", "x", "yes", "-1", "v")
	f.Fuzz(func(t *testing.T, url, topic, qos, clean, keepAlive, idAttr string) {
		options := map[string]string{"url": url, "topic": topic, "qos": qos, "clean.session": clean, "keep.alive": keepAlive}
		if idAttr != "" {
			options["idempotency.attribute"] = idAttr
		}
		s, err := New(spec(options), &fakeIngester{}, source.Env{})
		if err != nil {
			return
		}
		for _, tp := range s.topics {
			if CheckTopic(tp, true) != nil {
				t.Errorf("accepted topic %q", tp)
			}
		}
		if len(s.topics) == 0 || s.broker.QoS > 2 || s.broker.KeepAlive <= 0 || s.broker.ClientID == "" {
			t.Errorf("accepted bad options %q: %+v", options, s.broker)
		}
	})
}

// --- against an MQTT broker ---

const brokerURL = "tcp://127.0.0.1:1883"

// call is one Ingester call: key for Ingest, keys for IngestKeyed.
type call struct {
	rows [][]event.Value
	key  string
	keys []string
}

// fakeIngester records batches; it has Ingest only, like an Ingester that
// takes one key per batch. hook, when set, runs first and its error is
// returned.
type fakeIngester struct {
	hook func(ctx context.Context, rows [][]event.Value) error

	mu    sync.Mutex
	calls []call
}

func (f *fakeIngester) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	return f.record(ctx, stream, call{rows: rows, key: key})
}

func (f *fakeIngester) record(ctx context.Context, stream string, c call) error {
	if stream != schema.Name {
		return fmt.Errorf("stream %q", stream)
	}
	if f.hook != nil {
		if err := f.hook(ctx, c.rows); err != nil {
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
	return k.record(ctx, stream, call{rows: rows, keys: keys})
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

func TestKeyedDetected(t *testing.T) {
	for _, m := range modes {
		s, err := New(spec(map[string]string{"url": brokerURL, "topic": "t"}), m.wrap(&fakeIngester{}), source.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if (s.keyed != nil) != m.keyed {
			t.Errorf("%s: keyed = %v", m.name, s.keyed != nil)
		}
	}
}

// needBroker skips when the local broker is not reachable, unless
// TANDEM_REQUIRE_SERVICES=1, and returns a unique name for topics and
// client ids.
func needBroker(t testing.TB) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:1883", 2*time.Second)
	if err != nil {
		if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
			t.Fatalf("MQTT broker at %s: %v", brokerURL, err)
		}
		t.Skipf("MQTT broker at %s not reachable: %v", brokerURL, err)
	}
	c.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "tandem-test-" + hex.EncodeToString(b[:])
}

// dropSession removes the broker's session of clientID: the tests leave
// nothing behind.
func dropSession(t testing.TB, clientID string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(clientID).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Errorf("drop session %s: %v", clientID, tok.Error())
		return
	}
	c.Disconnect(100)
}

// publisher returns a function that publishes bodies to topic with QoS 1
// and waits for each PUBACK.
func publisher(t testing.TB, id, topic string) func(bodies ...string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id + "-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return func(bodies ...string) {
		t.Helper()
		for _, b := range bodies {
			if tok := c.Publish(topic, 1, false, b); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}
}

func newSource(t testing.TB, ing source.Ingester, options map[string]string) *Source {
	t.Helper()
	options["url"] = brokerURL
	s, err := New(spec(options), ing, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitSubscribed publishes a marker until the source has seen one, so that
// a test's messages are not published before the subscription exists.
func waitSubscribed(t testing.TB, pub func(...string), ing *fakeIngester) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(ing.Calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the source never received the marker")
		}
		pub(`{"id":"marker","v":0,"n":0,"ok":true}`)
		time.Sleep(50 * time.Millisecond)
	}
	// Let markers still in flight arrive, then forget them.
	time.Sleep(100 * time.Millisecond)
	ing.mu.Lock()
	ing.calls = nil
	ing.mu.Unlock()
}

func stop(t testing.TB, s *Source, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Stop(ctx)
}

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

func TestConsume(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			id := needBroker(t)
			topic := id + "/in"
			pub := publisher(t, id, topic)
			ing := &fakeIngester{}
			s := newSource(t, m.wrap(ing), map[string]string{"topic": id + "/+", "client.id": id, "clean.session": "true"})
			defer stop(t, s, 5*time.Second)
			waitSubscribed(t, pub, ing)

			pub(`{"event":{"id":"a","v":1.5,"n":1,"ok":true}}`,
				`[{"id":"b","v":2,"n":2,"ok":false},{"id":"c","v":3,"n":3,"ok":null}]`,
				`{"id":"bad"`, // does not decode: acknowledged and dropped
				`[]`,
				`{"id":"d","v":4,"n":4,"ok":true}`)
			waitFor(t, "four events", func() bool { return len(ing.Rows()) == 4 })
			want := []string{"[a 1.5 1 true]@", "[b 2.0 2 false]@", "[c 3.0 3 null]@", "[d 4.0 4 true]@"}
			if got := ing.Rows(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("events %q, want %q (no keys)", got, want)
			}
			for _, c := range ing.Calls() {
				if (c.keys != nil) != m.keyed {
					t.Errorf("call %+v through the wrong Ingester method", c)
				}
			}
			if n := len(ing.Calls()); !m.keyed && n != 3 {
				t.Errorf("%d Ingest calls, want one per message with events (3)", n)
			}
		})
	}
}

// TestAckAfterIngest: a message the app has not taken is not acknowledged,
// so when the source stops (the active goes away) the broker keeps it in
// the session and hands it, with what was published meanwhile, to the next
// source with the same client id; a message that was taken is not handed
// over again.
func TestAckAfterIngest(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			id := needBroker(t)
			topic := id + "/in"
			pub := publisher(t, id, topic)
			defer dropSession(t, id)
			options := func() map[string]string {
				return map[string]string{"topic": topic, "client.id": id, "qos": "1"}
			}

			var mu sync.Mutex
			block := false
			entered := make(chan struct{}, 1)
			ing1 := &fakeIngester{hook: func(ctx context.Context, rows [][]event.Value) error {
				mu.Lock()
				b := block
				mu.Unlock()
				if !b {
					return nil
				}
				select {
				case entered <- struct{}{}:
				default:
				}
				<-ctx.Done()
				return ctx.Err()
			}}
			first := newSource(t, m.wrap(ing1), options())
			waitSubscribed(t, pub, ing1)
			pub(`{"id":"taken","v":1,"n":1,"ok":true}`)
			waitFor(t, "the first message", func() bool { return len(ing1.Rows()) == 1 })
			mu.Lock()
			block = true
			mu.Unlock()
			pub(`{"id":"held","v":2,"n":2,"ok":true}`)
			<-entered
			if err := stop(t, first, 200*time.Millisecond); err == nil {
				t.Error("Stop with a blocked Ingester reported no error")
			}
			pub(`{"id":"offline","v":3,"n":3,"ok":true}`) // while no node is connected

			ing2 := &fakeIngester{}
			second := newSource(t, m.wrap(ing2), options())
			waitFor(t, "the held and the offline message", func() bool { return len(ing2.Rows()) == 2 })
			if got := fmt.Sprint(ing2.Rows()); got != "[[held 2.0 2 true]@ [offline 3.0 3 true]@]" {
				t.Errorf("second source got %s", got)
			}
			// Give the acknowledgements time to reach the broker, then check
			// that nothing comes a third time.
			time.Sleep(200 * time.Millisecond)
			if err := stop(t, second, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			ing3 := &fakeIngester{}
			third := newSource(t, m.wrap(ing3), options())
			defer stop(t, third, 5*time.Second)
			pub(`{"id":"last","v":4,"n":4,"ok":true}`)
			waitFor(t, "the last message", func() bool { return len(ing3.Rows()) >= 1 })
			time.Sleep(100 * time.Millisecond)
			if got := fmt.Sprint(ing3.Rows()); got != "[[last 4.0 4 true]@]" {
				t.Errorf("third source got %s, want only the last message", got)
			}
		})
	}
}

// TestKeyedBatches: with a KeyedIngester, the messages queued while the app
// is busy go to it in one call, in order, and are all acknowledged: a source
// with the same session gets none of them again.
func TestKeyedBatches(t *testing.T) {
	id := needBroker(t)
	topic := id + "/in"
	pub := publisher(t, id, topic)
	defer dropSession(t, id)
	options := func() map[string]string {
		return map[string]string{"topic": topic, "client.id": id, "qos": "1", "idempotency.attribute": "id"}
	}
	var mu sync.Mutex
	var gate chan struct{} // when set, the next call waits for it to close
	entered := make(chan struct{}, 1)
	ing := &fakeIngester{hook: func(ctx context.Context, _ [][]event.Value) error {
		mu.Lock()
		g := gate
		gate = nil
		mu.Unlock()
		if g != nil {
			entered <- struct{}{}
			select {
			case <-g:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}}
	s := newSource(t, keyedIngester{ing}, options())
	waitSubscribed(t, pub, ing)

	release := make(chan struct{})
	mu.Lock()
	gate = release
	mu.Unlock()
	pub(`{"id":"m0","v":0,"n":0,"ok":true}`)
	<-entered
	const queued = 10
	var want []string
	want = append(want, "[m0 0.0 0 true]@mqtt:Readings:m0")
	for i := 1; i <= queued; i++ {
		switch i {
		case 3:
			pub(`not json`)
		case 5:
			pub(`[{"id":"m5a","v":5,"n":5,"ok":true},{"id":null,"v":5,"n":5,"ok":false}]`)
			want = append(want, "[m5a 5.0 5 true]@mqtt:Readings:m5a", "[null 5.0 5 false]@")
		default:
			pub(fmt.Sprintf(`{"id":"m%d","v":%d,"n":%d,"ok":true}`, i, i, i))
			want = append(want, fmt.Sprintf("[m%d %d.0 %d true]@mqtt:Readings:m%d", i, i, i, i))
		}
	}
	waitFor(t, "the messages to be queued", func() bool { return len(s.queue) == queued })
	close(release)
	waitFor(t, "all events", func() bool { return len(ing.Rows()) == len(want) })
	if got := ing.Rows(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
	if n := len(ing.Calls()); n != 2 {
		t.Errorf("%d calls, want 2: the first, then the %d messages queued meanwhile", n, queued)
	}

	time.Sleep(200 * time.Millisecond) // the acknowledgements reach the broker
	if err := stop(t, s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ing2 := &fakeIngester{}
	again := newSource(t, keyedIngester{ing2}, options())
	defer stop(t, again, 5*time.Second)
	pub(`{"id":"last","v":1,"n":1,"ok":true}`)
	waitFor(t, "the last message", func() bool { return len(ing2.Rows()) >= 1 })
	time.Sleep(100 * time.Millisecond)
	if got := fmt.Sprint(ing2.Rows()); got != "[[last 1.0 1 true]@mqtt:Readings:last]" {
		t.Errorf("next source got %s, want only the last message", got)
	}
}

func TestIdempotencyAttribute(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			id := needBroker(t)
			topic := id + "/in"
			pub := publisher(t, id, topic)
			ing := &fakeIngester{}
			s := newSource(t, m.wrap(ing), map[string]string{"topic": topic, "client.id": id, "clean.session": "true", "idempotency.attribute": "id"})
			defer stop(t, s, 5*time.Second)
			waitSubscribed(t, pub, ing)

			pub(`{"id":"r1","v":1,"n":1,"ok":true}`,
				`[{"id":"r2","v":2,"n":2,"ok":true},{"id":null,"v":3,"n":3,"ok":true},{"id":"r4","v":4,"n":4,"ok":true}]`)
			waitFor(t, "four events", func() bool { return len(ing.Rows()) == 4 })
			var keys []string
			for _, r := range ing.Rows() {
				keys = append(keys, r[strings.LastIndexByte(r, '@')+1:])
			}
			if want := []string{"mqtt:Readings:r1", "mqtt:Readings:r2", "", "mqtt:Readings:r4"}; fmt.Sprint(keys) != fmt.Sprint(want) {
				t.Errorf("keys %q, want %q", keys, want)
			}
			if !m.keyed {
				for _, c := range ing.Calls() {
					if len(c.rows) != 1 {
						t.Errorf("batch of %d events, want one event per Ingest", len(c.rows))
					}
				}
			}
		})
	}
}

// TestIngestRetried: a batch the app refuses is retried until taken, and
// the messages after it wait their turn.
func TestIngestRetried(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			id := needBroker(t)
			topic := id + "/in"
			pub := publisher(t, id, topic)
			var mu sync.Mutex
			fails, tries := 0, 0
			ing := &fakeIngester{hook: func(context.Context, [][]event.Value) error {
				mu.Lock()
				defer mu.Unlock()
				tries++
				if fails > 0 {
					fails--
					return fmt.Errorf("queue full")
				}
				return nil
			}}
			s := newSource(t, m.wrap(ing), map[string]string{"topic": topic, "client.id": id, "clean.session": "true"})
			defer stop(t, s, 5*time.Second)
			waitSubscribed(t, pub, ing)
			mu.Lock()
			fails, tries = 2, 0
			mu.Unlock()
			pub(`{"id":"a","v":1,"n":1,"ok":true}`, `{"id":"b","v":2,"n":2,"ok":true}`)
			waitFor(t, "both", func() bool { return len(ing.Rows()) == 2 })
			if got := fmt.Sprint(ing.Rows()); got != "[[a 1.0 1 true]@ [b 2.0 2 true]@]" {
				t.Errorf("got %s", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := 2 + len(ing.Calls()); tries != want {
				t.Errorf("%d tries for %d calls taken, want %d", tries, len(ing.Calls()), want)
			}
		})
	}
}

func TestStartUnreachable(t *testing.T) {
	// Port 1 refuses at once; without automatic reconnection Start fails.
	s, err := New(spec(map[string]string{"url": "tcp://127.0.0.1:1", "topic": "t", "automatic.reconnect": "false", "connection.timeout": "1"}), &fakeIngester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "connect to tcp://127.0.0.1:1") {
		t.Errorf("Start = %v", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop of a source that did not start: %v", err)
	}
}

// BenchmarkConsume measures messages per second from a QoS 1 publisher
// through the broker and the source into an Ingester that takes each call at
// once ("instant") or after sleeping 100µs, about a replication round trip
// with ack: sync ("commit100us"), through Ingest, one call per message
// ("plain"), or IngestKeyed, one call per batch at hand ("keyed"). The
// broker keeps at most its in-flight limit (Mosquitto: 20) of
// unacknowledged messages on the way to the source.
func BenchmarkConsume(b *testing.B) {
	for _, m := range modes {
		for _, c := range []struct {
			name  string
			delay time.Duration
		}{{"instant", 0}, {"commit100us", 100 * time.Microsecond}} {
			b.Run(m.name+"/"+c.name, func(b *testing.B) {
				benchConsume(b, m.wrap, c.delay)
			})
		}
	}
}

func benchConsume(b *testing.B, wrap func(*fakeIngester) source.Ingester, delay time.Duration) {
	id := needBroker(b)
	topic := id + "/bench"
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id + "-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatalf("publisher connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	var mu sync.Mutex
	n, want, calls := 0, -1, 0
	// publish publishes n messages, keeping at most maxAhead of them ahead of
	// the source: Mosquitto drops QoS 1 messages beyond its per-client queue
	// (max_queued_messages, 1000 by default) when the subscriber is slower.
	const maxAhead = 500
	publish := func(count int) {
		mu.Lock()
		base := n
		mu.Unlock()
		var toks []mqtt.Token
		for i := range count {
			toks = append(toks, pub.Publish(topic, 1, false, `{"id":"x","v":1,"n":1,"ok":true}`))
			if len(toks) == 100 || i == count-1 {
				for _, t := range toks {
					if !t.WaitTimeout(time.Minute) || t.Error() != nil {
						b.Fatalf("publish: %v", t.Error())
					}
				}
				toks = toks[:0]
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Microsecond) {
					mu.Lock()
					ahead := base + i + 1 - n
					mu.Unlock()
					if ahead <= maxAhead {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("the source stopped taking messages")
					}
				}
			}
		}
	}
	done := make(chan struct{})
	ing := &fakeIngester{hook: func(_ context.Context, rows [][]event.Value) error {
		if delay > 0 {
			time.Sleep(delay)
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		if n += len(rows); n == want {
			close(done)
		}
		return nil
	}}
	s := newSource(b, wrap(ing), map[string]string{"topic": topic, "client.id": id, "clean.session": "true"})
	defer stop(b, s, 5*time.Second)
	// Wait for the subscription.
	for deadline := time.Now().Add(10 * time.Second); ; {
		publish(1)
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		got := n
		mu.Unlock()
		if got > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("never subscribed")
		}
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	want, calls = n+b.N, 0
	mu.Unlock()
	b.ResetTimer()
	publish(b.N)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("consuming timed out")
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/float64(calls), "msgs/call")
}
