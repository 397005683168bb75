// Package rabbitsink implements a RabbitMQ (AMQP 0-9-1) sink with the
// option names of Siddhi's siddhi-io-rabbitmq:
//
//	@sink(type='rabbitmq', uri='amqp://guest:guest@127.0.0.1:5672/',
//	      exchange.name='alerts', exchange.type='topic', routing.key='alerts.high',
//	      delivery.mode='2', @map(type='json'))
//
// Each output is one message to exchange.name with routing.key whose body is
// the event's JSON, {"event":{...}}, whose message id is the output id
// (app/sink/ordinal, the same on both nodes) and whose header tandem-epoch
// is the publisher's lease epoch. The channel is in confirm mode: Publish
// sends the batch, pipelined, and returns once the broker has confirmed
// every message, or with the first failure, and the caller publishes the
// batch again later. RabbitMQ does not drop repeated message ids itself, so
// consumers that must see each output once drop ids they have seen: a
// failed batch is sent again, and a new active publishes again the few
// outputs the old one published last.
//
// The exchange is declared if it does not exist (an existing one is used as
// it is, as in Siddhi). As in AMQP generally, a message the exchange routes
// to no queue is confirmed and dropped; bind a queue before publishing.
//
// The sink connects on its first Publish, not when it is built, so an app
// loads while the server is down; after a failure it connects again on the
// next Publish.
//
// Options: uri (required), heartbeat, tls.enabled, exchange.name (required),
// exchange.type, exchange.durable.enabled, exchange.autodelete.enabled,
// routing.key, headers ('key:value','key:value': added to every message),
// delivery.mode (1, the default, or 2 for persistent messages),
// content.type (default application/json), content.encoding, priority
// (0 to 9), correlation.id, reply.to, expiration (milliseconds), type,
// user.id and app.id. Siddhi's message.id is refused (the output id is the
// message id), and so is timestamp; dynamic values ({{attr}}) are not
// supported.
package rabbitsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source/rabbitsource"
)

// Type is the sink type name, as in @sink(type='rabbitmq').
const Type = "rabbitmq"

// EpochHeader carries the publisher's lease epoch.
const EpochHeader = "tandem-epoch"

// ConfirmWait bounds the wait for a batch's confirms when Publish's context
// has no earlier deadline.
const ConfirmWait = 30 * time.Second

// reasonWait bounds the wait for a failed channel's close reason.
const reasonWait = 500 * time.Millisecond

const (
	optRoutingKey = "routing.key"
	optHeaders    = "headers"
	optMode       = "delivery.mode"
	optCType      = "content.type"
	optCEncoding  = "content.encoding"
	optPriority   = "priority"
	optCorrID     = "correlation.id"
	optReplyTo    = "reply.to"
	optExpiration = "expiration"
	optMsgType    = "type"
	optUserID     = "user.id"
	optAppID      = "app.id"
)

var refused = map[string]string{
	"message.id": "the message id of every output is its output id",
	"timestamp":  "not supported",
}

// Sink publishes outputs to a RabbitMQ exchange.
type Sink struct {
	conn       rabbitsource.Conn
	exchange   rabbitsource.Exchange
	routingKey string
	headers    amqp.Table
	proto      amqp.Publishing // the properties every message shares
	enc        *jsonmap.Encoder
	logger     *slog.Logger

	mu     sync.Mutex // serialises Publish and Close
	ac     *amqp.Connection
	ch     *amqp.Channel
	chErr  chan *amqp.Error // the channel's close reason
	closed bool
}

// Factory is the sink.Factory for rabbitmq sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns a sink; it does not connect.
func New(spec sink.Spec, env sink.Env) (*Sink, error) {
	const what = "rabbitmq sink"
	if spec.Stream == nil {
		return nil, errors.New("rabbitmq sink: no stream schema")
	}
	for k, v := range spec.Options {
		if why, ok := refused[k]; ok {
			return nil, fmt.Errorf("rabbitmq sink: option %q is not supported: %s", k, why)
		}
		if why, ok := rabbitsource.Unsupported[k]; ok {
			return nil, fmt.Errorf("rabbitmq sink: option %q is not supported: %s", k, why)
		}
		if strings.Contains(v, "{{") {
			return nil, fmt.Errorf("rabbitmq sink: option %q: dynamic values (%s) are not supported", k, v)
		}
	}
	allowed := append([]string{optRoutingKey, optHeaders, optMode, optCType, optCEncoding, optPriority, optCorrID,
		optReplyTo, optExpiration, optMsgType, optUserID, optAppID}, append(rabbitsource.ConnOptionKeys, rabbitsource.ExchangeOptionKeys...)...)
	if err := opts.Check(what, spec.Options, allowed...); err != nil {
		return nil, err
	}
	s := &Sink{}
	var err error
	if s.conn, err = rabbitsource.ParseConn(what, spec.Options); err != nil {
		return nil, err
	}
	if s.exchange, err = rabbitsource.ParseExchange(what, spec.Options); err != nil {
		return nil, err
	}
	s.routingKey = spec.Options[optRoutingKey]
	if len(s.routingKey) > 255 {
		return nil, fmt.Errorf("rabbitmq sink: option %q is longer than 255 bytes", optRoutingKey)
	}
	if s.headers, err = rabbitsource.ParseHeaders(what, spec.Options[optHeaders]); err != nil {
		return nil, err
	}
	if _, ok := s.headers[EpochHeader]; ok {
		return nil, fmt.Errorf("rabbitmq sink: option %q: header %s is set by the sink", optHeaders, EpochHeader)
	}
	if err := s.parseProperties(spec.Options); err != nil {
		return nil, err
	}
	if s.enc, err = jsonmap.NewEncoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("rabbitmq sink: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("sink", Type, "app", spec.App, "id", spec.ID, "server", s.conn.String(), "exchange", s.exchange.Name)
	return s, nil
}

func (s *Sink) parseProperties(options map[string]string) error {
	p := &s.proto
	p.DeliveryMode = amqp.Transient
	if v, ok := options[optMode]; ok {
		switch strings.TrimSpace(v) {
		case "1":
		case "2":
			p.DeliveryMode = amqp.Persistent
		default:
			return fmt.Errorf("rabbitmq sink: option %q: %q is not 1 (transient) or 2 (persistent)", optMode, v)
		}
	}
	p.ContentType = "application/json"
	if v, ok := options[optCType]; ok {
		p.ContentType = strings.TrimSpace(v)
	}
	if v, ok := options[optPriority]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 9 {
			return fmt.Errorf("rabbitmq sink: option %q: %q is not a priority from 0 to 9", optPriority, v)
		}
		p.Priority = uint8(n)
	}
	if v, ok := options[optExpiration]; ok {
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseUint(v, 10, 32); err != nil || n == 0 {
			return fmt.Errorf("rabbitmq sink: option %q: %q is not a number of milliseconds", optExpiration, v)
		}
		p.Expiration = v
	}
	p.ContentEncoding = options[optCEncoding]
	p.CorrelationId = options[optCorrID]
	p.ReplyTo = options[optReplyTo]
	p.Type = options[optMsgType]
	p.UserId = options[optUserID]
	p.AppId = options[optAppID]
	for k, v := range map[string]string{optCType: p.ContentType, optCEncoding: p.ContentEncoding, optCorrID: p.CorrelationId,
		optReplyTo: p.ReplyTo, optMsgType: p.Type, optUserID: p.UserId, optAppID: p.AppId} {
		if len(v) > 255 {
			return fmt.Errorf("rabbitmq sink: option %q is longer than 255 bytes", k)
		}
	}
	return nil
}

// connect opens the connection and the confirm-mode channel if they are not
// open.
func (s *Sink) connect() error {
	if s.ch != nil && !s.ch.IsClosed() {
		return nil
	}
	s.dropChannel()
	if s.ac == nil || s.ac.IsClosed() {
		ac, err := s.conn.Dial()
		if err != nil {
			return fmt.Errorf("rabbitmq sink: %w", err)
		}
		s.ac = ac
	}
	// Declared again after every failure: a deleted exchange fails the
	// channel, and the retry should find it again.
	if err := s.exchange.Declare(s.ac); err != nil {
		s.dropConnection()
		return fmt.Errorf("rabbitmq sink: %w", err)
	}
	ch, err := s.ac.Channel()
	if err != nil {
		s.dropConnection()
		return fmt.Errorf("rabbitmq sink: open a channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return fmt.Errorf("rabbitmq sink: confirm mode: %w", err)
	}
	s.ch = ch
	s.chErr = ch.NotifyClose(make(chan *amqp.Error, 1))
	return nil
}

func (s *Sink) dropChannel() {
	if s.ch != nil {
		_ = s.ch.Close()
		s.ch, s.chErr = nil, nil
	}
}

func (s *Sink) dropConnection() {
	s.dropChannel()
	if s.ac != nil {
		_ = s.ac.Close()
		s.ac = nil
	}
}

// closeReason returns why the channel closed, waiting up to wait for the
// reason to arrive (the client marks the channel closed before it reports
// why), or nil if the channel is open.
func (s *Sink) closeReason(wait time.Duration) error {
	if s.chErr == nil {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case e, ok := <-s.chErr:
		if ok && e != nil {
			return e
		}
		return errors.New("channel closed")
	case <-t.C:
		return nil
	}
}

// Publish sends the outputs in order, pipelined, and returns once the
// broker has confirmed every one, or with the first failure.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("rabbitmq sink: closed")
	}
	if len(outs) == 0 {
		return nil
	}
	// Encode everything first, so that an output that cannot be encoded
	// fails the batch before any of it is sent.
	msgs := make([]amqp.Publishing, len(outs))
	for i, out := range outs {
		body, err := s.enc.AppendEvent(nil, out.Event.Data)
		if err != nil {
			return fmt.Errorf("rabbitmq sink: output %s: %w", out.ID, err)
		}
		m := s.proto
		m.MessageId = out.ID
		m.Body = body
		m.Headers = make(amqp.Table, len(s.headers)+1)
		maps.Copy(m.Headers, s.headers)
		m.Headers[EpochHeader] = strconv.FormatUint(out.Epoch, 10)
		msgs[i] = m
	}
	if err := s.connect(); err != nil {
		return err
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	var fenced error
	for i, m := range msgs {
		if err := sink.Check(ctx); err != nil {
			fenced = fmt.Errorf("rabbitmq sink: output %s: %w", outs[i].ID, err)
			break
		}
		dc, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, s.exchange.Name, s.routingKey, false, false, m)
		if err != nil {
			if reason := s.closeReason(reasonWait); reason != nil {
				err = fmt.Errorf("%w (%v)", reason, err)
			}
			s.dropChannel()
			return fmt.Errorf("rabbitmq sink: output %s: publish to %s: %w", outs[i].ID, s.exchange.Name, err)
		}
		confirms = append(confirms, dc)
	}
	wctx, cancel := context.WithTimeout(ctx, ConfirmWait)
	defer cancel()
	for i, dc := range confirms {
		ok, err := dc.WaitContext(wctx)
		if err != nil {
			return fmt.Errorf("rabbitmq sink: output %s: not confirmed: %w", outs[i].ID, err)
		}
		if !ok {
			// A nack on an open channel leaves the channel usable.
			err := errors.New("the broker refused it (nack)")
			if s.ch.IsClosed() {
				err = errors.New("channel closed")
				if reason := s.closeReason(reasonWait); reason != nil {
					err = fmt.Errorf("channel closed: %w", reason)
				}
				s.dropChannel()
			}
			return fmt.Errorf("rabbitmq sink: output %s: publish to %s: %w", outs[i].ID, s.exchange.Name, err)
		}
	}
	return fenced
}

// Close closes the connection; later Publish calls fail.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.dropConnection()
	return nil
}
