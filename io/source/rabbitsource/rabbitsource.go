// Package rabbitsource implements a RabbitMQ (AMQP 0-9-1) source with the
// option names of Siddhi's siddhi-io-rabbitmq:
//
//	@source(type='rabbitmq', uri='amqp://guest:guest@127.0.0.1:5672/',
//	        exchange.name='orders', exchange.type='topic', routing.key='order.*',
//	        queue.name='tandem-orders', queue.durable.enabled='true', @map(type='json'))
//
// The source declares the exchange and the queue (each only if it does not
// exist yet), binds the queue to the exchange with routing.key (and, for a
// headers exchange, the headers as binding arguments) and consumes it with
// manual acknowledgement and a bounded prefetch. Each message body is one
// JSON body (an event or an array of events, see package jsonmap) handed to
// the app's Ingester on its own, in the order received; a message is
// acknowledged only after Ingest returns nil, so with replication ack: sync
// both nodes hold it by then. A message the app refuses is retried in place
// until it is taken or the source stops; then it goes back to the queue. A
// message that does not decode is rejected without requeueing (dead-lettered
// if the queue has a dead-letter exchange) and logged: it could never be
// taken.
//
// High availability. Both nodes consume the same queue: queue.name, by
// default tandem-<app>-<stream> (Siddhi's default, a server-named queue,
// would be lost with the connection and is not used). Messages published
// while no node consumes wait in the queue, and the messages the old active
// had received but not acknowledged return to the queue when its connection
// ends, to be delivered to the new active. A message the old active had
// logged but not acknowledged is thus processed again unless it has a
// message id: its idempotency key is rabbitmq:<queue>:<message-id>, and the
// app drops a key it has logged already. Messages without a message id carry
// no key and may be processed twice after a failover; publishers should set
// message ids (the RabbitMQ sink does).
//
// A lost connection is set up again with backoff; the messages not yet
// acknowledged go back to the queue and come again.
//
// Options:
//   - uri (required), heartbeat (seconds, default 60), tls.enabled (needs
//     an amqps:// uri).
//   - exchange.name (required), exchange.type (direct, fanout, topic,
//     headers; default direct), exchange.durable.enabled,
//     exchange.autodelete.enabled.
//   - routing.key: the binding key (default empty); headers: binding
//     arguments for a headers exchange, 'key:value','key:value' (include
//     'x-match:any' or 'x-match:all').
//   - queue.name, queue.durable.enabled, queue.autodelete.enabled (an
//     auto-delete queue disappears, with its messages, when the active stops
//     consuming it). queue.exclusive.enabled='true' is refused: the new active
//     could not consume the old one's queue.
//   - auto.ack: false only (the source acknowledges after Ingest);
//     consumer.threadpool.size: 1 only (messages are taken in order).
//   - prefetch.count (Tandem's own): how many unacknowledged messages the
//     broker sends ahead, default 64.
package rabbitsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/source"
)

// Type is the source type name, as in @source(type='rabbitmq').
const Type = "rabbitmq"

// DefaultPrefetch is the prefetch count unless prefetch.count says otherwise.
const DefaultPrefetch = 64

const (
	optRoutingKey = "routing.key"
	optHeaders    = "headers"
	optQueue      = "queue.name"
	optQDurable   = "queue.durable.enabled"
	optQExclusive = "queue.exclusive.enabled"
	optQAutoDel   = "queue.autodelete.enabled"
	optAutoAck    = "auto.ack"
	optThreads    = "consumer.threadpool.size"
	optPrefetch   = "prefetch.count"
)

// Retry pacing for connections and for messages the app does not take.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// Factory is the source.Factory for rabbitmq sources.
func Factory(spec source.Spec, ing source.Ingester, env source.Env) (source.Source, error) {
	return New(spec, ing, env)
}

// Source is a started-or-stopped RabbitMQ source. It may be started again
// after Stop.
type Source struct {
	conn       Conn
	exchange   Exchange
	routingKey string
	bindArgs   amqp.Table
	queue      string
	qDurable   bool
	qAutoDel   bool
	prefetch   int
	ing        source.Ingester
	dec        *jsonmap.Decoder
	app        string
	stream     string
	logger     *slog.Logger

	mu       sync.Mutex
	running  bool
	stopping chan struct{}      // closed by Stop
	done     chan struct{}      // closed when the consuming goroutine returns
	cancel   context.CancelFunc // aborts an Ingest in flight
}

// New validates spec and returns a stopped source; it does not connect.
func New(spec source.Spec, ing source.Ingester, env source.Env) (*Source, error) {
	const what = "rabbitmq source"
	if ing == nil {
		return nil, errors.New("rabbitmq source: no Ingester")
	}
	if spec.Stream == nil {
		return nil, errors.New("rabbitmq source: no stream schema")
	}
	for k := range spec.Options {
		if why, ok := Unsupported[k]; ok {
			return nil, fmt.Errorf("rabbitmq source: option %q is not supported: %s", k, why)
		}
	}
	allowed := append([]string{optRoutingKey, optHeaders, optQueue, optQDurable, optQExclusive, optQAutoDel, optAutoAck, optThreads, optPrefetch},
		append(ConnOptionKeys, ExchangeOptionKeys...)...)
	if err := opts.Check(what, spec.Options, allowed...); err != nil {
		return nil, err
	}
	s := &Source{ing: ing, app: spec.App, stream: spec.Stream.Name, prefetch: DefaultPrefetch}
	var err error
	if s.conn, err = ParseConn(what, spec.Options); err != nil {
		return nil, err
	}
	if s.exchange, err = ParseExchange(what, spec.Options); err != nil {
		return nil, err
	}
	s.routingKey = spec.Options[optRoutingKey]
	if len(s.routingKey) > 255 {
		return nil, fmt.Errorf("rabbitmq source: option %q is longer than 255 bytes", optRoutingKey)
	}
	if raw, ok := spec.Options[optHeaders]; ok {
		if s.exchange.Kind != amqp.ExchangeHeaders {
			return nil, fmt.Errorf("rabbitmq source: option %q binds to a headers exchange; exchange.type is %s", optHeaders, s.exchange.Kind)
		}
		if s.bindArgs, err = ParseHeaders(what, raw); err != nil {
			return nil, err
		}
	}
	if v, ok := spec.Options[optQueue]; ok {
		s.queue = strings.TrimSpace(v)
		if s.queue == "" {
			return nil, fmt.Errorf("rabbitmq source: option %q is empty; leave it out for tandem-<app>-<stream>", optQueue)
		}
	} else {
		s.queue = DefaultQueue(spec.App, spec.Stream.Name)
	}
	if err := validName(s.queue); err != nil {
		return nil, fmt.Errorf("rabbitmq source: option %q: %w", optQueue, err)
	}
	if strings.HasPrefix(s.queue, "amq.") {
		return nil, fmt.Errorf("rabbitmq source: option %q: names beginning amq. are reserved for the server", optQueue)
	}
	if s.qDurable, err = opts.Bool(what, spec.Options, optQDurable, false); err != nil {
		return nil, err
	}
	if s.qAutoDel, err = opts.Bool(what, spec.Options, optQAutoDel, false); err != nil {
		return nil, err
	}
	if excl, err := opts.Bool(what, spec.Options, optQExclusive, false); err != nil {
		return nil, err
	} else if excl {
		return nil, fmt.Errorf("rabbitmq source: %s='true' is not supported: an exclusive queue dies with the active's connection, and the new active could not take it over", optQExclusive)
	}
	if auto, err := opts.Bool(what, spec.Options, optAutoAck, false); err != nil {
		return nil, err
	} else if auto {
		return nil, fmt.Errorf("rabbitmq source: %s='true' is not supported: messages are acknowledged once the app holds them, so none is lost in a failover", optAutoAck)
	}
	if v, ok := spec.Options[optThreads]; ok && strings.TrimSpace(v) != "1" {
		return nil, fmt.Errorf("rabbitmq source: option %q: only 1 is supported: messages are taken one at a time, in order", optThreads)
	}
	if v, ok := spec.Options[optPrefetch]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("rabbitmq source: option %q: %q is not a count from 1 to 65535", optPrefetch, v)
		}
		s.prefetch = n
	}
	if s.dec, err = jsonmap.NewDecoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("rabbitmq source: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("source", Type, "app", spec.App, "stream", spec.Stream.Name, "server", s.conn.String(), "queue", s.queue)
	return s, nil
}

// DefaultQueue is the queue name used when queue.name is not given.
func DefaultQueue(app, stream string) string {
	name := "tandem-" + app + "-" + stream
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	if len(name) > 255 {
		name = strings.ToValidUTF8(name[:255], "")
	}
	return name
}

// Key returns the idempotency key of a message with the given id read from
// queue, or "" when the message has no id.
func Key(queue, messageID string) string {
	if messageID == "" {
		return ""
	}
	return "rabbitmq:" + queue + ":" + messageID
}

// Start consumes in the background, connecting first. A server that cannot
// be reached is not an error: the source keeps trying and logs why, since a
// source that fails to start stays closed for the whole term of the active.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return fmt.Errorf("rabbitmq source %s/%s: already started", s.app, s.stream)
	}
	s.running = true
	s.stopping = make(chan struct{})
	s.done = make(chan struct{})
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(context.Background())
	go s.run(runCtx, s.stopping, s.done)
	return nil
}

// run connects, consumes until the connection is lost, and connects again,
// until Stop.
func (s *Source) run(ctx context.Context, stopping, done chan struct{}) {
	defer close(done)
	backoff := retryMin
	for {
		conn, ch, deliveries, err := s.open()
		if err != nil {
			s.logger.Warn("rabbitmq source not consuming; retrying", "err", err, "retry_in", backoff)
			if !sleep(stopping, backoff) {
				return
			}
			backoff = min(2*backoff, retryMax)
			continue
		}
		s.logger.Info("rabbitmq source consuming")
		took := s.consume(ctx, ch, deliveries, stopping)
		// Closing the connection returns every message not acknowledged
		// to the queue.
		_ = conn.Close()
		if isClosed(stopping) {
			return
		}
		if took {
			backoff = retryMin
		}
		s.logger.Warn("rabbitmq consumer ended; connecting again", "retry_in", backoff)
		if !sleep(stopping, backoff) {
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// open connects, declares and binds, and starts consuming.
func (s *Source) open() (*amqp.Connection, *amqp.Channel, <-chan amqp.Delivery, error) {
	conn, err := s.conn.Dial()
	if err != nil {
		return nil, nil, nil, err
	}
	ch, deliveries, err := s.subscribe(conn)
	if err != nil {
		_ = conn.Close()
		return nil, nil, nil, err
	}
	return conn, ch, deliveries, nil
}

func (s *Source) subscribe(conn *amqp.Connection) (*amqp.Channel, <-chan amqp.Delivery, error) {
	if err := s.exchange.Declare(conn); err != nil {
		return nil, nil, err
	}
	exists, err := probe(conn, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(s.queue, s.qDurable, s.qAutoDel, false, false, nil)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("queue %q: %w", s.queue, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open a channel: %w", err)
	}
	if !exists {
		if _, err := ch.QueueDeclare(s.queue, s.qDurable, s.qAutoDel, false, false, nil); err != nil {
			return nil, nil, fmt.Errorf("declare queue %q: %w", s.queue, err)
		}
	}
	if err := ch.QueueBind(s.queue, s.routingKey, s.exchange.Name, false, s.bindArgs); err != nil {
		return nil, nil, fmt.Errorf("bind queue %q to exchange %q: %w", s.queue, s.exchange.Name, err)
	}
	if err := ch.Qos(s.prefetch, 0, false); err != nil {
		return nil, nil, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(s.queue, consumerTag(s.app, s.stream), false, false, false, false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("consume queue %q: %w", s.queue, err)
	}
	return ch, deliveries, nil
}

// consumerTag names this consumer in the broker's management views.
func consumerTag(app, stream string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := "tandem-" + app + "-" + stream
	if len(tag) > 200 {
		tag = tag[:200]
	}
	return strings.ToValidUTF8(tag, "_") + "-" + hex.EncodeToString(b[:])
}

// consume handles deliveries until the source stops or the channel ends,
// and reports whether it handled any.
func (s *Source) consume(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery, stopping chan struct{}) bool {
	took := false
	for {
		select {
		case <-stopping:
			return took
		case d, ok := <-deliveries:
			if !ok {
				return took
			}
			if isClosed(stopping) {
				return took // the connection's close returns it to the queue
			}
			took = true
			s.handle(ctx, ch, d, stopping)
		}
	}
}

// handle ingests one message and acknowledges it once the app holds it.
func (s *Source) handle(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, stopping chan struct{}) {
	rows, err := s.dec.Decode(d.Body)
	if err != nil {
		s.logger.Warn("rejecting a message that does not decode", "message_id", d.MessageId, "err", err)
		_ = d.Reject(false)
		return
	}
	if len(rows) > 0 && !s.ingest(ctx, ch, rows, Key(s.queue, d.MessageId), stopping) {
		// Back to the queue, for this source later or the next active.
		_ = d.Nack(false, true)
		return
	}
	if err := d.Ack(false); err != nil {
		s.logger.Warn("ack failed; the message will be delivered again", "message_id", d.MessageId, "err", err)
	}
}

// ingest hands rows to the app, retrying until it takes them, the source
// stops or the channel closes (the message is then back in the queue), and
// reports whether the app took them.
func (s *Source) ingest(ctx context.Context, ch *amqp.Channel, rows [][]event.Value, key string, stopping chan struct{}) bool {
	backoff := retryMin
	for {
		err := s.ing.Ingest(ctx, s.stream, rows, key)
		if err == nil {
			return true
		}
		if isClosed(stopping) || ctx.Err() != nil || ch.IsClosed() {
			return false
		}
		s.logger.Warn("message not accepted; retrying", "key", key, "events", len(rows), "err", err, "retry_in", backoff)
		if !sleep(stopping, backoff) {
			return false
		}
		backoff = min(2*backoff, retryMax)
	}
}

// Stop stops consuming, waits for the message in flight (it is acknowledged
// if the app took it) and closes the connection, which returns the messages
// received but not taken to the queue. When ctx ends first, the Ingest in
// flight is cancelled and Stop still waits for it.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	done, cancel := s.done, s.cancel
	close(s.stopping)
	s.mu.Unlock()

	var err error
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		<-done
		err = fmt.Errorf("rabbitmq source %s/%s: in-flight message aborted: %w", s.app, s.stream, ctx.Err())
	}
	cancel()
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	s.logger.Info("rabbitmq source stopped")
	return err
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
