package engine

import (
	"slices"

	"github.com/tandem-stream/tandem/event"
)

// sessionWindow is #window.session(gap [, key] [, allowedLatency]): events of
// a key (one key when none is given) form a session until gap milliseconds
// pass without one; then the session's events expire together. Current
// events pass through as they arrive. With an allowed latency a closed
// session waits that much longer for late events before it expires. Times are
// event timestamps; the checks run when timers scheduled at session ends
// fire. It follows Siddhi's SessionWindowProcessor, including where late
// events are inserted (before its chunk iterator's position).
type sessionWindow struct {
	gap, latency int64
	keyCol       int // -1: every event has the same key
	types        []event.Type
	keys         []string // session keys in the order they appeared
	sessions     map[string]*sessionPair
	timers       []int64  // scheduled checks, sorted, without duplicates
	expired      []stored // sessions expired by the current step
	out          []event.Event
}

// session is one session's events. cur mimics the iterator state of
// Siddhi's ComplexEventChunk: the index of the last returned event, -1 when
// none, which decides where insertBeforeCurrent puts a late event.
type session struct {
	rows              []stored
	cur               int
	start, end, alive int64
}

type sessionPair struct {
	current, previous session
}

func (s *session) clear() { s.rows, s.cur = nil, -1 }

func (s *session) add(rs ...stored) { s.rows = append(s.rows, rs...) }

// insertBeforeCurrent advances the iterator when it can (hasNext, next) and
// inserts rs before the event it then points at, as the Java code does.
func (s *session) insertBeforeCurrent(rs ...stored) {
	if len(s.rows) == 0 {
		s.rows, s.cur = append(s.rows, rs...), -1
		return
	}
	if s.cur+1 < len(s.rows) {
		s.cur++
	}
	s.rows = slices.Insert(s.rows, s.cur, rs...)
	s.cur += len(rs)
}

const defaultSessionKey = "default-key"

func (w *sessionWindow) schedule(t int64) {
	i, found := slices.BinarySearch(w.timers, t)
	if !found {
		w.timers = slices.Insert(w.timers, i, t)
	}
}

func (w *sessionWindow) process(in []event.Event, now int64, emit func([]event.Event)) {
	if w.sessions == nil {
		w.sessions = map[string]*sessionPair{}
	}
	out := w.out[:0]
	for i := range in {
		e := &in[i]
		ts := e.Timestamp
		maxTS := satAdd(ts, w.gap)
		alive := satAdd(maxTS, w.latency)
		key := defaultSessionKey
		if w.keyCol >= 0 {
			key = e.Data[w.keyCol].Str()
		}
		sp := w.sessions[key]
		if sp == nil {
			sp = &sessionPair{}
			sp.current.cur, sp.previous.cur = -1, -1
			w.sessions[key] = sp
			w.keys = append(w.keys, key)
		}
		r := newStored(e)
		cur := &sp.current
		passes := true
		switch {
		case len(cur.rows) == 0:
			cur.add(r)
			cur.start, cur.end, cur.alive = ts, maxTS, alive
			w.schedule(maxTS)
		case ts >= cur.start && ts <= cur.end:
			cur.end, cur.alive = maxTS, alive
			cur.add(r)
			w.schedule(maxTS)
		case ts >= cur.start:
			// A new session starts while the current one is still open;
			// without an allowed latency Siddhi keeps the event out of
			// every session.
			if w.latency > 0 {
				w.moveToPrevious(sp)
				cur.clear()
				cur.start, cur.end, cur.alive = ts, maxTS, alive
				cur.add(r)
				w.schedule(maxTS)
			}
		default:
			passes = w.late(sp, ts, r)
		}
		if passes {
			out = append(out, r.event())
		}
	}
	for _, r := range w.expired {
		out = append(out, r.at(r.ts, true))
	}
	w.expired = w.expired[:0]
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

func (w *sessionWindow) moveToPrevious(sp *sessionPair) {
	cur, prev := &sp.current, &sp.previous
	if len(prev.rows) > 0 {
		w.expired = append(w.expired, prev.rows...)
		prev.clear()
	}
	prev.rows, prev.cur = slices.Clone(cur.rows), -1
	prev.start, prev.end, prev.alive = cur.start, cur.end, cur.alive
	w.schedule(cur.alive)
}

// late places an event older than its key's current session; it reports
// false when the event is too late for any session and is dropped.
func (w *sessionWindow) late(sp *sessionPair, ts int64, r stored) bool {
	cur, prev := &sp.current, &sp.previous
	if ts >= cur.start-w.gap {
		cur.insertBeforeCurrent(r)
		cur.start = ts
		if w.latency > 0 {
			w.merge(prev, cur)
		}
		return true
	}
	if w.latency <= 0 {
		return false
	}
	if len(prev.rows) == 0 || ts < prev.start-w.gap {
		return false
	}
	prev.add(r)
	if ts <= prev.end-w.gap && ts < prev.start {
		prev.start = ts
	} else {
		prev.end = satAdd(ts, w.gap)
		prev.alive = satAdd(prev.end, w.latency)
		w.merge(prev, cur)
	}
	return true
}

// merge moves the previous session into the current one when they are
// within a gap of each other.
func (w *sessionWindow) merge(prev, next *session) {
	if len(prev.rows) > 0 && prev.end >= next.start-w.gap {
		next.insertBeforeCurrent(prev.rows...)
		next.start = prev.start
		prev.clear()
	}
}

func (w *sessionWindow) timer(now int64, emit func([]event.Event)) {
	if len(w.timers) == 0 || w.timers[0] > now {
		return
	}
	at := w.timers[0]
	w.timers = w.timers[1:]
	w.timeoutCurrent(at)
	if w.latency > 0 {
		w.timeoutPrevious(at)
	}
	out := w.out[:0]
	for _, r := range w.expired {
		out = append(out, r.at(r.ts, true))
	}
	w.expired = w.expired[:0]
	w.out = out
	if len(out) > 0 {
		emit(out)
	}
}

// byEnd returns the keys whose chosen session is not empty, ordered by that
// session's end (stable, so ties keep first-appearance order).
func (w *sessionWindow) byEnd(previous bool) []string {
	var keys []string
	for _, k := range w.keys {
		sp := w.sessions[k]
		s := &sp.current
		if previous {
			s = &sp.previous
		}
		if len(s.rows) > 0 {
			keys = append(keys, k)
		}
	}
	end := func(k string) int64 {
		if previous {
			return w.sessions[k].previous.end
		}
		return w.sessions[k].current.end
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		x, y := end(a), end(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return keys
}

func (w *sessionWindow) timeoutCurrent(at int64) {
	for _, k := range w.byEnd(false) {
		sp := w.sessions[k]
		cur := &sp.current
		if at < cur.end {
			break
		}
		if w.latency > 0 {
			sp.previous.add(cur.rows...)
			sp.previous.start, sp.previous.end, sp.previous.alive = cur.start, cur.end, cur.alive
			w.schedule(cur.alive)
		} else {
			w.expired = append(w.expired, cur.rows...)
		}
		cur.clear()
	}
}

func (w *sessionWindow) timeoutPrevious(at int64) {
	for _, k := range w.byEnd(true) {
		prev := &w.sessions[k].previous
		if at < prev.alive {
			break
		}
		w.expired = append(w.expired, prev.rows...)
		prev.clear()
	}
}

func (w *sessionWindow) deadline() (int64, bool) {
	if len(w.timers) == 0 {
		return 0, false
	}
	return w.timers[0], true
}

func (w *sessionWindow) clear() {
	w.keys, w.sessions, w.timers, w.expired = nil, nil, nil, nil
}

func appendSession(b []byte, s *session) ([]byte, error) {
	b = appendVarint(b, int64(s.cur))
	b = appendVarint(b, s.start)
	b = appendVarint(b, s.end)
	b = appendVarint(b, s.alive)
	return appendRows(b, s.rows)
}

func (w *sessionWindow) readSession(d *decoder, s *session) {
	s.cur = int(d.varint())
	s.start, s.end, s.alive = d.varint(), d.varint(), d.varint()
	s.rows = d.rows(w.types)
	if d.err == nil && (s.cur < -1 || s.cur >= max(len(s.rows), 1)) {
		d.fail("session iterator out of range")
	}
}

func (w *sessionWindow) appendState(b []byte) ([]byte, error) {
	b = appendUvarint(b, uint64(len(w.timers)))
	for _, t := range w.timers {
		b = appendVarint(b, t)
	}
	b = appendUvarint(b, uint64(len(w.keys)))
	var err error
	for _, k := range w.keys {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		sp := w.sessions[k]
		if b, err = appendSession(b, &sp.current); err != nil {
			return b, err
		}
		if b, err = appendSession(b, &sp.previous); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (w *sessionWindow) readState(d *decoder) error {
	w.clear()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		t := d.varint()
		if len(w.timers) > 0 && t <= w.timers[len(w.timers)-1] {
			d.fail("session timers out of order")
		}
		w.timers = append(w.timers, t)
	}
	n = d.count()
	w.sessions = map[string]*sessionPair{}
	for i := 0; i < n && d.err == nil; i++ {
		k := string(d.bytes())
		sp := &sessionPair{}
		w.readSession(d, &sp.current)
		w.readSession(d, &sp.previous)
		if _, dup := w.sessions[k]; dup {
			d.fail("duplicate session key")
		}
		w.sessions[k] = sp
		w.keys = append(w.keys, k)
	}
	return d.err
}
