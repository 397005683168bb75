package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// Builders for hand-made syntax trees, so the engine can be tested without
// the parser.

func defStream(name string, attrs ...any) *ast.StreamDef {
	d := &ast.StreamDef{Pos: ast.Pos{Line: 1, Col: 1}, Name: name}
	for i := 0; i+1 < len(attrs); i += 2 {
		d.Attrs = append(d.Attrs, &ast.AttrDef{Name: attrs[i].(string), Type: attrs[i+1].(event.Type)})
	}
	return d
}

func vr(name string) *ast.Variable { return &ast.Variable{Pos: ast.Pos{Line: 1, Col: 2}, Name: name} }

func cst(v any) *ast.Constant {
	var val event.Value
	switch x := v.(type) {
	case int:
		val = event.IntValue(int32(x))
	case int64:
		val = event.LongValue(x)
	case float32:
		val = event.FloatValue(x)
	case float64:
		val = event.DoubleValue(x)
	case string:
		val = event.StringValue(x)
	case bool:
		val = event.BoolValue(x)
	case nil:
	default:
		panic(fmt.Sprintf("cst %T", v))
	}
	return &ast.Constant{Pos: ast.Pos{Line: 1, Col: 3}, Value: val}
}

func bin(op ast.Op, x, y ast.Expr) *ast.Binary {
	return &ast.Binary{Pos: ast.Pos{Line: 1, Col: 4}, Op: op, X: x, Y: y}
}

func call(name string, args ...ast.Expr) *ast.Call {
	return &ast.Call{Pos: ast.Pos{Line: 1, Col: 5}, Name: name, Args: args}
}

func item(e ast.Expr, name string) *ast.OutputAttr { return &ast.OutputAttr{Expr: e, Name: name} }

func filterH(e ast.Expr) *ast.Handler { return &ast.Handler{Kind: ast.FilterHandler, Filter: e} }

func windowH(name string, args ...ast.Expr) *ast.Handler {
	return &ast.Handler{Pos: ast.Pos{Line: 2, Col: 1}, Kind: ast.WindowHandler, Name: name, Args: args}
}

type qspec struct {
	name     string
	from     string
	handlers []*ast.Handler
	items    []*ast.OutputAttr // nil: select *
	groupBy  []string
	having   ast.Expr
	events   ast.EventKind
	into     string
}

func mkQuery(s qspec) *ast.Query {
	q := &ast.Query{
		Pos:    ast.Pos{Line: 3, Col: 1},
		Input:  &ast.StreamInput{Stream: s.from, Handlers: s.handlers},
		Select: &ast.Selector{Star: s.items == nil, Items: s.items, Having: s.having},
		Output: &ast.Output{Events: s.events, Stream: s.into},
	}
	for _, g := range s.groupBy {
		q.Select.GroupBy = append(q.Select.GroupBy, vr(g))
	}
	if s.name != "" {
		q.Annotations = []*ast.Annotation{{Name: "info", Elements: []*ast.Element{{Key: "name", Value: s.name}}}}
	}
	return q
}

func mkApp(streams []*ast.StreamDef, queries ...qspec) *ast.App {
	app := &ast.App{File: "test.siddhi", Streams: streams}
	for _, q := range queries {
		app.Queries = append(app.Queries, mkQuery(q))
	}
	return app
}

// recorder collects callback output as text, one line per event:
// "+ a,b" for current events and "- a,b" for expired ones.
type recorder struct {
	lines []string
}

func fmtEvent(e event.Event) string {
	parts := make([]string, len(e.Data))
	for i, v := range e.Data {
		parts[i] = v.String()
	}
	sign := "+"
	if e.Expired {
		sign = "-"
	}
	return sign + " " + strings.Join(parts, ",")
}

func (r *recorder) query(in, removed []event.Event) {
	for _, e := range in {
		r.lines = append(r.lines, fmtEvent(e))
	}
	for _, e := range removed {
		r.lines = append(r.lines, fmtEvent(e))
	}
}

func (r *recorder) stream(evs []event.Event) {
	for _, e := range evs {
		r.lines = append(r.lines, fmtEvent(e))
	}
}

func (r *recorder) take() string {
	s := strings.Join(r.lines, "\n")
	r.lines = nil
	return s
}

func mustNew(t testing.TB, app *ast.App) *Runtime {
	t.Helper()
	r, err := New(app)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// row builds a value slice from Go values: string, float64 (double),
// float32, int (int), int64 (long), bool, nil.
func row(vals ...any) []event.Value {
	out := make([]event.Value, len(vals))
	for i, v := range vals {
		out[i] = cst(v).Value
	}
	return out
}
