package engine

import (
	"cmp"
	"encoding/binary"
	"math"
	"sort"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// query is one planned `from ... select ... insert into ...`. Events run
// through its stages (filters and at most one window, in source order), then
// the selector, then out to the query callbacks and the output stream.
type query struct {
	rt    *Runtime
	name  string
	index int
	pos   ast.Pos
	pre   []*filter // filters before the window
	win   window    // nil without a window
	post  []*filter // filters after the window
	sel   *selector
	rate  rateLimiter // nil without an output clause
	join  *join       // a join query: its sides and matching
	// side is set on the readers a join registers on its input streams:
	// what they read goes to that side of the join.
	side   *joinSide
	self   *joinSelf // a join of a stream with itself
	emitFn func([]event.Event)
	target *stream
	// stateless queries (no window, aggregates or group by) take the fused
	// path of processStateless.
	stateless bool
	// afterWindowFn is afterWindow as a func value, made once: the window
	// calls it for every chunk it emits.
	afterWindowFn func([]event.Event)
	// cond is the conjunction of the filters before the window (nil: none),
	// for the stateless path.
	cond func(*frame) bool
	one  [1]event.Event // the output of a one-event chunk, stateless path

	callbacks []func(in, removed []event.Event)
	cur, rem  []event.Event // scratch for splitting callback chunks
}

func (q *query) label() string {
	if q.name != "" {
		return "query " + q.name
	}
	return "query #" + itoa(q.index+1)
}

// process runs a chunk arriving on the query's input stream.
func (q *query) process(chunk []event.Event) {
	if q.stateless {
		q.processStateless(chunk)
		return
	}
	if q.side != nil {
		if q.self != nil {
			q.self.process(chunk)
			return
		}
		q.side.process(chunk)
		return
	}
	for _, f := range q.pre {
		if chunk = f.process(chunk); len(chunk) == 0 {
			return
		}
	}
	if q.win != nil {
		q.win.process(chunk, q.rt.clock, q.afterWindowFn)
		return
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
	if len(out) == 0 {
		return
	}
	if q.rate != nil {
		var keys []string
		if q.sel.keys {
			keys = q.sel.outKeys
		}
		q.rate.process(out, keys, q.rt.clock, q.emitFn)
		return
	}
	q.emit(out)
}

// processStateless is process for a query without window, aggregates or
// group by, fused into one loop: it is the path of plain filters and
// projections, the most common and the cheapest queries.
func (q *query) processStateless(chunk []event.Event) {
	s := q.sel
	fr := &s.fr
	cond := q.cond
	if len(chunk) == 1 {
		// The common case, one event from Send, without touching the
		// chunk buffers.
		e := &chunk[0]
		fr.in, fr.ts = e.Data, e.Timestamp
		if cond != nil && !cond(fr) {
			return
		}
		q.one[0] = event.Event{Timestamp: e.Timestamp, Data: s.statelessRow(e, 0)}
		if s.having != nil {
			fr.out = q.one[0].Data
			if !s.having(fr) {
				return
			}
		}
		q.emitCurrent(q.one[:])
		return
	}
	if need := len(chunk) * s.width; cap(s.rows) < need {
		s.rows = make([]event.Value, need)
	}
	out := s.out[:0]
	for i := range chunk {
		e := &chunk[i]
		fr.in, fr.ts = e.Data, e.Timestamp
		if cond != nil && !cond(fr) {
			continue
		}
		row := s.statelessRow(e, len(out))
		if s.having != nil {
			fr.out = row
			if !s.having(fr) {
				continue
			}
		}
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: row})
	}
	s.out = out
	if len(out) > 0 {
		q.emitCurrent(out)
	}
}

// statelessRow returns the output row of e, the n-th output of the chunk.
func (s *selector) statelessRow(e *event.Event, n int) []event.Value {
	if s.inSpan >= 0 {
		// The output is a run of the input's attributes: share them. Output
		// events are only valid during the callbacks, as the input is.
		return e.Data[s.inSpan : s.inSpan+s.width : s.inSpan+s.width]
	}
	if need := (n + 1) * s.width; cap(s.rows) < need {
		// Only the single-event path gets here without room.
		s.rows = make([]event.Value, need)
	}
	row := s.rows[n*s.width : (n+1)*s.width : (n+1)*s.width]
	if s.inCols != nil {
		for k, c := range s.inCols {
			row[k] = e.Data[c]
		}
	} else {
		s.project(row, e)
	}
	return row
}

// emitCurrent is emit for a chunk of current events only.
func (q *query) emitCurrent(out []event.Event) {
	for _, cb := range q.callbacks {
		cb(out, nil)
	}
	q.rt.publish(q.target, out)
}

// fire runs the timers due at now: the window's, then the output rate's.
func (q *query) fire(now int64) {
	if q.join != nil {
		q.join.fire(now)
	}
	if q.win != nil {
		if d, ok := q.win.deadline(); ok && d <= now {
			q.win.timer(now, q.afterWindowFn)
		}
	}
	if q.rate != nil {
		if d, ok := q.rate.deadline(); ok && d <= now {
			q.rate.timer(now, q.emitFn)
		}
	}
}

func (q *query) deadline() (int64, bool) {
	var at int64
	found := false
	if q.win != nil {
		at, found = q.win.deadline()
	}
	if q.join != nil {
		at, found = q.join.deadline()
	}
	if q.rate != nil {
		if d, ok := q.rate.deadline(); ok && (!found || d < at) {
			at, found = d, true
		}
	}
	return at, found
}

func (q *query) resetWindow() {
	if q.win != nil {
		q.win.clear()
	}
	if q.join != nil {
		for _, s := range q.join.sides {
			if s.win != nil {
				s.win.clear()
			}
		}
	}
	if q.rate != nil {
		q.rate.clear()
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

	// A stream function that adds attributes (pol2Cart) is a stage with
	// extend set instead of cond: each event is copied into a row of
	// width values and extend fills in the added ones.
	extend func(row []event.Value)
	width  int
	rows   []event.Value
}

func (f *filter) process(in []event.Event) []event.Event {
	if f.extend != nil {
		return f.extendAll(in)
	}
	if len(in) == 1 && !isReset(&in[0]) {
		f.fr.in, f.fr.ts = in[0].Data, in[0].Timestamp
		if f.cond(&f.fr) {
			return in
		}
		return nil
	}
	out := f.out[:0]
	for i := range in {
		f.fr.in, f.fr.ts = in[i].Data, in[i].Timestamp
		// Resets pass: they carry no data to test.
		if isReset(&in[i]) || f.cond(&f.fr) {
			out = append(out, in[i])
		}
	}
	f.out = out
	return out
}

func (f *filter) extendAll(in []event.Event) []event.Event {
	if need := len(in) * f.width; cap(f.rows) < need {
		f.rows = make([]event.Value, need)
	}
	out := f.out[:0]
	for i := range in {
		e := &in[i]
		if isReset(e) {
			out = append(out, *e)
			continue
		}
		row := f.rows[i*f.width : (i+1)*f.width : (i+1)*f.width]
		n := copy(row, e.Data)
		clear(row[n:])
		f.extend(row)
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: row, Expired: e.Expired})
	}
	f.out = out
	return out
}

// selector is the select clause: projection, aggregation with optional group
// by, having, and the choice of current and expired events.
type selector struct {
	items   []selItem // one per output attribute
	inCols  []int     // when every item is an input attribute: their columns
	inSpan  int       // when those columns are consecutive: the first; else -1
	width   int
	aggs    []*aggregator
	groupBy []*expr
	having  func(*frame) bool

	currentOn, expiredOn bool

	order         []orderKey
	limit, offset int64 // -1 when absent

	// each turns batching off (Siddhi's setBatchingEnabled(false), which
	// snapshot rate limiting asks for): every event that passes is output,
	// and without group by resets pass on to the rate limiter too.
	each bool
	// keys: keep the group key of each output event in outKeys, for the
	// rate limiters that act per group.
	keys    bool
	outKeys []string

	single *group            // the state without group by
	groups map[string]*group // the states with group by
	cur    *group            // the group of the event being processed
	key    []byte

	fr      frame
	aggv    []event.Value
	scratch []event.Value
	rows    []event.Value
	out     []event.Event

	one [1]event.Event // processLast's output

	// Per chunk with group by: the groups that have an output slot.
	pend     []pendKey
	pendKeys []byte
	pendIdx  map[string]int
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
	if len(s.groupBy) == 1 {
		// The common single key, a string most often: the bytes AppendValue
		// would give, without its call and type switch.
		v := s.groupBy[0].val(&s.fr)
		if v.Type() == event.String {
			str := v.Str()
			b = append(b, byte(event.String))
			b = binary.AppendUvarint(b, uint64(len(str)))
			s.key = append(b, str...)
			return
		}
		s.key, _ = event.AppendValue(b, v)
		return
	}
	for _, g := range s.groupBy {
		b, _ = event.AppendValue(b, g.val(&s.fr))
	}
	s.key = b
}

// process is Siddhi's QuerySelector. Every chunk is a batch there, so every
// current and expired event updates the aggregates, and then:
//   - without aggregates or group by, each event that the output event type
//     and having let through becomes an output event;
//   - with aggregates and no group by, only the last such event does;
//   - with group by, the last such event of each group does, in the order the
//     groups first appear in the chunk.
func (s *selector) process(chunk []event.Event) []event.Event {
	if s.each {
		return s.processEach(chunk)
	}
	if s.groups == nil && len(s.aggs) > 0 {
		return s.processLast(chunk)
	}
	if need := len(chunk) * s.width; cap(s.rows) < need {
		s.rows = make([]event.Value, need)
	}
	rows := s.rows[:cap(s.rows)]
	out := s.out[:0]
	fr := &s.fr
	fr.agg = s.aggv
	grouped := s.groups != nil
	replace := grouped || len(s.aggs) > 0
	if grouped {
		s.pend = s.pend[:0]
		s.pendKeys = s.pendKeys[:0]
		if len(s.pendIdx) > 0 {
			clear(s.pendIdx)
		}
	}
	for i := range chunk {
		e := &chunk[i]
		if isReset(e) {
			s.reset()
			continue
		}
		fr.in, fr.ts = e.Data, e.Timestamp
		if len(s.aggs) > 0 || grouped {
			s.aggregate(e.Expired)
		}
		if e.Expired && !s.expiredOn || !e.Expired && !s.currentOn {
			continue
		}
		if len(s.aggs) > 0 {
			s.results()
		}
		if !replace {
			row := rows[len(out)*s.width : (len(out)+1)*s.width : (len(out)+1)*s.width]
			s.project(row, e)
			if s.having != nil {
				fr.out = row
				if !s.having(fr) {
					continue
				}
			}
			out = append(out, event.Event{Timestamp: e.Timestamp, Data: row, Expired: e.Expired})
			continue
		}
		// Build into scratch first: an event failing having must not
		// replace the previous output of its group.
		row := s.scratch
		s.project(row, e)
		if s.having != nil {
			fr.out = row
			if !s.having(fr) {
				continue
			}
		}
		slot := len(out)
		if grouped {
			slot = s.pendingSlot(slot)
		} else if slot > 0 {
			slot = 0
		}
		dst := rows[slot*s.width : (slot+1)*s.width : (slot+1)*s.width]
		copyRow(dst, row)
		ev := event.Event{Timestamp: e.Timestamp, Data: dst, Expired: e.Expired}
		if slot == len(out) {
			out = append(out, ev)
		} else {
			out[slot] = ev
		}
	}
	if s.keys && grouped {
		s.outKeys = s.outKeys[:0]
		for _, p := range s.pend[:len(out)] {
			s.outKeys = append(s.outKeys, string(s.pendKeys[p.off:p.off+p.n]))
		}
	}
	if replace && !grouped {
		// Siddhi's processInBatchNoGroupBy: the single output survives only
		// a zero (or no) offset and a positive (or no) limit.
		if s.offset > 0 || s.limit == 0 {
			out = out[:0]
		}
	} else if s.order != nil || s.offset >= 0 || s.limit >= 0 {
		if s.keys && grouped {
			out = s.orderAndPageKeyed(out)
		} else {
			out = s.orderAndPage(out)
		}
	}
	s.out = out
	return out
}

// orderAndPageKeyed is orderAndPage keeping outKeys aligned with the output.
func (s *selector) orderAndPageKeyed(out []event.Event) []event.Event {
	type keyed struct {
		e   event.Event
		key string
	}
	ks := make([]keyed, len(out))
	for i := range out {
		ks[i] = keyed{out[i], s.outKeys[i]}
	}
	if s.order != nil {
		for i := 0; i < len(ks); {
			j := i + 1
			for j < len(ks) && ks[j].e.Expired == ks[i].e.Expired {
				j++
			}
			run := ks[i:j]
			sort.SliceStable(run, func(a, b int) bool { return s.compare(&run[a].e, &run[b].e) < 0 })
			i = j
		}
	}
	if s.offset > 0 {
		ks = ks[min(int64(len(ks)), s.offset):]
	}
	out, s.outKeys = out[:0], s.outKeys[:0]
	var n int64
	for _, k := range ks {
		if s.limit >= 0 && !k.e.Expired && n >= s.limit {
			continue
		}
		n++
		out = append(out, k.e)
		s.outKeys = append(s.outKeys, k.key)
	}
	return out
}

// processEach is process without batching (Siddhi's processNoGroupBy and
// processGroupBy): every current or expired event updates the aggregates and
// is output when its type is selected and having holds. Without group by a
// reset passes on (as a reset) after starting the aggregates over.
func (s *selector) processEach(chunk []event.Event) []event.Event {
	if need := len(chunk) * s.width; cap(s.rows) < need {
		s.rows = make([]event.Value, need)
	}
	rows := s.rows[:cap(s.rows)]
	out := s.out[:0]
	s.outKeys = s.outKeys[:0]
	fr := &s.fr
	fr.agg = s.aggv
	grouped := s.groups != nil
	resets := false
	for i := range chunk {
		e := &chunk[i]
		if isReset(e) {
			s.reset()
			if !grouped {
				out = append(out, resetEvent(e.Timestamp))
				resets = true
			}
			continue
		}
		fr.in, fr.ts = e.Data, e.Timestamp
		if len(s.aggs) > 0 || grouped {
			s.aggregate(e.Expired)
		}
		if e.Expired && !s.expiredOn || !e.Expired && !s.currentOn {
			continue
		}
		if len(s.aggs) > 0 {
			s.results()
		}
		n := len(out)
		row := rows[n*s.width : (n+1)*s.width : (n+1)*s.width]
		s.project(row, e)
		if s.having != nil {
			fr.out = row
			if !s.having(fr) {
				continue
			}
		}
		if grouped && s.limit >= 0 && int64(len(out)) >= s.limit {
			continue
		}
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: row, Expired: e.Expired})
		if grouped && s.keys {
			s.outKeys = append(s.outKeys, string(s.key))
		}
	}
	if !grouped && !resets && (s.order != nil || s.offset >= 0 || s.limit >= 0) {
		out = s.orderAndPage(out)
	}
	s.out = out
	return out
}

// orderKey is one order by attribute: an output column.
type orderKey struct {
	col  int
	desc bool
}

// orderAndPage applies order by, offset and limit to an output chunk the
// way Siddhi's QuerySelector does: order sorts each run of current or of
// expired events on its own; the limit only counts current events and lets
// every expired event through (operator precedence in Siddhi's
// limitEventChunk).
func (s *selector) orderAndPage(out []event.Event) []event.Event {
	if s.order != nil {
		for i := 0; i < len(out); {
			j := i + 1
			for j < len(out) && out[j].Expired == out[i].Expired {
				j++
			}
			run := out[i:j]
			sort.SliceStable(run, func(a, b int) bool { return s.compare(&run[a], &run[b]) < 0 })
			i = j
		}
	}
	if s.offset > 0 {
		out = out[min(int64(len(out)), s.offset):]
	}
	if s.limit >= 0 {
		kept := out[:0]
		var n int64
		for _, e := range out {
			if e.Expired || n < s.limit {
				kept = append(kept, e)
				n++
			}
		}
		out = kept
	}
	return out
}

// compare orders two output events by the order keys: nulls last whatever
// the direction, values as Java's compareTo.
func (s *selector) compare(a, b *event.Event) int {
	for _, k := range s.order {
		x, y := a.Data[k.col], b.Data[k.col]
		switch {
		case x.IsNull() && y.IsNull():
			continue
		case y.IsNull():
			return -1
		case x.IsNull():
			return 1
		}
		c := compareValue(x, y)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareValue compares two non-null values of the same type like Java's
// compareTo: floating point puts -0 before 0 and NaN after everything.
func compareValue(x, y event.Value) int {
	switch x.Type() {
	case event.Int, event.Long:
		return cmp.Compare(x.Int(), y.Int())
	case event.Float, event.Double:
		a, b := x.Float(), y.Float()
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		// Equal, or NaN involved, or zeros of different sign.
		ab, bb := math.Float64bits(a), math.Float64bits(b)
		an, bn := math.IsNaN(a), math.IsNaN(b)
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		case bn:
			return -1
		}
		return cmp.Compare(int64(ab), int64(bb))
	case event.String:
		return strings.Compare(x.Str(), y.Str())
	case event.Bool:
		return cmp.Compare(b2i(x.Bool()), b2i(y.Bool()))
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// processLast is process for aggregates without group by (Siddhi's
// processInBatchNoGroupBy): every event updates the aggregates and only the
// last event that is output survives.
func (s *selector) processLast(chunk []event.Event) []event.Event {
	fr := &s.fr
	fr.agg = s.aggv
	g := s.single
	s.cur = g
	found := false
	var last event.Event
	for i := range chunk {
		e := &chunk[i]
		if isReset(e) {
			s.reset()
			continue
		}
		fr.in, fr.ts = e.Data, e.Timestamp
		if e.Expired {
			for k, a := range s.aggs {
				a.remove(&g.states[k], fr)
			}
			if !s.expiredOn {
				continue
			}
		} else {
			for k, a := range s.aggs {
				a.add(&g.states[k], fr)
			}
			if !s.currentOn {
				continue
			}
		}
		for k, a := range s.aggs {
			s.aggv[k] = a.current(&g.states[k])
		}
		row := s.scratch
		s.project(row, e)
		if s.having != nil {
			fr.out = row
			if !s.having(fr) {
				continue
			}
		}
		found = true
		last = event.Event{Timestamp: e.Timestamp, Data: row, Expired: e.Expired}
		// The next event projects into the other buffer, so that this row
		// survives it without a copy.
		if len(s.rows) != s.width {
			s.rows = make([]event.Value, s.width)
		}
		s.scratch, s.rows = s.rows, row
	}
	// The single output survives only a zero (or no) offset and a positive
	// (or no) limit.
	if !found || s.offset > 0 || s.limit == 0 {
		return nil
	}
	s.one[0] = last
	return s.one[:]
}

// aggregate finds the event's group and folds the event into its aggregates.
func (s *selector) aggregate(expired bool) {
	fr := &s.fr
	g := s.single
	if s.groups != nil {
		s.groupKey()
		g = s.groups[string(s.key)]
		if g == nil {
			g = s.newGroup()
			s.groups[string(s.key)] = g
		}
	}
	s.cur = g
	if expired {
		for k, a := range s.aggs {
			a.remove(&g.states[k], fr)
		}
		if s.groups != nil && s.emptyGroup(g) {
			delete(s.groups, string(s.key))
		}
		return
	}
	for k, a := range s.aggs {
		a.add(&g.states[k], fr)
	}
}

// results reads the aggregate results of the last aggregated event's group
// into aggv, for an event that is output.
func (s *selector) results() {
	if s.cur == nil {
		return
	}
	for k, a := range s.aggs {
		s.aggv[k] = a.current(&s.cur.states[k])
	}
}

// reset starts every aggregate over, in every group, at a batch window's
// RESET; groups left empty are dropped.
func (s *selector) reset() {
	if len(s.aggs) == 0 {
		return
	}
	if s.groups == nil {
		for k, a := range s.aggs {
			a.reset(&s.single.states[k])
		}
		return
	}
	for key, g := range s.groups {
		for k, a := range s.aggs {
			a.reset(&g.states[k])
		}
		if s.emptyGroup(g) {
			delete(s.groups, key)
		}
	}
}

// project evaluates the output attributes for event e into row.
func (s *selector) project(row []event.Value, e *event.Event) {
	for k := range s.items {
		switch it := &s.items[k]; it.src {
		case fromIn:
			row[k] = e.Data[it.col]
		case fromAgg:
			row[k] = s.aggv[it.col]
		default:
			row[k] = it.e.val(&s.fr)
		}
	}
}

// selItem is one output attribute. Plain attributes and aggregate results
// are copied without calling the compiled expression.
type selItem struct {
	src uint8
	col int
	e   *expr
}

const (
	fromExpr uint8 = iota
	fromIn
	fromAgg
)

func newSelItem(e *expr) selItem {
	it := selItem{e: e}
	if e.isVar {
		it.col = e.col
		switch e.sp {
		case spaceIn:
			it.src = fromIn
		case spaceAgg:
			it.src = fromAgg
		}
	}
	return it
}

// pendingSlot returns the output slot of the current group key (s.key) in
// this chunk, or next when the group has no output yet (recording it).
func (s *selector) pendingSlot(next int) int {
	if s.pendIdx != nil && len(s.pend) >= pendMapAt {
		if i, ok := s.pendIdx[string(s.key)]; ok {
			return i
		}
	} else {
		for i, p := range s.pend {
			if string(s.pendKeys[p.off:p.off+p.n]) == string(s.key) {
				return i
			}
		}
	}
	s.pend = append(s.pend, pendKey{off: len(s.pendKeys), n: len(s.key)})
	s.pendKeys = append(s.pendKeys, s.key...)
	if len(s.pend) >= pendMapAt {
		if s.pendIdx == nil {
			s.pendIdx = make(map[string]int)
		}
		if len(s.pend) == pendMapAt {
			for i, p := range s.pend {
				s.pendIdx[string(s.pendKeys[p.off:p.off+p.n])] = i
			}
		} else {
			s.pendIdx[string(s.key)] = next
		}
	}
	return next
}

// pendMapAt is the number of groups in one chunk from which pendingSlot
// switches from a linear scan to a map.
const pendMapAt = 16

type pendKey struct{ off, n int }

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
