package engine

import (
	"fmt"
	"slices"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// join is `from L join R on cond`, with its outer and unidirectional forms,
// following Siddhi's JoinProcessor: each side runs its own filters and
// window; what a triggering side's window emits (current events, expired
// events and resets) is matched against what the other side's window holds
// now, and each match is a joined event: the left side's attributes, then
// the right side's. Outer sides also emit unmatched events, with nulls for
// the other side. Each arriving event's matches are one chunk for the
// selector (so aggregates without group by output once per arrival), and
// the outputs of one window emission go out together.
type join struct {
	q     *query
	sides [2]*joinSide
	cond  func(*frame) bool // nil: every pair matches
	width int               // left width + right width

	fr      frame
	rows    []event.Value // joined rows of the chunk being built
	sub     []event.Event
	out     []event.Event
	outVals []event.Value
	keys    []string
	one     [1]event.Event
}

// joinSide is one input of a join: the stream it reads, its filters and
// window (a named window's contents when it reads one; none holds nothing).
type joinSide struct {
	j       *join
	idx     int // 0: left, 1: right
	pre     []*filter
	win     window
	named   *namedWindow
	trigger bool // its arrivals are matched (not the other side of a unidirectional join)
	outer   bool // it emits unmatched events
	width   int
	emitFn  func([]event.Event)
}

func (s *joinSide) process(chunk []event.Event) {
	for _, f := range s.pre {
		if chunk = f.process(chunk); len(chunk) == 0 {
			return
		}
	}
	if s.named != nil {
		// A named window's readers get what it emits: that is this
		// side's window output.
		s.j.step(s, chunk)
		return
	}
	s.win.process(chunk, s.j.q.rt.clock, s.emitFn)
}

// joinSelf reads a stream joined with itself.
type joinSelf struct {
	left, right *joinSide
	window      bool // the stream is a named window: only the left side reads it
	one         [1]event.Event
}

func (s *joinSelf) process(chunk []event.Event) {
	for i := range chunk {
		s.one[0] = chunk[i]
		s.left.process(s.one[:])
		if !s.window {
			s.one[0] = chunk[i]
			s.right.process(s.one[:])
		}
	}
}

func (s *joinSide) contents(yield func(int64, []event.Value) bool) {
	if s.named != nil {
		s.named.win.contents(yield)
		return
	}
	s.win.contents(yield)
}

// joined appends the joined row of a left and a right row (either nil for
// nulls) to j.rows and returns it.
func (j *join) joined(left, right []event.Value) []event.Value {
	n := len(j.rows)
	j.rows = slices.Grow(j.rows, j.width)[:n+j.width]
	row := j.rows[n : n+j.width : n+j.width]
	lw := j.sides[0].width
	if left != nil {
		copy(row[:lw], left)
	} else {
		clear(row[:lw])
	}
	if right != nil {
		copy(row[lw:], right)
	} else {
		clear(row[lw:])
	}
	return row
}

// step joins what side s's window emitted.
func (j *join) step(s *joinSide, chunk []event.Event) {
	if !s.trigger {
		return
	}
	other := j.sides[1-s.idx]
	j.out, j.keys, j.outVals = j.out[:0], j.keys[:0], j.outVals[:0]
	for i := range chunk {
		e := &chunk[i]
		if isReset(e) {
			j.one[0] = resetEvent(e.Timestamp)
			j.selectChunk(j.one[:])
			continue
		}
		j.rows, j.sub = j.rows[:0], j.sub[:0]
		other.contents(func(_ int64, row []event.Value) bool {
			var joined []event.Value
			if s.idx == 0 {
				joined = j.joined(e.Data, row)
			} else {
				joined = j.joined(row, e.Data)
			}
			j.fr.in, j.fr.ts = joined, e.Timestamp
			if j.cond == nil || j.cond(&j.fr) {
				j.sub = append(j.sub, event.Event{Timestamp: e.Timestamp, Data: joined, Expired: e.Expired})
			} else {
				j.rows = j.rows[:len(j.rows)-j.width]
			}
			return true
		})
		if len(j.sub) == 0 && s.outer {
			var joined []event.Value
			if s.idx == 0 {
				joined = j.joined(e.Data, nil)
			} else {
				joined = j.joined(nil, e.Data)
			}
			j.sub = append(j.sub, event.Event{Timestamp: e.Timestamp, Data: joined, Expired: e.Expired})
		}
		if len(j.sub) > 0 {
			j.selectChunk(j.sub)
		}
	}
	if len(j.out) == 0 {
		return
	}
	q := j.q
	if q.rate != nil {
		var keys []string
		if q.sel.keys {
			keys = j.keys
		}
		q.rate.process(j.out, keys, q.rt.clock, q.emitFn)
		return
	}
	q.emit(j.out)
}

// selectChunk runs one chunk of joined events through the selector and
// keeps copies of its outputs.
func (j *join) selectChunk(sub []event.Event) {
	sel := j.q.sel
	out := sel.process(sub)
	for k, e := range out {
		if !isReset(&e) {
			n := len(j.outVals)
			j.outVals = append(j.outVals, e.Data...)
			e.Data = j.outVals[n:len(j.outVals):len(j.outVals)]
		}
		j.out = append(j.out, e)
		if sel.keys && k < len(sel.outKeys) {
			j.keys = append(j.keys, sel.outKeys[k])
		}
	}
}

func (j *join) deadline() (int64, bool) {
	var at int64
	found := false
	for _, s := range j.sides {
		if s.win == nil {
			continue
		}
		if d, ok := s.win.deadline(); ok && (!found || d < at) {
			at, found = d, true
		}
	}
	return at, found
}

func (j *join) fire(now int64) {
	for _, s := range j.sides {
		if s.win == nil {
			continue
		}
		if d, ok := s.win.deadline(); ok && d <= now {
			s.win.timer(now, s.emitFn)
		}
	}
}

// emptyWindow is a join side without a window (Siddhi's
// EmptyWindowProcessor): it holds nothing, and passes each event on as a
// current event, then as an expired one when the query outputs those, then
// a reset.
type emptyWindow struct {
	expiredOn bool
	out       []event.Event
}

func (w *emptyWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	out := w.out[:0]
	for i := range in {
		e := in[i]
		e.Expired = false
		out = append(out, e)
		if w.expiredOn {
			out = append(out, event.Event{Timestamp: now, Data: e.Data, Expired: true})
		}
		out = append(out, resetEvent(now))
	}
	w.out = out
	emit(out)
}

func (w *emptyWindow) timer(int64, func([]event.Event))         {}
func (w *emptyWindow) deadline() (int64, bool)                  { return 0, false }
func (w *emptyWindow) clear()                                   {}
func (w *emptyWindow) contents(func(int64, []event.Value) bool) {}
func (w *emptyWindow) appendState(b []byte) ([]byte, error)     { return b, nil }
func (w *emptyWindow) readState(d *decoder) error               { return d.err }

// joinRef is one side of a join as expressions see it: the names it can be
// qualified with, and where its attributes start in the joined row.
type joinRef struct {
	names []string
	sch   *event.Schema
	off   int
}

// joinVar resolves an attribute of a join: qualified by a side's stream
// name or alias, or unqualified when exactly one side has it.
func (p *planner) joinVar(v *ast.Variable, sc *scope) *expr {
	var hits []*joinRef
	for i := range sc.sides {
		r := &sc.sides[i]
		if v.Stream != "" && !slices.Contains(r.names, v.Stream) {
			continue
		}
		if r.sch.Index(v.Name) >= 0 {
			hits = append(hits, r)
		}
		if v.Stream != "" {
			break // the first side with the name, as a self-join's stream name is ambiguous anyway
		}
	}
	switch {
	case len(hits) == 0 && v.Stream != "":
		known := false
		for _, r := range sc.sides {
			known = known || slices.Contains(r.names, v.Stream)
		}
		if !known {
			p.errorf(v.Pos, "unknown stream %s in %s.%s", v.Stream, v.Stream, v.Name)
		} else {
			p.errorf(v.Pos, "stream %s has no attribute %s", v.Stream, v.Name)
		}
		return nil
	case len(hits) == 0:
		p.errorf(v.Pos, "no stream of the join has an attribute %s", v.Name)
		return nil
	case len(hits) > 1:
		p.errorf(v.Pos, "attribute %s is in both streams of the join: qualify it, as in %s.%s", v.Name,
			hits[0].names[len(hits[0].names)-1], v.Name)
		return nil
	}
	r := hits[0]
	i := r.sch.Index(v.Name)
	return varExpr(spaceIn, r.off+i, r.sch.Attrs[i].Type)
}

// planJoin plans a join query.
func (p *planner) planJoin(aq *ast.Query, q *query, ji *ast.JoinInput) {
	r := p.r
	if ji.Left == nil || ji.Right == nil {
		p.errorf(ji.Pos, "join needs two inputs")
		return
	}
	if ji.Within != nil || ji.Per != nil {
		p.errorf(ji.Pos, "'within' and 'per' are only for joins with aggregations, which are not supported")
		return
	}
	outName, ok := p.outputName(aq)
	if !ok {
		return
	}
	failed := len(p.errs)
	expiredOn := aq.Output != nil && aq.Output.Events != ast.CurrentEvents
	j := &join{q: q}
	q.join = j
	fmt.Fprintf(&p.shape, "q%d(join", q.index)
	var refs []joinRef
	var srcs [2]*stream
	sliding := expiredOn
	for idx, in := range []*ast.StreamInput{ji.Left, ji.Right} {
		s, src, ref, slide := p.joinSide(in, idx, expiredOn)
		if s == nil {
			continue
		}
		s.j = j
		j.sides[idx] = s
		srcs[idx] = src
		ref.off = j.width
		j.width += s.width
		refs = append(refs, ref)
		sliding = sliding || slide
	}
	if len(p.errs) > failed {
		return
	}
	switch ji.Unidirectional {
	case ast.LeftSide:
		j.sides[0].trigger = true
	case ast.RightSide:
		j.sides[1].trigger = true
	default:
		j.sides[0].trigger, j.sides[1].trigger = true, true
	}
	switch ji.Kind {
	case ast.LeftOuterJoin:
		j.sides[0].outer = true
	case ast.RightOuterJoin:
		j.sides[1].outer = true
	case ast.FullOuterJoin:
		j.sides[0].outer, j.sides[1].outer = true, true
	}
	combined := &event.Schema{Name: refs[0].sch.Name}
	for _, ref := range refs {
		combined.Attrs = append(combined.Attrs, ref.sch.Attrs...)
	}
	sc := &scope{in: combined, sides: refs, sliding: sliding, context: "join condition"}
	if ji.On != nil {
		c := p.compile(ji.On, sc)
		if c != nil && c.typ != event.Bool {
			p.errorf(ji.On.Position(), "join condition must be bool, found %s", c.typ)
		} else if c != nil {
			j.cond = c.cond
		}
	}
	if aq.Select == nil || aq.Select.Star {
		seen := map[string]bool{}
		for _, a := range combined.Attrs {
			if seen[a.Name] {
				p.errorf(aq.Pos, "select * over a join outputs attribute %s twice, as both streams have it: "+
					"select the attributes with names of their own", a.Name)
				return
			}
			seen[a.Name] = true
		}
	}
	sel := p.planSelector(aq, sc)
	if sel == nil || len(p.errs) > failed {
		return
	}
	q.sel = sel
	q.emitFn = q.emit
	fmt.Fprintf(&p.shape, "aggs%d,group%v)", len(sel.aggs), sel.groups != nil)
	windowed := j.sides[0].win != nil || j.sides[1].win != nil
	if !p.planOutput(aq, q, sc, sel, outName, windowed) {
		return
	}
	if srcs[0] == srcs[1] {
		// A stream joined with itself is read once, event by event, by
		// each side in turn; a named window, by the left side alone
		// (Siddhi's MultiProcessStreamReceiver).
		self := &joinSelf{left: j.sides[0], right: j.sides[1], window: srcs[0].win != nil}
		reader := &query{rt: r, name: q.name, index: q.index, pos: q.pos, side: j.sides[0], self: self, target: q.target}
		srcs[0].queries = append(srcs[0].queries, reader)
	} else {
		for idx, s := range j.sides {
			reader := &query{rt: r, name: q.name, index: q.index, pos: q.pos, side: s, target: q.target}
			srcs[idx].queries = append(srcs[idx].queries, reader)
		}
	}
	r.queries = append(r.queries, q)
	r.timed = append(r.timed, q)
	if q.name != "" {
		r.byQuery[q.name] = q
	}
}

// joinSide plans one input of a join: its filters and stream functions,
// then its window. It returns the side, the stream it reads, how
// expressions refer to it, and whether its window slides.
func (p *planner) joinSide(in *ast.StreamInput, idx int, expiredOn bool) (*joinSide, *stream, joinRef, bool) {
	if in.Inner {
		p.errorf(in.Pos, "inner streams are not supported outside partitions")
		return nil, nil, joinRef{}, false
	}
	name := in.Stream
	if in.Fault {
		name = "!" + in.Stream
	}
	src, ok := p.r.byName[name]
	if !ok {
		p.errorf(in.Pos, "stream %s is not defined", in.Stream)
		return nil, nil, joinRef{}, false
	}
	names := []string{in.Stream}
	if in.Alias != "" {
		names = append(names, in.Alias)
	}
	sc := &scope{in: src.schema, names: names}
	s := &joinSide{idx: idx}
	var spec *windowSpec
	for _, h := range in.Handlers {
		if h == nil {
			continue
		}
		if spec != nil {
			p.errorf(h.Pos, "a join input cannot have filters or functions after its window")
			continue
		}
		switch h.Kind {
		case ast.FilterHandler:
			if f := p.filter(h, sc); f != nil {
				s.pre = append(s.pre, f)
			}
		case ast.FunctionHandler:
			if f := p.streamFunction(h, sc, false); f != nil {
				s.pre = append(s.pre, f)
			}
		case ast.WindowHandler:
			if src.win != nil {
				p.errorf(h.Pos, "cannot apply window.%s to %s, which is a window itself", h.Name, in.Stream)
				continue
			}
			spec = p.planWindow(h, sc, expiredOn)
		}
	}
	s.width = len(sc.in.Attrs)
	slide := src.slide
	switch {
	case src.win != nil:
		s.named = src.win
	case spec != nil:
		spec.find = true
		s.win = spec.build(p, sc.in, nil, spec.tsCol)
		slide = spec.sliding()
		fmt.Fprintf(&p.shape, ",%s%d/%d", spec.name, spec.n, len(sc.in.Attrs))
	default:
		s.win = &emptyWindow{expiredOn: expiredOn}
	}
	s.emitFn = func(c []event.Event) { s.j.step(s, c) }
	return s, src, joinRef{names: names, sch: sc.in}, slide
}
