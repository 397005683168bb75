package engine

import (
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// namedWindow is `define window W (...) kind(args) [output <events>]`: one
// window shared by every query that reads W. Queries inserting into W feed
// it (their expired events arrive as current ones, as in Siddhi's
// InsertIntoWindowCallback); what it emits goes to the readers of W, current
// and expired events as the output clause allows and never the batch
// windows' resets (Siddhi's StreamPublishProcessor drops them), so readers'
// aggregates follow expired events instead.
type namedWindow struct {
	rt                   *Runtime
	name                 string
	s                    *stream
	win                  window
	currentOn, expiredOn bool
	emitFn               func([]event.Event)
	out                  []event.Event
}

func (w *namedWindow) insert(chunk []event.Event) {
	w.win.process(chunk, w.rt.clock, w.emitFn)
}

func (w *namedWindow) emit(chunk []event.Event) {
	out := w.out[:0]
	for i := range chunk {
		e := &chunk[i]
		if isReset(e) || e.Expired && !w.expiredOn || !e.Expired && !w.currentOn {
			continue
		}
		out = append(out, *e)
	}
	w.out = out
	if len(out) > 0 {
		w.rt.deliver(w.s, out)
	}
}

func (w *namedWindow) deadline() (int64, bool) { return w.win.deadline() }
func (w *namedWindow) fire(now int64)          { w.win.timer(now, w.emitFn) }
func (w *namedWindow) label() string           { return "window " + w.name }
func (w *namedWindow) resetWindow()            { w.win.clear() }

// defineWindow plans a named window: a stream whose events run through a
// window before its readers see them.
func (p *planner) defineWindow(d *ast.WindowDef) {
	if d == nil {
		return
	}
	if _, dup := p.r.byName[d.Name]; dup {
		p.errorf(d.Pos, "%s is already defined", d.Name)
		return
	}
	sch, ok := p.schemaOf(d.Name, d.Attrs, d.Pos)
	if !ok {
		return
	}
	if d.Window == nil {
		p.errorf(d.Pos, "window %s needs a window type, such as length(10)", d.Name)
		return
	}
	h := *d.Window
	h.Kind = ast.WindowHandler
	expiredOn := d.Events != ast.CurrentEvents
	spec := p.planWindow(&h, &scope{in: sch, names: []string{d.Name}, context: "window"}, expiredOn)
	if spec == nil {
		return
	}
	spec.find = true // any query may join with it
	s := &stream{schema: sch, width: len(sch.Attrs), id: len(p.r.streams), slide: spec.sliding()}
	w := &namedWindow{rt: p.r, name: d.Name, s: s, win: spec.build(p, sch, nil, spec.tsCol)}
	switch d.Events {
	case ast.CurrentEvents:
		w.currentOn = true
	case ast.ExpiredEvents:
		w.expiredOn = true
	default:
		w.currentOn, w.expiredOn = true, true
	}
	w.emitFn = w.emit
	s.win = w
	p.r.streams = append(p.r.streams, s)
	p.r.byName[d.Name] = s
	p.r.windows = append(p.r.windows, w)
	p.r.timed = append(p.r.timed, w)
	p.shape.WriteString("w" + spec.name + itoa(len(sch.Attrs)) + ",")
}
