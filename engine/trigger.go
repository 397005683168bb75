package engine

import (
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// trigger is `define trigger T at 'start' | at every <t> | at '<cron>'`: a
// stream of events (triggered_time long) that the app's clock produces,
// once at the start, every t milliseconds from the start, or when the cron
// expression fires. Like every timer it runs on the app clock, so both nodes
// produce the same trigger events.
type trigger struct {
	rt      *Runtime
	name    string
	s       *stream
	atStart bool
	every   int64
	cron    *cronSchedule
	started bool
	done    bool  // the start trigger fired
	next    int64 // the next firing, once started
	data    [1]event.Value
	out     [1]event.Event
}

func (t *trigger) start(now int64) {
	if t.started {
		return
	}
	t.started = true
	switch {
	case t.atStart:
		t.next = now
	case t.every > 0:
		t.next = satAdd(now, t.every)
	default:
		t.next = t.cron.next(now)
	}
}

func (t *trigger) deadline() (int64, bool) {
	if !t.started || t.done {
		return 0, false
	}
	return t.next, true
}

func (t *trigger) fire(now int64) {
	if !t.started || t.done || t.next > now {
		return
	}
	at := t.next
	switch {
	case t.atStart:
		t.done = true
	case t.every > 0:
		t.next = satAdd(t.next, t.every)
	default:
		t.next = t.cron.next(at)
	}
	t.data[0] = event.LongValue(at)
	t.out[0] = event.Event{Timestamp: at, Data: t.data[:]}
	t.rt.publish(t.s, t.out[:])
}

func (t *trigger) label() string { return "trigger " + t.name }
func (t *trigger) resetWindow()  { t.done = true }

func (t *trigger) appendState(b []byte) []byte {
	b = appendBool(b, t.started)
	b = appendBool(b, t.done)
	return appendVarint(b, t.next)
}

func (t *trigger) readState(d *decoder) {
	t.started = d.bool()
	t.done = d.bool()
	t.next = d.varint()
}

// defineTrigger plans a trigger and its stream.
func (p *planner) defineTrigger(d *ast.TriggerDef) {
	if d == nil {
		return
	}
	if _, dup := p.r.byName[d.Name]; dup {
		p.errorf(d.Pos, "%s is already defined", d.Name)
		return
	}
	t := &trigger{rt: p.r, name: d.Name}
	switch {
	case d.Every != nil:
		v := d.Every.Value
		if ty := v.Type(); ty != event.Int && ty != event.Long || v.Int() <= 0 {
			p.errorf(d.Every.Pos, "trigger %s needs a positive time period, found %s", d.Name, v)
			return
		}
		t.every = v.Int()
	case strings.EqualFold(d.At, "start"):
		t.atStart = true
	default:
		sched, err := parseCron(d.At)
		if err != nil {
			p.errorf(d.AtPos, "trigger %s: %v", d.Name, err)
			return
		}
		t.cron = sched
	}
	sch := &event.Schema{Name: d.Name, Attrs: []event.Attribute{{Name: "triggered_time", Type: event.Long}}}
	t.s = &stream{schema: sch, width: 1, id: len(p.r.streams)}
	p.r.streams = append(p.r.streams, t.s)
	p.r.byName[d.Name] = t.s
	p.r.triggers = append(p.r.triggers, t)
	p.r.timed = append(p.r.timed, t)
	p.shape.WriteString("trigger,")
}
