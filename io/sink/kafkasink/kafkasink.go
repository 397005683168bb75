// Package kafkasink implements a Kafka sink with the option names of
// Siddhi's siddhi-io-kafka:
//
//	@sink(type='kafka', bootstrap.servers='k1:9092,k2:9092', topic='alerts',
//	      @map(type='json'))
//
// Each output is one record on topic whose value is the event's JSON,
// {"event":{...}}, with the headers tandem-output-id (the output id,
// app/sink/ordinal, the same on both nodes) and tandem-epoch (the
// publisher's lease epoch). Kafka itself cannot drop a record it already
// holds from another producer, so consumers that must see each output once
// drop records whose tandem-output-id they have seen: a batch is published
// again after a failed Publish, and a new active publishes again the few
// outputs the old one published last.
//
// The producer is idempotent and waits for all in-sync replicas (acks=all),
// so the broker's own retries never duplicate or reorder records. Publish
// produces the whole batch, pipelined, and returns once every record is
// acknowledged, or with the first failure. Records are failed when Publish's
// context ends (the node's lease deadline) or after delivery.timeout.ms,
// whichever is first, as long as the client can fail them without breaking
// the idempotent sequence; a record already sent to a broker that does not
// answer is kept and sent again, and Publish returns without it when its
// context ends.
//
// The sink connects on its first Publish, not when it is built, so an app
// loads while the brokers are down.
//
// Options:
//   - bootstrap.servers (required): host:port,...
//   - topic (required): one topic; Siddhi's dynamic topics ({{attr}}) are
//     not supported. A missing topic is created if the brokers allow it.
//   - partition.no: the partition to write to; by default the client's
//     partitioner picks one (by key when key is set).
//   - key: the record key of every output.
//   - is.synchronous: true only (Publish always waits for the acks).
//   - is.binary.message: false only.
//   - optional.configuration: Kafka producer properties "key:value,...";
//     supported: client.id, compression.type (none, gzip, snappy, lz4,
//     zstd), linger.ms (default 0), batch.size (bytes), request.timeout.ms,
//     delivery.timeout.ms (default 30000), and acks (all or -1 only) and
//     enable.idempotence (true only), which are fixed.
//
// Siddhi's sequence.id is refused: tandem-output-id identifies each output.
package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source/kafkasource"
)

// Type is the sink type name, as in @sink(type='kafka').
const Type = "kafka"

// The record headers every output carries.
const (
	OutputIDHeader = "tandem-output-id"
	EpochHeader    = "tandem-epoch"
)

// DefaultDeliveryTimeout bounds how long a record may wait for its
// acknowledgement unless delivery.timeout.ms says otherwise.
const DefaultDeliveryTimeout = 30 * time.Second

const (
	optServers   = "bootstrap.servers"
	optTopic     = "topic"
	optPartition = "partition.no"
	optKey       = "key"
	optSync      = "is.synchronous"
	optBinary    = "is.binary.message"
	optOptional  = "optional.configuration"
	optSequence  = "sequence.id"
)

var producerProps = []string{
	"client.id", "compression.type", "linger.ms", "batch.size", "request.timeout.ms", "delivery.timeout.ms",
	"acks", "enable.idempotence",
}

// Sink publishes outputs to a Kafka topic.
type Sink struct {
	servers   []string
	topic     string
	partition int32 // -1: the partitioner's choice
	key       []byte
	clientID  string
	codec     *kgo.CompressionCodec
	linger    time.Duration
	batchMax  int32 // 0: the client's default
	reqTime   time.Duration
	delivery  time.Duration
	enc       *jsonmap.Encoder
	logger    *slog.Logger

	mu     sync.Mutex // serialises Publish and Close
	cl     *kgo.Client
	closed bool
}

// Factory is the sink.Factory for kafka sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns a sink; it does not connect.
func New(spec sink.Spec, env sink.Env) (*Sink, error) {
	const what = "kafka sink"
	if spec.Stream == nil {
		return nil, errors.New("kafka sink: no stream schema")
	}
	if _, ok := spec.Options[optSequence]; ok {
		return nil, fmt.Errorf("kafka sink: option %q is not supported: every record carries its output id in the %s header", optSequence, OutputIDHeader)
	}
	if err := opts.Check(what, spec.Options, optServers, optTopic, optPartition, optKey, optSync, optBinary, optOptional); err != nil {
		return nil, err
	}
	s := &Sink{partition: -1, delivery: DefaultDeliveryTimeout}
	var err error
	if s.servers, err = kafkasource.ParseServers(what, spec.Options[optServers]); err != nil {
		return nil, err
	}
	s.topic = strings.TrimSpace(spec.Options[optTopic])
	switch {
	case s.topic == "":
		return nil, fmt.Errorf("kafka sink: option %q is required, e.g. topic='%s'", optTopic, strings.ToLower(spec.Stream.Name))
	case strings.Contains(s.topic, "{{"):
		return nil, fmt.Errorf("kafka sink: option %q: dynamic topics (%s) are not supported", optTopic, s.topic)
	}
	if err := kafkasource.ValidTopic(s.topic); err != nil {
		return nil, fmt.Errorf("kafka sink: option %q: %w", optTopic, err)
	}
	if v, ok := spec.Options[optPartition]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("kafka sink: option %q: %q is not a partition number (0 or more)", optPartition, v)
		}
		s.partition = int32(n)
	}
	if v, ok := spec.Options[optKey]; ok {
		if strings.Contains(v, "{{") {
			return nil, fmt.Errorf("kafka sink: option %q: dynamic keys (%s) are not supported", optKey, v)
		}
		s.key = []byte(v)
	}
	if sync, err := opts.Bool(what, spec.Options, optSync, true); err != nil {
		return nil, err
	} else if !sync {
		return nil, fmt.Errorf("kafka sink: %s='false' is not supported: Publish always waits for every acknowledgement", optSync)
	}
	if binary, err := opts.Bool(what, spec.Options, optBinary, false); err != nil {
		return nil, err
	} else if binary {
		return nil, fmt.Errorf("kafka sink: %s='true' is not supported: records are JSON (@map(type='json'))", optBinary)
	}
	if err := s.parseProps(what, spec.Options[optOptional]); err != nil {
		return nil, err
	}
	if s.enc, err = jsonmap.NewEncoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("sink", Type, "app", spec.App, "id", spec.ID, "topic", s.topic)
	return s, nil
}

func (s *Sink) parseProps(what, raw string) error {
	props, err := kafkasource.ParseOptional(what, raw, producerProps...)
	if err != nil {
		return err
	}
	s.clientID = props["client.id"]
	if v, ok := props["compression.type"]; ok {
		var c kgo.CompressionCodec
		switch strings.ToLower(v) {
		case "none":
			c = kgo.NoCompression()
		case "gzip":
			c = kgo.GzipCompression()
		case "snappy":
			c = kgo.SnappyCompression()
		case "lz4":
			c = kgo.Lz4Compression()
		case "zstd":
			c = kgo.ZstdCompression()
		default:
			return fmt.Errorf("%s: optional.configuration \"compression.type\": %q is not none, gzip, snappy, lz4 or zstd", what, v)
		}
		s.codec = &c
	}
	const maxMs = int64(time.Hour / time.Millisecond)
	if v, ok := props["linger.ms"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 60_000 {
			return fmt.Errorf("%s: optional.configuration \"linger.ms\": %q is not a number of milliseconds from 0 to 60000", what, v)
		}
		s.linger = time.Duration(n) * time.Millisecond
	}
	ms, err := kafkasource.Millis(what, props, "request.timeout.ms", 0, maxMs)
	if err != nil {
		return err
	}
	s.reqTime = time.Duration(ms) * time.Millisecond
	if ms, err = kafkasource.Millis(what, props, "delivery.timeout.ms", DefaultDeliveryTimeout.Milliseconds(), maxMs); err != nil {
		return err
	}
	s.delivery = time.Duration(ms) * time.Millisecond
	if v, ok := props["batch.size"]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1024 {
			return fmt.Errorf("%s: optional.configuration \"batch.size\": %q is not a number of bytes from 1024 to 2147483647", what, v)
		}
		s.batchMax = int32(n)
	}
	if v, ok := props["acks"]; ok && v != "all" && v != "-1" {
		return fmt.Errorf("%s: optional.configuration \"acks\": only all (or -1) is supported: an output is published once every in-sync replica holds it", what)
	}
	if v, ok := props["enable.idempotence"]; ok && !strings.EqualFold(v, "true") {
		return fmt.Errorf("%s: optional.configuration \"enable.idempotence\": only true is supported: retries must not duplicate or reorder records", what)
	}
	return nil
}

func (s *Sink) connect() error {
	if s.cl != nil {
		return nil
	}
	o := []kgo.Opt{
		kgo.SeedBrokers(s.servers...),
		kgo.DefaultProduceTopic(s.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(s.linger),
		kgo.RecordDeliveryTimeout(s.delivery),
		kgo.AllowAutoTopicCreation(),
		kgo.WithLogger(kafkasource.Logger(s.logger)),
	}
	if s.partition >= 0 {
		o = append(o, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	if s.clientID != "" {
		o = append(o, kgo.ClientID(s.clientID))
	}
	if s.codec != nil {
		o = append(o, kgo.ProducerBatchCompression(*s.codec))
	}
	if s.batchMax > 0 {
		o = append(o, kgo.ProducerBatchMaxBytes(s.batchMax))
	}
	if s.reqTime > 0 {
		o = append(o, kgo.ProduceRequestTimeout(s.reqTime))
	}
	cl, err := kgo.NewClient(o...)
	if err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	s.cl = cl
	return nil
}

// Publish produces the outputs in order, pipelined, and returns once every
// one is acknowledged, or with the first failure.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("kafka sink: closed")
	}
	if len(outs) == 0 {
		return nil
	}
	// Encode everything first, so that an output that cannot be encoded
	// fails the batch before any of it is written. Each record keeps its
	// own value: the client may send it again until it is acknowledged.
	recs := make([]*kgo.Record, len(outs))
	for i, out := range outs {
		body, err := s.enc.AppendEvent(nil, out.Event.Data)
		if err != nil {
			return fmt.Errorf("kafka sink: output %s: %w", out.ID, err)
		}
		recs[i] = &kgo.Record{Topic: s.topic, Key: s.key, Value: body, Partition: s.partition, Headers: []kgo.RecordHeader{
			{Key: OutputIDHeader, Value: []byte(out.ID)},
			{Key: EpochHeader, Value: strconv.AppendUint(nil, out.Epoch, 10)},
		}}
	}
	if err := s.connect(); err != nil {
		return err
	}
	// The promises report on acked; errs[i] is written before i is sent, so
	// it may be read once i is received. Both outlive an early return
	// harmlessly: acked has room for every promise.
	errs := make([]error, len(recs))
	acked := make(chan int, len(recs))
	sent := 0
	var fenced error
	for i, r := range recs {
		if err := sink.Check(ctx); err != nil {
			fenced = fmt.Errorf("kafka sink: output %s: %w", outs[i].ID, err)
			break
		}
		s.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			errs[i] = err
			acked <- i
		})
		sent++
	}
	failed := -1
	for range sent {
		select {
		case i := <-acked:
			if errs[i] != nil && (failed < 0 || i < failed) {
				failed = i
			}
		case <-ctx.Done():
			return fmt.Errorf("kafka sink: outputs %s to %s: not all acknowledged: %w", outs[0].ID, outs[sent-1].ID, ctx.Err())
		}
	}
	if failed >= 0 {
		return fmt.Errorf("kafka sink: output %s: produce to %s: %w", outs[failed].ID, s.topic, errs[failed])
	}
	return fenced
}

// Close closes the client, failing records still unacknowledged; later
// Publish calls fail.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
	return nil
}
