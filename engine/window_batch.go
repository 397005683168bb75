package engine

import (
	"github.com/tandem-stream/tandem/event"
)

// batchWindow is #window.batch([n]): every chunk that arrives is a batch (cut
// into batches of n events when n > 0). A batch is emitted at once, after a
// reset for the previous one; with expired output the previous chunk's
// events expire at the start of the next chunk. This follows Siddhi's
// BatchWindowProcessor, including the reset that comes only before the next
// batch.
type batchWindow struct {
	size      int
	expiredOn bool
	keep      bool // keep the last chunk (for joins) without outputting it as expired
	types     []event.Type
	exp       []stored // the last chunk's events, to expire
	reset     bool     // a reset is due before the next batch
	out       []event.Event
}

func (w *batchWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	out := w.out[:0]
	if w.expiredOn {
		if len(w.exp) > 0 {
			for _, r := range w.exp {
				out = append(out, r.at(now, true))
			}
			if w.reset {
				out = append(out, resetEvent(now))
				w.reset = false
			}
		}
		w.exp = nil
	} else if w.keep {
		w.exp = nil
	}
	var cur []stored
	flush := func() {
		if len(cur) > 0 {
			if w.reset {
				out = append(out, resetEvent(now))
			}
			w.reset = true
			for _, r := range cur {
				out = append(out, r.event())
			}
		}
		cur = cur[:0]
		if len(out) > 0 {
			emit(out)
			out = out[:0]
		}
	}
	for i := range in {
		r := newStored(&in[i])
		if w.expiredOn || w.keep {
			w.exp = append(w.exp, r)
		}
		cur = append(cur, r)
		if len(cur) == w.size {
			flush()
		}
	}
	flush()
	w.out = out
}

func (w *batchWindow) timer(int64, func([]event.Event)) {}
func (w *batchWindow) deadline() (int64, bool)          { return 0, false }
func (w *batchWindow) clear()                           { w.exp, w.reset = nil, false }

func (w *batchWindow) appendState(b []byte) ([]byte, error) {
	b = appendBool(b, w.reset)
	return appendRows(b, w.exp)
}

func (w *batchWindow) readState(d *decoder) error {
	w.reset = d.bool()
	w.exp = d.rows(w.types)
	return d.err
}

// externalTimeBatchWindow is #window.externalTimeBatch(ts, t [, start
// [, timeout [, replaceTimestamp]]]): batches of t milliseconds of the
// attribute ts's time, flushed when an event at or past the batch end
// arrives, or, with a timeout, when the app clock passes the timeout after
// the last flush or batch start. It follows Siddhi's
// ExternalTimeBatchWindowProcessor step by step, including re-emitting a
// flushed batch with its late events at the next flush.
type externalTimeBatchWindow struct {
	span      int64
	col       int // the timestamp attribute
	startCol  int // the start time attribute; -1 otherwise
	startSet  bool
	timeout   int64
	replaceTs bool
	expiredOn bool
	types     []event.Type

	cur, exp      []stored
	keepExp       bool // exp is used (expired output or a timeout)
	reset         bool
	endTime       int64 // -1 before the first event
	startTime     int64
	lastScheduled int64
	lastEventTime int64
	flushed       bool
	out           []event.Event
}

func newExternalTimeBatchWindow(s *windowSpec, stored *event.Schema) *externalTimeBatchWindow {
	return &externalTimeBatchWindow{span: s.n, col: s.tsCol, startCol: s.startCol, startSet: s.aligned,
		timeout: s.timeout, replaceTs: s.replaceTs, expiredOn: s.expiredOn, types: schemaTypes(stored),
		keepExp: s.expiredOn || s.timeout > 0, endTime: -1, startTime: s.start}
}

// endOf returns the end of the batch holding t: Siddhi's findEndTime, with
// Java's remainder.
func (w *externalTimeBatchWindow) endOf(t int64) int64 {
	return t + (w.span - (t-w.startTime)%w.span)
}

func (w *externalTimeBatchWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	// Siddhi fails events without a timestamp; they are dropped here.
	for len(in) > 0 && in[0].Data[w.col].IsNull() {
		in = in[1:]
	}
	if len(in) == 0 {
		return
	}
	w.catchUp(now)
	if w.endTime < 0 {
		first := in[0].Data
		switch {
		case w.startCol >= 0:
			w.startTime = first[w.startCol].Int()
			w.endTime = w.startTime + w.span
		case w.startSet:
			w.endTime = w.endOf(first[w.col].Int())
		default:
			w.startTime = first[w.col].Int()
			w.endTime = w.startTime + w.span
		}
		if w.timeout > 0 {
			w.lastScheduled = satAdd(now, w.timeout)
		}
	}
	for i := range in {
		e := &in[i]
		if e.Data[w.col].IsNull() {
			continue
		}
		t := e.Data[w.col].Int()
		w.lastEventTime = max(w.lastEventTime, t)
		if t < w.endTime {
			w.add(e)
			continue
		}
		if w.flushed {
			w.appendOutput(emit, false)
			w.flushed = false
		} else {
			w.flush(emit, false)
		}
		w.endTime = w.endOf(w.lastEventTime)
		w.add(e)
		if w.timeout > 0 {
			w.lastScheduled = satAdd(now, w.timeout)
		}
	}
}

func (w *externalTimeBatchWindow) add(e *event.Event) {
	r := newStored(e)
	if w.replaceTs {
		r.vals[w.col] = event.LongValue(w.endTime)
	}
	w.cur = append(w.cur, r)
	w.reset = true
}

// flush is Siddhi's flushToOutputChunk: the expired batch, a reset and the
// current batch, which becomes the next expired one.
func (w *externalTimeBatchWindow) flush(emit func([]event.Event), preserve bool) {
	out := w.out[:0]
	t := w.lastEventTime
	if w.expiredOn {
		for _, r := range w.exp {
			out = append(out, r.at(t, true))
		}
	}
	w.exp = w.exp[:0]
	if len(w.cur) > 0 {
		out = append(out, resetEvent(t))
		w.reset = false
		if preserve || w.keepExp {
			w.exp = append(w.exp, w.cur...)
		}
		for _, r := range w.cur {
			out = append(out, r.event())
		}
	}
	w.cur = nil
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

// appendOutput is Siddhi's appendToOutputChunk, for a batch already flushed
// by the timeout that got more events: the batch is emitted again in full.
func (w *externalTimeBatchWindow) appendOutput(emit func([]event.Event), preserve bool) {
	if len(w.cur) == 0 {
		return
	}
	out := w.out[:0]
	t := w.lastEventTime
	if w.expiredOn {
		for _, r := range w.exp {
			out = append(out, r.at(t, true))
		}
	}
	out = append(out, resetEvent(t))
	for _, r := range w.exp {
		out = append(out, r.at(r.ts, false))
	}
	for _, r := range w.cur {
		out = append(out, r.event())
	}
	if preserve || w.keepExp {
		w.exp = append(w.exp, w.cur...)
	}
	w.cur = nil
	w.out = out
	emit(out)
}

func (w *externalTimeBatchWindow) timer(now int64, emit func([]event.Event)) {
	if w.timeout <= 0 || w.endTime < 0 || w.lastScheduled > now {
		return
	}
	if !w.flushed {
		w.flush(emit, true)
		w.flushed = true
	} else if len(w.cur) > 0 {
		w.appendOutput(emit, true)
	}
	w.lastScheduled = satAdd(now, w.timeout)
}

// idle reports whether the timeout timer would only reschedule itself.
func (w *externalTimeBatchWindow) idle() bool { return w.flushed && len(w.cur) == 0 }

// catchUp moves an idle timer to where Siddhi's, rescheduling itself every
// timeout, would stand at now.
func (w *externalTimeBatchWindow) catchUp(now int64) {
	if w.timeout > 0 && w.endTime >= 0 && w.idle() && w.lastScheduled <= now {
		w.lastScheduled = satAdd(w.lastScheduled, ((now-w.lastScheduled)/w.timeout+1)*w.timeout)
	}
}

func (w *externalTimeBatchWindow) deadline() (int64, bool) {
	if w.timeout <= 0 || w.endTime < 0 || w.idle() {
		return 0, false
	}
	return w.lastScheduled, true
}

func (w *externalTimeBatchWindow) clear() {
	w.cur, w.exp, w.reset, w.flushed = nil, nil, false, true
}

func (w *externalTimeBatchWindow) appendState(b []byte) ([]byte, error) {
	b = appendVarint(b, w.endTime)
	b = appendVarint(b, w.startTime)
	b = appendVarint(b, w.lastScheduled)
	b = appendVarint(b, w.lastEventTime)
	b = appendBool(b, w.flushed)
	b = appendBool(b, w.reset)
	b, err := appendRows(b, w.cur)
	if err != nil {
		return b, err
	}
	return appendRows(b, w.exp)
}

func (w *externalTimeBatchWindow) readState(d *decoder) error {
	w.endTime = d.varint()
	w.startTime = d.varint()
	w.lastScheduled = d.varint()
	w.lastEventTime = d.varint()
	w.flushed = d.bool()
	w.reset = d.bool()
	w.cur = d.rows(w.types)
	w.exp = d.rows(w.types)
	for _, r := range w.cur {
		if d.err == nil && r.vals[w.col].IsNull() {
			d.fail("externalTimeBatch row without a timestamp")
		}
	}
	return d.err
}

// cronWindow is #window.cron('expr'): events collect until the next time the
// cron expression fires on the app clock (in UTC); then the batch is
// emitted after the previous batch as expired events. A firing with no new
// events emits nothing, so the window needs a timer only while it holds
// events, which spares firing through idle periods. As in Siddhi's
// CronWindowProcessor there are no resets.
type cronWindow struct {
	sched    *cronSchedule
	types    []event.Type
	cur, exp []stored
	next     int64 // the next firing; valid while cur is not empty
	out      []event.Event
}

func (w *cronWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	for i := range in {
		if len(w.cur) == 0 {
			w.next = w.sched.next(now)
		}
		w.cur = append(w.cur, newStored(&in[i]))
	}
}

func (w *cronWindow) timer(now int64, emit func([]event.Event)) {
	if len(w.cur) == 0 || w.next > now {
		return
	}
	out := w.out[:0]
	for _, r := range w.exp {
		out = append(out, r.at(now, true))
	}
	for _, r := range w.cur {
		out = append(out, r.event())
	}
	w.exp, w.cur = w.cur, nil
	w.out = out
	emit(out)
}

func (w *cronWindow) deadline() (int64, bool) {
	if len(w.cur) == 0 {
		return 0, false
	}
	return w.next, true
}

func (w *cronWindow) clear() { w.cur, w.exp = nil, nil }

func (w *cronWindow) appendState(b []byte) ([]byte, error) {
	b = appendVarint(b, w.next)
	b, err := appendRows(b, w.cur)
	if err != nil {
		return b, err
	}
	return appendRows(b, w.exp)
}

func (w *cronWindow) readState(d *decoder) error {
	w.next = d.varint()
	w.cur = d.rows(w.types)
	w.exp = d.rows(w.types)
	return d.err
}
