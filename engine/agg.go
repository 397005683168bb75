package engine

import (
	"math"

	"github.com/tandem-stream/tandem/event"
)

// aggKind is one of Siddhi's built-in attribute aggregators.
type aggKind uint8

const (
	aggSum aggKind = iota
	aggCount
	aggAvg
	aggMin
	aggMax
	aggMinForever
	aggMaxForever
	aggDistinctCount
	aggStdDev
	aggAnd
	aggOr
)

var aggNames = map[string]aggKind{
	"sum":           aggSum,
	"count":         aggCount,
	"avg":           aggAvg,
	"min":           aggMin,
	"max":           aggMax,
	"minforever":    aggMinForever,
	"maxforever":    aggMaxForever,
	"distinctcount": aggDistinctCount,
	"stddev":        aggStdDev,
	"and":           aggAnd,
	"or":            aggOr,
}

// aggregator is one aggregate call in a selector. Its state lives apart, in an
// aggState per group, so one aggregator serves every group.
type aggregator struct {
	kind aggKind
	argE *expr // nil for count()
	typ  event.Type
	// track keeps the window's candidates for min and max so that removals
	// work (Siddhi's trackFutureStates: sliding windows or expired output).
	track bool
	// col is the input column when the argument is a plain attribute, read
	// directly instead of through arg; -1 otherwise.
	col int
	tmp event.Value // the evaluated argument otherwise
}

// aggState is the state of one aggregator for one group. Which fields are used
// depends on the kind. It mirrors the state classes of Siddhi's aggregator
// executors so that results (including their quirks) match.
type aggState struct {
	n   int64   // number of values (count, sum, avg, stdDev)
	i   int64   // integer sum; and/or: true/false counters
	f   float64 // floating sum, avg sum, stdDev sum
	m   float64 // stdDev mean
	f2  float64 // stdDev: running sum of squared differences
	cur event.Value
	dq  valueDeque
	set map[string]int64
}

// resultType returns the type an aggregator yields for an argument type, or
// false when the argument type is not supported.
func aggResultType(k aggKind, arg event.Type) (event.Type, bool) {
	switch k {
	case aggCount, aggDistinctCount:
		return event.Long, true
	case aggSum:
		switch arg {
		case event.Int, event.Long:
			return event.Long, true
		case event.Float, event.Double:
			return event.Double, true
		}
	case aggAvg, aggStdDev:
		if arg.IsNumeric() {
			return event.Double, true
		}
	case aggMin, aggMax, aggMinForever, aggMaxForever:
		if arg.IsNumeric() {
			return arg, true
		}
	case aggAnd, aggOr:
		if arg == event.Bool {
			return event.Bool, true
		}
	}
	return event.Null, false
}

// arg returns the argument's value for the event in f: a pointer into the
// event for a plain attribute, else into a.tmp.
func (a *aggregator) arg(f *frame) *event.Value {
	if a.col >= 0 {
		return &f.in[a.col]
	}
	a.tmp = a.argE.val(f)
	return &a.tmp
}

// add folds a current event into the state. Results are read separately
// with current, and only for events that are output: in Siddhi every
// aggregator returns exactly its current value after each update.
func (a *aggregator) add(st *aggState, f *frame) {
	if a.kind == aggCount {
		st.n++
		return
	}
	v := a.arg(f)
	if a.kind == aggDistinctCount {
		// distinctCount has no null check in Siddhi: null is a value too.
		if st.set == nil {
			st.set = make(map[string]int64)
		}
		st.set[distinctKey(*v)]++
		return
	}
	if v.IsNull() {
		return
	}
	switch a.kind {
	case aggSum:
		st.n++
		if a.typ == event.Long {
			st.i += v.Int()
		} else {
			st.f += v.Float()
		}
	case aggAvg:
		st.n++
		st.f += v.Float()
	case aggMin, aggMax:
		if a.track {
			st.dq.pushMonotonic(*v, a.kind == aggMin)
		}
		if st.cur.IsNull() || better(*v, st.cur, a.kind == aggMin) {
			st.cur = *v
		}
	case aggMinForever, aggMaxForever:
		if st.cur.IsNull() || better(*v, st.cur, a.kind == aggMinForever) {
			st.cur = *v
		}
	case aggStdDev:
		stdDevAdd(st, v.Float())
	case aggAnd, aggOr:
		if v.Bool() {
			st.i++
		} else {
			st.n++
		}
	}
}

// remove takes an expired event out of the state.
func (a *aggregator) remove(st *aggState, f *frame) {
	if a.kind == aggCount {
		st.n--
		return
	}
	v := a.arg(f)
	if a.kind == aggDistinctCount {
		k := distinctKey(*v)
		if c, ok := st.set[k]; ok {
			if c <= 1 {
				delete(st.set, k)
			} else {
				st.set[k] = c - 1
			}
		}
		return
	}
	if v.IsNull() {
		return
	}
	switch a.kind {
	case aggSum:
		st.n--
		if a.typ == event.Long {
			st.i -= v.Int()
		} else {
			st.f -= v.Float()
		}
	case aggAvg:
		st.n--
		st.f -= v.Float()
	case aggMin, aggMax:
		if a.track {
			st.dq.removeFirst(*v)
			st.cur = st.dq.first()
		} else if !st.cur.IsNull() && st.cur.Equal(*v) {
			st.cur = event.Value{}
		}
	case aggMinForever, aggMaxForever:
		// Forever aggregates ignore expiry: an expired value still counts.
		if st.cur.IsNull() || better(*v, st.cur, a.kind == aggMinForever) {
			st.cur = *v
		}
	case aggStdDev:
		stdDevRemove(st, v.Float())
	case aggAnd, aggOr:
		if v.Bool() {
			st.i--
		} else {
			st.n--
		}
	}
}

// reset clears the state at a batch window's RESET. Forever aggregates keep
// their value, as in Siddhi.
func (a *aggregator) reset(st *aggState) {
	switch a.kind {
	case aggMinForever, aggMaxForever:
		return
	}
	set := st.set
	clear(set)
	dq := st.dq
	clear(dq.buf)
	dq.buf, dq.head = dq.buf[:0], 0
	*st = aggState{set: set, dq: dq}
}

// current returns the result without changing the state.
func (a *aggregator) current(st *aggState) event.Value {
	switch a.kind {
	case aggCount:
		return event.LongValue(st.n)
	case aggSum:
		if st.n == 0 {
			return event.Value{}
		}
		if a.typ == event.Long {
			return event.LongValue(st.i)
		}
		return event.DoubleValue(st.f)
	case aggAvg:
		if st.n == 0 {
			return event.Value{}
		}
		return event.DoubleValue(st.f / float64(st.n))
	case aggMin, aggMax, aggMinForever, aggMaxForever:
		return st.cur
	case aggDistinctCount:
		return event.LongValue(int64(len(st.set)))
	case aggStdDev:
		return stdDevValue(st)
	case aggAnd:
		// Siddhi: some true value and no false one.
		return event.BoolValue(st.i > 0 && st.n == 0)
	case aggOr:
		return event.BoolValue(st.i > 0)
	}
	return event.Value{}
}

// empty reports whether the state is back to its initial value, so that a
// group holding only empty states can be dropped (Siddhi's canDestroy): doing
// so changes no result, it only bounds memory for short-lived group keys.
func (a *aggregator) empty(st *aggState) bool {
	switch a.kind {
	case aggCount:
		return st.n == 0
	case aggSum, aggAvg:
		return st.n == 0 && st.i == 0 && st.f == 0
	case aggMin, aggMax:
		return st.cur.IsNull() && st.dq.len() == 0
	case aggMinForever, aggMaxForever:
		return st.cur.IsNull()
	case aggDistinctCount:
		return len(st.set) == 0
	case aggStdDev:
		return st.n == 0 && st.f == 0 && st.m == 0 && st.f2 == 0
	case aggAnd, aggOr:
		return st.n == 0 && st.i == 0
	}
	return false
}

// better reports whether v should replace cur as the minimum (min) or the
// maximum (!min). Both are of the same numeric type.
func better(v, cur event.Value, min bool) bool {
	switch v.Type() {
	case event.Int, event.Long:
		if min {
			return v.Int() < cur.Int()
		}
		return v.Int() > cur.Int()
	}
	if min {
		return v.Float() < cur.Float()
	}
	return v.Float() > cur.Float()
}

// greater reports whether a > b (min) or a < b (!min): the condition under
// which Siddhi's monotonic deque drops a from its tail.
func dominated(tail, v event.Value, min bool) bool {
	return better(v, tail, min)
}

func distinctKey(v event.Value) string {
	b, _ := event.AppendValue(nil, v)
	return string(b)
}

// Standard deviation follows Siddhi's StdDevAttributeAggregatorExecutor
// step by step (running sum, mean and sum of squared differences; population
// deviation), so that rounding matches too.
func stdDevAdd(st *aggState, x float64) {
	st.n++
	if st.n == 1 {
		st.f, st.m, st.f2 = x, x, 0
		return
	}
	old := st.m
	st.f += x
	st.m = st.f / float64(st.n)
	st.f2 += (x - old) * (x - st.m)
}

func stdDevRemove(st *aggState, x float64) {
	st.n--
	if st.n == 0 {
		st.f, st.m, st.f2 = 0, 0, 0
		return
	}
	old := st.m
	st.f -= x
	st.m = st.f / float64(st.n)
	st.f2 -= (x - old) * (x - st.m)
}

func stdDevValue(st *aggState) event.Value {
	switch {
	case st.n == 0:
		return event.Value{}
	case st.n == 1:
		return event.DoubleValue(0)
	}
	return event.DoubleValue(math.Sqrt(st.f2 / float64(st.n)))
}

// valueDeque is Siddhi's min/max candidate deque: values in arrival order,
// with every value that can no longer become the extreme dropped from the
// tail on insertion. Removal takes the first equal value, like Java's
// Deque.removeFirstOccurrence, so results match Siddhi's even where that
// differs from the true window extreme.
type valueDeque struct {
	buf  []event.Value
	head int
}

func (d *valueDeque) len() int { return len(d.buf) - d.head }

func (d *valueDeque) first() event.Value {
	if d.head < len(d.buf) {
		return d.buf[d.head]
	}
	return event.Value{}
}

func (d *valueDeque) pushMonotonic(v event.Value, min bool) {
	for len(d.buf) > d.head && dominated(d.buf[len(d.buf)-1], v, min) {
		d.buf[len(d.buf)-1] = event.Value{}
		d.buf = d.buf[:len(d.buf)-1]
	}
	if d.head > 0 && d.head == len(d.buf) {
		d.buf = d.buf[:0]
		d.head = 0
	}
	if len(d.buf) == cap(d.buf) && d.head > len(d.buf)/2 {
		n := copy(d.buf, d.buf[d.head:])
		clear(d.buf[n:])
		d.buf = d.buf[:n]
		d.head = 0
	}
	d.buf = append(d.buf, v)
}

func (d *valueDeque) removeFirst(v event.Value) {
	for i := d.head; i < len(d.buf); i++ {
		if d.buf[i].Equal(v) {
			if i == d.head {
				d.buf[i] = event.Value{}
				d.head++
			} else {
				copy(d.buf[i:], d.buf[i+1:])
				d.buf[len(d.buf)-1] = event.Value{}
				d.buf = d.buf[:len(d.buf)-1]
			}
			break
		}
	}
	if d.head == len(d.buf) {
		d.buf = d.buf[:0]
		d.head = 0
	}
}
