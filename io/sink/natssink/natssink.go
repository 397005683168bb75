// Package natssink implements a NATS JetStream sink, with the option names
// of Siddhi's siddhi-io-nats where they exist:
//
//	@sink(type='nats', destination='alerts', server.urls='nats://127.0.0.1:4222',
//	      @map(type='json'))
//
// Each output is one message on subject destination whose body is the
// event's JSON, {"event":{...}}, with the headers Nats-Msg-Id (the output id,
// app/sink/ordinal) and Tandem-Epoch (the publisher's lease epoch). The
// subject must belong to a JetStream stream: Publish waits for the stream's
// acknowledgement of every output and fails the batch otherwise, and the
// caller publishes the batch again later. JetStream drops a message whose
// Nats-Msg-Id it has stored within the stream's duplicate window (two
// minutes by default), so these retries, and the outputs a new active
// publishes again after a failover, are stored once. The duplicate window
// must therefore be longer than a failover takes.
//
// Outputs of a batch are pipelined: up to 256 are sent before the first
// acknowledgement is awaited. If one fails, some after it may have been
// stored already; the retry then stores the failed one after them, so the
// stream's order differs from the outputs' order in that case (the output
// ids still tell the order).
//
// The sink connects on its first Publish, not when it is built, so an app
// loads while the server is down; the connection then reconnects on its own.
//
// Options: destination (required, no wildcards), stream.name (when given,
// the stream that must store the outputs; a subject bound to another stream
// fails the publish), ack.wait (how long to wait for an acknowledgement, in
// seconds or as a duration; default 5s), and the connection options
// server.urls or bootstrap.servers, client.id, auth.type, username, password
// and token (see natssource.Conn).
package natssink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source/natssource"
)

// Type is the sink type name, as in @sink(type='nats').
const Type = "nats"

// DefaultAckWait bounds the wait for each acknowledgement unless ack.wait
// says otherwise.
const DefaultAckWait = 5 * time.Second

// window is how many outputs may await their acknowledgement at once.
const window = 256

// EpochHeader carries the publisher's lease epoch.
const EpochHeader = "Tandem-Epoch"

const (
	optDest    = "destination"
	optStream  = "stream.name"
	optAckWait = "ack.wait"
)

// Sink publishes outputs to a JetStream stream.
type Sink struct {
	conn     natssource.Conn
	subject  string
	jsStream string
	ackWait  time.Duration
	enc      *jsonmap.Encoder
	logger   *slog.Logger

	mu     sync.Mutex // serialises Publish and Close
	nc     *nats.Conn
	js     jetstream.JetStream
	closed bool
}

// Factory is the sink.Factory for nats sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns a sink; it does not connect.
func New(spec sink.Spec, env sink.Env) (*Sink, error) {
	const what = "nats sink"
	if spec.Stream == nil {
		return nil, errors.New("nats sink: no stream schema")
	}
	allowed := append([]string{optDest, optStream, optAckWait}, natssource.ConnOptionKeys...)
	if err := opts.Check(what, spec.Options, allowed...); err != nil {
		return nil, err
	}
	conn, err := natssource.ParseConn(what, spec.Options)
	if err != nil {
		return nil, err
	}
	s := &Sink{conn: conn, subject: strings.TrimSpace(spec.Options[optDest])}
	if s.subject == "" {
		return nil, fmt.Errorf("nats sink: option %q (the subject) is required, e.g. destination='%s'", optDest, strings.ToLower(spec.Stream.Name))
	}
	if err := checkSubject(s.subject); err != nil {
		return nil, fmt.Errorf("nats sink: option %q: %w", optDest, err)
	}
	if v, ok := spec.Options[optStream]; ok {
		s.jsStream = strings.TrimSpace(v)
		if !natssource.ValidName(s.jsStream) {
			return nil, fmt.Errorf("nats sink: option %q: %q is not a valid stream name", optStream, v)
		}
	}
	if s.ackWait, err = natssource.Seconds(what, spec.Options, optAckWait, DefaultAckWait); err != nil {
		return nil, err
	}
	if s.enc, err = jsonmap.NewEncoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("nats sink: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("sink", Type, "app", spec.App, "id", spec.ID, "subject", s.subject)
	return s, nil
}

// checkSubject checks a publish subject: dot-separated non-empty tokens
// without whitespace or wildcards.
func checkSubject(subj string) error {
	for t := range strings.SplitSeq(subj, ".") {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", subj)
		case strings.ContainsAny(t, "*>"):
			return fmt.Errorf("subject %q: a publish subject cannot have wildcards", subj)
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return fmt.Errorf("subject %q has whitespace or control characters", subj)
		}
	}
	return nil
}

// Publish sends the outputs in order, pipelined, and returns once JetStream
// has acknowledged every one, or with the first failure.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("nats sink: closed")
	}
	if err := s.connect(); err != nil {
		return err
	}
	for len(outs) > 0 {
		n := min(len(outs), window)
		if err := s.publish(ctx, outs[:n]); err != nil {
			return err
		}
		outs = outs[n:]
	}
	return nil
}

func (s *Sink) connect() error {
	if s.js != nil {
		return nil
	}
	nc, err := s.conn.Dial(s.logger, false)
	if err != nil {
		return fmt.Errorf("nats sink: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(s.ackWait), jetstream.WithPublishAsyncMaxPending(window))
	if err != nil {
		nc.Close()
		return fmt.Errorf("nats sink: %w", err)
	}
	s.nc, s.js = nc, js
	return nil
}

// publish sends at most window outputs and awaits their acknowledgements.
func (s *Sink) publish(ctx context.Context, outs []sink.Output) error {
	futures := make([]jetstream.PubAckFuture, 0, len(outs))
	var popts []jetstream.PublishOpt
	if s.jsStream != "" {
		popts = append(popts, jetstream.WithExpectStream(s.jsStream))
	}
	for _, out := range outs {
		// Each message keeps its own body: the client may send it again
		// while its acknowledgement is outstanding.
		body, err := s.enc.AppendEvent(nil, out.Event.Data)
		if err != nil {
			return fmt.Errorf("nats sink: output %s: %w", out.ID, err)
		}
		if err := sink.Check(ctx); err != nil { // fenced: a successor may be publishing
			return fmt.Errorf("nats sink: output %s: %w", out.ID, err)
		}
		msg := &nats.Msg{Subject: s.subject, Data: body, Header: nats.Header{
			jetstream.MsgIDHeader: []string{out.ID},
			EpochHeader:           []string{strconv.FormatUint(out.Epoch, 10)},
		}}
		f, err := s.js.PublishMsgAsync(msg, popts...)
		if err != nil {
			return fmt.Errorf("nats sink: output %s: publish to %s: %w", out.ID, s.subject, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("nats sink: output %s: publish to %s: %w", outs[i].ID, s.subject, err)
		case <-ctx.Done():
			return fmt.Errorf("nats sink: output %s: %w", outs[i].ID, ctx.Err())
		}
	}
	return nil
}

// Close closes the connection; later Publish calls fail.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.nc != nil {
		s.nc.Close()
		s.nc, s.js = nil, nil
	}
	return nil
}
