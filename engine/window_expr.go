package engine

import (
	"errors"
	"fmt"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// winExpr is the condition of an expression window: a bool SiddhiQL
// expression over the event itself (plain attribute names), the window's
// first event (first.attr, eventTimestamp(first)) and the newest one
// (last.attr, eventTimestamp(last)), with aggregates of its own that follow
// the events entering and leaving the window.
type winExpr struct {
	src    string
	cond   func(*frame) bool
	aggs   []*aggregator
	states []aggState
	aggv   []event.Value
}

// How an evaluation updates the aggregates: Siddhi evaluates the condition
// on a state event of type CURRENT, EXPIRED or RESET.
const (
	evalAdd = iota
	evalRemove
	evalReset
)

func (x *winExpr) eval(fr *frame, how int) bool {
	for k, a := range x.aggs {
		st := &x.states[k]
		switch how {
		case evalAdd:
			a.add(st, fr)
		case evalRemove:
			a.remove(st, fr)
		default:
			a.reset(st)
		}
		x.aggv[k] = a.current(st)
	}
	fr.agg = x.aggv
	return x.cond(fr)
}

// compileWindowExpr compiles the text of a window condition against the
// window's input schema.
func compileWindowExpr(rt *Runtime, sch *event.Schema, src string) (*winExpr, error) {
	e, err := parser.ParseExpr("window expression", []byte(src))
	if err != nil {
		return nil, fmt.Errorf("window expression '%s': %w", src, err)
	}
	p := &planner{file: "window expression", r: rt}
	aggs := []*aggregator{}
	sc := &scope{in: sch, names: []string{sch.Name}, aggs: &aggs, sliding: true,
		winExpr: true, context: "window expression"}
	c := p.compile(e, sc)
	if err := p.errs.Err(); err != nil {
		return nil, fmt.Errorf("window expression '%s': %w", src, err)
	}
	if c == nil {
		return nil, fmt.Errorf("window expression '%s' does not compile", src)
	}
	if c.typ != event.Bool {
		return nil, fmt.Errorf("window expression '%s' must be bool, found %s", src, c.typ)
	}
	return &winExpr{src: src, cond: c.cond, aggs: aggs, states: make([]aggState, len(aggs)),
		aggv: make([]event.Value, len(aggs))}, nil
}

// exprSource holds the condition of an expression window: fixed, or read
// from a string attribute of each event, recompiled when it changes.
type exprSource struct {
	rt    *Runtime
	in    *event.Schema
	col   int // the attribute holding the expression; -1: fixed
	x     *winExpr
	types []event.Type
}

// update reads the expression of an arriving event. It reports whether the
// expression changed (the window must then replay its events through the
// new one); an expression that does not compile is an error and the event
// is dropped, as Siddhi fails it.
func (s *exprSource) update(e *event.Event) (bool, error) {
	if s.col < 0 {
		return false, nil
	}
	v := e.Data[s.col]
	if v.IsNull() {
		return false, errors.New("engine: window expression attribute is null")
	}
	if s.x != nil && v.Str() == s.x.src {
		return false, nil
	}
	x, err := compileWindowExpr(s.rt, s.in, v.Str())
	if err != nil {
		return false, err
	}
	s.x = x
	return true, nil
}

// rebind moves the source to rt, recompiling the condition so that it reads
// rt's clock, and keeping the aggregate states.
func (s *exprSource) rebind(rt *Runtime) {
	s.rt = rt
	if s.x == nil {
		return
	}
	if x, err := compileWindowExpr(rt, s.in, s.x.src); err == nil {
		copy(x.states, s.x.states)
		s.x = x
	}
}

func (s *exprSource) appendState(b []byte) ([]byte, error) {
	if s.x == nil {
		return appendBool(b, false), nil
	}
	b = appendBool(b, true)
	if s.col >= 0 {
		b = appendUvarint(b, uint64(len(s.x.src)))
		b = append(b, s.x.src...)
	}
	return appendAggStates(b, s.x.states)
}

func (s *exprSource) readState(d *decoder) error {
	if !d.bool() {
		if s.col >= 0 {
			s.x = nil
		}
		return d.err
	}
	if s.col >= 0 {
		src := string(d.bytes())
		if d.err != nil {
			return d.err
		}
		x, err := compileWindowExpr(s.rt, s.in, src)
		if err != nil {
			return errCorrupt(err.Error())
		}
		s.x = x
	}
	if s.x == nil {
		return errCorrupt("expression window without an expression")
	}
	return readAggStates(d, s.x.states)
}

// setFrame points the frame at the event being evaluated, the window's
// first event and its newest.
func setFrame(fr *frame, self, first, last *stored) {
	fr.in, fr.ts = self.vals, self.ts
	fr.first, fr.firstTS = first.vals, first.ts
	fr.last, fr.lastTS = last.vals, last.ts
}

// expressionWindow is #window.expression(expr): a sliding window that keeps
// events while expr holds. Each arrival joins the window and the condition
// is checked with it as the newest event; while it fails, the oldest events
// expire one by one, each checked again as it leaves (Siddhi's
// ExpressionWindowProcessor). When expr comes from an attribute and changes,
// the window's events are replayed through the new condition.
type expressionWindow struct {
	src   exprSource
	queue []stored
	fr    frame
	out   []event.Event
}

func (w *expressionWindow) step(out []event.Event, r stored, now int64) []event.Event {
	x := w.src.x
	w.queue = append(w.queue, r)
	setFrame(&w.fr, &r, &w.queue[0], &r)
	if x.eval(&w.fr, evalAdd) {
		return out
	}
	for len(w.queue) > 0 {
		old := w.queue[0]
		w.queue[0] = stored{}
		w.queue = w.queue[1:]
		out = append(out, old.at(now, true))
		first := &old
		if len(w.queue) > 0 {
			first = &w.queue[0]
		}
		setFrame(&w.fr, &old, first, &r)
		if x.eval(&w.fr, evalRemove) {
			break
		}
	}
	return out
}

func (w *expressionWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		changed, err := w.src.update(e)
		if err != nil {
			w.src.rt.logError("expression window", err)
			continue
		}
		if changed {
			old := w.queue
			w.queue = nil
			for _, r := range old {
				out = w.step(out, r, now)
			}
		}
		r := newStored(e)
		out = w.step(out, r, now)
		out = append(out, r.event())
	}
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

func (w *expressionWindow) timer(int64, func([]event.Event)) {}
func (w *expressionWindow) deadline() (int64, bool)          { return 0, false }
func (w *expressionWindow) clear() {
	w.queue = nil
	if w.src.x != nil {
		clear(w.src.x.states)
	}
}

func (w *expressionWindow) appendState(b []byte) ([]byte, error) {
	b, err := w.src.appendState(b)
	if err != nil {
		return b, err
	}
	return appendRows(b, w.queue)
}

func (w *expressionWindow) readState(d *decoder) error {
	if err := w.src.readState(d); err != nil {
		return err
	}
	w.queue = d.rows(w.src.types)
	return d.err
}

// expressionBatchWindow is #window.expressionBatch(expr [, include
// [, stream]]): events collect while expr holds; the event that makes it
// fail flushes the batch (the previous batch expires first), and starts the
// next batch, or with include ends the flushed batch. With stream, events
// pass through as they arrive and a failing condition only expires the
// batch. It follows Siddhi's ExpressionBatchWindowProcessor, which emits no
// resets: readers' aggregates follow the expired events.
type expressionBatchWindow struct {
	src          exprSource
	includeConst bool
	includeCol   int // -1: includeConst
	stream       bool
	cur, exp     []stored
	fr           frame
}

func (w *expressionBatchWindow) include(r *stored) bool {
	if w.includeCol >= 0 {
		return r.vals[w.includeCol].Bool()
	}
	return w.includeConst
}

func (w *expressionBatchWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	for i := range in {
		e := &in[i]
		changed, err := w.src.update(e)
		if err != nil {
			w.src.rt.logError("expressionBatch window", err)
			continue
		}
		if changed {
			if w.stream {
				old := w.exp
				w.exp = nil
				for _, r := range old {
					w.streamStep(r, now, emit, false)
				}
			} else {
				old := w.cur
				w.cur = nil
				for _, r := range old {
					w.batchStep(r, now, emit)
				}
			}
		}
		r := newStored(e)
		if w.stream {
			w.streamStep(r, now, emit, true)
		} else {
			w.batchStep(r, now, emit)
		}
	}
}

// failed evaluates the condition for r as the newest event and, when it
// fails, restarts the aggregates with r alone, as Siddhi does by evaluating
// it again as RESET and then CURRENT.
func (w *expressionBatchWindow) failed(r *stored, first *stored) bool {
	x := w.src.x
	setFrame(&w.fr, r, first, r)
	if x.eval(&w.fr, evalAdd) {
		return false
	}
	x.eval(&w.fr, evalReset)
	x.eval(&w.fr, evalAdd)
	return true
}

func (w *expressionBatchWindow) batchStep(r stored, now int64, emit func([]event.Event)) {
	first := &r
	if len(w.cur) > 0 {
		first = &w.cur[0]
	}
	if !w.failed(&r, first) {
		w.cur = append(w.cur, r)
		return
	}
	var out []event.Event
	for _, x := range w.exp {
		out = append(out, x.at(now, true))
	}
	w.exp = nil
	if len(w.cur) > 0 {
		for i := range w.cur {
			w.cur[i].ts = now
			out = append(out, w.cur[i].at(now, false))
		}
		w.exp = append(w.exp, w.cur...)
		w.cur = nil
		if w.include(&r) {
			out = append(out, r.event())
			w.exp = append(w.exp, stored{ts: now, vals: r.vals})
		} else {
			w.cur = append(w.cur, r)
		}
	} else {
		out = append(out, r.at(now, true), r.at(now, false))
	}
	emit(out)
}

func (w *expressionBatchWindow) streamStep(r stored, now int64, emit func([]event.Event), output bool) {
	first := &r
	if len(w.exp) > 0 {
		first = &w.exp[0]
	}
	var out []event.Event
	if output {
		for _, x := range w.cur {
			out = append(out, x.event())
		}
		w.cur = nil
	}
	if !w.failed(&r, first) {
		w.exp = append(w.exp, stored{ts: r.ts, vals: r.vals, expired: true})
		if output {
			emit(append(out, r.event()))
		}
		return
	}
	switch {
	case len(w.exp) > 0:
		for i := range w.exp {
			w.exp[i].ts = now
		}
		rexp := stored{ts: r.ts, vals: r.vals, expired: true}
		if w.include(&r) {
			out = append(out, r.event())
			if output {
				for _, x := range w.exp {
					out = append(out, x.event())
				}
				rexp.ts = now
				out = append(out, rexp.event())
			} else {
				w.cur = append(w.cur, w.exp...)
				w.cur = append(w.cur, rexp)
			}
			w.exp = nil
		} else {
			if output {
				for _, x := range w.exp {
					out = append(out, x.event())
				}
			} else {
				w.cur = append(w.cur, w.exp...)
			}
			out = append(out, r.event())
			w.exp = []stored{rexp}
		}
	case output:
		out = append(out, r.at(now, true), r.at(now, false))
	default:
		w.cur = append(w.cur, r)
	}
	if output && len(out) > 0 {
		emit(out)
	}
}

func (w *expressionBatchWindow) timer(int64, func([]event.Event)) {}
func (w *expressionBatchWindow) deadline() (int64, bool)          { return 0, false }
func (w *expressionBatchWindow) clear() {
	w.cur, w.exp = nil, nil
	if w.src.x != nil {
		clear(w.src.x.states)
	}
}

func (w *expressionBatchWindow) appendState(b []byte) ([]byte, error) {
	b, err := w.src.appendState(b)
	if err != nil {
		return b, err
	}
	if b, err = appendRows(b, w.cur); err != nil {
		return b, err
	}
	return appendRows(b, w.exp)
}

func (w *expressionBatchWindow) readState(d *decoder) error {
	if err := w.src.readState(d); err != nil {
		return err
	}
	w.cur = d.rows(w.src.types)
	w.exp = d.rows(w.src.types)
	return d.err
}
