// Package engine plans and runs one Siddhi app: it turns the syntax tree into
// a graph of streams and queries (filters, stream functions, windows, named
// windows, joins, selectors with aggregation, output rate limiting,
// triggers and fault streams) and runs events through it synchronously.
//
// The engine is deterministic. Time-based operators read time only from the
// app clock, which moves with event timestamps (Send) and timer ticks
// (Advance), never from the wall clock, so the same inputs and ticks give the
// same outputs in the same order. That is what lets a passive node replay the
// active's log and arrive at the same state.
package engine

import (
	"fmt"
	"log/slog"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// Runtime runs one app. It is not safe for concurrent use: the caller
// serialises every call, and callbacks must not call back into the Runtime.
type Runtime struct {
	app      *ast.App
	name     string
	streams  []*stream // defined streams in order, then inferred ones
	byName   map[string]*stream
	ndef     int // number of defined streams
	queries  []*query
	windows  []*namedWindow // named windows in definition order
	triggers []*trigger
	timed    []timer // the operators that may have timers
	byQuery  map[string]*query
	shape    uint64 // fingerprint of the plan, checked by Restore

	playback        bool
	idle, increment int64 // playback heartbeat, in milliseconds

	clock   int64
	started bool   // Start was called, or the first event or tick did it
	uuids   bool   // the app calls UUID()
	uuidSeq uint64 // UUIDs made so far
	logger  *slog.Logger
	one     [1]event.Event // the chunk Send builds for one input event
	batch   []event.Event  // the chunk SendBatch builds
}

// timer is an operator that acts at clock times of its own: a query with a
// window or a time-based output rate, or a named window.
type timer interface {
	// deadline returns the clock time of the next timer that can emit or
	// change state, if any.
	deadline() (int64, bool)
	// fire runs the timers due at now, the deadline.
	fire(now int64)
	label() string
	// resetWindow drops the contents after a failure, so that a timer that
	// cannot make progress does not fire forever.
	resetWindow()
}

// stream is a stream junction: the queries that read it and the callbacks
// registered on it, in subscription order (queries first, as in Siddhi,
// where callbacks are added after the app is created).
type stream struct {
	schema    *event.Schema
	width     int // len(schema.Attrs)
	id        int
	defined   bool
	slide     bool         // a named window that expires events one by one
	win       *namedWindow // set when the stream is a named window
	fault     *stream      // the fault stream (!name), with @OnError(action='stream')
	queries   []*query
	callbacks []func([]event.Event)
}

// New plans app. Errors are an ast.ErrorList with one positioned message per
// problem found.
func New(app *ast.App) (*Runtime, error) {
	if app == nil {
		return nil, fmt.Errorf("engine: nil app")
	}
	r, err := plan(app)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// SetLogger sets where runtime errors are logged; nil discards them.
func (r *Runtime) SetLogger(l *slog.Logger) { r.logger = l }

// Name returns the app's @app:name, or "".
func (r *Runtime) Name() string { return r.name }

// Schema returns the schema of a defined or inferred stream.
func (r *Runtime) Schema(name string) (*event.Schema, bool) {
	s, ok := r.byName[name]
	if !ok {
		return nil, false
	}
	return s.schema, true
}

// Streams returns the defined streams in definition order, then the streams
// inferred from query outputs in the order the queries appear.
func (r *Runtime) Streams() []*event.Schema {
	out := make([]*event.Schema, len(r.streams))
	for i, s := range r.streams {
		out[i] = s.schema
	}
	return out
}

// InputID returns the handle Send takes for a defined stream.
func (r *Runtime) InputID(name string) (int, bool) {
	s, ok := r.byName[name]
	if !ok || !s.defined {
		return 0, false
	}
	return s.id, true
}

// OnOutput registers fn to receive every chunk of events published on the
// stream (defined or inferred). It is called synchronously inside Send and
// Advance; the events and their Data are only valid during the call. Events
// inserted by queries always arrive as current events, as in Siddhi.
func (r *Runtime) OnOutput(name string, fn func(events []event.Event)) {
	if s, ok := r.byName[name]; ok && fn != nil {
		s.callbacks = append(s.callbacks, fn)
	}
}

// OnQuery registers fn as a query callback for the query named with
// @info(name=...): each output chunk, split into current and expired events.
// Empty halves are nil. The events are only valid during the call.
func (r *Runtime) OnQuery(name string, fn func(in, removed []event.Event)) {
	if q, ok := r.byQuery[name]; ok && fn != nil {
		q.callbacks = append(q.callbacks, fn)
	}
}

// HasQuery reports whether the app has a query named name with
// @info(name=...), which OnQuery can register callbacks on.
func (r *Runtime) HasQuery(name string) bool {
	_, ok := r.byQuery[name]
	return ok
}

// Playback reports whether the app runs in playback mode
// (@app:playback), and the idle-time heartbeat it asks for: after idle
// milliseconds without events the host should advance the clock by
// increment. Both are 0 when the annotation does not set them.
func (r *Runtime) Playback() (on bool, idle, increment int64) {
	return r.playback, r.idle, r.increment
}

// Start tells the runtime the app starts at now: triggers and the periods of
// time-based output rate limiting (`output every 1 sec`, `output snapshot
// every ...`) count from it, as Siddhi's count from the app's start. Without a call the
// first event or tick starts the app at its time, which keeps two nodes
// replaying the same log in step. Start does not move the clock; later calls
// do nothing.
func (r *Runtime) Start(now int64) {
	if r.started {
		return
	}
	r.started = true
	for _, q := range r.queries {
		if q.rate != nil {
			q.rate.start(now)
		}
	}
	for _, t := range r.triggers {
		t.start(now)
	}
}

// Now returns the app clock in milliseconds.
func (r *Runtime) Now() int64 { return r.clock }

// Send processes one event on the stream with the given input id. The clock
// first advances to max(clock, ts), firing the timers due by then, and then
// the event runs through every query reading the stream. data is borrowed.
func (r *Runtime) Send(id int, ts int64, data []event.Value) {
	if uint(id) >= uint(r.ndef) {
		r.logError("send to unknown input", fmt.Errorf("engine: no input stream with id %d", id))
		return
	}
	s := r.streams[id]
	if len(data) != s.width {
		r.logError("send", fmt.Errorf("engine: stream %s has %d attributes, event has %d",
			s.schema.Name, len(s.schema.Attrs), len(data)))
		return
	}
	if len(r.timed) > 0 {
		r.Advance(ts)
	} else if ts > r.clock {
		r.clock = ts
	}
	// A panic in an operator becomes a logged error, so that one bad event
	// cannot stop the app.
	defer func() {
		if p := recover(); p != nil {
			r.logError("processing event", fmt.Errorf("engine: stream %s: %v", s.schema.Name, p))
		}
	}()
	// r.one keeps pointing at data after the call; that only delays freeing
	// one event.
	r.one[0] = event.Event{Timestamp: ts, Data: data}
	r.publish(s, r.one[:])
}

// SendBatch processes events as one chunk on the stream with the given
// input id, as Siddhi's InputHandler.send(Event[]) does: batch windows see
// them as one batch, and aggregates without group by output once for them.
// The clock first advances to the largest timestamp among them. The events
// and their Data are borrowed; Expired is ignored.
func (r *Runtime) SendBatch(id int, events []event.Event) {
	if uint(id) >= uint(r.ndef) {
		r.logError("send to unknown input", fmt.Errorf("engine: no input stream with id %d", id))
		return
	}
	if len(events) == 0 {
		return
	}
	s := r.streams[id]
	ts := events[0].Timestamp
	for i := range events {
		if len(events[i].Data) != s.width {
			r.logError("send", fmt.Errorf("engine: stream %s has %d attributes, event %d has %d",
				s.schema.Name, len(s.schema.Attrs), i, len(events[i].Data)))
			return
		}
		ts = max(ts, events[i].Timestamp)
	}
	if len(r.timed) > 0 {
		r.Advance(ts)
	} else if ts > r.clock {
		r.clock = ts
	}
	defer func() {
		if p := recover(); p != nil {
			r.logError("processing event", fmt.Errorf("engine: stream %s: %v", s.schema.Name, p))
		}
	}()
	b := r.batch[:0]
	for _, e := range events {
		b = append(b, event.Event{Timestamp: e.Timestamp, Data: e.Data})
	}
	r.batch = b
	r.publish(s, b)
	clear(b) // do not keep the caller's data alive
}

// publish hands a chunk to a stream: to its named window when it is one,
// whose output then goes to the readers, else to the readers directly.
func (r *Runtime) publish(s *stream, chunk []event.Event) {
	if s.win != nil {
		s.win.insert(chunk)
		return
	}
	r.deliver(s, chunk)
}

// deliver hands a chunk to the queries reading the stream and then to its
// callbacks.
func (r *Runtime) deliver(s *stream, chunk []event.Event) {
	if s.fault != nil {
		r.deliverGuarded(s, chunk)
		return
	}
	for _, q := range s.queries {
		q.process(chunk)
	}
	for _, cb := range s.callbacks {
		cb(chunk)
	}
}

// Advance is a timer tick: the clock moves to max(clock, now) and every timer
// due by then fires, in deadline order, each at its own deadline.
func (r *Runtime) Advance(now int64) {
	if !r.started {
		r.Start(now)
	}
	for len(r.timed) > 0 {
		var due timer
		var at int64
		for _, q := range r.timed {
			if d, ok := q.deadline(); ok && d <= now && (due == nil || d < at) {
				due, at = q, d
			}
		}
		if due == nil {
			break
		}
		if at > r.clock {
			r.clock = at
		}
		r.fireSafe(due)
		if d, ok := due.deadline(); ok && d <= at {
			// A timer that does not move its deadline would fire forever
			// (only arithmetic overflow can do that): drop the window.
			r.logError("timer", fmt.Errorf("engine: %s: timer did not advance past %d", due.label(), at))
			due.resetWindow()
		}
	}
	if now > r.clock {
		r.clock = now
	}
}

func (r *Runtime) fireSafe(q timer) {
	defer func() {
		if p := recover(); p != nil {
			r.logError("timer", fmt.Errorf("engine: %s: %v", q.label(), p))
			// A window that panicked may not have made progress: drop its
			// contents rather than fire it forever.
			q.resetWindow()
		}
	}()
	q.fire(r.clock)
}

// NextDeadline returns the earliest clock time at which Advance would emit
// something.
func (r *Runtime) NextDeadline() (int64, bool) {
	var at int64
	found := false
	for _, q := range r.timed {
		if d, ok := q.deadline(); ok && (!found || d < at) {
			at, found = d, true
		}
	}
	return at, found
}

func (r *Runtime) logError(msg string, err error) {
	if r.logger != nil {
		r.logger.Error(msg, "app", r.name, "err", err)
	}
}
