package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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
	m := map[string]string{"bootstrap.servers": "127.0.0.1:9092", "topic.list": "t1", "group.id": "g"}
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
		{baseOptions("bootstrap.servers", " , "), `"bootstrap.servers" is required`},
		{baseOptions("bootstrap.servers", "kafka://h:9092"), "without a scheme"},
		{baseOptions("bootstrap.servers", "h"), "is not host:port"},
		{baseOptions("bootstrap.servers", "h:0"), "bad port"},
		{baseOptions("bootstrap.servers", "h:99999"), "bad port"},
		{baseOptions("bootstrap.servers", ":9092"), "no valid host"},
		{baseOptions("topic.list", "<delete>"), `"topic.list" (the topics) is required`},
		{baseOptions("topic.list", "a,b c"), "may only have letters"},
		{baseOptions("topic.list", ".."), "not allowed"},
		{baseOptions("topic.list", strings.Repeat("x", 250)), "longer than 249"},
		{baseOptions("group.id", "<delete>"), `"group.id" (the consumer group both nodes share) is required`},
		{baseOptions("group.id", "a\x00b"), "not a usable group id"},
		{baseOptions("threading.option", "per.record"), "not single.thread, topic.wise or partition.wise"},
		{baseOptions("enable.offsets.commit", "false"), "not supported"},
		{baseOptions("enable.offsets.commit", "maybe"), "is not true or false"},
		{baseOptions("enable.async.commit", "1"), "is not true or false"},
		{baseOptions("is.binary.message", "true"), "not supported"},
		{baseOptions("partition.no.list", "0,1"), `option "partition.no.list" is not supported`},
		{baseOptions("topic.offsets.map", "t1=5"), `option "topic.offsets.map" is not supported`},
		{baseOptions("seq.enabled", "true"), `option "seq.enabled" is not supported`},
		{baseOptions("topic", "t1"), `unknown option "topic"`},
		{baseOptions("optional.configuration", "security.protocol:SSL"), `unsupported property "security.protocol"`},
		{baseOptions("optional.configuration", "client.id"), "is not key:value"},
		{baseOptions("optional.configuration", "client.id:a,client.id:b"), "given twice"},
		{baseOptions("optional.configuration", "session.timeout.ms:0"), "not a number of milliseconds"},
		{baseOptions("optional.configuration", "session.timeout.ms:5s"), "not a number of milliseconds"},
		{baseOptions("optional.configuration", "heartbeat.interval.ms:20000"), "must be below session.timeout.ms"},
		{baseOptions("optional.configuration", "max.poll.records:0"), "not a count"},
		{baseOptions("optional.configuration", "auto.offset.reset:none"), "not earliest or latest"},
		{baseOptions("optional.configuration", "enable.auto.commit:true"), "only false is supported"},
		{baseOptions("optional.configuration", "fetch.max.wait.ms:60001"), "from 1 to 60000"},
	}
	for _, tc := range tests {
		_, err := New(spec(tc.options), &ingester{}, source.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) error = %v, want %q", tc.options, err, tc.want)
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
	if s.threading != SingleThread || s.async || s.session != DefaultSessionTimeout || s.maxPoll != DefaultMaxPollRecords || s.latest ||
		s.heartbeat != 0 || s.rebalance != 0 || s.fetchWait != 0 || s.clientID != "" {
		t.Errorf("defaults: %+v", s)
	}

	s, err = New(spec(map[string]string{
		"bootstrap.servers": "a:1, [::1]:9093,", "topic.list": " t1 , t2,t1", "group.id": " grp ",
		"threading.option": "Partition.Wise", "enable.offsets.commit": "true", "enable.async.commit": "TRUE",
		"is.binary.message": "false",
		"optional.configuration": "client.id:me, Session.Timeout.Ms:6000,heartbeat.interval.ms:1000,max.poll.interval.ms:30000," +
			"max.poll.records:7,fetch.max.wait.ms:250,auto.offset.reset:latest,enable.auto.commit:false",
	}), &ingester{}, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.servers, " "); got != "a:1 [::1]:9093" {
		t.Errorf("servers = %q", got)
	}
	if got := strings.Join(s.topics, " "); got != "t1 t2" {
		t.Errorf("topics = %q", got)
	}
	if s.group != "grp" || s.threading != PartitionWise || !s.async || s.clientID != "me" || s.session != 6*time.Second ||
		s.heartbeat != time.Second || s.rebalance != 30*time.Second || s.maxPoll != 7 || s.fetchWait != 250*time.Millisecond || !s.latest {
		t.Errorf("options: %+v", s)
	}
	s, err = New(spec(baseOptions("threading.option", "topic.wise")), &ingester{}, source.Env{})
	if err != nil || s.threading != TopicWise {
		t.Errorf("topic.wise: %v, %v", s, err)
	}
}

func TestKey(t *testing.T) {
	if got := Key("g:1", "orders", 3, 42); got != "kafka:g:1:orders:3:42" {
		t.Errorf("Key = %q", got)
	}
}

func TestSplit(t *testing.T) {
	rec := func(topic string, p int32, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: p, Offset: off}
	}
	recs := []*kgo.Record{rec("a", 0, 0), rec("a", 1, 0), rec("b", 0, 0), rec("a", 0, 1), rec("a", 1, 1)}
	show := func(groups [][]*kgo.Record) string {
		var parts []string
		for _, g := range groups {
			var ids []string
			for _, r := range g {
				ids = append(ids, fmt.Sprintf("%s%d@%d", r.Topic, r.Partition, r.Offset))
			}
			parts = append(parts, strings.Join(ids, ","))
		}
		return strings.Join(parts, " | ")
	}
	tests := []struct {
		t    Threading
		want string
	}{
		{SingleThread, "a0@0,a1@0,b0@0,a0@1,a1@1"},
		{TopicWise, "a0@0,a1@0,a0@1,a1@1 | b0@0"},
		{PartitionWise, "a0@0,a0@1 | a1@0,a1@1 | b0@0"},
	}
	for _, tc := range tests {
		if got := show(split(recs, tc.t)); got != tc.want {
			t.Errorf("split(%d) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestValidTopic(t *testing.T) {
	for _, ok := range []string{"a", "A.b_c-9", strings.Repeat("x", 249)} {
		if err := ValidTopic(ok); err != nil {
			t.Errorf("ValidTopic(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "ü", strings.Repeat("x", 250)} {
		if ValidTopic(bad) == nil {
			t.Errorf("ValidTopic(%q) = nil", bad)
		}
	}
}

// FuzzParseOptional checks that no optional.configuration makes the parser
// panic and that what it accepts has only allowed, trimmed, lower-case keys.
func FuzzParseOptional(f *testing.F) {
	f.Add("client.id:me,session.timeout.ms:6000")
	f.Add(" , ,")
	f.Add("a:b:c")
	f.Add("CLIENT.ID : x")
	f.Add(":x")
	f.Add("client.id:a,client.id:b")
	f.Fuzz(func(t *testing.T, raw string) {
		props, err := ParseOptional("@x", raw, consumerProps...)
		if err != nil {
			return
		}
		for k, v := range props {
			if !slices.Contains(consumerProps, k) || v != strings.TrimSpace(v) {
				t.Errorf("ParseOptional(%q) accepted %q=%q", raw, k, v)
			}
		}
	})
}

// FuzzNew checks that no option value makes New panic and that what it
// accepts is usable.
func FuzzNew(f *testing.F) {
	f.Add("127.0.0.1:9092", "t1,t2", "g", "partition.wise", "false", "client.id:x,max.poll.records:10")
	f.Add("[::1]:1,h:2", " t ", "g g", "", "true", "")
	f.Add("h", "", "", "x", "yes", "session.timeout.ms:1")
	f.Add(":0", "..", "\x00", "topic.wise", "", "heartbeat.interval.ms:99999999999999")
	f.Fuzz(func(t *testing.T, servers, topics, group, threading, async, optional string) {
		options := map[string]string{"bootstrap.servers": servers, "topic.list": topics, "group.id": group,
			"threading.option": threading, "enable.async.commit": async, "optional.configuration": optional}
		s, err := New(spec(options), &ingester{}, source.Env{})
		if err != nil {
			return
		}
		if len(s.servers) == 0 || len(s.topics) == 0 || s.group == "" || s.maxPoll < 1 || s.session <= 0 || s.heartbeat >= s.session {
			t.Errorf("accepted bad options %v: %+v", options, s)
		}
		for _, tp := range s.topics {
			if ValidTopic(tp) != nil {
				t.Errorf("accepted topic %q", tp)
			}
		}
	})
}

// --- against a fake Kafka cluster ---

type call struct {
	key  string
	rows [][]event.Value
}

// ingester records every call. With dedup it drops keys it took before, as
// the app does. hook, when set, runs first and may fail the call.
type ingester struct {
	mu      sync.Mutex
	calls   []call
	taken   map[string]bool
	dedup   bool
	dropped int // calls dropped by dedup
	hook    func(ctx context.Context, key string) error
	ch      chan struct{} // signalled after each call, if set
}

func (in *ingester) Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error {
	if stream != schema.Name {
		return fmt.Errorf("stream %q", stream)
	}
	in.mu.Lock()
	hook := in.hook
	in.calls = append(in.calls, call{key: key, rows: rows})
	in.mu.Unlock()
	defer func() {
		if in.ch != nil {
			select {
			case in.ch <- struct{}{}:
			default:
			}
		}
	}()
	if hook != nil {
		if err := hook(ctx, key); err != nil {
			return err
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.taken == nil {
		in.taken = map[string]bool{}
	}
	if in.dedup && in.taken[key] {
		in.dropped++
		return nil
	}
	in.taken[key] = true
	return nil
}

func (in *ingester) snapshot() []call {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.calls)
}

func (in *ingester) takenKeys() map[string]bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := map[string]bool{}
	for k := range in.taken {
		m[k] = true
	}
	return m
}

// waitFor polls cond until it holds or the deadline passes.
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

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes bodies to a topic partition and returns their offsets.
func produce(t testing.TB, addrs []string, topic string, partition int32, bodies ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(b)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committed returns the group's committed offsets.
func committed(t *testing.T, addrs []string, group string) map[string]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			out[fmt.Sprintf("%s/%d", tp.Topic, p.Partition)] = p.Offset
		}
	}
	return out
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

func TestConsume(t *testing.T) {
	for _, threading := range []string{"single.thread", "topic.wise", "partition.wise"} {
		for _, async := range []string{"false", "true"} {
			t.Run(threading+"/async="+async, func(t *testing.T) {
				c := newCluster(t, kfake.SeedTopics(3, "t1"), kfake.SeedTopics(1, "t2"))
				addrs := c.ListenAddrs()
				want := map[string]string{} // key -> sym
				for p := range int32(3) {
					var bodies []string
					for i := range 5 {
						sym := fmt.Sprintf("t1-%d-%d", p, i)
						bodies = append(bodies, body(sym, i))
						want[Key("g", "t1", p, int64(i))] = sym
					}
					produce(t, addrs, "t1", p, bodies...)
				}
				// A record that does not decode is skipped; one with an
				// array body is one Ingest of two events.
				produce(t, addrs, "t2", 0, body("t2-0", 0), "not json", `[{"sym":"t2-2a","n":1},{"sym":"t2-2b","n":2}]`, body("t2-3", 3))
				want[Key("g", "t2", 0, 0)] = "t2-0"
				want[Key("g", "t2", 0, 2)] = "t2-2a"
				want[Key("g", "t2", 0, 3)] = "t2-3"

				in := &ingester{}
				s := startSource(t, map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic.list": "t1,t2", "group.id": "g",
					"threading.option": threading, "enable.async.commit": async}, in)
				waitFor(t, "all records", 20*time.Second, func() bool { return len(in.snapshot()) >= len(want) })
				stopSource(t, s)

				calls := in.snapshot()
				if len(calls) != len(want) {
					t.Fatalf("%d calls, want %d", len(calls), len(want))
				}
				lastOffset := map[string]int64{}
				for _, cl := range calls {
					sym, ok := want[cl.key]
					if !ok {
						t.Fatalf("unexpected key %q", cl.key)
					}
					if cl.rows[0][0] != event.StringValue(sym) {
						t.Errorf("key %s: rows %v, want sym %s", cl.key, cl.rows, sym)
					}
					delete(want, cl.key)
					// Offsets of a partition arrive in order.
					i := strings.LastIndexByte(cl.key, ':')
					part, off := cl.key[:i], cl.key[i+1:]
					n, _ := strconv.ParseInt(off, 10, 64)
					if prev, ok := lastOffset[part]; ok && n <= prev {
						t.Errorf("%s: offset %d after %d", part, n, prev)
					}
					lastOffset[part] = n
					if strings.HasSuffix(cl.key, "t2:0:2") && len(cl.rows) != 2 {
						t.Errorf("array body: %d rows", len(cl.rows))
					}
				}
				got := committed(t, addrs, "g")
				wantCommitted := map[string]int64{"t1/0": 5, "t1/1": 5, "t1/2": 5, "t2/0": 4}
				if fmt.Sprint(got) != fmt.Sprint(wantCommitted) {
					t.Errorf("committed %v, want %v", got, wantCommitted)
				}
			})
		}
	}
}

// TestRedeliveryAfterUncommittedBatch: the app takes a batch but the commit
// is lost (as when the active dies right after Ingest); the group's next
// member gets the batch again with the same keys.
func TestRedeliveryAfterUncommittedBatch(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t1"))
	addrs := c.ListenAddrs()
	produce(t, addrs, "t1", 0, body("a", 0), body("b", 1), body("c", 2))
	var failCommits sync.Map // set: fail every commit
	failCommits.Store("on", true)
	c.ControlKey(kmsg.OffsetCommit.Int16(), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if _, on := failCommits.Load("on"); !on {
			return nil, nil, false
		}
		req := kr.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	options := map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic.list": "t1", "group.id": "g"}

	first := &ingester{}
	s := startSource(t, options, first)
	waitFor(t, "the batch", 20*time.Second, func() bool { return len(first.snapshot()) == 3 })
	stopSource(t, s)
	if got := committed(t, addrs, "g"); got["t1/0"] > 0 {
		t.Fatalf("committed %v despite the failing commits", got)
	}

	failCommits.Delete("on")
	second := &ingester{}
	s = startSource(t, options, second)
	waitFor(t, "the redelivered batch", 20*time.Second, func() bool { return len(second.snapshot()) == 3 })
	stopSource(t, s)
	a, b := first.snapshot(), second.snapshot()
	for i := range a {
		if a[i].key != b[i].key || a[i].key != Key("g", "t1", 0, int64(i)) {
			t.Errorf("call %d: first key %q, redelivered key %q", i, a[i].key, b[i].key)
		}
	}
	if got := committed(t, addrs, "g"); got["t1/0"] != 3 {
		t.Errorf("committed %v after the redelivery", got)
	}
}

// TestStopMidRecord: a record whose Ingest is still waiting when Stop's
// context ends is not committed, and the next member starts at it with the
// same key; the records taken before it are committed.
func TestStopMidRecord(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t1"))
	addrs := c.ListenAddrs()
	produce(t, addrs, "t1", 0, body("a", 0), body("b", 1), body("c", 2), body("d", 3))
	blockKey := Key("g", "t1", 0, 2)
	blocked := make(chan struct{})
	first := &ingester{hook: func(ctx context.Context, key string) error {
		if key != blockKey {
			return nil
		}
		close(blocked)
		<-ctx.Done() // the app logged it but the source never hears back
		return ctx.Err()
	}}
	options := map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic.list": "t1", "group.id": "g"}
	s := startSource(t, options, first)
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("record 2 never reached Ingest")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := s.Stop(ctx)
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want the in-flight record aborted", err)
	}
	if got := committed(t, addrs, "g"); got["t1/0"] != 2 {
		t.Errorf("committed %v, want t1/0 at 2", got)
	}

	second := &ingester{}
	s = startSource(t, options, second)
	waitFor(t, "the rest", 20*time.Second, func() bool { return len(second.snapshot()) == 2 })
	stopSource(t, s)
	if got := second.snapshot(); got[0].key != blockKey || got[1].key != Key("g", "t1", 0, 3) {
		t.Errorf("redelivered keys %q, %q", got[0].key, got[1].key)
	}
}

// TestRetryRefused: a record the app refuses is retried in place, and
// later records wait for it.
func TestRetryRefused(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t1"))
	addrs := c.ListenAddrs()
	produce(t, addrs, "t1", 0, body("a", 0), body("b", 1))
	var mu sync.Mutex
	refusals := 2
	in := &ingester{hook: func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if key == Key("g", "t1", 0, 0) && refusals > 0 {
			refusals--
			return errors.New("queue full")
		}
		return nil
	}}
	s := startSource(t, map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic.list": "t1", "group.id": "g"}, in)
	waitFor(t, "both records", 20*time.Second, func() bool { return len(in.takenKeys()) == 2 })
	stopSource(t, s)
	var keys []string
	for _, c := range in.snapshot() {
		keys = append(keys, c.key[len(c.key)-1:])
	}
	if got := strings.Join(keys, ","); got != "0,0,0,1" {
		t.Errorf("Ingest calls by offset: %s, want 0,0,0,1", got)
	}
}

// TestStartUnreachable: Start does not fail while no broker is up, and Stop
// returns promptly.
func TestStartUnreachable(t *testing.T) {
	s := startSource(t, map[string]string{"bootstrap.servers": "127.0.0.1:1", "topic.list": "t1", "group.id": "g"}, &ingester{})
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_ = s.Stop(ctx) // leaving a group never joined may report an error
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

// TestFailoverAfterCrash: the active dies without leaving the group while
// the app holds a record it never acknowledged. The new active's source
// gets the partition once the dead member's session times out, and the
// record again with the key the app already logged.
func TestFailoverAfterCrash(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t1"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	addrs := c.ListenAddrs()
	produce(t, addrs, "t1", 0, body("a", 0), body("b", 1), body("c", 2))
	// The dead process sends no LeaveGroup.
	var crashed atomic.Bool
	crashed.Store(true)
	c.ControlKey(kmsg.LeaveGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !crashed.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("crashed"), true
	})
	lastKey := Key("g", "t1", 0, 2)
	app := &ingester{dedup: true} // the app's log, replicated to both nodes
	blocked := make(chan struct{})
	var once sync.Once
	app.hook = func(ctx context.Context, key string) error {
		if key != lastKey {
			return nil
		}
		var first bool
		once.Do(func() { first = true })
		if !first {
			return nil
		}
		// Logged on both nodes, then the active dies before the commit.
		app.mu.Lock()
		app.taken[key] = true
		app.mu.Unlock()
		close(blocked)
		<-ctx.Done()
		return ctx.Err()
	}
	app.taken = map[string]bool{}
	options := map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic.list": "t1", "group.id": "g",
		"optional.configuration": "session.timeout.ms:1500,heartbeat.interval.ms:300"}
	old := startSource(t, options, app)
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("record 2 never reached Ingest")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_ = old.Stop(ctx) // the leave fails: the member stays in the group until its session ends
	cancel()
	crashed.Store(false)

	start := time.Now()
	s := startSource(t, options, app)
	waitFor(t, "the redelivery", 30*time.Second, func() bool {
		app.mu.Lock()
		defer app.mu.Unlock()
		return app.dropped == 1
	})
	t.Logf("redelivered %v after the new member started", time.Since(start).Round(10*time.Millisecond))
	stopSource(t, s)
	calls := app.snapshot()
	var keys []string
	for _, c := range calls {
		keys = append(keys, c.key)
	}
	want := []string{Key("g", "t1", 0, 0), Key("g", "t1", 0, 1), lastKey, lastKey}
	if !slices.Equal(keys, want) {
		t.Errorf("Ingest keys %q, want %q", keys, want)
	}
	if len(app.takenKeys()) != 3 {
		t.Errorf("app holds %d records, want 3", len(app.takenKeys()))
	}
}
