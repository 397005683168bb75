package engine

import (
	"math"

	"github.com/tandem-stream/tandem/event"
)

// window is a window handler (#window.name(...)). It turns the events it
// receives into chunks passed on with emit: expired events (Expired set),
// resets (see resetEvent) and current events, ordered the way Siddhi's
// window processors order them. The chunks and the Data of their events are
// only valid during the emit call.
type window interface {
	process(in []event.Event, now int64, emit func([]event.Event))
	// timer is called when the clock reaches the window's deadline.
	timer(now int64, emit func([]event.Event))
	// deadline returns the clock time of the next timer that can emit, if any.
	deadline() (int64, bool)
	// clear drops the contents (after a failure inside the window).
	clear()
	// contents yields the events the window holds, for joins.
	contents(yield func(ts int64, row []event.Value) bool)
	appendState(b []byte) ([]byte, error)
	readState(d *decoder) error
}

// hasTimers reports whether w can ever have a deadline. Send checks every
// timed operator's deadline before each event, so windows that only move
// with arrivals are left out of that list; a window not named here counts
// as timed, which is always correct, only slower.
func hasTimers(w window) bool {
	switch w.(type) {
	case *lengthWindow, *lengthBatchWindow, *externalTimeWindow, *batchWindow, *expressionWindow,
		*expressionBatchWindow, *sortWindow, *frequentWindow, *lossyFrequentWindow:
		return false
	}
	return true
}

// resetMark identifies RESET events, which batch windows put in a chunk where
// the aggregates must start over. Only its address matters; it is never
// written.
var resetMark [1]event.Value

func resetEvent(ts int64) event.Event { return event.Event{Timestamp: ts, Data: resetMark[:0:1]} }

func isReset(e *event.Event) bool {
	return len(e.Data) == 0 && cap(e.Data) == 1 && &e.Data[:1][0] == &resetMark[0]
}

// ring is a FIFO of stored rows in flat arrays: timestamps in ts, values
// in vals, width values per slot. A window in steady state allocates
// nothing. Slots freed during one call are not reused until the next call
// (see reserve), so expired rows handed downstream stay intact while the
// chunk is processed.
type ring struct {
	ts    []int64
	vals  []event.Value
	head  int
	n     int
	width int
	cols  []int        // the input attributes stored, in order; nil: all
	types []event.Type // the stored schema, to validate restored rows
}

func newRing(in *event.Schema, cols []int, capacity int) ring {
	r := ring{width: len(in.Attrs), cols: cols}
	for _, a := range in.Attrs {
		r.types = append(r.types, a.Type)
	}
	r.grow(capacity)
	return r
}

// reserve makes room for k insertions that will not overwrite any slot
// currently stored or freed later in the same call.
func (r *ring) reserve(k int) {
	if len(r.ts)-r.n < k {
		r.grow(max(2*len(r.ts), r.n+k))
	}
}

func (r *ring) grow(capacity int) {
	capacity = max(capacity, 1)
	ts := make([]int64, capacity)
	vals := make([]event.Value, capacity*r.width)
	for i := 0; i < r.n; i++ {
		k := r.idx(i)
		ts[i] = r.ts[k]
		copy(vals[i*r.width:(i+1)*r.width], r.vals[k*r.width:(k+1)*r.width])
	}
	r.ts, r.vals, r.head = ts, vals, 0
}

func (r *ring) idx(i int) int {
	i += r.head
	if i >= len(r.ts) {
		i -= len(r.ts)
	}
	return i
}

// row returns the values of slot k.
func (r *ring) row(k int) []event.Value {
	return r.vals[k*r.width : (k+1)*r.width : (k+1)*r.width]
}

// push stores a copy of the input row data (of the columns the ring keeps)
// and returns the stored row.
func (r *ring) push(ts int64, data []event.Value) []event.Value {
	k := r.idx(r.n)
	r.ts[k] = ts
	row := r.row(k)
	if r.cols == nil {
		copyRow(row, data)
	} else {
		for j, c := range r.cols {
			row[j] = data[c]
		}
	}
	r.n++
	return row
}

// copyRow copies a row of values. Rows are short, and a loop of stores is
// cheaper for them than copy's call into the runtime's typed copy.
func copyRow(dst, src []event.Value) {
	dst = dst[:len(src)]
	//lint:ignore S1001 the loop is the point: see above
	for i := range src {
		dst[i] = src[i]
	}
}

// pushReserved is push with room made first, for windows that push one row
// at a time.
func (r *ring) pushReserved(ts int64, data []event.Value) []event.Value {
	r.reserve(1)
	return r.push(ts, data)
}

// pushStored stores a row that already has the ring's width.
func (r *ring) pushStored(ts int64, row []event.Value) {
	k := r.idx(r.n)
	r.ts[k] = ts
	copy(r.row(k), row)
	r.n++
}

// pop removes the oldest row and returns it.
func (r *ring) pop() []event.Value {
	k := r.head
	r.head++
	if r.head == len(r.ts) {
		r.head = 0
	}
	r.n--
	return r.row(k)
}

// headTS returns the timestamp of the oldest row; the ring must not be empty.
func (r *ring) headTS() int64 { return r.ts[r.head] }

func (r *ring) clear() { r.head, r.n = 0, 0 }

func (r *ring) appendState(b []byte) ([]byte, error) {
	b = appendUvarint(b, uint64(r.n))
	var err error
	for i := 0; i < r.n; i++ {
		k := r.idx(i)
		b = appendVarint(b, r.ts[k])
		if b, err = event.AppendValues(b, r.row(k)); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (r *ring) readState(d *decoder) error {
	n := d.count()
	r.clear()
	r.reserve(n)
	row := make([]event.Value, 0, r.width)
	for i := 0; i < n && d.err == nil; i++ {
		ts := d.varint()
		row = d.values(row[:0], r.width)
		for j, v := range row {
			if d.err == nil && !v.IsNull() && v.Type() != r.types[j] {
				d.fail("stored value of the wrong type")
			}
		}
		if d.err == nil {
			r.pushStored(ts, row)
		}
	}
	return d.err
}

// lengthWindow is #window.length(n): the last n events. Each arrival beyond n
// pushes out the oldest, which is emitted as expired (stamped with the
// current time) just before the arrival.
type lengthWindow struct {
	size int
	buf  ring
	out  []event.Event
}

func newLengthWindow(size int, stored *event.Schema, cols []int) *lengthWindow {
	return &lengthWindow{size: size, buf: newRing(stored, cols, min(size+1, 1024))}
}

func (w *lengthWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	w.buf.reserve(len(in))
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		if w.buf.n >= w.size {
			out = append(out, event.Event{Timestamp: now, Data: w.buf.pop(), Expired: true})
		}
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: w.buf.push(e.Timestamp, e.Data)})
	}
	w.out = out
	emit(out)
}

func (w *lengthWindow) timer(int64, func([]event.Event)) {}
func (w *lengthWindow) deadline() (int64, bool)          { return 0, false }
func (w *lengthWindow) clear()                           { w.buf.clear() }

func (w *lengthWindow) appendState(b []byte) ([]byte, error) { return w.buf.appendState(b) }

func (w *lengthWindow) readState(d *decoder) error {
	if err := w.buf.readState(d); err != nil {
		return err
	}
	if w.buf.n > w.size {
		return errCorrupt("length window holds more events than its size")
	}
	return nil
}

// timeWindow is #window.time(t), and #window.timeLength(t, n) when size > 0:
// events of the last t milliseconds (and at most the last n). An event with
// timestamp ts expires once the clock reaches ts+t, either at a timer or when
// a later event arrives; with a size, an arrival beyond n pushes out the
// oldest as well.
type timeWindow struct {
	span int64
	size int // 0: no limit
	buf  ring
	out  []event.Event
}

func newTimeWindow(span int64, size int, stored *event.Schema, cols []int) *timeWindow {
	return &timeWindow{span: span, size: size, buf: newRing(stored, cols, 64)}
}

func (w *timeWindow) expire(out []event.Event, now int64) []event.Event {
	for w.buf.n > 0 && satAdd(w.buf.headTS(), w.span) <= now {
		out = append(out, event.Event{Timestamp: now, Data: w.buf.pop(), Expired: true})
	}
	return out
}

func (w *timeWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	w.buf.reserve(len(in))
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		out = w.expire(out, now)
		if w.size > 0 && w.buf.n >= w.size {
			out = append(out, event.Event{Timestamp: now, Data: w.buf.pop(), Expired: true})
		}
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: w.buf.push(e.Timestamp, e.Data)})
	}
	w.out = out
	emit(out)
}

func (w *timeWindow) timer(now int64, emit func([]event.Event)) {
	w.out = w.expire(w.out[:0], now)
	if len(w.out) > 0 {
		emit(w.out)
	}
}

func (w *timeWindow) deadline() (int64, bool) {
	if w.buf.n == 0 {
		return 0, false
	}
	return satAdd(w.buf.headTS(), w.span), true
}

func (w *timeWindow) clear() { w.buf.clear() }

func (w *timeWindow) appendState(b []byte) ([]byte, error) { return w.buf.appendState(b) }

func (w *timeWindow) readState(d *decoder) error {
	if err := w.buf.readState(d); err != nil {
		return err
	}
	if w.size > 0 && w.buf.n > w.size {
		return errCorrupt("timeLength window holds more events than its size")
	}
	return nil
}

// externalTimeWindow is #window.externalTime(attr, t): like time, but time
// is the value of a long attribute of the events, and only arrivals move it.
type externalTimeWindow struct {
	span int64
	col  int // the timestamp attribute in the stored row
	buf  ring
	out  []event.Event
}

func newExternalTimeWindow(span int64, col int, stored *event.Schema, cols []int) *externalTimeWindow {
	return &externalTimeWindow{span: span, col: col, buf: newRing(stored, cols, 64)}
}

func (w *externalTimeWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	w.buf.reserve(len(in))
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		row := w.buf.push(e.Timestamp, e.Data)
		// Siddhi stores first and compares with the stored copy; the new row
		// is last in the ring, so expiring from the head cannot reach it
		// unless the span is not positive.
		cur := row[w.col].Int()
		for w.buf.n > 1 {
			k := w.buf.head
			if w.buf.row(k)[w.col].Int() > cur-w.span {
				break
			}
			out = append(out, event.Event{Timestamp: cur, Data: w.buf.pop(), Expired: true})
		}
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: row})
	}
	w.out = out
	emit(out)
}

func (w *externalTimeWindow) timer(int64, func([]event.Event)) {}
func (w *externalTimeWindow) deadline() (int64, bool)          { return 0, false }
func (w *externalTimeWindow) clear()                           { w.buf.clear() }

func (w *externalTimeWindow) appendState(b []byte) ([]byte, error) { return w.buf.appendState(b) }
func (w *externalTimeWindow) readState(d *decoder) error           { return w.buf.readState(d) }

// lengthBatchWindow is #window.lengthBatch(n [, streamCurrent]). It collects
// n events and then emits one chunk: the previous batch as expired events
// (when the query outputs expired events), a reset, and the batch. With
// streamCurrent, events pass through as they arrive and the flush emits only
// the expired batch and the reset.
type lengthBatchWindow struct {
	size          int
	streamCurrent bool
	expiredOn     bool
	keep          bool // keep the last batch (for joins) without outputting it as expired
	cur, exp      ring
	pending       bool // a reset is due at the next flush
	out           []event.Event
}

func newLengthBatchWindow(size int, streamCurrent, expiredOn bool, stored *event.Schema, cols []int) *lengthBatchWindow {
	c := min(size+1, 1024)
	return &lengthBatchWindow{size: size, streamCurrent: streamCurrent, expiredOn: expiredOn,
		cur: newRing(stored, cols, c), exp: newRing(stored, cols, c)}
}

func (w *lengthBatchWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	for i := range in {
		e := &in[i]
		out := w.out[:0]
		if w.size == 0 {
			// Every event is its own batch.
			row := w.cur.pushReserved(e.Timestamp, e.Data)
			out = append(out, event.Event{Timestamp: e.Timestamp, Data: row})
			if w.expiredOn {
				out = append(out, event.Event{Timestamp: now, Data: row, Expired: true})
			}
			out = append(out, resetEvent(now))
			w.out = out
			emit(out)
			w.cur.clear()
			continue
		}
		w.pending = true
		if w.streamCurrent {
			flushed := false
			if w.cur.n == w.size {
				// The (n+1)th event closes the batch before it passes.
				w.cur, w.exp = w.exp, w.cur
				w.cur.clear()
				out = w.flushExpired(out, now)
				flushed = true
				w.pending = true
			}
			row := w.cur.pushReserved(e.Timestamp, e.Data)
			out = append(out, event.Event{Timestamp: e.Timestamp, Data: row})
			w.out = out
			emit(out)
			if flushed {
				w.exp.clear()
			}
			continue
		}
		w.cur.pushReserved(e.Timestamp, e.Data)
		if w.cur.n < w.size {
			continue
		}
		out = w.flushExpired(out, now)
		for j := 0; j < w.cur.n; j++ {
			k := w.cur.idx(j)
			out = append(out, event.Event{Timestamp: w.cur.ts[k], Data: w.cur.row(k)})
		}
		w.out = out
		emit(out)
		// The batch just emitted becomes the next flush's expired events.
		w.cur, w.exp = w.exp, w.cur
		w.cur.clear()
		if !w.expiredOn && !w.keep {
			w.exp.clear()
		}
	}
}

// flushExpired appends the expired previous batch and the reset.
func (w *lengthBatchWindow) flushExpired(out []event.Event, now int64) []event.Event {
	if w.expiredOn {
		for j := 0; j < w.exp.n; j++ {
			out = append(out, event.Event{Timestamp: now, Data: w.exp.row(w.exp.idx(j)), Expired: true})
		}
	}
	if w.pending {
		out = append(out, resetEvent(now))
		w.pending = false
	}
	return out
}

func (w *lengthBatchWindow) timer(int64, func([]event.Event)) {}
func (w *lengthBatchWindow) deadline() (int64, bool)          { return 0, false }
func (w *lengthBatchWindow) clear()                           { w.cur.clear(); w.exp.clear(); w.pending = false }

func (w *lengthBatchWindow) appendState(b []byte) ([]byte, error) {
	b = appendBool(b, w.pending)
	b, err := w.cur.appendState(b)
	if err != nil {
		return b, err
	}
	return w.exp.appendState(b)
}

func (w *lengthBatchWindow) readState(d *decoder) error {
	w.pending = d.bool()
	if err := w.cur.readState(d); err != nil {
		return err
	}
	if err := w.exp.readState(d); err != nil {
		return err
	}
	if w.cur.n > max(w.size, 1) || w.exp.n > max(w.size, 1) {
		return errCorrupt("lengthBatch window holds more events than its size")
	}
	return nil
}

// timeBatchWindow is #window.timeBatch(t [, start] [, streamCurrent]): it
// collects events and, every t milliseconds from the first event (or aligned
// to start), emits the previous batch as expired events (when the query
// outputs them), a reset and the batch. With streamCurrent, events pass
// through as they arrive.
type timeBatchWindow struct {
	span          int64
	start         int64
	aligned       bool
	streamCurrent bool
	expiredOn     bool
	next          int64 // next emission time; valid when started
	started       bool
	keep          bool // keep the last batch (for joins) without outputting it as expired
	cur, exp      ring
	pending       bool
	out           []event.Event
}

func newTimeBatchWindow(span, start int64, aligned, streamCurrent, expiredOn bool, stored *event.Schema, cols []int) *timeBatchWindow {
	return &timeBatchWindow{span: span, start: start, aligned: aligned, streamCurrent: streamCurrent,
		expiredOn: expiredOn, cur: newRing(stored, cols, 64), exp: newRing(stored, cols, 64)}
}

// idle reports whether a flush would emit nothing.
func (w *timeBatchWindow) idle() bool {
	return w.cur.n == 0 && (w.exp.n == 0 || !w.expiredOn) && !w.pending
}

func (w *timeBatchWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	w.run(in, now, emit)
}

func (w *timeBatchWindow) timer(now int64, emit func([]event.Event)) { w.run(nil, now, emit) }

func (w *timeBatchWindow) run(in []event.Event, now int64, emit func([]event.Event)) {
	if !w.started {
		if len(in) == 0 {
			return
		}
		w.started = true
		if w.aligned {
			w.next = satAdd(now, w.span-floorMod(now-w.start, w.span))
		} else {
			w.next = satAdd(now, w.span)
		}
	}
	if w.idle() && now >= w.next {
		// Nothing to emit: Siddhi's timer would have fired at every period
		// boundary meanwhile, each one moving the next emission by a period.
		w.next = satAdd(w.next, ((now-w.next)/w.span+1)*w.span)
	}
	send := now >= w.next
	if send {
		w.next = satAdd(w.next, w.span)
	}
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		w.pending = true
		if !w.streamCurrent {
			w.cur.pushReserved(e.Timestamp, e.Data)
			continue
		}
		row := w.exp.pushReserved(e.Timestamp, e.Data)
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: row})
	}
	if send {
		if w.expiredOn {
			for j := 0; j < w.exp.n; j++ {
				out = append(out, event.Event{Timestamp: now, Data: w.exp.row(w.exp.idx(j)), Expired: true})
			}
		}
		if w.pending {
			out = append(out, resetEvent(now))
			w.pending = false
		}
		for j := 0; j < w.cur.n; j++ {
			k := w.cur.idx(j)
			out = append(out, event.Event{Timestamp: w.cur.ts[k], Data: w.cur.row(k)})
		}
	}
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
	if send {
		if w.streamCurrent {
			w.exp.clear()
		} else {
			w.cur, w.exp = w.exp, w.cur
			w.cur.clear()
			if !w.expiredOn && !w.keep {
				w.exp.clear()
			}
		}
	} else if w.streamCurrent && !w.expiredOn && !w.keep {
		w.exp.clear()
	}
}

func (w *timeBatchWindow) deadline() (int64, bool) {
	if !w.started || w.idle() {
		return 0, false
	}
	return w.next, true
}

func (w *timeBatchWindow) clear() { w.cur.clear(); w.exp.clear(); w.pending = false }

func (w *timeBatchWindow) appendState(b []byte) ([]byte, error) {
	b = appendBool(b, w.started)
	b = appendVarint(b, w.next)
	b = appendBool(b, w.pending)
	b, err := w.cur.appendState(b)
	if err != nil {
		return b, err
	}
	return w.exp.appendState(b)
}

func (w *timeBatchWindow) readState(d *decoder) error {
	w.started = d.bool()
	w.next = d.varint()
	w.pending = d.bool()
	if err := w.cur.readState(d); err != nil {
		return err
	}
	return w.exp.readState(d)
}

// satAdd adds a non-negative d to t, stopping at the largest time instead of
// wrapping around.
func satAdd(t, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
