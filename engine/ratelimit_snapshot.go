package engine

import (
	"slices"

	"github.com/tandem-stream/tandem/event"
)

// snapshotKind says which of Siddhi's snapshot rate limiters a query gets;
// WrappedSnapshotOutputRateLimiter chooses by whether the query has a window,
// whether it groups, and how many of its outputs are aggregates.
type snapshotKind uint8

const (
	snapPer                snapshotKind = iota // no window, no group by
	snapGroupBy                                // no window, group by
	snapWindowed                               // window, no aggregate output
	snapAllAgg                                 // window, no group by, every output an aggregate
	snapAggWindowed                            // window, no group by, some outputs aggregates
	snapAllAggGroupBy                          // window, group by, every output an aggregate
	snapAggGroupByWindowed                     // window, group by, some outputs aggregates
)

// snapshotLimiter is `output snapshot every <t>`: at the end of each period
// it emits, as current events, what the query's output currently stands at:
// the last output, the last output of each group, or the events the window
// holds (with the latest aggregate values), depending on its kind. The
// selector runs without batching for it, so it sees every event, expired
// events and (without group by) resets. As in Siddhi, an event arriving at
// or after the scheduled time emits the snapshot too, before it is taken in.
type snapshotLimiter struct {
	period
	kind  snapshotKind
	types []event.Type
	aggs  []int // output positions of aggregates (the Agg kinds)

	last []stored // snapPer, snapAllAgg: zero or one event
	g    groupLast

	// The windowed kinds keep the current events still in the window, with
	// their group keys (AggGroupByWindowed), and the latest aggregate values
	// overall or per group.
	list    []stored
	keys    []string
	aggVals map[string][]event.Value

	// snapAllAggGroupBy: per group, the last event and how many current
	// events of the group the window holds.
	counts map[string]int64
}

func (l *snapshotLimiter) hasState() bool {
	return len(l.last) > 0 || len(l.g.order) > 0 || len(l.list) > 0
}

func (l *snapshotLimiter) process(out []event.Event, keys []string, now int64, emit func([]event.Event)) {
	if !l.hasState() {
		l.catchUp(now)
	}
	var ready []stored
	for i := range out {
		e := &out[i]
		if l.due(e.Timestamp) {
			ready = append(ready, l.snapshot()...)
		}
		var key string
		if keys != nil && !isReset(e) {
			key = keys[i]
		}
		l.take(e, key)
	}
	emitRows(ready, emit)
}

// take updates the state with one selector output.
func (l *snapshotLimiter) take(e *event.Event, key string) {
	reset := isReset(e)
	switch l.kind {
	case snapPer:
		if !reset && !e.Expired {
			l.last = []stored{copyEvent(e)}
		}
	case snapGroupBy:
		if !reset && !e.Expired {
			l.g.put(key, e)
		}
	case snapAllAgg:
		if !reset && !e.Expired {
			l.last = []stored{copyEvent(e)}
		} else {
			l.last = nil
		}
	case snapWindowed:
		switch {
		case reset:
			l.list = nil
		case !e.Expired:
			l.list = append(l.list, copyEvent(e))
		default:
			if i := l.find(e, false); i >= 0 {
				l.list = slices.Delete(l.list, i, i+1)
			}
		}
	case snapAggWindowed, snapAggGroupByWindowed:
		switch {
		case reset:
			l.list, l.keys, l.aggVals = nil, nil, nil
		case !e.Expired:
			l.list = append(l.list, copyEvent(e))
			l.keys = append(l.keys, key)
			l.setAggs(key, e)
		default:
			if i := l.find(e, true); i >= 0 {
				l.list = slices.Delete(l.list, i, i+1)
				l.keys = slices.Delete(l.keys, i, i+1)
				l.setAggs(key, e)
			}
		}
	case snapAllAggGroupBy:
		if reset {
			l.g.clear()
			l.counts = nil
			return
		}
		if l.counts == nil {
			l.counts = map[string]int64{}
		}
		l.g.put(key, e)
		if e.Expired {
			l.counts[key]--
		} else {
			l.counts[key]++
		}
	}
}

func (l *snapshotLimiter) setAggs(key string, e *event.Event) {
	if l.aggVals == nil {
		l.aggVals = map[string][]event.Value{}
	}
	vals := make([]event.Value, len(l.aggs))
	for j, pos := range l.aggs {
		vals[j] = e.Data[pos]
	}
	l.aggVals[key] = vals
}

// find returns the position of the first held event with the data of e
// (ignoring the aggregate outputs when skipAggs), or -1.
func (l *snapshotLimiter) find(e *event.Event, skipAggs bool) int {
	for i, r := range l.list {
		same := true
		for j, v := range r.vals {
			if skipAggs && slices.Contains(l.aggs, j) {
				continue
			}
			w := e.Data[j]
			if v.IsNull() != w.IsNull() || !v.IsNull() && !v.Equal(w) {
				same = false
				break
			}
		}
		if same {
			return i
		}
	}
	return -1
}

// snapshot returns the events to emit now.
func (l *snapshotLimiter) snapshot() []stored {
	current := func(r stored) stored { return stored{ts: r.ts, vals: slices.Clone(r.vals)} }
	var rows []stored
	switch l.kind {
	case snapPer, snapAllAgg:
		for _, r := range l.last {
			rows = append(rows, current(r))
		}
	case snapGroupBy:
		for _, r := range l.g.rows() {
			rows = append(rows, current(r))
		}
	case snapWindowed:
		for _, r := range l.list {
			rows = append(rows, current(r))
		}
	case snapAggWindowed, snapAggGroupByWindowed:
		seen := map[string]bool{}
		for i, r := range l.list {
			key := l.keys[i]
			if l.kind == snapAggGroupByWindowed {
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			c := current(r)
			for j, pos := range l.aggs {
				c.vals[pos] = l.aggVals[key][j]
			}
			rows = append(rows, c)
		}
	case snapAllAggGroupBy:
		kept := l.g.order[:0]
		for _, k := range l.g.order {
			if l.counts[k] <= 0 {
				delete(l.g.last, k)
				delete(l.counts, k)
				continue
			}
			kept = append(kept, k)
			r := l.g.last[k]
			rows = append(rows, stored{ts: r.ts, vals: slices.Clone(r.vals), expired: r.expired})
		}
		l.g.order = kept
	}
	return rows
}

func (l *snapshotLimiter) deadline() (int64, bool) {
	if !l.started || !l.hasState() {
		return 0, false
	}
	return l.scheduled, true
}

func (l *snapshotLimiter) timer(now int64, emit func([]event.Event)) {
	if l.due(now) {
		emitRows(l.snapshot(), emit)
	}
}

func (l *snapshotLimiter) clear() {
	l.last, l.list, l.keys, l.aggVals, l.counts = nil, nil, nil, nil, nil
	l.g.clear()
}

func (l *snapshotLimiter) appendState(b []byte) ([]byte, error) {
	b = l.period.appendState(b)
	b, err := appendRows(b, l.last)
	if err != nil {
		return b, err
	}
	if b, err = l.g.appendState(b); err != nil {
		return b, err
	}
	if b, err = appendRows(b, l.list); err != nil {
		return b, err
	}
	b = appendUvarint(b, uint64(len(l.keys)))
	for _, k := range l.keys {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	aggKeys := make([]string, 0, len(l.aggVals))
	for k := range l.aggVals {
		aggKeys = append(aggKeys, k)
	}
	slices.Sort(aggKeys)
	b = appendUvarint(b, uint64(len(aggKeys)))
	for _, k := range aggKeys {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		if b, err = event.AppendValues(b, l.aggVals[k]); err != nil {
			return b, err
		}
	}
	return appendCounts(b, l.counts), nil
}

func (l *snapshotLimiter) readState(d *decoder) error {
	l.clear()
	l.period.readState(d)
	l.last = d.rows(l.types)
	l.g.readState(d, l.types)
	l.list = d.rows(l.types)
	nk := d.count()
	for i := 0; i < nk && d.err == nil; i++ {
		l.keys = append(l.keys, string(d.bytes()))
	}
	keyed := l.kind == snapAggWindowed || l.kind == snapAggGroupByWindowed
	if d.err == nil && (keyed && nk != len(l.list) || !keyed && nk != 0) {
		d.fail("group keys do not match the held events")
	}
	n := d.count()
	if n > 0 {
		l.aggVals = map[string][]event.Value{}
	}
	for i := 0; i < n && d.err == nil; i++ {
		k := string(d.bytes())
		l.aggVals[k] = d.values(nil, len(l.aggs))
	}
	l.counts = readCounts(d)
	if len(l.counts) == 0 {
		l.counts = nil
	}
	if d.err == nil && len(l.last) > 1 {
		d.fail("more than one last event")
	}
	if l.kind == snapAggWindowed || l.kind == snapAggGroupByWindowed {
		for _, k := range l.keys {
			if d.err == nil && l.aggVals[k] == nil {
				d.fail("held event without aggregate values")
			}
		}
	}
	return d.err
}
