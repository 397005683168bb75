package engine

import (
	"math"
	"slices"
	"strings"

	"github.com/tandem-stream/tandem/event"
)

// sortWindow is #window.sort(n, attr ['asc'|'desc'], ...): the n events that
// sort first. Each arrival passes through; when the window then holds more
// than n events, the one that sorts last expires after it (Siddhi's
// SortWindowProcessor, whose stable sort keeps equal events in arrival
// order).
type sortWindow struct {
	size  int
	keys  []orderKey
	types []event.Type
	rows  []stored
	out   []event.Event
}

func (w *sortWindow) less(a, b *stored) int {
	for _, k := range w.keys {
		x, y := a.vals[k.col], b.vals[k.col]
		var c int
		switch {
		case x.IsNull() && y.IsNull():
		case x.IsNull():
			c = -1
		case y.IsNull():
			c = 1
		default:
			c = compareValue(x, y)
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func (w *sortWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	out := w.out[:0]
	for i := range in {
		r := newStored(&in[i])
		out = append(out, r.event())
		w.rows = append(w.rows, r)
		if len(w.rows) > w.size {
			slices.SortStableFunc(w.rows, func(a, b stored) int { return w.less(&a, &b) })
			last := w.rows[len(w.rows)-1]
			w.rows[len(w.rows)-1] = stored{}
			w.rows = w.rows[:len(w.rows)-1]
			out = append(out, last.at(now, true))
		}
	}
	w.out = out
	emit(out)
}

func (w *sortWindow) timer(int64, func([]event.Event)) {}
func (w *sortWindow) deadline() (int64, bool)          { return 0, false }
func (w *sortWindow) clear()                           { w.rows = nil }

func (w *sortWindow) appendState(b []byte) ([]byte, error) { return appendRows(b, w.rows) }

func (w *sortWindow) readState(d *decoder) error {
	w.rows = d.rows(w.types)
	if d.err == nil && len(w.rows) > w.size {
		return errCorrupt("sort window holds more events than its size")
	}
	return d.err
}

// eventKey is the key the frequent windows count events by: the attributes'
// Java string forms run together, as Siddhi's generateKey builds it.
func eventKey(vals []event.Value, cols []int) string {
	var b strings.Builder
	if len(cols) == 0 {
		for _, v := range vals {
			b.WriteString(v.String())
		}
		return b.String()
	}
	for _, c := range cols {
		b.WriteString(vals[c].String())
	}
	return b.String()
}

// frequentWindow is #window.frequent(n [, attr...]): the latest event of each
// of the n most frequent keys (by all attributes when none are given), by
// the Misra-Gries counting of Siddhi's FrequentWindowProcessor. A new key
// that finds no room decrements every count; keys that reach zero expire,
// and when none does the new event is dropped.
type frequentWindow struct {
	size   int
	keys   []int
	types  []event.Type
	order  []string // counted keys in the order they were first counted
	counts map[string]int64
	latest map[string]stored
	out    []event.Event
}

func (w *frequentWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	if w.counts == nil {
		w.counts, w.latest = map[string]int64{}, map[string]stored{}
	}
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		r := newStored(e)
		key := eventKey(r.vals, w.keys)
		if _, ok := w.latest[key]; ok {
			w.latest[key] = r
			w.counts[key]++
			out = append(out, r.event())
			continue
		}
		w.latest[key] = r
		if len(w.latest) <= w.size {
			w.counts[key] = 1
			w.order = append(w.order, key)
			out = append(out, r.event())
			continue
		}
		kept := w.order[:0]
		for j, k := range w.order {
			if j >= w.size {
				kept = append(kept, k)
				continue
			}
			if c := w.counts[k] - 1; c > 0 {
				w.counts[k] = c
				kept = append(kept, k)
				continue
			}
			delete(w.counts, k)
			out = append(out, w.latest[k].at(now, true))
			delete(w.latest, k)
		}
		w.order = kept
		if len(w.latest) > w.size {
			delete(w.latest, key) // no room: the event is dropped
			continue
		}
		w.counts[key] = 1
		w.order = append(w.order, key)
		out = append(out, r.event())
	}
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

func (w *frequentWindow) timer(int64, func([]event.Event)) {}
func (w *frequentWindow) deadline() (int64, bool)          { return 0, false }
func (w *frequentWindow) clear()                           { w.order, w.counts, w.latest = nil, nil, nil }

func (w *frequentWindow) appendState(b []byte) ([]byte, error) {
	b = appendUvarint(b, uint64(len(w.order)))
	var err error
	for _, k := range w.order {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = appendVarint(b, w.counts[k])
		if b, err = appendRows(b, []stored{w.latest[k]}); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (w *frequentWindow) readState(d *decoder) error {
	n := d.count()
	w.order, w.counts, w.latest = nil, map[string]int64{}, map[string]stored{}
	for i := 0; i < n && d.err == nil; i++ {
		k := string(d.bytes())
		c := d.varint()
		rows := d.rows(w.types)
		if d.err != nil {
			break
		}
		if len(rows) != 1 || c <= 0 {
			return errCorrupt("bad frequent window entry")
		}
		if _, dup := w.counts[k]; dup {
			return errCorrupt("duplicate frequent window key")
		}
		w.order = append(w.order, k)
		w.counts[k], w.latest[k] = c, rows[0]
	}
	if d.err == nil && len(w.order) > w.size {
		return errCorrupt("frequent window holds more keys than its size")
	}
	return d.err
}

// lossyFrequentWindow is #window.lossyFrequent(support [, error [, attr...]]):
// Manku and Motwani's lossy counting as Siddhi's
// LossyFrequentWindowProcessor does it. An arrival passes when its key's
// count reaches (support - error) of all arrivals; at the end of every bucket
// of ceil(1/error) arrivals, keys whose count cannot reach the support any
// more expire with their latest event.
type lossyFrequentWindow struct {
	support, errBound float64
	width             float64
	keys              []int
	types             []event.Type
	total             int64
	bucket            float64
	order             []string
	counts            map[string]*lossyCount
	latest            map[string]stored
	out               []event.Event
}

type lossyCount struct {
	count, bucket int64
}

func (w *lossyFrequentWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	if w.counts == nil {
		w.counts, w.latest = map[string]*lossyCount{}, map[string]stored{}
	}
	if w.bucket == 0 {
		w.bucket = 1
	}
	out := w.out[:0]
	for i := range in {
		r := newStored(&in[i])
		w.total++
		if w.total != 1 {
			w.bucket = math.Ceil(float64(w.total) / w.width)
		}
		key := eventKey(r.vals, w.keys)
		if c, ok := w.counts[key]; ok {
			c.count++
		} else {
			w.counts[key] = &lossyCount{count: 1, bucket: int64(w.bucket) - 1}
			w.order = append(w.order, key)
		}
		w.latest[key] = r
		if float64(w.counts[key].count) >= (w.support-w.errBound)*float64(w.total) {
			out = append(out, r.event())
		}
		if math.Mod(float64(w.total), w.width) == 0 {
			kept := w.order[:0]
			for _, k := range w.order {
				c := w.counts[k]
				if float64(c.count+c.bucket) <= w.bucket {
					delete(w.counts, k)
					out = append(out, w.latest[k].at(now, true))
					delete(w.latest, k)
					continue
				}
				kept = append(kept, k)
			}
			w.order = kept
		}
	}
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

func (w *lossyFrequentWindow) timer(int64, func([]event.Event)) {}
func (w *lossyFrequentWindow) deadline() (int64, bool)          { return 0, false }
func (w *lossyFrequentWindow) clear() {
	w.order, w.counts, w.latest, w.total, w.bucket = nil, nil, nil, 0, 1
}

func (w *lossyFrequentWindow) appendState(b []byte) ([]byte, error) {
	b = appendVarint(b, w.total)
	b = appendUvarint(b, math.Float64bits(w.bucket))
	b = appendUvarint(b, uint64(len(w.order)))
	var err error
	for _, k := range w.order {
		c := w.counts[k]
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = appendVarint(b, c.count)
		b = appendVarint(b, c.bucket)
		if b, err = appendRows(b, []stored{w.latest[k]}); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (w *lossyFrequentWindow) readState(d *decoder) error {
	w.total = d.varint()
	w.bucket = math.Float64frombits(d.uvarint())
	n := d.count()
	w.order, w.counts, w.latest = nil, map[string]*lossyCount{}, map[string]stored{}
	for i := 0; i < n && d.err == nil; i++ {
		k := string(d.bytes())
		c := &lossyCount{count: d.varint(), bucket: d.varint()}
		rows := d.rows(w.types)
		if d.err != nil {
			break
		}
		if len(rows) != 1 {
			return errCorrupt("bad lossyFrequent window entry")
		}
		if _, dup := w.counts[k]; dup {
			return errCorrupt("duplicate lossyFrequent window key")
		}
		w.order = append(w.order, k)
		w.counts[k], w.latest[k] = c, rows[0]
	}
	return d.err
}

// delayWindow is #window.delay(t): each event comes out as a current event t
// milliseconds after its timestamp, stamped with the time it comes out.
// Delayed events leave when an event arrives or a timer fires, as in
// Siddhi's DelayWindowProcessor, which schedules a timer for an arrival only
// when its timestamp is the latest so far.
type delayWindow struct {
	delay   int64
	types   []event.Type
	rows    []stored
	timers  []int64 // scheduled firings, in increasing order
	lastTS  int64
	started bool
	out     []event.Event
}

// due appends the delayed events due at now.
func (w *delayWindow) due(out []event.Event, now int64) []event.Event {
	n := 0
	for _, r := range w.rows {
		if satAdd(r.ts, w.delay) > now {
			break
		}
		out = append(out, r.at(now, false))
		n++
	}
	if n > 0 {
		clear(w.rows[:n])
		w.rows = w.rows[n:]
	}
	return out
}

func (w *delayWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	out := w.out[:0]
	for i := range in {
		out = w.due(out, now)
		r := newStored(&in[i])
		w.rows = append(w.rows, r)
		if !w.started || w.lastTS < r.ts {
			w.timers = append(w.timers, satAdd(r.ts, w.delay))
			w.lastTS, w.started = r.ts, true
		}
	}
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

func (w *delayWindow) timer(now int64, emit func([]event.Event)) {
	n := 0
	for n < len(w.timers) && w.timers[n] <= now {
		n++
	}
	w.timers = w.timers[n:]
	w.out = w.due(w.out[:0], now)
	if len(w.out) > 0 {
		emit(w.out)
	}
}

func (w *delayWindow) deadline() (int64, bool) {
	if len(w.timers) == 0 {
		return 0, false
	}
	return w.timers[0], true
}

func (w *delayWindow) clear() { w.rows, w.timers = nil, nil }

func (w *delayWindow) appendState(b []byte) ([]byte, error) {
	b = appendBool(b, w.started)
	b = appendVarint(b, w.lastTS)
	b = appendUvarint(b, uint64(len(w.timers)))
	for _, t := range w.timers {
		b = appendVarint(b, t)
	}
	return appendRows(b, w.rows)
}

func (w *delayWindow) readState(d *decoder) error {
	w.started = d.bool()
	w.lastTS = d.varint()
	n := d.count()
	w.timers = nil
	for i := 0; i < n && d.err == nil; i++ {
		t := d.varint()
		if len(w.timers) > 0 && t < w.timers[len(w.timers)-1] {
			d.fail("delay window timers out of order")
		}
		w.timers = append(w.timers, t)
	}
	w.rows = d.rows(w.types)
	return d.err
}
