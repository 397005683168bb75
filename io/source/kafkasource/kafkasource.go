// Package kafkasource implements a Kafka source with the option names of
// Siddhi's siddhi-io-kafka:
//
//	@source(type='kafka', bootstrap.servers='k1:9092,k2:9092', topic.list='orders,returns',
//	        group.id='tandem-orders', threading.option='partition.wise', @map(type='json'))
//
// The source consumes topic.list as a member of consumer group group.id, with
// automatic offset commits off. Each record's value is one JSON body (an
// event or an array of events, see package jsonmap) and is handed to the
// app's Ingester on its own, in offset order per partition. Offsets are
// committed after a poll's records have been taken, and only up to the last
// record whose Ingest returned nil, so with replication ack: sync both nodes
// hold a record before the group moves past it. A record the app refuses is
// retried in place until it is taken or the source stops; a record that does
// not decode is logged and skipped (its offset is committed): it could never
// be taken.
//
// High availability. Both nodes use the same group.id, so the group keeps
// the position: the new active continues after the last committed offset. A
// record the old active logged but had not committed is delivered again; its
// idempotency key, kafka:<group.id>:<topic>:<partition>:<offset>, is then
// already in the app's log and the app drops it. The group id is part of the
// key because two sources of one app may read one topic through two groups,
// and each must take every record. A graceful Stop leaves the group, so the
// partitions move at once; after a crash they move when the dead member's
// session times out, 10 seconds by default (session.timeout.ms below).
//
// While it handles a poll's records the source holds rebalances back, so it
// never commits for a partition that has moved. An app that pushes back for
// longer than the rebalance timeout (max.poll.interval.ms) gets the member
// dropped from the group; its commit then fails and the records are
// delivered again, to be dropped by their keys.
//
// Options:
//   - bootstrap.servers (required): host:port,...
//   - topic.list (required): the topics, separated by commas.
//   - group.id (required): the consumer group; both nodes must use the same.
//   - threading.option: single.thread (default: one record at a time, in the
//     order polled), topic.wise (the topics in parallel) or partition.wise
//     (the partitions in parallel). Records of one partition are always taken
//     in order.
//   - enable.offsets.commit: true (the default); false is refused, since a
//     source that never commits starts from the beginning at every failover.
//   - enable.async.commit: false (default) waits for each commit before the
//     next poll; true lets commits run behind the consumption (a failover
//     then redelivers a little more, dropped by key). Stop and a rebalance
//     wait for the commits in flight either way.
//   - is.binary.message: false only (binary Siddhi events are not supported).
//   - optional.configuration: Kafka consumer properties "key:value,...";
//     supported: client.id, session.timeout.ms (default 10000),
//     heartbeat.interval.ms, max.poll.interval.ms (the rebalance timeout),
//     max.poll.records (default 500), fetch.max.wait.ms, auto.offset.reset
//     (earliest, the default and Siddhi's behaviour, or latest: where a new
//     group starts) and enable.auto.commit (false only).
//
// Siddhi's partition.no.list, topic.offsets.map and seq.enabled are refused
// with a reason: the group assigns the partitions and keeps the offsets.
package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/source"
)

// Type is the source type name, as in @source(type='kafka').
const Type = "kafka"

// Defaults of the options.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultMaxPollRecords = 500
)

const (
	optServers   = "bootstrap.servers"
	optTopics    = "topic.list"
	optGroup     = "group.id"
	optThreading = "threading.option"
	optCommit    = "enable.offsets.commit"
	optAsync     = "enable.async.commit"
	optBinary    = "is.binary.message"
	optOptional  = "optional.configuration"
)

// unsupported are Siddhi options refused with the reason.
var unsupported = map[string]string{
	"partition.no.list": "the consumer group assigns the partitions; consume a topic's partitions from one source",
	"topic.offsets.map": "the consumer group keeps the offsets; a new group starts at auto.offset.reset (optional.configuration)",
	"seq.enabled":       "Tandem drops redelivered records by their offsets instead",
}

// consumerProps are the optional.configuration properties the source reads.
var consumerProps = []string{
	"client.id", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
	"max.poll.records", "fetch.max.wait.ms", "auto.offset.reset", "enable.auto.commit",
}

// Threading says which records a source takes in parallel.
type Threading int

// The threading.option values.
const (
	SingleThread  Threading = iota // one record at a time
	TopicWise                      // the topics in parallel
	PartitionWise                  // the partitions in parallel
)

// Retry pacing for records the app does not take and for failing polls.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
	// commitWait bounds a synchronous commit.
	commitWait = 10 * time.Second
	// leaveWait bounds leaving the group in Stop.
	leaveWait = 5 * time.Second
)

// Factory is the source.Factory for kafka sources.
func Factory(spec source.Spec, ing source.Ingester, env source.Env) (source.Source, error) {
	return New(spec, ing, env)
}

// Source is a started-or-stopped Kafka source. It may be started again after
// Stop.
type Source struct {
	servers   []string
	topics    []string
	group     string
	threading Threading
	async     bool
	clientID  string
	session   time.Duration
	heartbeat time.Duration // 0: the client's default
	rebalance time.Duration // 0: the client's default
	fetchWait time.Duration // 0: the client's default
	maxPoll   int
	latest    bool // a new group starts at the end
	ing       source.Ingester
	dec       *jsonmap.Decoder
	app       string
	stream    string
	logger    *slog.Logger

	mu         sync.Mutex
	cl         *kgo.Client
	stopping   chan struct{}      // closed by Stop
	done       chan struct{}      // closed when the consuming goroutine returns
	cancelPoll context.CancelFunc // ends a poll in progress
	cancel     context.CancelFunc // aborts an Ingest in flight

	// inflight counts asynchronous commits not yet answered. Adds happen
	// only on the consuming goroutine while it holds rebalances back, and
	// the waits (a revoke, Stop) happen while it does not, so Add never
	// races Wait.
	inflight sync.WaitGroup
}

// New validates spec and returns a stopped source; it does not connect.
func New(spec source.Spec, ing source.Ingester, env source.Env) (*Source, error) {
	const what = "kafka source"
	if ing == nil {
		return nil, errors.New("kafka source: no Ingester")
	}
	if spec.Stream == nil {
		return nil, errors.New("kafka source: no stream schema")
	}
	for k := range spec.Options {
		if why, ok := unsupported[k]; ok {
			return nil, fmt.Errorf("kafka source: option %q is not supported: %s", k, why)
		}
	}
	if err := opts.Check(what, spec.Options, optServers, optTopics, optGroup, optThreading, optCommit, optAsync, optBinary, optOptional); err != nil {
		return nil, err
	}
	s := &Source{ing: ing, app: spec.App, stream: spec.Stream.Name, session: DefaultSessionTimeout, maxPoll: DefaultMaxPollRecords}
	var err error
	if s.servers, err = ParseServers(what, spec.Options[optServers]); err != nil {
		return nil, err
	}
	for t := range strings.SplitSeq(spec.Options[optTopics], ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if err := ValidTopic(t); err != nil {
			return nil, fmt.Errorf("kafka source: option %q: %w", optTopics, err)
		}
		if !slices.Contains(s.topics, t) {
			s.topics = append(s.topics, t)
		}
	}
	if len(s.topics) == 0 {
		return nil, fmt.Errorf("kafka source: option %q (the topics) is required, e.g. topic.list='%s'", optTopics, strings.ToLower(spec.Stream.Name))
	}
	s.group = strings.TrimSpace(spec.Options[optGroup])
	if s.group == "" {
		return nil, fmt.Errorf("kafka source: option %q (the consumer group both nodes share) is required", optGroup)
	}
	if len(s.group) > 255 || strings.ContainsFunc(s.group, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("kafka source: option %q: %q is not a usable group id (at most 255 bytes, no control characters)", optGroup, s.group)
	}
	switch v := strings.ToLower(strings.TrimSpace(spec.Options[optThreading])); v {
	case "", "single.thread":
		s.threading = SingleThread
	case "topic.wise":
		s.threading = TopicWise
	case "partition.wise":
		s.threading = PartitionWise
	default:
		return nil, fmt.Errorf("kafka source: option %q: %q is not single.thread, topic.wise or partition.wise", optThreading, spec.Options[optThreading])
	}
	commit, err := opts.Bool(what, spec.Options, optCommit, true)
	if err != nil {
		return nil, err
	}
	if !commit {
		return nil, fmt.Errorf("kafka source: %s='false' is not supported: without commits a new active would read every topic from the start", optCommit)
	}
	if s.async, err = opts.Bool(what, spec.Options, optAsync, false); err != nil {
		return nil, err
	}
	binary, err := opts.Bool(what, spec.Options, optBinary, false)
	if err != nil {
		return nil, err
	}
	if binary {
		return nil, fmt.Errorf("kafka source: %s='true' is not supported: records are JSON (@map(type='json'))", optBinary)
	}
	if err := s.parseProps(what, spec.Options[optOptional]); err != nil {
		return nil, err
	}
	if s.dec, err = jsonmap.NewDecoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("source", Type, "app", spec.App, "stream", spec.Stream.Name, "topics", strings.Join(s.topics, ","), "group", s.group)
	return s, nil
}

func (s *Source) parseProps(what, raw string) error {
	props, err := ParseOptional(what, raw, consumerProps...)
	if err != nil {
		return err
	}
	s.clientID = props["client.id"]
	const maxMs = int64(time.Hour / time.Millisecond)
	ms, err := Millis(what, props, "session.timeout.ms", DefaultSessionTimeout.Milliseconds(), maxMs)
	if err != nil {
		return err
	}
	s.session = time.Duration(ms) * time.Millisecond
	if ms, err = Millis(what, props, "heartbeat.interval.ms", 0, maxMs); err != nil {
		return err
	}
	s.heartbeat = time.Duration(ms) * time.Millisecond
	if s.heartbeat >= s.session {
		return fmt.Errorf("%s: optional.configuration: heartbeat.interval.ms must be below session.timeout.ms (%d)", what, s.session.Milliseconds())
	}
	if ms, err = Millis(what, props, "max.poll.interval.ms", 0, maxMs); err != nil {
		return err
	}
	s.rebalance = time.Duration(ms) * time.Millisecond
	if ms, err = Millis(what, props, "fetch.max.wait.ms", 0, 60_000); err != nil {
		return err
	}
	s.fetchWait = time.Duration(ms) * time.Millisecond
	if v, ok := props["max.poll.records"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<20 {
			return fmt.Errorf("%s: optional.configuration \"max.poll.records\": %q is not a count from 1 to 1048576", what, v)
		}
		s.maxPoll = n
	}
	switch v := strings.ToLower(props["auto.offset.reset"]); v {
	case "", "earliest":
	case "latest":
		s.latest = true
	default:
		return fmt.Errorf("%s: optional.configuration \"auto.offset.reset\": %q is not earliest or latest", what, props["auto.offset.reset"])
	}
	if v, ok := props["enable.auto.commit"]; ok && !strings.EqualFold(v, "false") {
		return fmt.Errorf("%s: optional.configuration \"enable.auto.commit\": only false is supported: offsets are committed once the app holds the records", what)
	}
	return nil
}

// Key returns the idempotency key of the record at offset of a partition,
// read through a consumer group.
func Key(group, topic string, partition int32, offset int64) string {
	return "kafka:" + group + ":" + topic + ":" + strconv.FormatInt(int64(partition), 10) + ":" + strconv.FormatInt(offset, 10)
}

func (s *Source) clientOpts() []kgo.Opt {
	o := []kgo.Opt{
		kgo.SeedBrokers(s.servers...),
		kgo.ConsumerGroup(s.group),
		kgo.ConsumeTopics(s.topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(s.session),
		kgo.WithLogger(Logger(s.logger)),
	}
	if s.latest {
		o = append(o, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	} else {
		o = append(o, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	if s.clientID != "" {
		o = append(o, kgo.ClientID(s.clientID))
	}
	if s.heartbeat > 0 {
		o = append(o, kgo.HeartbeatInterval(s.heartbeat))
	}
	if s.rebalance > 0 {
		o = append(o, kgo.RebalanceTimeout(s.rebalance))
	}
	if s.fetchWait > 0 {
		o = append(o, kgo.FetchMaxWait(s.fetchWait))
	}
	if s.async {
		// Commits issued before a revoke must land before the partition
		// moves, or its next owner starts further back than needed.
		o = append(o, kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {
			s.inflight.Wait()
		}))
	}
	return o
}

// Start creates the group consumer and consumes in the background. Brokers
// that cannot be reached are not an error: the client keeps trying and logs
// why, since a source that fails to start stays closed for the whole term
// of the active.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl != nil {
		return fmt.Errorf("kafka source %s/%s: already started", s.app, s.stream)
	}
	cl, err := kgo.NewClient(s.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka source %s/%s: %w", s.app, s.stream, err)
	}
	s.cl = cl
	s.stopping = make(chan struct{})
	s.done = make(chan struct{})
	var pollCtx, runCtx context.Context
	pollCtx, s.cancelPoll = context.WithCancel(context.Background())
	runCtx, s.cancel = context.WithCancel(context.Background())
	go s.run(runCtx, pollCtx, cl, s.stopping, s.done)
	s.logger.Info("kafka source consuming")
	return nil
}

// run polls and handles records until Stop.
func (s *Source) run(ctx, pollCtx context.Context, cl *kgo.Client, stopping, done chan struct{}) {
	defer close(done)
	backoff := retryMin
	for {
		fs := cl.PollRecords(pollCtx, s.maxPoll)
		if fs.IsClientClosed() || pollCtx.Err() != nil {
			// Records polled but not handled are not committed: the
			// group's next member gets them.
			cl.AllowRebalance()
			return
		}
		failed := false
		fs.EachError(func(topic string, partition int32, err error) {
			failed = true
			s.logger.Warn("kafka fetch failed", "topic", topic, "partition", partition, "err", err)
		})
		recs := fs.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			if failed {
				if !sleep(stopping, backoff) {
					return
				}
				backoff = min(2*backoff, retryMax)
			}
			continue
		}
		backoff = retryMin
		s.commit(cl, s.handle(ctx, recs, stopping))
		cl.AllowRebalance()
		if isClosed(stopping) {
			return
		}
	}
}

type partitionKey struct {
	topic     string
	partition int32
}

// handle hands recs to the app, in parallel as threading.option says, and
// returns the last record taken of each partition.
func (s *Source) handle(ctx context.Context, recs []*kgo.Record, stopping chan struct{}) []*kgo.Record {
	groups := split(recs, s.threading)
	if len(groups) == 1 {
		return s.handleSeq(ctx, groups[0], stopping)
	}
	results := make([][]*kgo.Record, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { results[i] = s.handleSeq(ctx, g, stopping) })
	}
	wg.Wait()
	var last []*kgo.Record
	for _, r := range results {
		last = append(last, r...)
	}
	return last
}

// split groups records for parallel handling, keeping each group's records
// in the order polled (which is offset order per partition).
func split(recs []*kgo.Record, t Threading) [][]*kgo.Record {
	if t == SingleThread {
		return [][]*kgo.Record{recs}
	}
	index := map[partitionKey]int{}
	var groups [][]*kgo.Record
	for _, r := range recs {
		k := partitionKey{topic: r.Topic}
		if t == PartitionWise {
			k.partition = r.Partition
		}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}

// handleSeq takes recs one at a time and returns the last record taken of
// each partition. It stops at the first record the app does not take before
// the source stops, so what it returns has no gaps behind it.
func (s *Source) handleSeq(ctx context.Context, recs []*kgo.Record, stopping chan struct{}) []*kgo.Record {
	var last []*kgo.Record
	mark := func(r *kgo.Record) {
		for i, l := range last {
			if l.Topic == r.Topic && l.Partition == r.Partition {
				last[i] = r
				return
			}
		}
		last = append(last, r)
	}
	for _, r := range recs {
		if isClosed(stopping) {
			break
		}
		rows, err := s.dec.Decode(r.Value)
		if err != nil {
			s.logger.Warn("skipping a record that does not decode", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			mark(r)
			continue
		}
		if len(rows) > 0 && !s.ingest(ctx, rows, Key(s.group, r.Topic, r.Partition, r.Offset), stopping) {
			break
		}
		mark(r)
	}
	return last
}

// ingest hands rows to the app, retrying until it takes them or the source
// stops, and reports whether it took them.
func (s *Source) ingest(ctx context.Context, rows [][]event.Value, key string, stopping chan struct{}) bool {
	backoff := retryMin
	for {
		err := s.ing.Ingest(ctx, s.stream, rows, key)
		if err == nil {
			return true
		}
		if isClosed(stopping) || ctx.Err() != nil {
			return false
		}
		s.logger.Warn("record not accepted; retrying", "key", key, "events", len(rows), "err", err, "retry_in", backoff)
		if !sleep(stopping, backoff) {
			return false
		}
		backoff = min(2*backoff, retryMax)
	}
}

// commit commits the offsets after the given records, waiting for the
// broker unless enable.async.commit is set. A failed commit is logged, not
// retried: the records are delivered again later and dropped by key.
func (s *Source) commit(cl *kgo.Client, last []*kgo.Record) {
	if len(last) == 0 {
		return
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range last {
		if offsets[r.Topic] == nil {
			offsets[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	}
	onDone := func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err = commitError(resp, err); err != nil {
			s.logger.Warn("offset commit failed; the records will be delivered again and dropped by key", "err", err)
		}
	}
	if s.async {
		s.inflight.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), commitWait)
		cl.CommitOffsets(ctx, offsets, func(c *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			defer s.inflight.Done()
			defer cancel()
			onDone(c, req, resp, err)
		})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitWait)
	defer cancel()
	cl.CommitOffsetsSync(ctx, offsets, onDone)
}

// commitError returns the request's error or the first partition's error.
func commitError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil || resp == nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("topic %s partition %d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// Stop stops polling, waits for the record in flight (it is committed if the
// app took it) and leaves the group, so the partitions move at once. When
// ctx ends first, the Ingest in flight is cancelled and Stop still waits for
// it.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.cl == nil {
		s.mu.Unlock()
		return nil
	}
	cl, done, cancel := s.cl, s.done, s.cancel
	close(s.stopping)
	s.cancelPoll()
	s.mu.Unlock()

	var errs []error
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		<-done
		errs = append(errs, fmt.Errorf("kafka source %s/%s: in-flight record aborted: %w", s.app, s.stream, ctx.Err()))
	}
	cancel()
	s.inflight.Wait()
	lctx, lcancel := context.WithTimeout(ctx, leaveWait)
	if err := cl.LeaveGroupContext(lctx); err != nil && ctx.Err() == nil {
		errs = append(errs, fmt.Errorf("kafka source %s/%s: leave group %s: %w", s.app, s.stream, s.group, err))
	}
	lcancel()
	cl.Close()

	s.mu.Lock()
	s.cl = nil
	s.mu.Unlock()
	s.logger.Info("kafka source stopped")
	return errors.Join(errs...)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sleep waits d and reports true, or false as soon as stopping is closed.
func sleep(stopping chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stopping:
		return false
	case <-t.C:
		return true
	}
}
