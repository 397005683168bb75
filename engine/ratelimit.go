package engine

import (
	"slices"

	"github.com/tandem-stream/tandem/event"
)

// rateLimiter is a query's output clause (`output [all|first|last] every n
// events | <time>`, `output snapshot every <time>`): it sits between the
// selector and the query's callbacks and output stream, and decides what
// goes out when. Each kind follows the Siddhi OutputRateLimiter it is named
// after. Events it keeps are copies: the selector's output is scratch.
type rateLimiter interface {
	// process takes a selector output chunk; keys holds each event's group
	// key when the query groups (nil otherwise).
	process(out []event.Event, keys []string, now int64, emit func([]event.Event))
	// start anchors the periods of time-based limiters; later calls do
	// nothing.
	start(now int64)
	deadline() (int64, bool)
	timer(now int64, emit func([]event.Event))
	clear()
	appendState(b []byte) ([]byte, error)
	readState(d *decoder) error
}

func copyEvent(e *event.Event) stored {
	return stored{ts: e.Timestamp, vals: slices.Clone(e.Data), expired: e.Expired}
}

func emitRows(rows []stored, emit func([]event.Event)) {
	if len(rows) == 0 {
		return
	}
	out := make([]event.Event, len(rows))
	for i, r := range rows {
		out[i] = r.event()
	}
	emit(out)
}

// noTimer is embedded by the limiters driven by events alone.
type noTimer struct{}

func (noTimer) start(int64)                      {}
func (noTimer) deadline() (int64, bool)          { return 0, false }
func (noTimer) timer(int64, func([]event.Event)) {}

// allPerEvent is `output [all] every n events`: events are held and released
// together every n events.
type allPerEvent struct {
	noTimer
	n     int64
	types []event.Type
	count int64
	held  []stored
}

func (l *allPerEvent) process(out []event.Event, _ []string, _ int64, emit func([]event.Event)) {
	var ready []stored
	for i := range out {
		if isReset(&out[i]) {
			continue
		}
		l.held = append(l.held, copyEvent(&out[i]))
		if l.count++; l.count == l.n {
			ready = append(ready, l.held...)
			l.held, l.count = nil, 0
		}
	}
	emitRows(ready, emit)
}

func (l *allPerEvent) clear() { l.held, l.count = nil, 0 }

func (l *allPerEvent) appendState(b []byte) ([]byte, error) {
	b = appendVarint(b, l.count)
	return appendRows(b, l.held)
}

func (l *allPerEvent) readState(d *decoder) error {
	l.count = d.varint()
	l.held = d.rows(l.types)
	return d.err
}

// firstPerEvent is `output first every n events`: the first of every n
// events goes out. As in Siddhi, with n = 1 the counter never restarts, so
// only the very first event does.
type firstPerEvent struct {
	noTimer
	n     int64
	count int64
}

func (l *firstPerEvent) process(out []event.Event, _ []string, _ int64, emit func([]event.Event)) {
	var sel []event.Event
	for i := range out {
		if isReset(&out[i]) {
			continue
		}
		l.count++
		if l.count == 1 {
			sel = append(sel, out[i])
		} else if l.count == l.n {
			l.count = 0
		}
	}
	if len(sel) > 0 {
		emit(sel)
	}
}

func (l *firstPerEvent) clear()                               { l.count = 0 }
func (l *firstPerEvent) appendState(b []byte) ([]byte, error) { return appendVarint(b, l.count), nil }
func (l *firstPerEvent) readState(d *decoder) error           { l.count = d.varint(); return d.err }

// lastPerEvent is `output last every n events`: every n-th event goes out,
// each in a chunk of its own.
type lastPerEvent struct {
	noTimer
	n     int64
	count int64
	one   [1]event.Event
}

func (l *lastPerEvent) process(out []event.Event, _ []string, _ int64, emit func([]event.Event)) {
	for i := range out {
		if isReset(&out[i]) {
			continue
		}
		if l.count++; l.count == l.n {
			l.count = 0
			l.one[0] = out[i]
			emit(l.one[:])
		}
	}
}

func (l *lastPerEvent) clear()                               { l.count = 0 }
func (l *lastPerEvent) appendState(b []byte) ([]byte, error) { return appendVarint(b, l.count), nil }
func (l *lastPerEvent) readState(d *decoder) error           { l.count = d.varint(); return d.err }

// firstGroupPerEvent is `output first every n events` with group by: the
// first of every n events of each group goes out.
type firstGroupPerEvent struct {
	noTimer
	n      int64
	counts map[string]int64
}

func (l *firstGroupPerEvent) process(out []event.Event, keys []string, _ int64, emit func([]event.Event)) {
	if l.counts == nil {
		l.counts = map[string]int64{}
	}
	var sel []event.Event
	for i := range out {
		if isReset(&out[i]) {
			continue
		}
		k := keys[i]
		c, ok := l.counts[k]
		switch {
		case !ok:
			l.counts[k] = 1
			sel = append(sel, out[i])
		case c == l.n-1:
			delete(l.counts, k)
		default:
			l.counts[k] = c + 1
		}
	}
	if len(sel) > 0 {
		emit(sel)
	}
}

func (l *firstGroupPerEvent) clear() { l.counts = nil }

func (l *firstGroupPerEvent) appendState(b []byte) ([]byte, error) {
	return appendCounts(b, l.counts), nil
}

func (l *firstGroupPerEvent) readState(d *decoder) error {
	l.counts = readCounts(d)
	return d.err
}

func appendCounts(b []byte, m map[string]int64) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = appendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = appendVarint(b, m[k])
	}
	return b
}

func readCounts(d *decoder) map[string]int64 {
	n := d.count()
	m := map[string]int64{}
	for i := 0; i < n && d.err == nil; i++ {
		k := string(d.bytes())
		m[k] = d.varint()
	}
	return m
}

// groupLast keeps the last event of each group in the order the groups
// first appeared (Java's LinkedHashMap, where replacing a value keeps the
// key's place).
type groupLast struct {
	order []string
	last  map[string]stored
}

func (g *groupLast) put(key string, e *event.Event) {
	if g.last == nil {
		g.last = map[string]stored{}
	}
	if _, ok := g.last[key]; !ok {
		g.order = append(g.order, key)
	}
	g.last[key] = copyEvent(e)
}

func (g *groupLast) rows() []stored {
	rows := make([]stored, 0, len(g.order))
	for _, k := range g.order {
		rows = append(rows, g.last[k])
	}
	return rows
}

func (g *groupLast) clear() { g.order, g.last = nil, nil }

func (g *groupLast) appendState(b []byte) ([]byte, error) {
	b = appendUvarint(b, uint64(len(g.order)))
	var err error
	for _, k := range g.order {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		if b, err = appendRows(b, []stored{g.last[k]}); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (g *groupLast) readState(d *decoder, types []event.Type) {
	g.clear()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		k := string(d.bytes())
		rows := d.rows(types)
		if d.err != nil {
			return
		}
		if len(rows) != 1 {
			d.fail("bad group entry")
			return
		}
		if g.last == nil {
			g.last = map[string]stored{}
		}
		if _, dup := g.last[k]; dup {
			d.fail("duplicate group key")
			return
		}
		g.order = append(g.order, k)
		g.last[k] = rows[0]
	}
}

// lastGroupPerEvent is `output last every n events` with group by: every n
// events, the last event of each group goes out.
type lastGroupPerEvent struct {
	noTimer
	n     int64
	types []event.Type
	count int64
	g     groupLast
}

func (l *lastGroupPerEvent) process(out []event.Event, keys []string, _ int64, emit func([]event.Event)) {
	var ready []stored
	for i := range out {
		if isReset(&out[i]) {
			continue
		}
		l.g.put(keys[i], &out[i])
		if l.count++; l.count == l.n {
			l.count = 0
			ready = append(ready, l.g.rows()...)
			l.g.clear()
		}
	}
	emitRows(ready, emit)
}

func (l *lastGroupPerEvent) clear() { l.count = 0; l.g.clear() }

func (l *lastGroupPerEvent) appendState(b []byte) ([]byte, error) {
	b = appendVarint(b, l.count)
	return l.g.appendState(b)
}

func (l *lastGroupPerEvent) readState(d *decoder) error {
	l.count = d.varint()
	l.g.readState(d, l.types)
	return d.err
}

// period is the clock of the time-based limiters: Siddhi schedules the first
// timer one period after the app starts and then every period. A firing
// with nothing to emit only moves the schedule, so a limiter that holds
// nothing reports no deadline, and catches its schedule up arithmetically
// when something arrives.
type period struct {
	every     int64
	started   bool
	scheduled int64
}

func (p *period) start(now int64) {
	if !p.started {
		p.started = true
		p.scheduled = satAdd(now, p.every)
	}
}

// catchUp moves the schedule past now, as the idle firings would have.
func (p *period) catchUp(now int64) {
	if p.started && p.scheduled <= now {
		p.scheduled = satAdd(p.scheduled, ((now-p.scheduled)/p.every+1)*p.every)
	}
}

// due reports whether a timer at now fires, and moves the schedule.
func (p *period) due(now int64) bool {
	if !p.started || now < p.scheduled {
		return false
	}
	p.scheduled = satAdd(p.scheduled, p.every)
	return true
}

func (p *period) appendState(b []byte) []byte {
	b = appendBool(b, p.started)
	return appendVarint(b, p.scheduled)
}

func (p *period) readState(d *decoder) {
	p.started = d.bool()
	p.scheduled = d.varint()
}

// allPerTime is `output [all] every <t>`: events are held and released
// together at the end of each period.
type allPerTime struct {
	period
	types []event.Type
	held  []stored
}

func (l *allPerTime) process(out []event.Event, _ []string, now int64, _ func([]event.Event)) {
	if len(l.held) == 0 {
		l.catchUp(now)
	}
	for i := range out {
		if !isReset(&out[i]) {
			l.held = append(l.held, copyEvent(&out[i]))
		}
	}
}

func (l *allPerTime) deadline() (int64, bool) {
	if !l.started || len(l.held) == 0 {
		return 0, false
	}
	return l.scheduled, true
}

func (l *allPerTime) timer(now int64, emit func([]event.Event)) {
	if l.due(now) {
		held := l.held
		l.held = nil
		emitRows(held, emit)
	}
}

func (l *allPerTime) clear() { l.held = nil }

func (l *allPerTime) appendState(b []byte) ([]byte, error) {
	return appendRows(l.period.appendState(b), l.held)
}

func (l *allPerTime) readState(d *decoder) error {
	l.period.readState(d)
	l.held = d.rows(l.types)
	return d.err
}

// lastPerTime is `output last every <t>`: the last event of each period goes
// out at its end.
type lastPerTime struct {
	period
	types []event.Type
	last  []stored // zero or one
}

func (l *lastPerTime) process(out []event.Event, _ []string, now int64, _ func([]event.Event)) {
	if len(l.last) == 0 {
		l.catchUp(now)
	}
	for i := len(out) - 1; i >= 0; i-- {
		if !isReset(&out[i]) {
			l.last = []stored{copyEvent(&out[i])}
			break
		}
	}
}

func (l *lastPerTime) deadline() (int64, bool) {
	if !l.started || len(l.last) == 0 {
		return 0, false
	}
	return l.scheduled, true
}

func (l *lastPerTime) timer(now int64, emit func([]event.Event)) {
	if l.due(now) {
		last := l.last
		l.last = nil
		emitRows(last, emit)
	}
}

func (l *lastPerTime) clear() { l.last = nil }

func (l *lastPerTime) appendState(b []byte) ([]byte, error) {
	return appendRows(l.period.appendState(b), l.last)
}

func (l *lastPerTime) readState(d *decoder) error {
	l.period.readState(d)
	l.last = d.rows(l.types)
	if d.err == nil && len(l.last) > 1 {
		d.fail("more than one last event")
	}
	return d.err
}

// lastGroupPerTime is `output last every <t>` with group by: at the end of
// each period, the last event of each group goes out.
type lastGroupPerTime struct {
	period
	types []event.Type
	g     groupLast
}

func (l *lastGroupPerTime) process(out []event.Event, keys []string, now int64, _ func([]event.Event)) {
	if len(l.g.order) == 0 {
		l.catchUp(now)
	}
	for i := range out {
		if !isReset(&out[i]) {
			l.g.put(keys[i], &out[i])
		}
	}
}

func (l *lastGroupPerTime) deadline() (int64, bool) {
	if !l.started || len(l.g.order) == 0 {
		return 0, false
	}
	return l.scheduled, true
}

func (l *lastGroupPerTime) timer(now int64, emit func([]event.Event)) {
	if l.due(now) {
		rows := l.g.rows()
		l.g.clear()
		emitRows(rows, emit)
	}
}

func (l *lastGroupPerTime) clear() { l.g.clear() }

func (l *lastGroupPerTime) appendState(b []byte) ([]byte, error) {
	return l.g.appendState(l.period.appendState(b))
}

func (l *lastGroupPerTime) readState(d *decoder) error {
	l.period.readState(d)
	l.g.readState(d, l.types)
	return d.err
}

// firstPerTime is `output first every <t>`: an output chunk goes out (its
// first event) when a period has passed since the last one that did; there
// is no timer.
type firstPerTime struct {
	noTimer
	every int64
	has   bool
	last  int64
	one   [1]event.Event
}

func (l *firstPerTime) process(out []event.Event, _ []string, now int64, emit func([]event.Event)) {
	if l.has && satAdd(l.last, l.every) > now {
		return
	}
	for i := range out {
		if !isReset(&out[i]) {
			l.has, l.last = true, now
			l.one[0] = out[i]
			emit(l.one[:])
			return
		}
	}
}

func (l *firstPerTime) clear() { l.has = false }

func (l *firstPerTime) appendState(b []byte) ([]byte, error) {
	b = appendBool(b, l.has)
	return appendVarint(b, l.last), nil
}

func (l *firstPerTime) readState(d *decoder) error {
	l.has = d.bool()
	l.last = d.varint()
	return d.err
}

// firstGroupPerTime is `output first every <t>` with group by: an event goes
// out when a period has passed since its group's last one did.
type firstGroupPerTime struct {
	noTimer
	every int64
	last  map[string]int64
}

func (l *firstGroupPerTime) process(out []event.Event, keys []string, now int64, emit func([]event.Event)) {
	if l.last == nil {
		l.last = map[string]int64{}
	}
	var sel []event.Event
	for i := range out {
		if isReset(&out[i]) {
			continue
		}
		if t, ok := l.last[keys[i]]; !ok || satAdd(t, l.every) <= now {
			l.last[keys[i]] = now
			sel = append(sel, out[i])
		}
	}
	if len(sel) > 0 {
		emit(sel)
	}
}

func (l *firstGroupPerTime) clear() { l.last = nil }

func (l *firstGroupPerTime) appendState(b []byte) ([]byte, error) {
	return appendCounts(b, l.last), nil
}

func (l *firstGroupPerTime) readState(d *decoder) error {
	l.last = readCounts(d)
	return d.err
}
