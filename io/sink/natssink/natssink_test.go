package natssink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
			ID: fmt.Sprintf("app/Alerts/0/%d", i), Ordinal: uint64(i), Epoch: 3,
			Event: event.Event{Data: []event.Value{event.StringValue(fmt.Sprintf("S%d", i)), event.DoubleValue(float64(i) + 0.5)}},
		})
	}
	return outs
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		options map[string]string
		want    string
	}{
		{map[string]string{}, `option "destination" (the subject) is required`},
		{map[string]string{"destination": "a.*"}, "cannot have wildcards"},
		{map[string]string{"destination": "a.>"}, "cannot have wildcards"},
		{map[string]string{"destination": "a..b"}, "empty token"},
		{map[string]string{"destination": "a\tb"}, "whitespace"},
		{map[string]string{"destination": "a", "stream.name": "x y"}, "not a valid stream name"},
		{map[string]string{"destination": "a", "ack.wait": "never"}, "neither seconds nor a duration"},
		{map[string]string{"destination": "a", "server.urls": "kafka://x"}, "is not nats"},
		{map[string]string{"destination": "a", "auth.type": "token"}, `needs option "token"`},
		{map[string]string{"destination": "a", "streaming.cluster.id": "c"}, `unknown option "streaming.cluster.id"`},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), sink.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) error = %v, want %q", tc.options, err, tc.want)
		}
	}
	sp := spec(map[string]string{"destination": "a"})
	sp.Stream = nil
	if _, err := New(sp, sink.Env{}); err == nil {
		t.Error("New without a schema succeeded")
	}
	sp = spec(map[string]string{"destination": "a"})
	sp.Map = source.MapSpec{Type: "text"}
	if _, err := New(sp, sink.Env{}); err == nil || !strings.Contains(err.Error(), "unknown map type") {
		t.Errorf("New with @map(type='text') error = %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	s, err := New(spec(map[string]string{"destination": "alerts.high", "stream.name": "ALERTS", "ack.wait": "2", "bootstrap.servers": "nats://h:1"}), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.subject != "alerts.high" || s.jsStream != "ALERTS" || s.ackWait != 2*time.Second || s.conn.Servers[0] != "nats://h:1" {
		t.Errorf("sink = %+v", s)
	}
	if s, err = New(spec(map[string]string{"destination": "a"}), sink.Env{}); err != nil || s.ackWait != DefaultAckWait {
		t.Errorf("defaults: %+v, %v", s, err)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("alerts", "S", "5", "nats://127.0.0.1:4222")
	f.Add("a.*", "", "0", "")
	f.Add("a b", "x.y", "-3s", "nats://:1,ws://h")
	f.Fuzz(func(t *testing.T, dest, stream, ackWait, servers string) {
		options := map[string]string{"destination": dest, "ack.wait": ackWait, "server.urls": servers}
		if stream != "" {
			options["stream.name"] = stream
		}
		s, err := New(spec(options), sink.Env{})
		if err != nil {
			return
		}
		if checkSubject(s.subject) != nil || s.ackWait <= 0 || len(s.conn.Servers) == 0 {
			t.Errorf("accepted bad options %v", options)
		}
	})
}

// --- against a NATS server ---

const natsURL = "nats://127.0.0.1:4222"

// jetStream connects to the local NATS server and creates a stream with a
// unique name on subject <prefix>.>, deleted when the test ends. It skips
// when the server is not reachable, unless TANDEM_REQUIRE_SERVICES=1.
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
	stream, prefix = "TANDEM_SINK_"+id, "tandem.sink."+id
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

func newSink(t testing.TB, options map[string]string) *Sink {
	t.Helper()
	options["server.urls"] = natsURL
	s, err := New(spec(options), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type stored struct {
	id, epoch, body string
}

func readAll(t testing.TB, js jetstream.JetStream, stream string) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		out = append(out, stored{m.Header.Get(jetstream.MsgIDHeader), m.Header.Get(EpochHeader), string(m.Data)})
	}
	return out
}

// TestDuplicatesStoredOnce publishes a batch, then publishes it again with
// one more output, as the caller does after a failed batch or a new active
// after a failover: JetStream stores each output once.
func TestDuplicatesStoredOnce(t *testing.T) {
	js, stream, prefix := jetStream(t)
	s := newSink(t, map[string]string{"destination": prefix + ".alerts", "stream.name": stream})
	ctx := context.Background()
	if err := s.Publish(ctx, outputs(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, outputs(1, 4)); err != nil {
		t.Fatal(err)
	}
	// Another sink (the new active) publishing the same ids.
	s2 := newSink(t, map[string]string{"destination": prefix + ".alerts"})
	if err := s2.Publish(ctx, outputs(3, 5)); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, js, stream)
	if len(got) != 5 {
		t.Fatalf("stored %d messages, want 5: %v", len(got), got)
	}
	for i, m := range got {
		n := i + 1
		want := stored{fmt.Sprintf("app/Alerts/0/%d", n), "3", fmt.Sprintf(`{"event":{"sym":"S%d","price":%d.5}}`, n, n)}
		if m != want {
			t.Errorf("message %d = %+v, want %+v", n, m, want)
		}
	}
}

func TestBigBatch(t *testing.T) {
	js, stream, prefix := jetStream(t)
	s := newSink(t, map[string]string{"destination": prefix + ".big"})
	if err := s.Publish(context.Background(), outputs(1, 3*window+7)); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, js, stream)
	if len(got) != 3*window+7 {
		t.Fatalf("stored %d", len(got))
	}
	for i, m := range got {
		if want := fmt.Sprintf("app/Alerts/0/%d", i+1); m.id != want {
			t.Fatalf("message %d has id %s, want %s (order)", i+1, m.id, want)
		}
	}
}

func TestPublishErrors(t *testing.T) {
	_, stream, prefix := jetStream(t)
	ctx := context.Background()

	// A subject no stream stores: no acknowledgement, so the batch fails.
	s := newSink(t, map[string]string{"destination": "tandem.nostream." + strings.ToLower(stream), "ack.wait": "1"})
	if err := s.Publish(ctx, outputs(1, 1)); err == nil || !strings.Contains(err.Error(), "app/Alerts/0/1") {
		t.Errorf("publish to a subject without a stream: %v", err)
	}

	// The subject is bound to another stream than stream.name.
	s = newSink(t, map[string]string{"destination": prefix + ".x", "stream.name": "NOT_" + stream})
	if err := s.Publish(ctx, outputs(1, 1)); err == nil {
		t.Error("publish with the wrong expected stream succeeded")
	}

	// No server.
	s, err := New(spec(map[string]string{"destination": "a", "server.urls": "nats://127.0.0.1:1"}), sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, outputs(1, 1)); err == nil || !strings.Contains(err.Error(), "connect to nats://127.0.0.1:1") {
		t.Errorf("publish without a server: %v", err)
	}

	// Closed.
	s = newSink(t, map[string]string{"destination": prefix + ".y"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, outputs(1, 1)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("publish after Close: %v", err)
	}

	// A cancelled context.
	s = newSink(t, map[string]string{"destination": prefix + ".z"})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Publish(cctx, outputs(1, 2)); err == nil {
		t.Error("publish with a cancelled context succeeded")
	}
}

func BenchmarkPublish(b *testing.B) {
	_, _, prefix := jetStream(b)
	s := newSink(b, map[string]string{"destination": prefix + ".bench"})
	batch := outputs(1, 100)
	ctx := context.Background()
	n := 0
	for i := 0; b.Loop(); i++ {
		for j := range batch {
			batch[j].ID = fmt.Sprintf("app/Alerts/0/%d", i*len(batch)+j)
		}
		if err := s.Publish(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += len(batch)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "outputs/s")
}
