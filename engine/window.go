package engine

import (
	"github.com/tandem-stream/tandem/event"
)

// window is a window handler (#window.name(...)). It turns a chunk of
// incoming events into the chunk passed on: expired events (Expired set)
// interleaved with the current ones the way Siddhi's window processors
// order them. The returned chunk and the Data of its events stay valid until
// the next call on the window.
type window interface {
	process(in []event.Event, now int64) []event.Event
	// timer is called when the clock reaches the window's deadline.
	timer(now int64) []event.Event
	// deadline returns the clock time of the next timer, if any.
	deadline() (int64, bool)
	appendState(b []byte) ([]byte, error)
	readState(d *decoder) error
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
		copy(row, data)
	} else {
		for j, c := range r.cols {
			row[j] = data[c]
		}
	}
	r.n++
	return row
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

func (w *lengthWindow) process(in []event.Event, now int64) []event.Event {
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
	return out
}

func (w *lengthWindow) timer(int64) []event.Event { return nil }
func (w *lengthWindow) deadline() (int64, bool)   { return 0, false }

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

// timeWindow is #window.time(t): events of the last t milliseconds. An event
// with timestamp ts expires once the clock reaches ts+t, either at a timer or
// when a later event arrives.
type timeWindow struct {
	span int64
	buf  ring
	out  []event.Event
}

func newTimeWindow(span int64, stored *event.Schema, cols []int) *timeWindow {
	return &timeWindow{span: span, buf: newRing(stored, cols, 64)}
}

func (w *timeWindow) expire(out []event.Event, now int64) []event.Event {
	for w.buf.n > 0 && w.buf.headTS() <= now-w.span {
		out = append(out, event.Event{Timestamp: now, Data: w.buf.pop(), Expired: true})
	}
	return out
}

func (w *timeWindow) process(in []event.Event, now int64) []event.Event {
	w.buf.reserve(len(in))
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		out = w.expire(out, now)
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: w.buf.push(e.Timestamp, e.Data)})
	}
	w.out = out
	return out
}

func (w *timeWindow) timer(now int64) []event.Event {
	w.out = w.expire(w.out[:0], now)
	return w.out
}

func (w *timeWindow) deadline() (int64, bool) {
	if w.buf.n == 0 {
		return 0, false
	}
	return w.buf.headTS() + w.span, true
}

func (w *timeWindow) appendState(b []byte) ([]byte, error) { return w.buf.appendState(b) }
func (w *timeWindow) readState(d *decoder) error           { return w.buf.readState(d) }
