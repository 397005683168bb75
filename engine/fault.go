package engine

import (
	"fmt"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// faultStream plans @OnError(action='...') on a stream definition. With
// action 'stream' the stream gets a fault stream !S: its attributes and an
// _error object. When processing an event of S fails (a panic in a query
// reading S or in what runs after it), the event goes to !S with the error
// instead of only being logged. 'log' (the default) and 'store' log.
func (p *planner) faultStream(d *ast.StreamDef) {
	if d == nil {
		return
	}
	for _, an := range d.Annotations {
		if an == nil || !strings.EqualFold(an.Name, "OnError") {
			continue
		}
		act, ok := an.Get("action")
		switch {
		case !ok:
			p.errorf(an.Pos, "@OnError needs an action: @OnError(action='log') or @OnError(action='stream')")
			return
		case strings.EqualFold(act, "log"), strings.EqualFold(act, "store"):
			return
		case !strings.EqualFold(act, "stream"):
			p.errorf(an.Pos, "unknown @OnError action '%s': expected 'log', 'stream' or 'store'", act)
			return
		}
		s, ok := p.r.byName[d.Name]
		if !ok || s.fault != nil {
			return
		}
		name := "!" + d.Name
		sch := &event.Schema{Name: name, Attrs: append(append([]event.Attribute(nil), s.schema.Attrs...),
			event.Attribute{Name: "_error", Type: event.Object})}
		f := &stream{schema: sch, width: len(sch.Attrs), id: len(p.r.streams)}
		p.r.streams = append(p.r.streams, f)
		p.r.byName[name] = f
		s.fault = f
		p.shape.WriteString("fault" + itoa(s.id) + ",")
		return
	}
}

// deliverGuarded is deliver for a stream with a fault stream: a reader that
// panics sends the chunk to the fault stream, each event with the error.
func (r *Runtime) deliverGuarded(s *stream, chunk []event.Event) {
	for _, q := range s.queries {
		r.guard(s, chunk, func() { q.process(chunk) })
	}
	for _, cb := range s.callbacks {
		r.guard(s, chunk, func() { cb(chunk) })
	}
}

func (r *Runtime) guard(s *stream, chunk []event.Event, run func()) {
	failed := true
	var cause any
	func() {
		defer func() {
			if failed {
				cause = recover()
			}
		}()
		run()
		failed = false
	}()
	if !failed {
		return
	}
	err := fmt.Errorf("engine: processing an event of %s: %v", s.schema.Name, cause)
	r.logError("sent to fault stream", err)
	faults := make([]event.Event, 0, len(chunk))
	for _, e := range chunk {
		if isReset(&e) {
			continue
		}
		data := make([]event.Value, 0, len(e.Data)+1)
		data = append(append(data, e.Data...), event.ObjectValue(err))
		faults = append(faults, event.Event{Timestamp: e.Timestamp, Data: data})
	}
	if len(faults) > 0 {
		r.publish(s.fault, faults)
	}
}
