// Package natssource implements a NATS JetStream source, with the option
// names of Siddhi's siddhi-io-nats where they exist:
//
//	@source(type='nats', destination='orders.new', stream.name='ORDERS',
//	        durable.name='tandem-orders', server.urls='nats://127.0.0.1:4222',
//	        @map(type='json'))
//
// The source reads the messages of subject destination from a durable pull
// consumer with explicit acknowledgement. Each message is one JSON body (an
// event or an array of events, see package jsonmap). When the app's Ingester
// is a source.KeyedIngester (the host's is), the messages of a pull that are
// at hand are decoded and handed to it in one call, in order, each event with
// its own idempotency key, so a whole batch costs one replication commit;
// otherwise each message is handed to Ingest on its own. A message is
// acknowledged only after the call that carried it returns nil, so with
// replication ack: sync both nodes hold it by then. While the call blocks (the
// app pushing back) the source reports its messages in progress, so the
// broker does not deliver them again; a call that fails is retried in place,
// in order. A message that does not decode is terminated (JetStream will not
// deliver it again) and logged: it could never be taken.
//
// Both nodes of a pair use the same durable consumer, so the broker keeps the
// position: the new active continues after the last acknowledged message. A
// message the old active logged but had not acknowledged is delivered again;
// its idempotency key, nats:<stream>:<durable>:<stream sequence>, is then
// already in the app's log and the app drops it. With a KeyedIngester, the
// events of a message that carries several get that key with /<index>
// appended (0, 1, ...), so each is dropped on its own; '/' cannot occur in
// stream or consumer names, so these keys never meet another message's. The
// durable name is part of the key because two sources of one app may read
// the same stream through two consumers, and each must take every message.
//
// Stop stops pulling, lets the batch in flight finish (it is acknowledged if
// the app took it) and returns the messages received but not started to the
// broker with a negative acknowledgement, so the next active gets them at
// once instead of after ack.wait.
//
// Options:
//   - destination (required): the subject, wildcards allowed; the consumer's
//     filter subject.
//   - stream.name: the JetStream stream; by default the stream that holds
//     destination, asked of the server.
//   - durable.name: the consumer; by default tandem-<app>-<stream> with other
//     characters than letters, digits, '-' and '_' replaced by '_'. Both nodes
//     must use the same name, so give it explicitly or keep the app and
//     stream names stable.
//   - subscription.sequence: the stream sequence a new consumer starts at
//     (default: the first message); ignored by an existing consumer.
//   - ack.wait: how long the broker waits for an acknowledgement before it
//     delivers a message again, in seconds or as a duration (default 10s).
//   - buffer.size: how many messages one pull asks for, and so the most one
//     Ingester call carries (default 64).
//   - server.urls or bootstrap.servers, client.id, auth.type, username,
//     password, token: the connection, see Conn.
//
// Siddhi's NATS Streaming options (streaming.cluster.id, cluster.id,
// queue.group.name) and its truststore and keystore options are not
// supported and are refused by name.
package natssource

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

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/source"
)

// Type is the source type name, as in @source(type='nats').
const Type = "nats"

// Defaults of the options.
const (
	DefaultAckWait    = 10 * time.Second
	DefaultBufferSize = 64
)

const (
	optDest    = "destination"
	optStream  = "stream.name"
	optDurable = "durable.name"
	optSeq     = "subscription.sequence"
	optAckWait = "ack.wait"
	optBuffer  = "buffer.size"
)

// Retry pacing for a consumer that cannot be set up and for a batch the app
// does not take.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
	// startWait bounds the first attempt to set up the consumer in Start;
	// after it the source keeps trying in the background.
	startWait = 5 * time.Second
	// fetchWait is how long one pull waits for messages; Stop may wait as
	// long for the last pull to end.
	fetchWait = 500 * time.Millisecond
)

// Factory is the source.Factory for nats sources.
func Factory(spec source.Spec, ing source.Ingester, env source.Env) (source.Source, error) {
	return New(spec, ing, env)
}

// Source is a started-or-stopped NATS JetStream source. It may be started
// again after Stop.
type Source struct {
	conn     Conn
	ing      source.Ingester
	keyed    source.KeyedIngester // ing, when it takes a key per row; else nil
	dec      *jsonmap.Decoder
	app      string
	stream   string // the Tandem stream
	subject  string
	jsStream string // "" until known when stream.name is not given
	durable  string
	startSeq uint64
	ackWait  time.Duration
	buffer   int
	logger   *slog.Logger

	mu       sync.Mutex
	nc       *nats.Conn
	stopping chan struct{}      // closed by Stop
	done     chan struct{}      // closed when the consuming goroutine returns
	cancel   context.CancelFunc // aborts an Ingest in flight

	// giveBack holds the messages taken but not ingested when the source
	// stopped; the consuming goroutine appends, Stop naks them after it.
	giveBack []jetstream.Msg
}

// New validates spec and returns a stopped source; it does not connect.
func New(spec source.Spec, ing source.Ingester, env source.Env) (*Source, error) {
	const what = "nats source"
	if ing == nil {
		return nil, errors.New("nats source: no Ingester")
	}
	if spec.Stream == nil {
		return nil, errors.New("nats source: no stream schema")
	}
	allowed := append([]string{optDest, optStream, optDurable, optSeq, optAckWait, optBuffer}, ConnOptionKeys...)
	if err := opts.Check(what, spec.Options, allowed...); err != nil {
		return nil, err
	}
	conn, err := ParseConn(what, spec.Options)
	if err != nil {
		return nil, err
	}
	s := &Source{conn: conn, ing: ing, app: spec.App, stream: spec.Stream.Name}
	s.keyed, _ = ing.(source.KeyedIngester)
	s.subject = strings.TrimSpace(spec.Options[optDest])
	if s.subject == "" {
		return nil, fmt.Errorf("nats source: option %q (the subject) is required, e.g. destination='%s'", optDest, strings.ToLower(spec.Stream.Name))
	}
	if err := checkSubject(s.subject); err != nil {
		return nil, fmt.Errorf("nats source: option %q: %w", optDest, err)
	}
	if v, ok := spec.Options[optStream]; ok {
		s.jsStream = strings.TrimSpace(v)
		if !ValidName(s.jsStream) {
			return nil, fmt.Errorf("nats source: option %q: %q is not a valid stream name", optStream, v)
		}
	}
	if v, ok := spec.Options[optDurable]; ok {
		s.durable = strings.TrimSpace(v)
		if !ValidName(s.durable) {
			return nil, fmt.Errorf("nats source: option %q: %q is not a valid consumer name (no spaces, '.', '*', '>', '/' or '\\')", optDurable, v)
		}
	} else {
		s.durable = DefaultDurable(spec.App, spec.Stream.Name)
	}
	if v, ok := spec.Options[optSeq]; ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("nats source: option %q: %q is not a stream sequence (1 or more)", optSeq, v)
		}
		s.startSeq = n
	}
	if s.ackWait, err = Seconds(what, spec.Options, optAckWait, DefaultAckWait); err != nil {
		return nil, err
	}
	if s.ackWait < time.Second {
		return nil, fmt.Errorf("nats source: option %q: %s is shorter than a second", optAckWait, s.ackWait)
	}
	s.buffer = DefaultBufferSize
	if v, ok := spec.Options[optBuffer]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1<<16 {
			return nil, fmt.Errorf("nats source: option %q: %q is not a count from 1 to 65536", optBuffer, v)
		}
		s.buffer = n
	}
	if s.dec, err = jsonmap.NewDecoder(spec.Stream, spec.Map); err != nil {
		return nil, fmt.Errorf("nats source: %w", err)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("source", Type, "app", spec.App, "stream", spec.Stream.Name, "subject", s.subject, "durable", s.durable)
	return s, nil
}

// DefaultDurable is the consumer name used when durable.name is not given.
func DefaultDurable(app, stream string) string {
	name := []byte("tandem-" + app + "-" + stream)
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			name[i] = '_'
		}
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return string(name)
}

// checkSubject checks a subscription subject: dot-separated non-empty tokens
// without whitespace, '*' only as a whole token and '>' only as the last.
func checkSubject(subj string) error {
	tokens := strings.Split(subj, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", subj)
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return fmt.Errorf("subject %q has whitespace or control characters", subj)
		case t == ">" && i != len(tokens)-1:
			return fmt.Errorf("subject %q: '>' must be the last token", subj)
		case len(t) > 1 && strings.ContainsAny(t, "*>"):
			return fmt.Errorf("subject %q: wildcards must be whole tokens", subj)
		}
	}
	return nil
}

// Key returns the idempotency key of the message at seq of a stream read
// through a durable consumer.
func Key(stream, durable string, seq uint64) string {
	return "nats:" + stream + ":" + durable + ":" + strconv.FormatUint(seq, 10)
}

// appendKeys appends the keys of the n events of a message whose key is key:
// the key itself for a single event, key/0, key/1, ... for several.
func appendKeys(keys []string, key string, n int) []string {
	if n == 1 {
		return append(keys, key)
	}
	for i := range n {
		keys = append(keys, key+"/"+strconv.Itoa(i))
	}
	return keys
}

// Start connects and sets up the consumer, then consumes in the background.
// A server that cannot be reached, or a consumer that cannot be set up yet,
// is logged and retried in the background rather than failing Start: a
// source that fails to start stays closed for the whole term of the active.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		return fmt.Errorf("nats source %s/%s: already started", s.app, s.stream)
	}
	nc, err := s.conn.Dial(s.logger, true)
	if err != nil {
		return fmt.Errorf("nats source %s/%s: %w", s.app, s.stream, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("nats source %s/%s: %w", s.app, s.stream, err)
	}
	s.nc = nc
	s.stopping = make(chan struct{})
	s.done = make(chan struct{})
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(context.Background())

	octx, cancel := context.WithTimeout(ctx, startWait)
	cons, err := s.open(octx, js)
	cancel()
	if err != nil {
		s.logger.Warn("nats source not consuming yet; retrying in the background", "err", err)
	} else {
		s.logger.Info("nats source consuming", "jetstream", s.jsStream)
	}
	go s.run(runCtx, js, cons, s.stopping, s.done)
	return nil
}

// open makes sure the durable consumer exists with the source's settings.
func (s *Source) open(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	if s.jsStream == "" {
		name, err := js.StreamNameBySubject(ctx, s.subject)
		if err != nil {
			return nil, fmt.Errorf("find the stream of subject %q: %w", s.subject, err)
		}
		s.jsStream = name
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.durable,
		Description:   "tandem app " + s.app + " stream " + s.stream,
		FilterSubject: s.subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.ackWait,
		MaxDeliver:    -1, // never give up on a message: dropping one would lose it
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if s.startSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = s.startSeq
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, s.jsStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer %q on stream %q: %w", s.durable, s.jsStream, err)
	}
	return cons, nil
}

// run consumes until Stop, setting the consumer up again after it fails
// (lost connection, deleted consumer or stream, ...).
func (s *Source) run(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, stopping, done chan struct{}) {
	defer close(done)
	backoff := retryMin
	for {
		if cons == nil {
			octx, cancel := context.WithTimeout(ctx, startWait)
			var err error
			cons, err = s.open(octx, js)
			cancel()
			if err != nil {
				s.logger.Warn("nats consumer setup failed", "err", err, "retry_in", backoff)
				if !sleep(stopping, backoff) {
					return
				}
				backoff = min(2*backoff, retryMax)
				continue
			}
			s.logger.Info("nats source consuming", "jetstream", s.jsStream)
		}
		took, err := s.consume(ctx, cons, stopping)
		if err == nil {
			return
		}
		cons = nil
		if took {
			backoff = retryMin
		}
		s.logger.Warn("nats pull failed; setting the consumer up again", "err", err, "retry_in", backoff)
		if !sleep(stopping, backoff) {
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// consume pulls and handles messages until the source stops (nil) or a pull
// fails (the error); took reports whether any pull delivered messages.
//
// It pulls with short fetches rather than one long-lived subscription so
// that when it returns no pull request of this source is left on the
// server: the messages Stop gives back are delivered again at once, and a
// request left waiting would swallow them until ack.wait.
//
// With a KeyedIngester it does not wait for a fetch to complete, which takes
// fetchWait when fewer than buffer.size messages are in the stream: it takes
// the messages already received and hands them over at once, so batches grow
// only while the app is slower than the broker, and a lone message is not
// held back.
func (s *Source) consume(ctx context.Context, cons jetstream.Consumer, stopping chan struct{}) (took bool, err error) {
	var pending []jetstream.Msg
	for !isClosed(stopping) {
		batch, err := cons.Fetch(s.buffer, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return took, err
		}
		msgs := batch.Messages()
		for msg := range msgs {
			took = true
			if isClosed(stopping) {
				// Received but not started: Stop gives it back.
				s.giveBack = append(s.giveBack, msg)
				continue
			}
			if s.keyed == nil {
				s.handle(ctx, msg, stopping)
				continue
			}
			pending = ready(msgs, append(pending[:0], msg))
			s.handleKeyed(ctx, pending, stopping)
			clear(pending) // do not pin the messages until the next batch
		}
		if err := batch.Error(); err != nil {
			return took, err
		}
	}
	return took, nil
}

// ready appends to batch the messages already waiting in msgs.
func ready(msgs <-chan jetstream.Msg, batch []jetstream.Msg) []jetstream.Msg {
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		default:
			return batch
		}
	}
}

// handle ingests one message and acknowledges it once the app holds it.
func (s *Source) handle(ctx context.Context, msg jetstream.Msg, stopping chan struct{}) {
	key, rows, ok := s.decode(msg)
	if !ok {
		return
	}
	if len(rows) > 0 {
		ingest := func(ctx context.Context) error { return s.ing.Ingest(ctx, s.stream, rows, key) }
		if !s.deliver(ctx, []jetstream.Msg{msg}, stopping, ingest, "key", key, "events", len(rows)) {
			return
		}
	}
	if err := msg.Ack(); err != nil {
		// The broker delivers it again after ack.wait and the app drops it
		// by its key.
		s.logger.Warn("ack failed", "key", key, "err", err)
	}
}

// handleKeyed ingests the events of msgs in one call, each with its key, and
// acknowledges the messages once the app holds them all.
func (s *Source) handleKeyed(ctx context.Context, msgs []jetstream.Msg, stopping chan struct{}) {
	var rows [][]event.Value
	var keys []string
	taken := msgs[:0] // the messages that decode, acknowledged after the call
	for _, msg := range msgs {
		key, r, ok := s.decode(msg)
		if !ok {
			continue
		}
		taken = append(taken, msg)
		rows = append(rows, r...)
		keys = appendKeys(keys, key, len(r))
	}
	if len(rows) > 0 {
		ingest := func(ctx context.Context) error { return s.keyed.IngestKeyed(ctx, s.stream, rows, keys) }
		if !s.deliver(ctx, taken, stopping, ingest, "first_key", keys[0], "messages", len(taken), "events", len(rows)) {
			return
		}
	}
	for _, msg := range taken {
		if err := msg.Ack(); err != nil {
			// As in handle: delivered again, dropped by its key.
			s.logger.Warn("ack failed", "err", err)
		}
	}
}

// decode returns the idempotency key and the events of msg. A message
// without JetStream metadata or that does not decode is terminated and
// logged, and ok is false.
func (s *Source) decode(msg jetstream.Msg) (key string, rows [][]event.Value, ok bool) {
	md, err := msg.Metadata()
	if err != nil {
		s.logger.Warn("dropping a message without JetStream metadata", "err", err)
		_ = msg.Term()
		return "", nil, false
	}
	rows, err = s.dec.Decode(msg.Data())
	if err != nil {
		s.logger.Warn("dropping a message that does not decode", "seq", md.Sequence.Stream, "err", err)
		_ = msg.Term()
		return "", nil, false
	}
	return Key(md.Stream, s.durable, md.Sequence.Stream), rows, true
}

// deliver calls ingest, retrying until the app takes the batch or the source
// stops. It reports whether the app took it; if not, msgs are kept for Stop
// to give back. logArgs describe the batch in the retry log.
//
// While a call is in flight (the app pushing back) the broker is told the
// messages are in progress, so they are not delivered again meanwhile.
// Between retries it is not: if the app keeps refusing them (this node is no
// longer active, say), the broker delivers them again after ack.wait, to
// whichever node pulls, and their keys make the app drop the second copy.
func (s *Source) deliver(ctx context.Context, msgs []jetstream.Msg, stopping chan struct{}, ingest func(context.Context) error, logArgs ...any) bool {
	backoff := retryMin
	for {
		done := inProgress(msgs, s.ackWait/3)
		err := ingest(ctx)
		done()
		if err == nil {
			return true
		}
		if isClosed(stopping) || ctx.Err() != nil {
			s.giveBack = append(s.giveBack, msgs...)
			return false
		}
		s.logger.Warn("batch not accepted; retrying", append(logArgs, "err", err, "retry_in", backoff)...)
		if !sleep(stopping, backoff) {
			s.giveBack = append(s.giveBack, msgs...)
			return false
		}
		backoff = min(2*backoff, retryMax)
	}
}

// inProgress tells the broker every interval that msgs are being worked on,
// until the returned function is called.
func inProgress(msgs []jetstream.Msg, every time.Duration) (done func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// Stop stops pulling, waits for the batch in flight and gives the received
// messages back to the broker. When ctx ends first, the Ingester call in
// flight is cancelled (its messages go back too) and Stop still waits for it.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.nc == nil {
		s.mu.Unlock()
		return nil
	}
	nc, done, cancel := s.nc, s.done, s.cancel
	close(s.stopping)
	s.mu.Unlock()

	var errs []error
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		<-done
		errs = append(errs, fmt.Errorf("nats source %s/%s: in-flight batch aborted: %w", s.app, s.stream, ctx.Err()))
	}
	cancel()
	// Give back what was received but not taken, then make sure the server
	// has it all before closing.
	for _, m := range s.giveBack {
		_ = m.Nak()
	}
	clear(s.giveBack)
	s.giveBack = s.giveBack[:0]
	err := nc.FlushTimeout(flushTimeout(ctx))
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		errs = append(errs, fmt.Errorf("nats source %s/%s: flush: %w", s.app, s.stream, err))
	}
	nc.Close()

	s.mu.Lock()
	s.nc = nil
	s.mu.Unlock()
	s.logger.Info("nats source stopped")
	return errors.Join(errs...)
}

func flushTimeout(ctx context.Context) time.Duration {
	d := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); r < d {
			d = max(r, 10*time.Millisecond)
		}
	}
	return d
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
