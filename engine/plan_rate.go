package engine

import (
	"fmt"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// planRate plans a query's output clause, choosing the rate limiter Siddhi's
// OutputParser would: by count, time or snapshot, by kind, and by whether
// the query groups (and for snapshots has a window and aggregate outputs).
// It sets the selector up for it: group keys for the per-group kinds, no
// batching for snapshots.
func (p *planner) planRate(aq *ast.Query, windowed bool, sel *selector, out *event.Schema) rateLimiter {
	rt := aq.Rate
	grouped := sel.groups != nil
	types := schemaTypes(out)
	fmt.Fprintf(&p.shape, "rate%d/%d/%v,", rt.Kind, rt.Events, rt.Time != nil)
	if rt.Kind == ast.RateSnapshot {
		if aq.Output.Events != ast.AllEvents {
			p.errorf(aq.Output.Pos, "a query with snapshot rate limiting can only insert all events: "+
				"use 'insert all events into %s'", aq.Output.Stream)
			return nil
		}
		every, ok := p.rateTime(rt)
		if !ok {
			return nil
		}
		l := &snapshotLimiter{period: period{every: every}, types: types}
		for k, it := range sel.items {
			if it.src == fromAgg {
				l.aggs = append(l.aggs, k)
			}
		}
		allAggs := len(l.aggs) > 0 && len(l.aggs) == len(sel.items)
		switch {
		case !windowed && grouped:
			l.kind = snapGroupBy
		case !windowed:
			l.kind = snapPer
		case len(l.aggs) == 0:
			l.kind = snapWindowed
		case grouped && allAggs:
			l.kind = snapAllAggGroupBy
		case grouped:
			l.kind = snapAggGroupByWindowed
		case allAggs:
			l.kind = snapAllAgg
		default:
			l.kind = snapAggWindowed
		}
		sel.each = true
		sel.keys = grouped
		return l
	}
	sel.keys = grouped && rt.Kind != ast.RateAll
	if rt.Time == nil {
		n := int64(rt.Events)
		if n <= 0 {
			p.errorf(rt.Pos, "output rate must be at least 1 event, found %d", rt.Events)
			return nil
		}
		switch {
		case rt.Kind == ast.RateFirst && grouped:
			return &firstGroupPerEvent{n: n}
		case rt.Kind == ast.RateFirst:
			return &firstPerEvent{n: n}
		case rt.Kind == ast.RateLast && grouped:
			return &lastGroupPerEvent{n: n, types: types}
		case rt.Kind == ast.RateLast:
			return &lastPerEvent{n: n}
		}
		return &allPerEvent{n: n, types: types}
	}
	every, ok := p.rateTime(rt)
	if !ok {
		return nil
	}
	switch {
	case rt.Kind == ast.RateFirst && grouped:
		return &firstGroupPerTime{every: every}
	case rt.Kind == ast.RateFirst:
		return &firstPerTime{every: every}
	case rt.Kind == ast.RateLast && grouped:
		return &lastGroupPerTime{period: period{every: every}, types: types}
	case rt.Kind == ast.RateLast:
		return &lastPerTime{period: period{every: every}, types: types}
	}
	return &allPerTime{period: period{every: every}, types: types}
}

func (p *planner) rateTime(rt *ast.OutputRate) (int64, bool) {
	if rt.Time == nil {
		p.errorf(rt.Pos, "snapshot rate limiting needs a time period, such as 'every 1 sec'")
		return 0, false
	}
	v := rt.Time.Value
	if t := v.Type(); t != event.Int && t != event.Long || v.Int() <= 0 {
		p.errorf(rt.Time.Pos, "output rate interval must be a positive time, found %s", v)
		return 0, false
	}
	return v.Int(), true
}
