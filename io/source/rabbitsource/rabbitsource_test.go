package rabbitsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

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

func baseOptions(kv ...string) map[string]string {
	m := map[string]string{"uri": "amqp://guest:guest@127.0.0.1:5672/", "exchange.name": "x"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		options map[string]string
		want    string
	}{
		{baseOptions("uri", "<delete>"), `option "uri" is required`},
		{baseOptions("uri", "http://h/"), "not an amqp:// or amqps:// URI"},
		{baseOptions("uri", "amqp://u:secret@h:99999999/"), "out of range"},
		{baseOptions("uri", "amqp://u:secret@h:5672/%zz"), "not an amqp:// or amqps:// URI"},
		{baseOptions("heartbeat", "-1"), "not a number of seconds"},
		{baseOptions("heartbeat", "5s"), "not a number of seconds"},
		{baseOptions("tls.enabled", "true"), "needs an amqps:// uri"},
		{baseOptions("tls.truststore.path", "/x.jks"), `option "tls.truststore.path" is not supported`},
		{baseOptions("tls.version", "TLSv1.2"), `option "tls.version" is not supported`},
		{baseOptions("exchange.name", "<delete>"), `option "exchange.name" is required`},
		{baseOptions("exchange.name", "a\nb"), "control characters"},
		{baseOptions("exchange.type", "x-delayed"), "not direct, fanout, topic or headers"},
		{baseOptions("exchange.durable.enabled", "yes"), "not true or false"},
		{baseOptions("headers", "'a:1'"), "binds to a headers exchange"},
		{baseOptions("exchange.type", "headers", "headers", "'a'"), "is not 'key:value'"},
		{baseOptions("routing.key", strings.Repeat("k", 256)), "longer than 255"},
		{baseOptions("queue.name", " "), "is empty"},
		{baseOptions("queue.name", "amq.q"), "reserved"},
		{baseOptions("queue.name", strings.Repeat("q", 256)), "longer than 255"},
		{baseOptions("queue.exclusive.enabled", "true"), "not supported"},
		{baseOptions("queue.autodelete.enabled", "1"), "not true or false"},
		{baseOptions("auto.ack", "true"), "not supported"},
		{baseOptions("consumer.threadpool.size", "4"), "only 1"},
		{baseOptions("prefetch.count", "0"), "not a count from 1 to 65535"},
		{baseOptions("topic", "t"), `unknown option "topic"`},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), &ingester{}, source.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) error = %v, want %q", tc.options, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if _, err := New(spec(baseOptions()), nil, source.Env{}); err == nil {
		t.Error("New without an Ingester succeeded")
	}
	sp := spec(baseOptions())
	sp.Stream = nil
	if _, err := New(sp, &ingester{}, source.Env{}); err == nil {
		t.Error("New without a schema succeeded")
	}
	sp = spec(baseOptions())
	sp.Map = source.MapSpec{Type: "xml"}
	if _, err := New(sp, &ingester{}, source.Env{}); err == nil || !strings.Contains(err.Error(), "unknown map type") {
		t.Errorf("New with @map(type='xml') error = %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	s, err := New(spec(baseOptions()), &ingester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.queue != "tandem-app-Trades" || s.prefetch != DefaultPrefetch || s.exchange != (Exchange{Name: "x", Kind: "direct"}) ||
		s.conn.Heartbeat != DefaultHeartbeat || s.conn.String() != "amqp://127.0.0.1:5672/" || s.qDurable || s.qAutoDel {
		t.Errorf("defaults: %+v", s)
	}
	s, err = New(spec(baseOptions("uri", "amqps://u:p@h/vh", "tls.enabled", "true", "heartbeat", "10",
		"exchange.name", "ex", "exchange.type", "Headers", "exchange.durable.enabled", "true", "exchange.autodelete.enabled", "true",
		"headers", "'x-match:all', 'a:1'", "routing.key", "rk", "queue.name", "q1", "queue.durable.enabled", "true",
		"queue.autodelete.enabled", "true", "queue.exclusive.enabled", "false", "auto.ack", "false", "consumer.threadpool.size", "1",
		"prefetch.count", "5")), &ingester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.queue != "q1" || s.prefetch != 5 || s.exchange != (Exchange{Name: "ex", Kind: "headers", Durable: true, AutoDelete: true}) ||
		s.conn.Heartbeat != 10*time.Second || s.conn.String() != "amqps://h:5671/vh" || !s.qDurable || !s.qAutoDel || s.routingKey != "rk" ||
		fmt.Sprint(s.bindArgs) != "map[a:1 x-match:all]" {
		t.Errorf("options: %+v", s)
	}
}

func TestDefaultQueue(t *testing.T) {
	if got := DefaultQueue("my app", "S\n"); got != "tandem-my app-S_" {
		t.Errorf("DefaultQueue = %q", got)
	}
	long := DefaultQueue(strings.Repeat("ü", 200), "s")
	if len(long) > 255 || validName(long) != nil || !strings.HasPrefix(long, "tandem-ü") || strings.ToValidUTF8(long, "") != long {
		t.Errorf("long DefaultQueue = %q", long)
	}
}

func TestKey(t *testing.T) {
	if got := Key("q", "m-1"); got != "rabbitmq:q:m-1" {
		t.Errorf("Key = %q", got)
	}
	if got := Key("q", ""); got != "" {
		t.Errorf("Key without id = %q", got)
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		raw, want string
		ok        bool
	}{
		{"'x-match:any','a:1'", "map[a:1 x-match:any]", true},
		{" a : b:c , ", "map[a:b:c]", true},
		{"", "map[]", true},
		{"'a'", "", false},
		{"':v'", "", false},
		{"a:1,a:2", "", false},
	}
	for _, tc := range tests {
		got, err := ParseHeaders("@x", tc.raw)
		if (err == nil) != tc.ok || (tc.ok && fmt.Sprint(got) != tc.want) {
			t.Errorf("ParseHeaders(%q) = %v, %v; want %s ok=%v", tc.raw, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseHeaders checks that no headers option makes the parser panic and
// that what it accepts is a valid AMQP table.
func FuzzParseHeaders(f *testing.F) {
	f.Add("'x-match:any','a:1'")
	f.Add("''")
	f.Add("'a:'")
	f.Add(",,:")
	f.Fuzz(func(t *testing.T, raw string) {
		tab, err := ParseHeaders("@x", raw)
		if err != nil {
			return
		}
		if err := tab.Validate(); err != nil {
			t.Errorf("ParseHeaders(%q) = invalid table %v: %v", raw, tab, err)
		}
		for k := range tab {
			if k == "" || k != strings.TrimSpace(k) {
				t.Errorf("ParseHeaders(%q): key %q", raw, k)
			}
		}
	})
}

// FuzzNew checks that no option value makes New panic and that what it
// accepts is usable.
func FuzzNew(f *testing.F) {
	f.Add("amqp://guest:guest@127.0.0.1:5672/", "x", "topic", "q", "64", "60")
	f.Add("amqps://h", "amq.direct", "", "", "1", "0")
	f.Add("amqp://[::1", "", "bad", "amq.x", "0", "-1")
	f.Add("amqp://h:0/%zz", "\x00", "headers", "\n", "65536", "3601")
	f.Fuzz(func(t *testing.T, uri, exchange, kind, queue, prefetch, heartbeat string) {
		options := map[string]string{"uri": uri, "exchange.name": exchange, "exchange.type": kind, "queue.name": queue,
			"prefetch.count": prefetch, "heartbeat": heartbeat}
		s, err := New(spec(options), &ingester{}, source.Env{})
		if err != nil {
			return
		}
		if s.exchange.Name == "" || validName(s.queue) != nil || s.queue == "" || s.prefetch < 1 || s.conn.URI == "" {
			t.Errorf("accepted bad options %v: %+v", options, s)
		}
	})
}

// --- against the local RabbitMQ ---

const testURI = "amqp://guest:guest@127.0.0.1:5672/"

// broker connects to the local RabbitMQ, or skips the test when it is not
// reachable (fails with TANDEM_REQUIRE_SERVICES=1).
func broker(t testing.TB) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(testURI)
	if err != nil {
		if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
			t.Fatalf("RabbitMQ at %s: %v", testURI, err)
		}
		t.Skipf("RabbitMQ not reachable at 127.0.0.1:5672: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// names returns an exchange and a queue name of the test's own, deleted
// when the test ends.
func names(t testing.TB, conn *amqp.Connection) (exchange, queue string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	base := "tandem-test-" + hex.EncodeToString(b[:])
	exchange, queue = base+"-x", base+"-q"
	t.Cleanup(func() {
		ch, err := conn.Channel()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer ch.Close()
		if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
			t.Errorf("cleanup: delete queue %s: %v", queue, err)
		}
		if err := ch.ExchangeDelete(exchange, false, false); err != nil {
			t.Errorf("cleanup: delete exchange %s: %v", exchange, err)
		}
	})
	return exchange, queue
}

// publish sends bodies to exchange with routing key rk, message ids ids[i]
// ("" for none), and waits for the confirms.
func publish(t testing.TB, conn *amqp.Connection, exchange, rk string, bodies, ids []string) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dcs []*amqp.DeferredConfirmation
	for i, b := range bodies {
		msg := amqp.Publishing{Body: []byte(b)}
		if i < len(ids) {
			msg.MessageId = ids[i]
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, rk, false, false, msg)
		if err != nil {
			t.Fatal(err)
		}
		dcs = append(dcs, dc)
	}
	for _, dc := range dcs {
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
}

// queueDepth returns the messages ready in queue and its consumers.
func queueDepth(t *testing.T, conn *amqp.Connection, queue string) (messages, consumers int) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages, q.Consumers
}

type call struct {
	key  string
	rows [][]event.Value
}

// ingester records every call; hook, when set, runs first and may fail it.
type ingester struct {
	mu    sync.Mutex
	calls []call
	hook  func(ctx context.Context, key string) error
}

func (in *ingester) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	if stream != schema.Name {
		return fmt.Errorf("stream %q", stream)
	}
	in.mu.Lock()
	in.calls = append(in.calls, call{key: key, rows: rows})
	hook := in.hook
	in.mu.Unlock()
	if hook != nil {
		return hook(ctx, key)
	}
	return nil
}

func (in *ingester) snapshot() []call {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.calls)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func body(sym string, n int) string { return fmt.Sprintf(`{"event":{"sym":%q,"n":%d}}`, sym, n) }

func startSource(t *testing.T, options map[string]string, ing source.Ingester) *Source {
	t.Helper()
	s, err := New(spec(options), ing, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	return s
}

func stopSource(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// waitConsuming waits until the source's consumer is on the queue.
func waitConsuming(t *testing.T, conn *amqp.Connection, queue string) {
	t.Helper()
	waitFor(t, "the consumer", 10*time.Second, func() bool {
		ch, err := conn.Channel()
		if err != nil {
			return false
		}
		defer ch.Close()
		q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		return err == nil && q.Consumers > 0
	})
}

func TestConsume(t *testing.T) {
	conn := broker(t)
	exchange, queue := names(t, conn)
	in := &ingester{}
	options := map[string]string{"uri": testURI, "exchange.name": exchange, "exchange.type": "topic", "routing.key": "trades.*", "queue.name": queue}
	s := startSource(t, options, in)
	waitConsuming(t, conn, queue)

	publish(t, conn, exchange, "trades.new",
		[]string{body("a", 1), "not json", `[{"sym":"b","n":2},{"sym":"c","n":3}]`, body("d", 4)},
		[]string{"m1", "m2", "m3", ""})
	publish(t, conn, exchange, "other.new", []string{body("unrouted", 9)}, []string{"m9"})
	waitFor(t, "the messages", 10*time.Second, func() bool { return len(in.snapshot()) == 3 })
	stopSource(t, s)

	calls := in.snapshot()
	var keys []string
	for _, c := range calls {
		keys = append(keys, c.key)
	}
	if want := []string{Key(queue, "m1"), Key(queue, "m3"), ""}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if len(calls) == 3 && (len(calls[1].rows) != 2 || calls[1].rows[1][0] != event.StringValue("c") || calls[2].rows[0][1] != event.LongValue(4)) {
		t.Errorf("rows: %v", calls)
	}
	// Everything was acknowledged or rejected; the consumer is gone.
	if msgs, consumers := queueDepth(t, conn, queue); msgs != 0 || consumers != 0 {
		t.Errorf("queue has %d messages and %d consumers after Stop", msgs, consumers)
	}
}

// TestStopMidMessage: a message whose Ingest is still waiting when Stop's
// context ends is not acknowledged; the next consumer gets it with the same
// key, followed by those prefetched behind it.
func TestStopMidMessage(t *testing.T) {
	conn := broker(t)
	exchange, queue := names(t, conn)
	blocked := make(chan struct{})
	first := &ingester{hook: func(ctx context.Context, key string) error {
		if !strings.HasSuffix(key, ":m2") {
			return nil
		}
		close(blocked)
		<-ctx.Done() // logged by the app, never acknowledged
		return ctx.Err()
	}}
	options := map[string]string{"uri": testURI, "exchange.name": exchange, "routing.key": "k", "queue.name": queue, "queue.durable.enabled": "true"}
	s := startSource(t, options, first)
	waitConsuming(t, conn, queue)
	publish(t, conn, exchange, "k", []string{body("a", 1), body("b", 2), body("c", 3)}, []string{"m1", "m2", "m3"})
	select {
	case <-blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("m2 never reached Ingest")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := s.Stop(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want the in-flight message aborted", err)
	}

	second := &ingester{}
	s = startSource(t, options, second)
	waitFor(t, "the redelivery", 10*time.Second, func() bool { return len(second.snapshot()) == 2 })
	stopSource(t, s)
	got := second.snapshot()
	if got[0].key != Key(queue, "m2") || got[1].key != Key(queue, "m3") {
		t.Errorf("redelivered keys %q, %q", got[0].key, got[1].key)
	}
}

// TestRetryRefused: a message the app refuses is retried in place.
func TestRetryRefused(t *testing.T) {
	conn := broker(t)
	exchange, queue := names(t, conn)
	var mu sync.Mutex
	refusals := 2
	in := &ingester{hook: func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(key, ":m1") && refusals > 0 {
			refusals--
			return errors.New("queue full")
		}
		return nil
	}}
	s := startSource(t, map[string]string{"uri": testURI, "exchange.name": exchange, "exchange.type": "fanout", "queue.name": queue}, in)
	waitConsuming(t, conn, queue)
	publish(t, conn, exchange, "", []string{body("a", 1), body("b", 2)}, []string{"m1", "m2"})
	waitFor(t, "both messages", 10*time.Second, func() bool { return len(in.snapshot()) == 4 })
	stopSource(t, s)
	var ids []string
	for _, c := range in.snapshot() {
		ids = append(ids, c.key[strings.LastIndexByte(c.key, ':')+1:])
	}
	if got := strings.Join(ids, ","); got != "m1,m1,m1,m2" {
		t.Errorf("Ingest calls %s, want m1,m1,m1,m2", got)
	}
}

// TestConsumerCancelled: when the broker ends the consumer (here: its queue
// is deleted) the source sets everything up again and goes on.
func TestConsumerCancelled(t *testing.T) {
	conn := broker(t)
	exchange, queue := names(t, conn)
	in := &ingester{}
	s := startSource(t, map[string]string{"uri": testURI, "exchange.name": exchange, "routing.key": "k", "queue.name": queue}, in)
	defer stopSource(t, s)
	waitConsuming(t, conn, queue)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	_ = ch.Close()
	waitConsuming(t, conn, queue)
	publish(t, conn, exchange, "k", []string{body("a", 1)}, []string{"m1"})
	waitFor(t, "the message after the re-setup", 10*time.Second, func() bool { return len(in.snapshot()) == 1 })
}

// TestHeadersExchange: the headers option binds to a headers exchange.
func TestHeadersExchange(t *testing.T) {
	conn := broker(t)
	exchange, queue := names(t, conn)
	in := &ingester{}
	s := startSource(t, map[string]string{"uri": testURI, "exchange.name": exchange, "exchange.type": "headers",
		"headers": "'x-match:all','region:eu'", "queue.name": queue}, in)
	defer stopSource(t, s)
	waitConsuming(t, conn, queue)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx := context.Background()
	for _, region := range []string{"us", "eu"} {
		err := ch.PublishWithContext(ctx, exchange, "", false, false, amqp.Publishing{
			Headers: amqp.Table{"region": region}, MessageId: region, Body: []byte(body(region, 1))})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the eu message", 10*time.Second, func() bool { return len(in.snapshot()) == 1 })
	time.Sleep(100 * time.Millisecond)
	if got := in.snapshot(); len(got) != 1 || got[0].key != Key(queue, "eu") {
		t.Errorf("calls %v", got)
	}
}

// TestStartUnreachable: Start does not fail while the server is down, and
// Stop returns promptly.
func TestStartUnreachable(t *testing.T) {
	s := startSource(t, map[string]string{"uri": "amqp://guest:guest@127.0.0.1:1/", "exchange.name": "x"}, &ingester{})
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	stopSource(t, s)
	if d := time.Since(start); d > 7*time.Second {
		t.Errorf("Stop took %v", d)
	}
	stopSource(t, s) // a second Stop is a no-op
}
