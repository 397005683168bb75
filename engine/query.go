package engine

import (
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// query is one planned `from ... select ... insert into ...`. Events run
// through its stages (filters and at most one window, in source order), then
// the selector, then out to the query callbacks and the output stream.
type query struct {
	rt     *Runtime
	name   string
	index  int
	pos    ast.Pos
	pre    []*filter // filters before the window
	win    window    // nil without a window
	post   []*filter // filters after the window
	sel    *selector
	target *stream

	callbacks []func(in, removed []event.Event)
	cur, rem  []event.Event // scratch for splitting callback chunks
}

func (q *query) label() string {
	if q.name != "" {
		return q.name
	}
	return "#" + itoa(q.index+1)
}

// process runs a chunk arriving on the query's input stream.
func (q *query) process(chunk []event.Event) {
	for _, f := range q.pre {
		if chunk = f.process(chunk); len(chunk) == 0 {
			return
		}
	}
	if q.win != nil {
		chunk = q.win.process(chunk, q.rt.clock)
	}
	q.afterWindow(chunk)
}

func (q *query) afterWindow(chunk []event.Event) {
	for _, f := range q.post {
		if chunk = f.process(chunk); len(chunk) == 0 {
			return
		}
	}
	if len(chunk) == 0 {
		return
	}
	out := q.sel.process(chunk)
	if len(out) > 0 {
		q.emit(out)
	}
}

// fire runs the window's timer at now.
func (q *query) fire(now int64) {
	q.afterWindow(q.win.timer(now))
}

func (q *query) deadline() (int64, bool) {
	if q.win == nil {
		return 0, false
	}
	return q.win.deadline()
}

func (q *query) resetWindow() {
	if q.win != nil {
		switch w := q.win.(type) {
		case *timeWindow:
			w.buf.clear()
		case *lengthWindow:
			w.buf.clear()
		}
	}
}

// emit hands an output chunk to the query callbacks (split into current and
// expired events) and then inserts it into the target stream, where every
// event becomes a current event, as Siddhi's InsertIntoStreamCallback does.
func (q *query) emit(out []event.Event) {
	if len(q.callbacks) > 0 {
		cur, rem := q.cur[:0], q.rem[:0]
		for _, e := range out {
			if e.Expired {
				rem = append(rem, e)
			} else {
				cur = append(cur, e)
			}
		}
		q.cur, q.rem = cur, rem
		var in, removed []event.Event
		if len(cur) > 0 {
			in = cur
		}
		if len(rem) > 0 {
			removed = rem
		}
		for _, cb := range q.callbacks {
			cb(in, removed)
		}
	}
	if q.target == nil {
		return
	}
	for i := range out {
		out[i].Expired = false
	}
	q.rt.publish(q.target, out)
}

// filter is a [condition] handler.
type filter struct {
	cond func(*frame) bool
	out  []event.Event
	fr   frame
}

func (f *filter) process(in []event.Event) []event.Event {
	if len(in) == 1 {
		f.fr.in = in[0].Data
		if f.cond(&f.fr) {
			return in
		}
		return nil
	}
	out := f.out[:0]
	for i := range in {
		f.fr.in = in[i].Data
		if f.cond(&f.fr) {
			out = append(out, in[i])
		}
	}
	f.out = out
	return out
}

// selector is the select clause: projection, aggregation with optional group
// by, having, and the choice of current and expired events.
type selector struct {
	items   []*expr // one per output attribute
	width   int
	aggs    []*aggregator
	groupBy []*expr
	having  func(*frame) bool

	currentOn, expiredOn bool

	single *group            // the state without group by
	groups map[string]*group // the states with group by
	key    []byte

	fr   frame
	aggv []event.Value
	rows []event.Value
	out  []event.Event
}

// group is the aggregation state of one group-by key.
type group struct {
	states []aggState
}

func (s *selector) newGroup() *group {
	return &group{states: make([]aggState, len(s.aggs))}
}

func (s *selector) emptyGroup(g *group) bool {
	for i, a := range s.aggs {
		if !a.empty(&g.states[i]) {
			return false
		}
	}
	return true
}

// groupKey encodes the group-by values of the event in s.fr into s.key.
func (s *selector) groupKey() {
	b := s.key[:0]
	for _, g := range s.groupBy {
		b, _ = event.AppendValue(b, g.val(&s.fr))
	}
	s.key = b
}

// process is Siddhi's QuerySelector for a non-batch chunk: every current and
// expired event updates the aggregates, and each one that the output event
// type and having let through becomes an output event.
func (s *selector) process(chunk []event.Event) []event.Event {
	if need := len(chunk) * s.width; cap(s.rows) < need {
		s.rows = make([]event.Value, need)
	}
	rows := s.rows[:cap(s.rows)]
	out := s.out[:0]
	fr := &s.fr
	fr.agg = s.aggv
	for i := range chunk {
		e := &chunk[i]
		fr.in = e.Data
		if len(s.aggs) > 0 {
			var g *group
			var key string
			if s.groups != nil {
				s.groupKey()
				g = s.groups[string(s.key)]
				if g == nil {
					key = string(s.key)
					g = s.newGroup()
					s.groups[key] = g
				}
			} else {
				g = s.single
			}
			if e.Expired {
				for k, a := range s.aggs {
					s.aggv[k] = a.remove(&g.states[k], fr)
				}
				if s.groups != nil && s.emptyGroup(g) {
					delete(s.groups, string(s.key))
				}
			} else {
				for k, a := range s.aggs {
					s.aggv[k] = a.add(&g.states[k], fr)
				}
			}
		}
		if e.Expired && !s.expiredOn || !e.Expired && !s.currentOn {
			continue
		}
		row := rows[len(out)*s.width : (len(out)+1)*s.width : (len(out)+1)*s.width]
		for k, it := range s.items {
			if it.isVar && it.sp == spaceIn {
				row[k] = e.Data[it.col]
			} else {
				row[k] = it.val(fr)
			}
		}
		if s.having != nil {
			fr.out = row
			if !s.having(fr) {
				continue
			}
		}
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: row, Expired: e.Expired})
	}
	s.out = out
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
