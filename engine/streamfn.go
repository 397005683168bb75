package engine

import (
	"context"
	"log/slog"
	"math"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// streamFunction plans a stream function handler (#name(args)) as a stage
// of the query's input. after says it comes after the window, where only
// functions that keep the attributes as they are may stand.
func (p *planner) streamFunction(h *ast.Handler, sc *scope, after bool) *filter {
	name := strings.ToLower(h.Name)
	if h.Namespace != "" {
		p.errorf(h.Pos, "unknown stream function %s:%s", h.Namespace, h.Name)
		return nil
	}
	switch name {
	case "log":
		return p.logStage(h, sc)
	case "pol2cart":
		if after {
			p.errorf(h.Pos, "pol2Cart after a window is not supported: apply it before the window")
			return nil
		}
		return p.pol2Cart(h, sc)
	}
	p.errorf(h.Pos, "unknown stream function %s", h.Name)
	return nil
}

var logLevels = map[string]slog.Level{
	"INFO": slog.LevelInfo, "DEBUG": slog.LevelDebug, "TRACE": slog.LevelDebug,
	"WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError, "OFF": math.MaxInt,
}

// logStage is #log([priority,] [message,] [logEvent]): events pass
// unchanged and are logged on the runtime's logger, as Siddhi's
// LogStreamProcessor does with its overloads (), (message), (logEvent),
// (message, logEvent), (priority, message) and (priority, message,
// logEvent).
func (p *planner) logStage(h *ast.Handler, sc *scope) *filter {
	var kinds []event.Type
	var consts []*ast.Constant
	for _, a := range h.Args {
		c, ok := a.(*ast.Constant)
		if !ok || c.Value.Type() != event.String && c.Value.Type() != event.Bool {
			p.errorf(a.Position(), "#log takes constant arguments: [priority string,] [message string,] [log event bool]")
			return nil
		}
		kinds = append(kinds, c.Value.Type())
		consts = append(consts, c)
	}
	sig := ""
	for _, k := range kinds {
		sig += map[event.Type]string{event.String: "s", event.Bool: "b"}[k]
	}
	level, msg, logEvent := slog.LevelInfo, "", true
	switch sig {
	case "":
	case "s":
		msg = consts[0].Value.Str()
	case "b":
		logEvent = consts[0].Value.Bool()
	case "sb":
		msg, logEvent = consts[0].Value.Str(), consts[1].Value.Bool()
	case "ss", "ssb":
		lv, ok := logLevels[strings.ToUpper(consts[0].Value.Str())]
		if !ok {
			p.errorf(consts[0].Pos, "#log priority must be one of INFO, DEBUG, TRACE, WARN, ERROR, FATAL, OFF, found '%s'",
				consts[0].Value.Str())
			return nil
		}
		level, msg = lv, consts[1].Value.Str()
		if sig == "ssb" {
			logEvent = consts[2].Value.Bool()
		}
	default:
		p.errorf(h.Pos, "#log takes ([priority string,] [message string,] [log event bool]), found %d arguments of other types", len(h.Args))
		return nil
	}
	r := p.r
	stream := sc.in
	return &filter{cond: func(f *frame) bool {
		if l := r.logger; l != nil && l.Enabled(context.Background(), level) {
			attrs := []any{"app", r.name, "stream", stream.Name, "timestamp", f.ts}
			if logEvent {
				for i, a := range stream.Attrs {
					if i < len(f.in) {
						attrs = append(attrs, a.Name, f.in[i].String())
					}
				}
			}
			l.Log(context.Background(), level, msg, attrs...)
		}
		return true
	}}
}

// pol2Cart is #pol2Cart(theta, rho [, elevation]): Siddhi's
// Pol2CartStreamFunctionProcessor, which adds x and y (and z, the
// elevation) to each event for the polar coordinates in degrees.
func (p *planner) pol2Cart(h *ast.Handler, sc *scope) *filter {
	if len(h.Args) != 2 && len(h.Args) != 3 {
		p.errorf(h.Pos, "#pol2Cart takes theta, rho and an optional elevation, found %d arguments", len(h.Args))
		return nil
	}
	sc.context = "pol2Cart"
	var args []func(*frame) (float64, bool)
	for _, a := range h.Args {
		x := p.compile(a, sc)
		if x == nil {
			return nil
		}
		if x.typ != event.Double {
			p.errorf(a.Position(), "#pol2Cart needs double arguments, found %s", x.typ)
			return nil
		}
		args = append(args, x.flt)
	}
	in := sc.in
	out := &event.Schema{Name: in.Name, Attrs: append([]event.Attribute(nil), in.Attrs...)}
	for _, n := range []string{"x", "y", "z"}[:len(args)] {
		if out.Index(n) >= 0 {
			p.errorf(h.Pos, "#pol2Cart adds attribute %s, which stream %s already has", n, in.Name)
			return nil
		}
		out.Attrs = append(out.Attrs, event.Attribute{Name: n, Type: event.Double})
	}
	sc.in = out
	if sc.used != nil {
		sc.used = make([]bool, len(out.Attrs))
	}
	width := len(in.Attrs)
	f := &filter{width: len(out.Attrs)}
	var fr frame
	f.extend = func(row []event.Value) {
		fr.in = row[:width]
		theta, ok1 := args[0](&fr)
		rho, ok2 := args[1](&fr)
		if ok1 && ok2 {
			rad := theta * (math.Pi / 180)
			row[width] = event.DoubleValue(rho * math.Cos(rad))
			row[width+1] = event.DoubleValue(rho * math.Sin(rad))
		}
		if len(args) == 3 {
			if z, ok := args[2](&fr); ok {
				row[width+2] = event.DoubleValue(z)
			}
		}
	}
	return f
}
