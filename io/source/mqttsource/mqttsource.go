// Package mqttsource implements Siddhi's MQTT source (MQTT 3.1.1):
//
//	@source(type='mqtt', url='tcp://127.0.0.1:1883', topic='sensors/+/temp', qos='1',
//	        client.id='tandem-sensors', clean.session='false', @map(type='json'))
//
// Each message is one JSON body (an event or an array of events, see package
// jsonmap). The source acknowledges a QoS 1 or 2 message (PUBACK, PUBREC)
// only after the app's Ingester has taken it, so with replication ack: sync
// both nodes hold it by then. When the Ingester is a source.KeyedIngester
// (the host's is), the messages already received (up to 256) go to it in one
// call, each event with its own key, so they cost one replication commit,
// and are acknowledged together after it, in the order received; otherwise
// messages are handed to Ingest one at a time, in order. A call the app
// refuses is retried in place until it is taken or the source stops. A
// message that does not decode is logged and acknowledged in its turn: it
// could never be taken, and MQTT has no way to refuse it.
//
// High availability. Both nodes connect with the same client id (client.id,
// by default derived from the app, stream, url and topic) and, by default,
// clean.session='false', so the broker keeps the subscription and the
// messages not yet acknowledged while no node is connected, and hands them
// to the node that connects next, the new active. With clean.session='true'
// the broker drops them when the active goes away: they are lost.
//
// Duplicates. MQTT 3.1.1 messages carry no id that survives redelivery, so a
// message the old active logged but had not acknowledged when it died is
// delivered to the new active and processed a second time. To prevent that,
// give each message an id in its JSON and name that stream attribute with
// idempotency.attribute: each event then carries the key mqtt:<stream>:<id>
// (with an Ingester that is not a KeyedIngester, each event is ingested on
// its own for that), and the new active drops the ones already logged.
// Events whose id is null carry no key.
//
// With QoS 0 nothing is acknowledged and messages in flight at a failover
// are lost.
//
// Options: topic (required; a filter, or several separated by commas),
// idempotency.attribute, and the broker options (see Broker): url, client.id,
// username, password, clean.session, keep.alive, connection.timeout,
// automatic.reconnect, max.reconnect.delay, qos or quality.of.service.
package mqttsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/source"
)

// Type is the source type name, as in @source(type='mqtt').
const Type = "mqtt"

const (
	optTopic  = "topic"
	optIDAttr = "idempotency.attribute"
)

// queueSize bounds the messages received but not yet handled. The broker
// sends at most its in-flight limit of unacknowledged QoS 1 and 2 messages
// (Mosquitto: 20), so the queue fills only with QoS 0; then the client stops
// reading from the connection.
const queueSize = 1024

// maxKeyID is the longest id used in a key as is; longer ids are hashed.
const maxKeyID = 128

// maxBatch bounds the messages handed to a KeyedIngester in one call.
const maxBatch = 256

// Retry pacing for a batch the app does not take.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// startWait bounds how long Start waits for the first connection; after it
// the client keeps trying in the background.
const startWait = 5 * time.Second

// Factory is the source.Factory for mqtt sources.
func Factory(spec source.Spec, ing source.Ingester, env source.Env) (source.Source, error) {
	return New(spec, ing, env)
}

// Source is a started-or-stopped MQTT source. It may be started again after
// Stop.
type Source struct {
	broker Broker
	topics []string
	ing    source.Ingester
	keyed  source.KeyedIngester // ing, when it takes a key per row; else nil
	dec    *jsonmap.Decoder
	app    string
	stream string
	idAttr int // index of idempotency.attribute in the stream, or -1
	logger *slog.Logger

	// conn counts connection attempts, so that messages of a lost
	// connection still queued are recognised: with a kept session the broker
	// sends them again.
	conn atomic.Uint64

	mu       sync.Mutex
	client   mqtt.Client
	queue    chan received      // the messages received, not yet handled
	stopping chan struct{}      // closed by Stop
	done     chan struct{}      // closed when the handling goroutine returns
	cancel   context.CancelFunc // aborts an Ingest in flight
}

type received struct {
	msg  mqtt.Message
	conn uint64
}

// New validates spec and returns a stopped source; it does not connect.
func New(spec source.Spec, ing source.Ingester, env source.Env) (*Source, error) {
	const what = "mqtt source"
	if ing == nil {
		return nil, errors.New("mqtt source: no Ingester")
	}
	if spec.Stream == nil {
		return nil, errors.New("mqtt source: no stream schema")
	}
	if err := opts.Check(what, spec.Options, append([]string{optTopic, optIDAttr}, BrokerOptionKeys...)...); err != nil {
		return nil, err
	}
	b, err := ParseBroker(what, spec.Options, false)
	if err != nil {
		return nil, err
	}
	s := &Source{broker: b, ing: ing, app: spec.App, stream: spec.Stream.Name, idAttr: -1}
	s.keyed, _ = ing.(source.KeyedIngester)
	for t := range strings.SplitSeq(spec.Options[optTopic], ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if err := CheckTopic(t, true); err != nil {
			return nil, fmt.Errorf("mqtt source: option %q: %w", optTopic, err)
		}
		s.topics = append(s.topics, t)
	}
	if len(s.topics) == 0 {
		return nil, fmt.Errorf("mqtt source: option %q is required, e.g. topic='%s'", optTopic, strings.ToLower(spec.Stream.Name))
	}
	if s.broker.ClientID == "" {
		s.broker.ClientID = DefaultClientID(spec.App, spec.Stream.Name, b.URL, strings.Join(s.topics, ","))
	}
	if name, ok := spec.Options[optIDAttr]; ok {
		name = strings.TrimSpace(name)
		i := spec.Stream.Index(name)
		if i < 0 {
			return nil, fmt.Errorf("mqtt source: option %q: stream %s has no attribute %q", optIDAttr, spec.Stream.Name, name)
		}
		switch t := spec.Stream.Attrs[i].Type; t {
		case event.String, event.Int, event.Long:
		default:
			return nil, fmt.Errorf("mqtt source: option %q: attribute %q is %s; an id must be a string, int or long", optIDAttr, name, t)
		}
		s.idAttr = i
	}
	if s.dec, err = jsonmap.NewDecoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("mqtt source: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("source", Type, "app", spec.App, "stream", spec.Stream.Name, "topic", strings.Join(s.topics, ","), "client_id", s.broker.ClientID)
	return s, nil
}

// DefaultClientID is the client id used when client.id is not given. It is
// the same on both nodes, so the new active resumes the old one's session,
// and differs between sources that read different topics.
func DefaultClientID(app, stream, url, topics string) string {
	h := fnv.New32a()
	h.Write([]byte(url + "\x00" + topics))
	return fmt.Sprintf("tandem-%s-%s-%08x", app, stream, h.Sum32())
}

// Key returns the idempotency key of an event of stream whose id attribute
// is id.
func Key(stream string, id event.Value) string {
	var s string
	switch id.Type() {
	case event.Null:
		return ""
	case event.String:
		s = id.Str()
	default:
		s = strconv.FormatInt(id.Int(), 10)
	}
	if len(s) > maxKeyID {
		sum := sha256.Sum256([]byte(s))
		s = "sha256:" + hex.EncodeToString(sum[:])
	}
	return "mqtt:" + stream + ":" + s
}

// Start connects, subscribes and handles messages in the background. When
// automatic.reconnect is on (the default) a broker that cannot be reached
// yet is logged and retried in the background rather than failing Start: a
// source that fails to start stays closed for the whole term of the active.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return fmt.Errorf("mqtt source %s/%s: already started", s.app, s.stream)
	}
	stopping, done := make(chan struct{}), make(chan struct{})
	queue := make(chan received, queueSize)
	onMessage := func(_ mqtt.Client, m mqtt.Message) {
		// Not acknowledged here: the handling goroutine does that once the
		// app holds the message.
		select {
		case queue <- received{m, s.conn.Load()}:
		case <-stopping:
		}
	}
	filters := make(map[string]byte, len(s.topics))
	for _, t := range s.topics {
		filters[t] = s.broker.QoS
	}
	o := s.broker.ClientOptions().
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetDefaultPublishHandler(onMessage).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.logger.Warn("mqtt connection lost", "err", err)
		}).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			// Called before each attempt, once the old connection's
			// workers have stopped: messages queued from then on with an
			// older count came over a connection that is gone.
			s.conn.Add(1)
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Subscribing again on every connection is harmless with a kept
			// session and needed with a clean one.
			t := c.SubscribeMultiple(filters, onMessage)
			go func() {
				if !t.WaitTimeout(s.broker.ConnectTimeout) {
					s.logger.Error("mqtt subscribe timed out")
				} else if err := t.Error(); err != nil {
					s.logger.Error("mqtt subscribe failed", "err", err)
				} else {
					s.logger.Info("mqtt source subscribed")
				}
			}()
		})
	client := mqtt.NewClient(o)
	t := client.Connect()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("mqtt source %s/%s: connect to %s: %w", s.app, s.stream, s.broker.URL, err)
		}
	case <-time.After(min(s.broker.ConnectTimeout, startWait)):
		s.logger.Warn("mqtt broker not reachable yet; retrying in the background")
	case <-ctx.Done():
		client.Disconnect(0)
		return fmt.Errorf("mqtt source %s/%s: connect to %s: %w", s.app, s.stream, s.broker.URL, ctx.Err())
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.client, s.stopping, s.done, s.cancel, s.queue = client, stopping, done, cancel, queue
	go s.run(runCtx, queue, stopping, done)
	return nil
}

// run handles queued messages in order until Stop.
func (s *Source) run(ctx context.Context, queue <-chan received, stopping, done chan struct{}) {
	defer close(done)
	var batch []mqtt.Message
	for {
		select {
		case <-stopping:
			return
		case r := <-queue:
			if s.keyed == nil {
				if s.current(r) {
					s.handle(ctx, r.msg, stopping)
				}
				continue
			}
			batch = batch[:0]
			if s.current(r) {
				batch = append(batch, r.msg)
			}
			batch = s.ready(queue, batch)
			if len(batch) > 0 {
				s.handleKeyed(ctx, batch, stopping)
			}
			clear(batch) // do not pin the messages until the next batch
		}
	}
}

// current reports whether r is to be handled: a QoS 1 or 2 message of a kept
// session whose connection is gone is not, as its acknowledgement could not
// be sent; the broker sends it again on the new connection.
func (s *Source) current(r received) bool {
	return r.msg.Qos() == 0 || s.broker.CleanSession || r.conn == s.conn.Load()
}

// ready appends to batch the messages already queued, up to maxBatch.
func (s *Source) ready(queue <-chan received, batch []mqtt.Message) []mqtt.Message {
	for len(batch) < maxBatch {
		select {
		case r := <-queue:
			if s.current(r) {
				batch = append(batch, r.msg)
			}
		default:
			return batch
		}
	}
	return batch
}

// handle ingests one message and acknowledges it once the app holds it; if
// the source stops first the message stays unacknowledged for the next
// session.
func (s *Source) handle(ctx context.Context, m mqtt.Message, stopping chan struct{}) {
	rows, err := s.dec.Decode(m.Payload())
	if err != nil {
		s.logger.Warn("dropping a message that does not decode", "topic", m.Topic(), "err", err)
		m.Ack()
		return
	}
	if s.idAttr < 0 {
		if len(rows) > 0 && !s.deliver(ctx, stopping, func(ctx context.Context) error {
			return s.ing.Ingest(ctx, s.stream, rows, "")
		}, "events", len(rows)) {
			return
		}
	} else {
		for _, row := range rows {
			key := Key(s.stream, row[s.idAttr])
			if !s.deliver(ctx, stopping, func(ctx context.Context) error {
				return s.ing.Ingest(ctx, s.stream, [][]event.Value{row}, key)
			}, "key", key) {
				return
			}
		}
	}
	m.Ack()
}

// handleKeyed ingests the events of msgs in one call, each with its key (""
// without idempotency.attribute), and acknowledges the messages in order
// once the app holds them all; if the source stops first none is
// acknowledged.
func (s *Source) handleKeyed(ctx context.Context, msgs []mqtt.Message, stopping chan struct{}) {
	var rows [][]event.Value
	var keys []string
	for _, m := range msgs {
		r, err := s.dec.Decode(m.Payload())
		if err != nil {
			// Acknowledged with the others: MQTT wants PUBACKs in order.
			s.logger.Warn("dropping a message that does not decode", "topic", m.Topic(), "err", err)
			continue
		}
		for _, row := range r {
			k := ""
			if s.idAttr >= 0 {
				k = Key(s.stream, row[s.idAttr])
			}
			rows, keys = append(rows, row), append(keys, k)
		}
	}
	if len(rows) > 0 && !s.deliver(ctx, stopping, func(ctx context.Context) error {
		return s.keyed.IngestKeyed(ctx, s.stream, rows, keys)
	}, "messages", len(msgs), "events", len(rows)) {
		return
	}
	for _, m := range msgs {
		m.Ack()
	}
}

// deliver calls ingest, retrying until the app takes the batch (true) or the
// source stops (false). logArgs describe the batch in the retry log.
func (s *Source) deliver(ctx context.Context, stopping chan struct{}, ingest func(context.Context) error, logArgs ...any) bool {
	backoff := retryMin
	for {
		err := ingest(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil || isClosed(stopping) {
			return false
		}
		s.logger.Warn("batch not accepted; retrying", append(logArgs, "err", err, "retry_in", backoff)...)
		t := time.NewTimer(backoff)
		select {
		case <-stopping:
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(2*backoff, retryMax)
	}
}

// Stop stops handling messages, waits for the batch in flight (acknowledged
// if the app took it) and disconnects; the messages not acknowledged stay
// with the broker's session for the next active. When ctx ends first, the
// Ingester call in flight is cancelled and Stop still waits for it.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.client == nil {
		s.mu.Unlock()
		return nil
	}
	client, done, cancel := s.client, s.done, s.cancel
	close(s.stopping)
	s.mu.Unlock()

	var err error
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		<-done
		err = fmt.Errorf("mqtt source %s/%s: in-flight batch aborted: %w", s.app, s.stream, ctx.Err())
	}
	cancel()
	// The quiesce time lets the last acknowledgements go out.
	client.Disconnect(250)

	s.mu.Lock()
	s.client = nil
	s.mu.Unlock()
	s.logger.Info("mqtt source stopped")
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
