package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

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
	m := map[string]string{"bootstrap.servers": "127.0.0.1:9092", "topic": "out"}
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
		{baseOptions("bootstrap.servers", "<delete>"), `"bootstrap.servers" is required`},
		{baseOptions("bootstrap.servers", "h"), "is not host:port"},
		{baseOptions("topic", "<delete>"), `option "topic" is required`},
		{baseOptions("topic", "{{sym}}"), "dynamic topics"},
		{baseOptions("topic", "a b"), "may only have letters"},
		{baseOptions("partition.no", "-1"), "not a partition number"},
		{baseOptions("partition.no", "x"), "not a partition number"},
		{baseOptions("key", "{{sym}}"), "dynamic keys"},
		{baseOptions("is.synchronous", "false"), "not supported"},
		{baseOptions("is.binary.message", "true"), "not supported"},
		{baseOptions("sequence.id", "s1"), `option "sequence.id" is not supported`},
		{baseOptions("topic.list", "t"), `unknown option "topic.list"`},
		{baseOptions("optional.configuration", "compression.type:brotli"), "not none, gzip"},
		{baseOptions("optional.configuration", "linger.ms:-1"), "from 0 to 60000"},
		{baseOptions("optional.configuration", "batch.size:10"), "from 1024"},
		{baseOptions("optional.configuration", "delivery.timeout.ms:0"), "not a number of milliseconds"},
		{baseOptions("optional.configuration", "acks:1"), "only all"},
		{baseOptions("optional.configuration", "enable.idempotence:false"), "only true"},
		{baseOptions("optional.configuration", "transactional.id:x"), `unsupported property "transactional.id"`},
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
	if s.partition != -1 || s.key != nil || s.codec != nil || s.linger != 0 || s.delivery != DefaultDeliveryTimeout || s.batchMax != 0 {
		t.Errorf("defaults: %+v", s)
	}
	s, err = New(spec(baseOptions("partition.no", "2", "key", "k", "is.synchronous", "true", "is.binary.message", "false",
		"optional.configuration", "client.id:me,compression.type:ZSTD,linger.ms:5,batch.size:65536,request.timeout.ms:2000,delivery.timeout.ms:9000,acks:all,enable.idempotence:true")), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.partition != 2 || string(s.key) != "k" || s.clientID != "me" || s.codec == nil || s.linger != 5*time.Millisecond ||
		s.batchMax != 65536 || s.reqTime != 2*time.Second || s.delivery != 9*time.Second {
		t.Errorf("options: %+v", s)
	}
}

// FuzzNew checks that no option value makes New panic.
func FuzzNew(f *testing.F) {
	f.Add("h:1", "t", "0", "k", "linger.ms:0,compression.type:lz4")
	f.Add("h", "{{x}}", "-1", "", "acks:1")
	f.Add("[::1]:9092", "..", "99999999999", "{{k}}", "batch.size:1,")
	f.Fuzz(func(t *testing.T, servers, topic, partition, key, optional string) {
		options := map[string]string{"bootstrap.servers": servers, "topic": topic, "partition.no": partition, "key": key,
			"optional.configuration": optional}
		s, err := New(spec(options), sink.Env{})
		if err != nil {
			return
		}
		if len(s.servers) == 0 || s.topic == "" || s.partition < 0 || s.delivery <= 0 {
			t.Errorf("accepted bad options %v: %+v", options, s)
		}
	})
}

// --- against a fake Kafka cluster ---

func outputs(from, n int, epoch uint64) []sink.Output {
	outs := make([]sink.Output, n)
	for i := range outs {
		ord := uint64(from + i)
		outs[i] = sink.Output{ID: fmt.Sprintf("app/Alerts/0/%d", ord), Ordinal: ord, Epoch: epoch,
			Event: event.Event{Data: []event.Value{event.StringValue("IBM"), event.LongValue(int64(ord))}}}
	}
	return outs
}

// consume reads n records of topic from the start.
func consume(t *testing.T, addrs []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(recs), n)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return "<none>"
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
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	s := newSink(t, map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic": "out", "partition.no": "2", "key": "IBM"})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Publish(ctx, outputs(1, 3, 7)); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	recs := consume(t, addrs, "out", 3)
	for i, r := range recs {
		wantID := fmt.Sprintf("app/Alerts/0/%d", i+1)
		if got := header(r, OutputIDHeader); got != wantID {
			t.Errorf("record %d: %s = %q, want %q", i, OutputIDHeader, got, wantID)
		}
		if got := header(r, EpochHeader); got != "7" {
			t.Errorf("record %d: %s = %q", i, EpochHeader, got)
		}
		if want := fmt.Sprintf(`{"event":{"sym":"IBM","n":%d}}`, i+1); string(r.Value) != want {
			t.Errorf("record %d: value %s, want %s", i, r.Value, want)
		}
		if r.Partition != 2 || string(r.Key) != "IBM" || r.Offset != int64(i) {
			t.Errorf("record %d: partition %d key %q offset %d", i, r.Partition, r.Key, r.Offset)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, outputs(4, 1, 7)); err == nil {
		t.Error("Publish after Close succeeded")
	}
}

// TestPublishFenced: a publisher whose fence is shut writes nothing, and one
// fenced mid-batch stops there.
func TestPublishFenced(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	s := newSink(t, map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic": "out"})
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
	recs := consume(t, addrs, "out", 3)
	var ids []string
	for _, r := range recs {
		ids = append(ids, header(r, OutputIDHeader))
	}
	if got := strings.Join(ids, " "); got != "app/Alerts/0/1 app/Alerts/0/2 app/Alerts/0/10" {
		t.Errorf("records %s", got)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBrokerOutage: while the broker is down Publish fails; once it is back
// the batch is published, and every output is in the topic.
func TestBrokerOutage(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	start := func() *kfake.Cluster {
		t.Helper()
		var c *kfake.Cluster
		var err error
		for range 50 { // the port may take a moment to be free again
			if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(1, "out")); err == nil {
				return c
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal(err)
		return nil
	}
	c := start()
	addrs := c.ListenAddrs()
	s := newSink(t, map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic": "out",
		"optional.configuration": "delivery.timeout.ms:1500"})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	if err := s.Publish(ctx, outputs(1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()

	c.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	began := time.Now()
	err := s.Publish(ctx, outputs(3, 2, 1))
	cancel()
	if err == nil {
		t.Fatal("Publish succeeded with the broker down")
	}
	t.Logf("Publish failed after %v: %v", time.Since(began).Round(10*time.Millisecond), err)

	c = start()
	defer c.Close()
	var last error
	for range 10 { // the publisher retries the same batch
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		last = s.Publish(ctx, outputs(3, 2, 1))
		cancel()
		if last == nil {
			break
		}
		t.Logf("retry: %v", last)
	}
	if last != nil {
		t.Fatalf("Publish after the broker came back: %v", last)
	}
	seen := map[string]bool{}
	for _, r := range consume(t, addrs, "out", 4) {
		seen[header(r, OutputIDHeader)] = true
	}
	for i := 1; i <= 4; i++ {
		if id := fmt.Sprintf("app/Alerts/0/%d", i); !seen[id] {
			t.Errorf("output %s missing; have %v", id, seen)
		}
	}
}
