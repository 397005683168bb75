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

// ring is a FIFO of stored events. Each slot owns a Data slice that is reused,
// so a window in steady state allocates nothing. Slots freed during one call
// are not reused until the next call (see reserve), so expired events handed
// downstream stay intact while the chunk is processed.
type ring struct {
	slots []slot
	head  int
	n     int
	width int
	types []event.Type // the schema, to validate restored rows
}

type slot struct {
	ts   int64
	data []event.Value
}

func newRing(in *event.Schema, capacity int) ring {
	r := ring{width: len(in.Attrs)}
	for _, a := range in.Attrs {
		r.types = append(r.types, a.Type)
	}
	r.grow(capacity)
	return r
}

// reserve makes room for k insertions that will not overwrite any slot
// currently stored or freed later in the same call.
func (r *ring) reserve(k int) {
	if len(r.slots)-r.n < k {
		r.grow(max(2*len(r.slots), r.n+k))
	}
}

func (r *ring) grow(capacity int) {
	if capacity < 1 {
		capacity = 1
	}
	slots := make([]slot, capacity)
	for i := 0; i < r.n; i++ {
		slots[i] = r.slots[r.idx(i)]
	}
	// Keep the free slots' buffers too, then back the new ones with one array.
	j := r.n
	for i := r.n; i < len(r.slots); i++ {
		slots[j] = r.slots[r.idx(i)]
		j++
	}
	backing := make([]event.Value, (capacity-j)*r.width)
	for ; j < capacity; j++ {
		slots[j].data, backing = backing[:r.width:r.width], backing[r.width:]
	}
	r.slots, r.head = slots, 0
}

func (r *ring) idx(i int) int {
	i += r.head
	if i >= len(r.slots) {
		i -= len(r.slots)
	}
	return i
}

// push stores a copy of e and returns the stored slot.
func (r *ring) push(ts int64, data []event.Value) *slot {
	s := &r.slots[r.idx(r.n)]
	s.ts = ts
	copy(s.data, data)
	r.n++
	return s
}

func (r *ring) pop() *slot {
	s := &r.slots[r.head]
	r.head++
	if r.head == len(r.slots) {
		r.head = 0
	}
	r.n--
	return s
}

func (r *ring) peek() *slot { return &r.slots[r.head] }

func (r *ring) at(i int) *slot { return &r.slots[r.idx(i)] }

func (r *ring) clear() { r.head, r.n = 0, 0 }

func (r *ring) appendState(b []byte) ([]byte, error) {
	b = appendUvarint(b, uint64(r.n))
	var err error
	for i := 0; i < r.n; i++ {
		s := r.at(i)
		b = appendVarint(b, s.ts)
		if b, err = event.AppendValues(b, s.data); err != nil {
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
			r.push(ts, row)
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

func newLengthWindow(size int, in *event.Schema) *lengthWindow {
	return &lengthWindow{size: size, buf: newRing(in, min(size+1, 1024))}
}

func (w *lengthWindow) process(in []event.Event, now int64) []event.Event {
	w.buf.reserve(len(in))
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		if w.buf.n >= w.size {
			old := w.buf.pop()
			out = append(out, event.Event{Timestamp: now, Data: old.data, Expired: true})
		}
		s := w.buf.push(e.Timestamp, e.Data)
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: s.data})
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

func newTimeWindow(span int64, in *event.Schema) *timeWindow {
	return &timeWindow{span: span, buf: newRing(in, 64)}
}

func (w *timeWindow) expire(out []event.Event, now int64) []event.Event {
	for w.buf.n > 0 {
		s := w.buf.peek()
		if s.ts > now-w.span {
			break
		}
		w.buf.pop()
		out = append(out, event.Event{Timestamp: now, Data: s.data, Expired: true})
	}
	return out
}

func (w *timeWindow) process(in []event.Event, now int64) []event.Event {
	w.buf.reserve(len(in))
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		out = w.expire(out, now)
		s := w.buf.push(e.Timestamp, e.Data)
		out = append(out, event.Event{Timestamp: e.Timestamp, Data: s.data})
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
	return w.buf.peek().ts + w.span, true
}

func (w *timeWindow) appendState(b []byte) ([]byte, error) { return w.buf.appendState(b) }
func (w *timeWindow) readState(d *decoder) error           { return w.buf.readState(d) }
