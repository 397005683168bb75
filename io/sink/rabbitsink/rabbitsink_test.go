package rabbitsink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Alerts", Attrs: []event.Attribute{
	{Name: "sym", Type: event.String},
	{Name: "n", Type: event.Long},
}}

func spec(options map[string]string) sink.Spec {
	return sink.Spec{App: "app", ID: "Alerts/0", Stream: schema, Type: Type, Options: options, Map: source.MapSpec{Type: "json"}}
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
		{baseOptions("exchange.name", "<delete>"), `option "exchange.name" is required`},
		{baseOptions("exchange.type", "direct2"), "not direct, fanout"},
		{baseOptions("message.id", "m"), `option "message.id" is not supported`},
		{baseOptions("timestamp", "01/01/2020"), `option "timestamp" is not supported`},
		{baseOptions("tls.truststore.type", "JKS"), `option "tls.truststore.type" is not supported`},
		{baseOptions("routing.key", "{{sym}}"), "dynamic values"},
		{baseOptions("routing.key", strings.Repeat("k", 256)), "longer than 255"},
		{baseOptions("headers", "'bad'"), "is not 'key:value'"},
		{baseOptions("headers", "'tandem-epoch:1'"), "set by the sink"},
		{baseOptions("delivery.mode", "3"), "not 1 (transient) or 2 (persistent)"},
		{baseOptions("priority", "10"), "not a priority from 0 to 9"},
		{baseOptions("expiration", "1s"), "not a number of milliseconds"},
		{baseOptions("app.id", strings.Repeat("a", 256)), "longer than 255"},
		{baseOptions("queue.name", "q"), `unknown option "queue.name"`},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), sink.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) error = %v, want %q", tc.options, err, tc.want)
		}
	}
	sp := spec(baseOptions())
	sp.Stream = nil
	if _, err := New(sp, sink.Env{}); err == nil {
		t.Error("New without a schema succeeded")
	}
	sp = spec(baseOptions())
	sp.Map = source.MapSpec{Type: "xml"}
	if _, err := New(sp, sink.Env{}); err == nil || !strings.Contains(err.Error(), "unknown map type") {
		t.Errorf("New with @map(type='xml') error = %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	s, err := New(spec(baseOptions()), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.proto.DeliveryMode != amqp.Transient || s.proto.ContentType != "application/json" || s.routingKey != "" || len(s.headers) != 0 {
		t.Errorf("defaults: %+v", s)
	}
	s, err = New(spec(baseOptions("delivery.mode", "2", "content.type", "text/json", "content.encoding", "utf-8", "priority", "5",
		"correlation.id", "c", "reply.to", "r", "expiration", "60000", "type", "alert", "user.id", "guest", "app.id", "tandem",
		"routing.key", "rk", "headers", "'a:1'")), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	p := s.proto
	if p.DeliveryMode != amqp.Persistent || p.ContentType != "text/json" || p.ContentEncoding != "utf-8" || p.Priority != 5 ||
		p.CorrelationId != "c" || p.ReplyTo != "r" || p.Expiration != "60000" || p.Type != "alert" || p.UserId != "guest" ||
		p.AppId != "tandem" || s.routingKey != "rk" || s.headers["a"] != "1" {
		t.Errorf("options: %+v", s)
	}
}

// FuzzNew checks that no option value makes New panic.
func FuzzNew(f *testing.F) {
	f.Add("amqp://guest:guest@127.0.0.1:5672/", "x", "rk", "'a:1'", "2", "5", "100")
	f.Add("amqps://h", "", "{{a}}", "x", "0", "-1", "0")
	f.Add("amqp://[::1", "amq.topic", "", "'tandem-epoch:1'", "1", "9", "4294967296")
	f.Fuzz(func(t *testing.T, uri, exchange, rk, headers, mode, priority, expiration string) {
		options := map[string]string{"uri": uri, "exchange.name": exchange, "routing.key": rk, "headers": headers,
			"delivery.mode": mode, "priority": priority, "expiration": expiration}
		s, err := New(spec(options), sink.Env{})
		if err != nil {
			return
		}
		if s.exchange.Name == "" || s.proto.Priority > 9 || s.headers.Validate() != nil {
			t.Errorf("accepted bad options %v: %+v", options, s)
		}
	})
}

// --- against the local RabbitMQ ---

const testURI = "amqp://guest:guest@127.0.0.1:5672/"

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

// boundQueue declares an exchange and a queue bound to it with routing key
// rk, both of the test's own and deleted when it ends.
func boundQueue(t testing.TB, conn *amqp.Connection, rk string) (exchange, queue string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	base := "tandem-test-" + hex.EncodeToString(b[:])
	exchange, queue = base+"-x", base+"-q"
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
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
	if err := ch.ExchangeDeclare(exchange, "direct", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, rk, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	return exchange, queue
}

// get reads n messages from queue.
func get(t *testing.T, conn *amqp.Connection, queue string, n int) []amqp.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var out []amqp.Delivery
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if time.Now().After(deadline) {
				t.Fatalf("got %d of %d messages", len(out), n)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		out = append(out, d)
	}
	return out
}

func outputs(from, n int, epoch uint64) []sink.Output {
	outs := make([]sink.Output, n)
	for i := range outs {
		ord := uint64(from + i)
		outs[i] = sink.Output{ID: fmt.Sprintf("app/Alerts/0/%d", ord), Ordinal: ord, Epoch: epoch,
			Event: event.Event{Data: []event.Value{event.StringValue("IBM"), event.LongValue(int64(ord))}}}
	}
	return outs
}

func newSink(t *testing.T, options map[string]string) *Sink {
	t.Helper()
	s, err := New(spec(options), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestPublish(t *testing.T) {
	conn := broker(t)
	exchange, queue := boundQueue(t, conn, "rk")
	s := newSink(t, map[string]string{"uri": testURI, "exchange.name": exchange, "routing.key": "rk",
		"delivery.mode": "2", "headers": "'region:eu'", "app.id": "tandem"})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Publish(ctx, outputs(1, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for i, d := range get(t, conn, queue, 3) {
		if want := fmt.Sprintf("app/Alerts/0/%d", i+1); d.MessageId != want {
			t.Errorf("message %d: id %q, want %q", i, d.MessageId, want)
		}
		if want := fmt.Sprintf(`{"event":{"sym":"IBM","n":%d}}`, i+1); string(d.Body) != want {
			t.Errorf("message %d: body %s, want %s", i, d.Body, want)
		}
		if d.Headers[EpochHeader] != "4" || d.Headers["region"] != "eu" {
			t.Errorf("message %d: headers %v", i, d.Headers)
		}
		if d.DeliveryMode != amqp.Persistent || d.ContentType != "application/json" || d.AppId != "tandem" {
			t.Errorf("message %d: properties mode %d type %q app %q", i, d.DeliveryMode, d.ContentType, d.AppId)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, outputs(4, 1, 4)); err == nil {
		t.Error("Publish after Close succeeded")
	}
}

// TestPublishFenced: a publisher whose fence is shut sends nothing, and one
// fenced mid-batch stops there.
func TestPublishFenced(t *testing.T) {
	conn := broker(t)
	exchange, queue := boundQueue(t, conn, "")
	s := newSink(t, map[string]string{"uri": testURI, "exchange.name": exchange})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Publish(sink.WithFence(ctx, func() bool { return false }), outputs(1, 3, 1)); !errors.Is(err, sink.ErrFenced) {
		t.Fatalf("fenced Publish = %v, want ErrFenced", err)
	}
	checks := 0
	fence := func() bool { checks++; return checks <= 2 }
	if err := s.Publish(sink.WithFence(ctx, fence), outputs(1, 3, 1)); !errors.Is(err, sink.ErrFenced) {
		t.Fatalf("Publish fenced mid-batch = %v, want ErrFenced", err)
	}
	if err := s.Publish(ctx, outputs(10, 1, 2)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range get(t, conn, queue, 3) {
		ids = append(ids, d.MessageId)
	}
	if got := strings.Join(ids, " "); got != "app/Alerts/0/1 app/Alerts/0/2 app/Alerts/0/10" {
		t.Errorf("messages %s", got)
	}
}

// TestExchangeDeleted: a publish to a deleted exchange fails the channel;
// the next Publish declares the exchange again and succeeds.
func TestExchangeDeleted(t *testing.T) {
	conn := broker(t)
	exchange, queue := boundQueue(t, conn, "")
	s := newSink(t, map[string]string{"uri": testURI, "exchange.name": exchange})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Publish(ctx, outputs(1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.ExchangeDelete(exchange, false, false); err != nil {
		t.Fatal(err)
	}
	err = s.Publish(ctx, outputs(2, 2, 1))
	if err == nil || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Fatalf("Publish to a deleted exchange = %v", err)
	}
	if err := s.Publish(ctx, outputs(2, 2, 1)); err != nil {
		t.Fatalf("Publish after the failure: %v", err)
	}
	if err := ch.QueueBind(queue, "", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, outputs(4, 1, 1)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range get(t, conn, queue, 2) {
		ids = append(ids, d.MessageId)
	}
	if got := strings.Join(ids, " "); got != "app/Alerts/0/1 app/Alerts/0/4" {
		t.Errorf("messages %s", got)
	}
}

// proxy forwards TCP connections to target until cut, which drops every
// connection and refuses new ones until resume.
type proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
		}
	})
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *proxy) resume(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(err)
}

// TestBrokerOutage: while the server cannot be reached Publish fails; once
// it can, the batch is published.
func TestBrokerOutage(t *testing.T) {
	conn := broker(t)
	exchange, queue := boundQueue(t, conn, "")
	p := newProxy(t, "127.0.0.1:5672")
	s := newSink(t, map[string]string{"uri": "amqp://guest:guest@" + p.addr + "/", "exchange.name": exchange})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Publish(ctx, outputs(1, 2, 1)); err != nil {
		t.Fatal(err)
	}

	p.cut()
	for range 2 { // the lost connection, then a refused one
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		err := s.Publish(pctx, outputs(3, 2, 1))
		pcancel()
		if err == nil {
			t.Fatal("Publish succeeded while the server was unreachable")
		}
		t.Logf("Publish during the outage: %v", err)
	}

	p.resume(t)
	if err := s.Publish(ctx, outputs(3, 2, 1)); err != nil {
		t.Fatalf("Publish after the outage: %v", err)
	}
	var ids []string
	for _, d := range get(t, conn, queue, 4) {
		ids = append(ids, d.MessageId)
	}
	if got := strings.Join(ids, " "); got != "app/Alerts/0/1 app/Alerts/0/2 app/Alerts/0/3 app/Alerts/0/4" {
		t.Errorf("messages %s", got)
	}
}
