package mqttsink

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
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Alerts", Attrs: []event.Attribute{
	{Name: "sym", Type: event.String},
	{Name: "price", Type: event.Double},
}}

func spec(options map[string]string) sink.Spec {
	return sink.Spec{App: "app", ID: "Alerts/0", Stream: schema, Type: Type, Options: options, Map: source.MapSpec{Type: "json"}}
}

func outputs(from, to int) []sink.Output {
	var outs []sink.Output
	for i := from; i <= to; i++ {
		outs = append(outs, sink.Output{
			ID: fmt.Sprintf("app/Alerts/0/%d", i), Ordinal: uint64(i), Epoch: 2,
			Event: event.Event{Data: []event.Value{event.StringValue(fmt.Sprintf("S%d", i)), event.DoubleValue(float64(i) + 0.5)}},
		})
	}
	return outs
}

func body(i int) string { return fmt.Sprintf(`{"event":{"sym":"S%d","price":%d.5}}`, i, i) }

func TestNewErrors(t *testing.T) {
	tests := []struct {
		options map[string]string
		want    string
	}{
		{map[string]string{"topic": "t"}, `option "url" is required`},
		{map[string]string{"url": "tcp://h:1883"}, `option "topic" is required`},
		{map[string]string{"url": "tcp://h:1883", "topic": "a/+"}, "cannot have wildcards"},
		{map[string]string{"url": "tcp://h:1883", "topic": "a/#"}, "cannot have wildcards"},
		{map[string]string{"url": "tcp://h:1883", "topic": "t", "message.retain": "sometimes"}, "is not true or false"},
		{map[string]string{"url": "tcp://h:1883", "topic": "t", "publish.timeout": "0"}, "must be positive"},
		{map[string]string{"url": "tcp://h:1883", "topic": "t", "qos": "9"}, "is not 0, 1 or 2"},
		{map[string]string{"url": "kafka://h", "topic": "t"}, "is not tcp"},
		{map[string]string{"url": "tcp://h:1883", "topic": "t", "max.inflight": "0"}, "is not a count from 1 to 65535"},
		{map[string]string{"url": "tcp://h:1883", "topic": "t", "idempotency.attribute": "sym"}, `unknown option "idempotency.attribute"`},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), sink.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) error = %v, want %q", tc.options, err, tc.want)
		}
	}
	sp := spec(map[string]string{"url": "tcp://h:1883", "topic": "t"})
	sp.Stream = nil
	if _, err := New(sp, sink.Env{}); err == nil {
		t.Error("New without a schema succeeded")
	}
}

func TestNewOptions(t *testing.T) {
	s, err := New(spec(map[string]string{"url": "tcp://h:1883", "topic": "a/b"}), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.broker.QoS != 1 || !s.broker.CleanSession || s.retain || s.timeout != DefaultPublishTimeout || s.inflight != DefaultMaxInflight || !strings.HasPrefix(s.broker.ClientID, "tandem-app-Alerts-0-") {
		t.Errorf("defaults: %+v retain %v timeout %v", s.broker, s.retain, s.timeout)
	}
	s2, _ := New(spec(map[string]string{"url": "tcp://h:1883", "topic": "a/b"}), sink.Env{})
	if s.broker.ClientID == s2.broker.ClientID {
		t.Error("two sinks got the same default client id")
	}
	s, err = New(spec(map[string]string{"url": "tcp://h:1883", "topic": "a/b", "quality.of.service": "0", "message.retain": "true", "publish.timeout": "2s", "client.id": "me", "max.inflight": "20"}), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.broker.QoS != 0 || !s.retain || s.timeout != 2*time.Second || s.broker.ClientID != "me" || s.inflight != 20 {
		t.Errorf("options: %+v retain %v timeout %v", s.broker, s.retain, s.timeout)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("tcp://127.0.0.1:1883", "alerts", "1", "false", "10s")
	f.Add("wss://h/mqtt", "a/+", "0", "true", "0")
	f.Add("tcp://[::1]", "", "x", "x", "-1")
	f.Fuzz(func(t *testing.T, url, topic, qos, retain, timeout string) {
		options := map[string]string{"url": url, "topic": topic, "qos": qos, "message.retain": retain, "publish.timeout": timeout}
		s, err := New(spec(options), sink.Env{})
		if err != nil {
			return
		}
		if strings.ContainsAny(s.topic, "+#") || s.topic == "" || s.broker.QoS > 2 || s.timeout <= 0 {
			t.Errorf("accepted bad options %q", options)
		}
	})
}

// --- against an MQTT broker ---

const brokerURL = "tcp://127.0.0.1:1883"

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

type message struct {
	payload  string
	retained bool
}

// subscribe subscribes a test client to topic and returns what it received
// so far.
func subscribe(t testing.TB, id, topic string) func() []message {
	t.Helper()
	var mu sync.Mutex
	var got []message
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id + "-sub"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got = append(got, message{string(m.Payload()), m.Retained()})
		mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return func() []message {
		mu.Lock()
		defer mu.Unlock()
		return append([]message(nil), got...)
	}
}

func newSink(t testing.TB, options map[string]string) *Sink {
	t.Helper()
	options["url"] = brokerURL
	s, err := New(spec(options), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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

func TestPublish(t *testing.T) {
	for _, qos := range []string{"0", "1", "2"} {
		t.Run("qos"+qos, func(t *testing.T) {
			id := needBroker(t)
			topic := id + "/alerts"
			got := subscribe(t, id, topic)
			s := newSink(t, map[string]string{"topic": topic, "qos": qos})
			if err := s.Publish(context.Background(), outputs(1, 515)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "all outputs", func() bool { return len(got()) == 515 })
			for i, m := range got() {
				if m.payload != body(i+1) || m.retained {
					t.Fatalf("message %d = %+v, want %s in order", i+1, m, body(i+1))
				}
			}
		})
	}
}

func TestRetain(t *testing.T) {
	id := needBroker(t)
	topic := id + "/last"
	s := newSink(t, map[string]string{"topic": topic, "message.retain": "true"})
	if err := s.Publish(context.Background(), outputs(1, 2)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// An empty retained message clears the topic.
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id + "-clear"))
		if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			c.Publish(topic, 1, true, "").WaitTimeout(5 * time.Second)
			c.Disconnect(100)
		}
	}()
	got := subscribe(t, id, topic) // subscribes after the publish
	waitFor(t, "the retained message", func() bool { return len(got()) == 1 })
	if m := got()[0]; m.payload != body(2) || !m.retained {
		t.Errorf("late subscriber got %+v, want the last output retained", m)
	}
}

func TestPublishErrors(t *testing.T) {
	s, err := New(spec(map[string]string{"url": "tcp://127.0.0.1:1", "topic": "t", "connection.timeout": "1"}), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), outputs(1, 1)); err == nil || !strings.Contains(err.Error(), "connect to tcp://127.0.0.1:1") {
		t.Errorf("publish without a broker: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), outputs(1, 1)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("publish after Close: %v", err)
	}

	id := needBroker(t)
	s = newSink(t, map[string]string{"topic": id + "/x"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Publish(ctx, outputs(1, 1)); err == nil {
		t.Error("publish with a cancelled context succeeded")
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct{ qos, inflight string }{{"0", "10"}, {"1", "10"}, {"1", "100"}, {"2", "10"}} {
		b.Run("qos"+c.qos+"-inflight"+c.inflight, func(b *testing.B) {
			id := needBroker(b)
			s := newSink(b, map[string]string{"topic": id + "/bench", "qos": c.qos, "max.inflight": c.inflight})
			batch := outputs(1, 100)
			ctx := context.Background()
			n := 0
			for b.Loop() {
				if err := s.Publish(ctx, batch); err != nil {
					b.Fatal(err)
				}
				n += len(batch)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "outputs/s")
		})
	}
}
