package registry

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
	"github.com/tandem-stream/tandem/io/source/httpsource"
)

var schema = &event.Schema{Name: "S", Attrs: []event.Attribute{{Name: "a", Type: event.Long}}}

type nopIngester struct{}

func (nopIngester) Ingest(context.Context, string, [][]event.Value, string) error { return nil }

func TestDefault(t *testing.T) {
	servers := httpsource.NewServers(nil)
	defer servers.Close(context.Background())
	r := Default(servers)

	if got := strings.Join(r.SourceTypes(), ","); got != "http,kafka,mqtt,nats,rabbitmq" {
		t.Errorf("SourceTypes = %s", got)
	}
	if got := strings.Join(r.SinkTypes(), ","); got != "file,http,kafka,log,mqtt,nats,rabbitmq" {
		t.Errorf("SinkTypes = %s", got)
	}

	src, err := r.Source("HTTP")
	if err != nil {
		t.Fatal(err)
	}
	s, err := src(source.Spec{App: "a", Stream: schema, Type: "http",
		Options: map[string]string{"receiver.url": "http://127.0.0.1:0/s"}}, nopIngester{}, source.Env{})
	if err != nil {
		t.Fatalf("http source: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Built, not started: that needs a broker.
	for typ, options := range map[string]map[string]string{
		"nats":     {"destination": "in", "stream.name": "IN"},
		"mqtt":     {"url": "tcp://127.0.0.1:1883", "topic": "in"},
		"kafka":    {"topic.list": "in", "group.id": "g", "bootstrap.servers": "127.0.0.1:9092"},
		"rabbitmq": {"uri": "amqp://guest:guest@127.0.0.1:5672/", "exchange.name": "x", "queue.name": "q"},
	} {
		f, err := r.Source(typ)
		if err != nil {
			t.Fatalf("Source(%s): %v", typ, err)
		}
		if _, err := f(source.Spec{App: "a", Stream: schema, Type: typ, Options: options}, nopIngester{}, source.Env{}); err != nil {
			t.Errorf("%s source: %v", typ, err)
		}
	}

	sinkOptions := map[string]map[string]string{
		"log":      nil,
		"File":     {"file.uri": filepath.Join(t.TempDir(), "out.json")},
		"http":     {"publisher.url": "http://127.0.0.1:1/x"},
		"nats":     {"destination": "out"},
		"MQTT":     {"url": "tcp://127.0.0.1:1", "topic": "out"},
		"kafka":    {"topic": "out", "bootstrap.servers": "127.0.0.1:1"},
		"rabbitmq": {"uri": "amqp://guest:guest@127.0.0.1:1/", "exchange.name": "x"},
	}
	for typ, options := range sinkOptions {
		f, err := r.Sink(typ)
		if err != nil {
			t.Fatalf("Sink(%s): %v", typ, err)
		}
		sk, err := f(sink.Spec{App: "a", ID: "S/0", Stream: schema, Type: typ, Options: options}, sink.Env{})
		if err != nil {
			t.Fatalf("%s sink: %v", typ, err)
		}
		sk.Close()
	}
}

func TestUnknown(t *testing.T) {
	r := Default(httpsource.NewServers(nil))
	if _, err := r.Source("jms"); err == nil || err.Error() != `unknown source type "jms" (known: http, kafka, mqtt, nats, rabbitmq)` {
		t.Errorf("Source(jms) = %v", err)
	}
	if _, err := r.Sink("email"); err == nil || err.Error() != `unknown sink type "email" (known: file, http, kafka, log, mqtt, nats, rabbitmq)` {
		t.Errorf("Sink(email) = %v", err)
	}
	if _, err := r.Sink(""); err == nil || err.Error() != `@sink has no type (known: file, http, kafka, log, mqtt, nats, rabbitmq)` {
		t.Errorf("Sink('') = %v", err)
	}
	if _, err := New().Source("http"); err == nil || !strings.Contains(err.Error(), "(known: none)") {
		t.Errorf("empty registry Source = %v", err)
	}
}

func TestRegister(t *testing.T) {
	r := New()
	var f sink.Factory = func(sink.Spec, sink.Env) (sink.Sink, error) { return nil, nil }
	if err := r.RegisterSink("Mem", f); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterSink("mem", f); err == nil {
		t.Error("duplicate sink registered")
	}
	if err := r.RegisterSink("", f); err == nil {
		t.Error("empty sink name registered")
	}
	if err := r.RegisterSink("x", nil); err == nil {
		t.Error("nil sink factory registered")
	}
	if _, err := r.Sink("MEM"); err != nil {
		t.Errorf("Sink(MEM): %v", err)
	}
	var sf source.Factory = func(source.Spec, source.Ingester, source.Env) (source.Source, error) { return nil, nil }
	if err := r.RegisterSource("gen", sf); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterSource("GEN", sf); err == nil {
		t.Error("duplicate source registered")
	}
	if err := r.RegisterSource(" ", sf); err == nil {
		t.Error("blank source name registered")
	}
	if _, err := r.Source("Gen"); err != nil {
		t.Errorf("Source(Gen): %v", err)
	}
	// Independent registries do not share registrations.
	if _, err := New().Sink("mem"); err == nil {
		t.Error("registration leaked into a new registry")
	}
}
