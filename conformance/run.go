package conformance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tandem-stream/tandem/engine"
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Status is the outcome of a case.
type Status int

const (
	Passed Status = iota
	Failed
	// Unsupported cases use something the engine refuses to plan (joins,
	// tables, patterns, ...) or that the harness cannot replay (on-demand
	// queries).
	Unsupported
)

func (s Status) String() string {
	switch s {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	case Unsupported:
		return "unsupported"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText makes a Status read as its name in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one case.
type Result struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Reason says why a case is unsupported, or why it failed when the
	// failure is not an output mismatch (the app was refused, a panic).
	Reason string `json:"reason,omitempty"`
	// Mismatches lists, for a failed case, each callback whose output
	// differs from the recorded one.
	Mismatches []Mismatch `json:"mismatches,omitempty"`
	// Deviation is the documented reason when the case is a known
	// deviation (see deviations.go); the case still counts as failed.
	Deviation string `json:"deviation,omitempty"`
	// Note says how the harness adapted the case to run it, when it did.
	Note string `json:"note,omitempty"`
}

// Mismatch is a callback whose output differs from the recording. Events
// are rendered as [v1, v2, ...], strings quoted, with " expired" appended
// for expired events.
type Mismatch struct {
	Target string   `json:"target"` // the stream or query
	Want   []string `json:"want"`
	Got    []string `json:"got"`
	// Count is set when only the number of events is pinned (the recorded
	// values held wall-clock times or random ids).
	Count int `json:"count,omitempty"`
}

func (m Mismatch) String() string {
	var b strings.Builder
	if m.Count > 0 {
		fmt.Fprintf(&b, "%s: got %d events, want %d (only the count is recorded)", m.Target, len(m.Got), m.Count)
	} else {
		fmt.Fprintf(&b, "%s: got %d events, want %d", m.Target, len(m.Got), len(m.Want))
	}
	b.WriteString("\n  want:")
	for _, w := range m.Want {
		b.WriteString("\n    " + w)
	}
	b.WriteString("\n  got:")
	for _, g := range m.Got {
		b.WriteString("\n    " + g)
	}
	return b.String()
}

// base is the wall-clock time the virtual clock starts from, for cases that
// are not in playback: a fixed instant, so that runs are reproducible.
const base = 1_700_000_000_000

// Run replays a case and compares its outputs. It never panics: a panic in
// the engine fails the case with the panic as its reason.
func Run(c *Case) (res Result) {
	res = run(c)
	res.ID = c.ID
	if why, ok := knownDeviations[c.ID]; ok && res.Status == Failed {
		res.Deviation = why
	}
	return res
}

func unsupported(format string, args ...any) Result {
	return Result{Status: Unsupported, Reason: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) Result {
	return Result{Status: Failed, Reason: fmt.Sprintf(format, args...)}
}

// run replays a case. Java tests sometimes send values that do not match
// the stream definition, which Siddhi, untyped, accepts: an operation that
// casts such a value fails the event, one that only passes it on or tests
// its type works. The engine's input is typed, so the harness tries both:
// first without the events that do not fit (as a failed event), then with
// the values as they are. Only when neither reproduces the recording is the
// case unsupported.
func run(c *Case) Result {
	var untyped error
	res := runAs(c, false, &untyped)
	if untyped == nil || res.Status != Failed || len(res.Mismatches) == 0 {
		return res
	}
	res2 := runAs(c, true, new(error))
	if res2.Status == Passed {
		res2.Note = "sent input that does not match its stream definition as the Java test did " +
			"(values of other types as they are, missing ones as null, extra ones dropped): " + untyped.Error()
		return res2
	}
	return unsupported("the test sent values that do not match the stream definition: %v", untyped)
}

// runAs runs a case once; raw says whether inputs that do not fit their
// stream are sent as they are (else they are not sent), and untyped is set
// to the first such input.
func runAs(c *Case, raw bool, untyped *error) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			res = failed("panic: %v", p)
		}
	}()
	app, err := parser.Parse(c.ID, []byte(c.App))
	var r *engine.Runtime
	if err == nil {
		r, err = engine.New(app)
	}
	if c.ExpectError != nil {
		if err == nil {
			return failed("the app was accepted; Siddhi refused it: %s", *c.ExpectError)
		}
		return Result{Status: Passed}
	}
	if err != nil {
		return unsupported("%v", err)
	}
	for _, in := range c.Inputs {
		if in.Query != "" {
			return unsupported("on-demand queries are not supported")
		}
	}
	expects := slices.Clone(c.Extra)
	if c.Expect != nil {
		expects = append([]*Expect{c.Expect}, expects...)
	}
	got := make([][]outEvent, len(expects))
	for i, ex := range expects {
		if ex == nil {
			return failed("expectation %d is null", i)
		}
		switch ex.Kind {
		case "query_callback":
			if !r.HasQuery(ex.Target) {
				return failed("the app has no query %s", ex.Target)
			}
			r.OnQuery(ex.Target, func(in, removed []event.Event) {
				for _, e := range in {
					got[i] = append(got[i], copyEvent(e))
				}
				for _, e := range removed {
					got[i] = append(got[i], copyEvent(e))
				}
			})
		case "stream":
			if _, ok := r.Schema(ex.Target); !ok {
				return failed("the app has no stream %s", ex.Target)
			}
			r.OnOutput(ex.Target, func(evs []event.Event) {
				for _, e := range evs {
					got[i] = append(got[i], copyEvent(e))
				}
			})
		default:
			return unsupported("callback kind %q", ex.Kind)
		}
	}

	p := &player{r: r, clock: base, raw: raw}
	defer func() { *untyped = p.untyped }()
	p.playback, p.idle, p.incr = r.Playback()
	if p.playback {
		// In playback, time comes from the events alone.
		p.clock = 0
	} else {
		// Siddhi starts the app's periodic timers (time-based output rates)
		// when the test creates the app, before its first sleep.
		r.Start(p.clock)
	}
	for _, in := range c.Inputs {
		p.sleep(in.Sleep)
		if len(in.Events) > 0 {
			if err := p.sendBatch(in.Stream, in.Events); err != nil {
				return failed("%v", err)
			}
			continue
		}
		if err := p.send(in.Stream, in.Data, in.Timestamp, in.Offset); err != nil {
			return failed("%v", err)
		}
	}
	if c.Timing && !p.playback && c.Expect != nil {
		// Many Java tests end with waitForEvents and shut the app down as
		// soon as the expected events arrived, so timers later in the final
		// sleep never fired in the recorded run: stop there too.
		end := p.clock + max(c.FinalSleep, 0)
		for len(got[0]) < c.Expect.Count {
			d, ok := r.NextDeadline()
			if !ok || d > end {
				break
			}
			r.Advance(d)
			p.clock = max(p.clock, d)
		}
		if len(got[0]) < c.Expect.Count {
			p.clock = max(p.clock, end)
			r.Advance(p.clock)
		}
	} else {
		p.sleep(c.FinalSleep)
	}
	if c.Timing && !p.playback && c.Expect != nil {
		// The Java tests often end with waitForEvents, which polls until the
		// expected count arrives or a timeout passes: on the virtual clock,
		// that is firing the timers due within the timeout.
		limit := p.clock + 10_000
		for len(got[0]) < c.Expect.Count {
			d, ok := r.NextDeadline()
			if !ok || d > limit {
				break
			}
			r.Advance(d)
			p.clock = max(p.clock, d)
		}
	}

	var ms []Mismatch
	for i, ex := range expects {
		if m, ok := compare(ex, got[i]); !ok {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		res := Result{Status: Passed}
		if p.untyped != nil && !raw {
			res.Note = "left out input that does not match its stream definition, which Siddhi " +
				"failed: " + p.untyped.Error()
		}
		return res
	}
	return Result{Status: Failed, Mismatches: ms}
}

// player feeds a case's inputs to the runtime on the virtual clock.
type player struct {
	r        *engine.Runtime
	clock    int64
	playback bool
	idle     int64 // playback heartbeat: after idle ms without events...
	incr     int64 // ... the clock moves by incr
	offBase  int64 // the base of timestamp offsets, taken at the first send
	sent     bool
	untyped  error // the first input that did not match its stream
	raw      bool  // send such input as it is, else leave it out
}

// sleep lets ms milliseconds pass. Outside playback the clock moves with
// them and the timers due fire. In playback only the idle-time heartbeat
// moves time: by increment for every idle.time of silence.
func (p *player) sleep(ms int64) {
	if ms <= 0 {
		return
	}
	if !p.playback {
		p.clock += ms
		p.r.Advance(p.clock)
		return
	}
	if p.idle <= 0 || p.incr <= 0 {
		return
	}
	for n := ms / p.idle; n > 0; n-- {
		p.clock += p.incr
		p.r.Advance(p.clock)
	}
}

func (p *player) send(stream string, data []any, ts, off *int64) error {
	return p.sendBatch(stream, []Event{{Data: data, Timestamp: ts, Offset: off}})
}

// sendBatch sends events as one chunk, as one InputHandler.send call did.
func (p *player) sendBatch(stream string, events []Event) error {
	id, ok := p.r.InputID(stream)
	if !ok {
		return fmt.Errorf("the app has no input stream %s", stream)
	}
	if !p.sent {
		p.sent = true
		p.offBase = p.clock
		if p.playback {
			p.offBase = base
		}
	}
	sch, _ := p.r.Schema(stream)
	batch := make([]event.Event, 0, len(events))
	for _, e := range events {
		vals, err := toValues(sch, e.Data)
		if err != nil {
			// Siddhi runs whatever array the test passed; see run.
			if p.untyped == nil {
				p.untyped = err
			}
			if !p.raw {
				continue
			}
			vals = lenientValues(sch, e.Data)
		}
		t := p.clock
		switch {
		case e.Timestamp != nil:
			t = *e.Timestamp
		case e.Offset != nil:
			t = p.offBase + *e.Offset
		}
		if p.playback {
			p.clock = max(p.clock, t)
		}
		batch = append(batch, event.Event{Timestamp: t, Data: vals})
	}
	switch len(batch) {
	case 0:
	case 1:
		p.r.Send(id, batch[0].Timestamp, batch[0].Data)
	default:
		p.r.SendBatch(id, batch)
	}
	return nil
}
