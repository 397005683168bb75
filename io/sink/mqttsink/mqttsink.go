// Package mqttsink implements Siddhi's MQTT sink (MQTT 3.1.1):
//
//	@sink(type='mqtt', url='tcp://127.0.0.1:1883', topic='alerts', qos='1',
//	      @map(type='json'))
//
// Each output is one message on topic whose payload is the event's JSON,
// {"event":{...}}. With QoS 1 (the default) or 2, Publish returns only once
// the broker has acknowledged every output of the batch (PUBACK, PUBCOMP),
// and fails the batch otherwise; the caller publishes it again later. With
// QoS 0 it returns once the outputs are written to the connection.
//
// MQTT 3.1.1 has no header to carry the output id, so receivers cannot drop
// repeats by id: after a failed batch or a failover, outputs the broker had
// already accepted may arrive again (after a failover, at most those of the
// old active's last reporting interval; see HA-SPEC "Failover").
//
// Outputs of a batch are pipelined: up to max.inflight (default 10, as in
// Siddhi) await their acknowledgement at once. Keep it at or below the
// broker's in-flight limit (Mosquitto's max_inflight_messages, default 20):
// Mosquitto acknowledges QoS 2 messages beyond it and drops them. The sink
// connects on its first Publish, so an app loads while the broker is down.
//
// Options: topic (required, no wildcards), message.retain (default false),
// max.inflight, publish.timeout (how long to wait for each acknowledgement,
// in seconds or as a duration; default 10s), and the broker options
// of mqttsource.Broker: url, client.id (by default
// tandem-<app>-<sink>-<random>, so the two nodes never take each other's
// connection), username, password, clean.session (default true),
// keep.alive, connection.timeout, automatic.reconnect, max.reconnect.delay,
// qos or quality.of.service.
package mqttsink

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

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source/mqttsource"
)

// Type is the sink type name, as in @sink(type='mqtt').
const Type = "mqtt"

// DefaultPublishTimeout bounds the wait for acknowledgements unless
// publish.timeout says otherwise.
const DefaultPublishTimeout = 10 * time.Second

// DefaultMaxInflight is how many outputs may await their acknowledgement at
// once unless max.inflight says otherwise.
const DefaultMaxInflight = 10

const (
	optTopic    = "topic"
	optRetain   = "message.retain"
	optTimeout  = "publish.timeout"
	optInflight = "max.inflight"
)

// Sink publishes outputs to an MQTT broker.
type Sink struct {
	broker   mqttsource.Broker
	topic    string
	retain   bool
	inflight int
	timeout  time.Duration
	enc      *jsonmap.Encoder
	logger   *slog.Logger

	mu     sync.Mutex // serialises Publish and Close
	client mqtt.Client
	closed bool
}

// Factory is the sink.Factory for mqtt sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns a sink; it does not connect.
func New(spec sink.Spec, env sink.Env) (*Sink, error) {
	const what = "mqtt sink"
	if spec.Stream == nil {
		return nil, errors.New("mqtt sink: no stream schema")
	}
	if err := opts.Check(what, spec.Options, append([]string{optTopic, optRetain, optTimeout, optInflight}, mqttsource.BrokerOptionKeys...)...); err != nil {
		return nil, err
	}
	b, err := mqttsource.ParseBroker(what, spec.Options, true)
	if err != nil {
		return nil, err
	}
	s := &Sink{broker: b, topic: spec.Options[optTopic]}
	if strings.TrimSpace(s.topic) == "" {
		return nil, fmt.Errorf("mqtt sink: option %q is required, e.g. topic='%s'", optTopic, strings.ToLower(spec.Stream.Name))
	}
	if err := mqttsource.CheckTopic(s.topic, false); err != nil {
		return nil, fmt.Errorf("mqtt sink: option %q: %w", optTopic, err)
	}
	if s.retain, err = opts.Bool(what, spec.Options, optRetain, false); err != nil {
		return nil, err
	}
	if s.timeout, err = opts.Duration(what, spec.Options, optTimeout, DefaultPublishTimeout); err != nil {
		return nil, err
	}
	s.inflight = DefaultMaxInflight
	if v, ok := spec.Options[optInflight]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("mqtt sink: option %q: %q is not a count from 1 to 65535", optInflight, v)
		}
		s.inflight = n
	}
	if s.broker.ClientID == "" {
		var r [4]byte
		_, _ = rand.Read(r[:])
		s.broker.ClientID = "tandem-" + spec.App + "-" + strings.ReplaceAll(spec.ID, "/", "-") + "-" + hex.EncodeToString(r[:])
	}
	if s.enc, err = jsonmap.NewEncoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("mqtt sink: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("sink", Type, "app", spec.App, "id", spec.ID, "topic", s.topic)
	return s, nil
}

// Publish sends the outputs in order, pipelined, and returns once the broker
// has acknowledged every one, or with the first failure.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("mqtt sink: closed")
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	return s.publish(ctx, outs)
}

// connect makes the client on first use. A first connection that fails is
// an error (the caller retries the batch); once connected, the client
// reconnects on its own.
func (s *Sink) connect(ctx context.Context) error {
	if s.client != nil {
		return nil
	}
	o := s.broker.ClientOptions().
		SetConnectRetry(false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.logger.Warn("mqtt connection lost", "err", err)
		})
	c := mqtt.NewClient(o)
	if err := wait(ctx, c.Connect(), s.broker.ConnectTimeout); err != nil {
		c.Disconnect(0)
		return fmt.Errorf("mqtt sink: connect to %s: %w", s.broker.URL, err)
	}
	s.client = c
	return nil
}

// publish sends the outputs keeping at most s.inflight unacknowledged.
func (s *Sink) publish(ctx context.Context, outs []sink.Output) error {
	tokens := make([]mqtt.Token, len(outs))
	await := func(i int) error {
		err := wait(ctx, tokens[i], s.timeout)
		if err == nil {
			return nil
		}
		if errors.Is(err, errTimeout) {
			err = fmt.Errorf("no acknowledgement within %s", s.timeout)
		}
		return fmt.Errorf("mqtt sink: output %s: publish to %s: %w", outs[i].ID, s.topic, err)
	}
	for i, out := range outs {
		if i >= s.inflight {
			if err := await(i - s.inflight); err != nil {
				return err
			}
		}
		// Each message keeps its own payload: the client holds it until
		// the broker acknowledges it.
		body, err := s.enc.AppendEvent(nil, out.Event.Data)
		if err != nil {
			return fmt.Errorf("mqtt sink: output %s: %w", out.ID, err)
		}
		if err := sink.Check(ctx); err != nil { // fenced: a successor may be publishing
			return fmt.Errorf("mqtt sink: output %s: %w", out.ID, err)
		}
		tokens[i] = s.client.Publish(s.topic, s.broker.QoS, s.retain, body)
	}
	for i := max(len(outs)-s.inflight, 0); i < len(outs); i++ {
		if err := await(i); err != nil {
			return err
		}
	}
	return nil
}

var errTimeout = errors.New("timed out")

// wait waits for t, for at most d or until ctx ends.
func wait(ctx context.Context, t mqtt.Token, d time.Duration) error {
	timer := time.NewTimer(max(d, 0))
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-timer.C:
		return errTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close disconnects; later Publish calls fail.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.client != nil {
		s.client.Disconnect(250)
		s.client = nil
	}
	return nil
}
