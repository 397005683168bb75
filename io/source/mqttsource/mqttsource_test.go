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

type call struct {
	rows [][]event.Value
	key  string
}

// fakeIngester records batches. hook, when set, runs first and its error is
// returned.
type fakeIngester struct {
	hook func(ctx context.Context, rows [][]event.Value) error

	mu    sync.Mutex
	calls []call
}

func (f *fakeIngester) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	if stream != schema.Name {
		return fmt.Errorf("stream %q", stream)
	}
	if f.hook != nil {
		if err := f.hook(ctx, rows); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{rows, key})
	return nil
}

func (f *fakeIngester) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
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
	id := needBroker(t)
	topic := id + "/in"
	pub := publisher(t, id, topic)
	ing := &fakeIngester{}
	s := newSource(t, ing, map[string]string{"topic": id + "/+", "client.id": id, "clean.session": "true"})
	defer stop(t, s, 5*time.Second)
	waitSubscribed(t, pub, ing)

	pub(`{"event":{"id":"a","v":1.5,"n":1,"ok":true}}`,
		`[{"id":"b","v":2,"n":2,"ok":false},{"id":"c","v":3,"n":3,"ok":null}]`,
		`{"id":"bad"`, // does not decode: acknowledged and dropped
		`[]`,
		`{"id":"d","v":4,"n":4,"ok":true}`)
	waitFor(t, "three batches", func() bool { return len(ing.Calls()) == 3 })
	want := []string{"[[a 1.5 1 true]]", "[[b 2.0 2 false] [c 3.0 3 null]]", "[[d 4.0 4 true]]"}
	for i, c := range ing.Calls() {
		if fmt.Sprint(c.rows) != want[i] || c.key != "" {
			t.Errorf("call %d = %v %q, want %s and no key", i, c.rows, c.key, want[i])
		}
	}
}

// TestAckAfterIngest: a message the app has not taken is not acknowledged,
// so when the source stops (the active goes away) the broker keeps it in
// the session and hands it, with what was published meanwhile, to the next
// source with the same client id; a message that was taken is not handed
// over again.
func TestAckAfterIngest(t *testing.T) {
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
	first := newSource(t, ing1, options())
	waitSubscribed(t, pub, ing1)
	pub(`{"id":"taken","v":1,"n":1,"ok":true}`)
	waitFor(t, "the first message", func() bool { return len(ing1.Calls()) == 1 })
	mu.Lock()
	block = true
	mu.Unlock()
	pub(`{"id":"held","v":2,"n":2,"ok":true}`)
	<-entered
	if err := stop(t, first, 200*time.Millisecond); err == nil {
		t.Error("Stop with a blocked Ingest reported no error")
	}
	pub(`{"id":"offline","v":3,"n":3,"ok":true}`) // while no node is connected

	ing2 := &fakeIngester{}
	second := newSource(t, ing2, options())
	waitFor(t, "the held and the offline message", func() bool { return len(ing2.Calls()) == 2 })
	got := fmt.Sprint(ing2.Calls()[0].rows, ing2.Calls()[1].rows)
	if got != "[[held 2.0 2 true]] [[offline 3.0 3 true]]" {
		t.Errorf("second source got %s", got)
	}
	// Give the acknowledgements time to reach the broker, then check that
	// nothing comes a third time.
	time.Sleep(200 * time.Millisecond)
	if err := stop(t, second, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ing3 := &fakeIngester{}
	third := newSource(t, ing3, options())
	defer stop(t, third, 5*time.Second)
	pub(`{"id":"last","v":4,"n":4,"ok":true}`)
	waitFor(t, "the last message", func() bool { return len(ing3.Calls()) >= 1 })
	time.Sleep(100 * time.Millisecond)
	if calls := ing3.Calls(); len(calls) != 1 || fmt.Sprint(calls[0].rows) != "[[last 4.0 4 true]]" {
		t.Errorf("third source got %v, want only the last message", calls)
	}
}

func TestIdempotencyAttribute(t *testing.T) {
	id := needBroker(t)
	topic := id + "/in"
	pub := publisher(t, id, topic)
	ing := &fakeIngester{}
	s := newSource(t, ing, map[string]string{"topic": topic, "client.id": id, "clean.session": "true", "idempotency.attribute": "id"})
	defer stop(t, s, 5*time.Second)
	waitSubscribed(t, pub, ing)

	pub(`{"id":"r1","v":1,"n":1,"ok":true}`,
		`[{"id":"r2","v":2,"n":2,"ok":true},{"id":null,"v":3,"n":3,"ok":true},{"id":"r4","v":4,"n":4,"ok":true}]`)
	waitFor(t, "four events", func() bool { return len(ing.Calls()) == 4 })
	var keys []string
	for _, c := range ing.Calls() {
		if len(c.rows) != 1 {
			t.Errorf("batch of %d events, want one event per Ingest", len(c.rows))
		}
		keys = append(keys, c.key)
	}
	if want := []string{"mqtt:Readings:r1", "mqtt:Readings:r2", "", "mqtt:Readings:r4"}; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

// TestIngestRetried: a batch the app refuses is retried until taken, and
// the messages after it wait their turn.
func TestIngestRetried(t *testing.T) {
	id := needBroker(t)
	topic := id + "/in"
	pub := publisher(t, id, topic)
	var mu sync.Mutex
	fails := 0
	ing := &fakeIngester{hook: func(context.Context, [][]event.Value) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return fmt.Errorf("queue full")
		}
		return nil
	}}
	s := newSource(t, ing, map[string]string{"topic": topic, "client.id": id, "clean.session": "true"})
	defer stop(t, s, 5*time.Second)
	waitSubscribed(t, pub, ing)
	mu.Lock()
	fails = 2
	mu.Unlock()
	pub(`{"id":"a","v":1,"n":1,"ok":true}`, `{"id":"b","v":2,"n":2,"ok":true}`)
	waitFor(t, "both", func() bool { return len(ing.Calls()) == 2 })
	if got := fmt.Sprint(ing.Calls()[0].rows, ing.Calls()[1].rows); got != "[[a 1.0 1 true]] [[b 2.0 2 true]]" {
		t.Errorf("got %s", got)
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
// through the broker and the source into an Ingester that takes each batch
// at once. The broker keeps at most its in-flight limit (Mosquitto: 20) of
// unacknowledged messages on the way to the source.
func BenchmarkConsume(b *testing.B) {
	id := needBroker(b)
	topic := id + "/bench"
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id + "-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatalf("publisher connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	publish := func(n int) {
		var toks []mqtt.Token
		for i := range n {
			toks = append(toks, pub.Publish(topic, 1, false, `{"id":"x","v":1,"n":1,"ok":true}`))
			if len(toks) == 100 || i == n-1 {
				for _, t := range toks {
					if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
						b.Fatalf("publish: %v", t.Error())
					}
				}
				toks = toks[:0]
			}
		}
	}
	var mu sync.Mutex
	n, want := 0, -1
	done := make(chan struct{})
	ing := &fakeIngester{hook: func(context.Context, [][]event.Value) error {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == want {
			close(done)
		}
		return nil
	}}
	s := newSource(b, ing, map[string]string{"topic": topic, "client.id": id, "clean.session": "true"})
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
	want = n + b.N
	mu.Unlock()
	b.ResetTimer()
	publish(b.N)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("consuming timed out")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
