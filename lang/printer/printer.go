// Package printer prints SiddhiQL syntax trees in canonical form: keywords
// in lower case, one clause per line, four-space indentation inside
// partitions, and only the parentheses that precedence needs. Parsing the
// output gives back the same tree (positions aside).
package printer

import (
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// Fprint writes app in canonical form to w.
func Fprint(w io.Writer, app *ast.App) error {
	_, err := io.WriteString(w, App(app))
	return err
}

// App returns app in canonical form.
func App(app *ast.App) string {
	var p printer
	for _, a := range app.Annotations {
		p.annotation(a)
		p.nl()
	}
	for i, n := range app.Body {
		if i > 0 || len(app.Annotations) > 0 {
			p.nl()
		}
		p.element(n)
		p.str(";")
		p.nl()
	}
	return p.b.String()
}

// Expr returns the canonical text of an expression.
func Expr(e ast.Expr) string {
	var p printer
	p.expr(e)
	return p.b.String()
}

// OnDemand returns the canonical text of an on-demand query.
func OnDemand(q *ast.OnDemandQuery) string {
	var p printer
	if in := q.Input; in != nil {
		p.str("from ")
		p.name(in.Source)
		if in.Alias != "" {
			p.str(" as ")
			p.name(in.Alias)
		}
		if in.On != nil {
			p.str(" on ")
			p.expr(in.On)
		}
		if in.Within != nil {
			p.str(" ")
			p.withinPer(in.Within, in.WithinEnd, in.Per)
		}
	}
	if q.Select != nil {
		if q.Input != nil {
			p.str(" ")
		}
		p.selector(q.Select, " ")
	}
	if q.Output != nil {
		if q.Input != nil || q.Select != nil {
			p.str(" ")
		}
		p.output(q.Output, " ")
	}
	return p.b.String()
}

type printer struct {
	b      strings.Builder
	indent int
}

func (p *printer) str(s string) { p.b.WriteString(s) }

func (p *printer) nl() {
	p.b.WriteByte('\n')
	for i := 0; i < p.indent; i++ {
		p.b.WriteString("    ")
	}
}

func (p *printer) element(n ast.Node) {
	switch n := n.(type) {
	case *ast.StreamDef:
		p.annotations(n.Annotations)
		p.str("define stream ")
		p.name(n.Name)
		p.attrDefs(n.Attrs)
	case *ast.TableDef:
		p.annotations(n.Annotations)
		p.str("define table ")
		p.name(n.Name)
		p.attrDefs(n.Attrs)
	case *ast.WindowDef:
		p.annotations(n.Annotations)
		p.str("define window ")
		p.name(n.Name)
		p.attrDefs(n.Attrs)
		p.str(" ")
		p.function(n.Window.Namespace, n.Window.Name, n.Window.Args)
		if n.Events != ast.AllEvents {
			p.str(" output ")
			p.events(n.Events)
		}
	case *ast.TriggerDef:
		p.str("define trigger ")
		p.name(n.Name)
		if n.Every != nil {
			p.str(" at every ")
			p.expr(n.Every)
		} else {
			p.str(" at ")
			p.quote(n.At)
		}
	case *ast.AggregationDef:
		p.annotations(n.Annotations)
		p.str("define aggregation ")
		p.name(n.Name)
		p.nl()
		p.str("from ")
		p.streamInput(n.Input)
		p.nl()
		p.selector(n.Select, "\n")
		p.nl()
		p.str("aggregate ")
		if n.AggregateBy != nil {
			p.str("by ")
			p.expr(n.AggregateBy)
			p.str(" ")
		}
		p.str("every ")
		switch {
		case n.Range && len(n.Every) > 0:
			p.str(n.Every[0].String() + "..." + n.Every[len(n.Every)-1].String())
		default:
			for i, d := range n.Every {
				if i > 0 {
					p.str(", ")
				}
				p.str(d.String())
			}
		}
	case *ast.FunctionDef:
		p.str("define function ")
		p.name(n.Name)
		p.str("[")
		p.name(n.Language)
		p.str("] return " + n.ReturnType.String() + " {" + n.Body + "}")
	case *ast.Query:
		p.query(n)
	case *ast.Partition:
		p.partition(n)
	}
}

func (p *printer) annotations(list []*ast.Annotation) {
	for _, a := range list {
		p.annotation(a)
		p.nl()
	}
}

func (p *printer) annotation(a *ast.Annotation) {
	// Annotation names may be keywords (@app:name), so only names that are
	// not plain identifiers are backquoted.
	p.str("@")
	for i, part := range strings.SplitN(a.Name, ":", 2) {
		if i > 0 {
			p.str(":")
		}
		if isIdent(part) {
			p.str(part)
		} else {
			p.str("`" + part + "`")
		}
	}
	if len(a.Elements) == 0 && len(a.Annotations) == 0 {
		return
	}
	p.str("(")
	first := true
	for _, e := range a.Elements {
		if !first {
			p.str(", ")
		}
		first = false
		if e.Key != "" {
			if isPropertyName(e.Key) {
				p.str(e.Key)
			} else {
				p.quote(e.Key)
			}
			p.str("=")
		}
		p.quote(e.Value)
	}
	for _, n := range a.Annotations {
		if !first {
			p.str(", ")
		}
		first = false
		p.annotation(n)
	}
	p.str(")")
}

func (p *printer) attrDefs(attrs []*ast.AttrDef) {
	p.str(" (")
	for i, a := range attrs {
		if i > 0 {
			p.str(", ")
		}
		p.name(a.Name)
		p.str(" " + a.Type.String())
	}
	p.str(")")
}

func (p *printer) query(q *ast.Query) {
	p.annotations(q.Annotations)
	p.str("from ")
	p.input(q.Input)
	p.nl()
	p.selector(q.Select, "\n")
	p.nl()
	if q.Rate != nil {
		p.rate(q.Rate)
		p.nl()
	}
	p.output(q.Output, "\n")
}

func (p *printer) rate(r *ast.OutputRate) {
	p.str("output ")
	switch r.Kind {
	case ast.RateFirst:
		p.str("first ")
	case ast.RateLast:
		p.str("last ")
	case ast.RateSnapshot:
		p.str("snapshot ")
	}
	p.str("every ")
	if r.Time != nil {
		p.expr(r.Time)
	} else {
		p.str(strconv.Itoa(r.Events) + " events")
	}
}

// sep is what goes between clauses: a newline (which keeps the indentation)
// or a space.
func (p *printer) sep(s string) {
	if s == "\n" {
		p.nl()
	} else {
		p.str(s)
	}
}

// subclause starts a clause that belongs to the one before it, indented on
// a new line or after a space.
func (p *printer) subclause(sep, text string) {
	if sep == "\n" {
		p.nl()
		p.str("    ")
	} else {
		p.str(" ")
	}
	p.str(text)
}

func (p *printer) selector(s *ast.Selector, sep string) {
	p.str("select ")
	if s.Star && len(s.Items) == 0 {
		p.str("*")
	}
	for i, a := range s.Items {
		if i > 0 {
			p.str(", ")
		}
		p.expr(a.Expr)
		if v, ok := a.Expr.(*ast.Variable); !ok || v.Name != a.Name {
			p.str(" as ")
			p.name(a.Name)
		}
	}
	if len(s.GroupBy) > 0 {
		p.sep(sep)
		p.str("group by ")
		for i, g := range s.GroupBy {
			if i > 0 {
				p.str(", ")
			}
			p.expr(g)
		}
	}
	if s.Having != nil {
		p.sep(sep)
		p.str("having ")
		p.expr(s.Having)
	}
	if len(s.OrderBy) > 0 {
		p.sep(sep)
		p.str("order by ")
		for i, o := range s.OrderBy {
			if i > 0 {
				p.str(", ")
			}
			p.expr(o.Var)
			if o.Desc {
				p.str(" desc")
			}
		}
	}
	if s.Limit != nil {
		p.sep(sep)
		p.str("limit ")
		p.expr(s.Limit)
	}
	if s.Offset != nil {
		p.sep(sep)
		p.str("offset ")
		p.expr(s.Offset)
	}
}

func (p *printer) output(o *ast.Output, sep string) {
	switch o.Action {
	case ast.InsertOutput:
		p.str("insert ")
		if o.Events != ast.CurrentEvents {
			p.events(o.Events)
			p.str(" ")
		}
		p.str("into ")
		p.target(o)
	case ast.DeleteOutput:
		p.str("delete ")
		p.target(o)
		p.forEvents(o)
		if o.On != nil {
			p.subclause(sep, "on ")
			p.expr(o.On)
		}
	case ast.UpdateOutput, ast.UpdateOrInsertOutput:
		p.str("update ")
		if o.Action == ast.UpdateOrInsertOutput {
			p.str("or insert into ")
		}
		p.target(o)
		p.forEvents(o)
		if len(o.Set) > 0 {
			p.subclause(sep, "set ")
			for i, s := range o.Set {
				if i > 0 {
					p.str(", ")
				}
				p.expr(s.Attr)
				p.str(" = ")
				p.expr(s.Value)
			}
		}
		p.subclause(sep, "on ")
		p.expr(o.On)
	case ast.ReturnOutput:
		p.str("return")
		if o.Events != ast.CurrentEvents {
			p.str(" ")
			p.events(o.Events)
		}
	}
}

func (p *printer) target(o *ast.Output) {
	if o.Inner {
		p.str("#")
	}
	if o.Fault {
		p.str("!")
	}
	p.name(o.Stream)
}

func (p *printer) forEvents(o *ast.Output) {
	if o.Events != ast.CurrentEvents {
		p.str(" for ")
		p.events(o.Events)
	}
}

func (p *printer) events(k ast.EventKind) {
	switch k {
	case ast.ExpiredEvents:
		p.str("expired events")
	case ast.AllEvents:
		p.str("all events")
	default:
		p.str("current events")
	}
}

func (p *printer) partition(pt *ast.Partition) {
	p.annotations(pt.Annotations)
	p.str("partition with (")
	for i, k := range pt.With {
		if i > 0 {
			p.str(", ")
		}
		if k.Value != nil {
			p.expr(k.Value)
		}
		for j, r := range k.Ranges {
			if j > 0 {
				p.str(" or ")
			}
			p.expr(r.Cond)
			p.str(" as ")
			p.quote(r.Label)
		}
		p.str(" of ")
		p.name(k.Stream)
	}
	p.str(")")
	p.nl()
	p.str("begin")
	p.indent++
	for _, q := range pt.Queries {
		p.nl()
		p.query(q)
		p.str(";")
	}
	p.indent--
	p.nl()
	p.str("end")
}

// ---- inputs ----

func (p *printer) input(in ast.Input) {
	switch in := in.(type) {
	case *ast.StreamInput:
		p.streamInput(in)
	case *ast.JoinInput:
		p.streamInput(in.Left)
		if in.Unidirectional == ast.LeftSide {
			p.str(" unidirectional")
		}
		p.str(" " + in.Kind.String() + " ")
		p.streamInput(in.Right)
		if in.Unidirectional == ast.RightSide {
			p.str(" unidirectional")
		}
		if in.On != nil {
			p.subclause("\n", "on ")
			p.expr(in.On)
		}
		if in.Within != nil {
			p.subclause("\n", "")
			p.withinPer(in.Within, in.WithinEnd, in.Per)
		}
	case *ast.StateInput:
		// A lone `A` would read back as a plain stream input.
		if st, ok := in.State.(*ast.StreamState); ok && st.Ref == "" && st.Count == nil {
			p.str("(")
			p.state(in.State, in.Sequence)
			p.str(")")
		} else {
			p.state(in.State, in.Sequence)
		}
		if in.Within != nil {
			p.subclause("\n", "within ")
			p.expr(in.Within)
		}
	case *ast.AnonymousInput:
		q := in.Query
		p.str("(from ")
		p.input(q.Input)
		p.str(" ")
		p.selector(q.Select, " ")
		if q.Rate != nil {
			p.str(" ")
			p.rate(q.Rate)
		}
		p.str(" ")
		p.output(q.Output, " ")
		p.str(")")
	}
}

// withinPer prints `within a[, b] per g` when within is set.
func (p *printer) withinPer(within, end, per ast.Expr) {
	if within == nil {
		return
	}
	p.str("within ")
	p.expr(within)
	if end != nil {
		p.str(", ")
		p.expr(end)
	}
	p.str(" per ")
	p.expr(per)
}

func (p *printer) streamInput(s *ast.StreamInput) {
	if s.Inner {
		p.str("#")
	}
	if s.Fault {
		p.str("!")
	}
	p.name(s.Stream)
	for _, h := range s.Handlers {
		switch h.Kind {
		case ast.FilterHandler:
			p.str("[")
			p.expr(h.Filter)
			p.str("]")
		case ast.WindowHandler:
			p.str("#window.")
			p.function(h.Namespace, h.Name, h.Args)
		case ast.FunctionHandler:
			p.str("#")
			p.function(h.Namespace, h.Name, h.Args)
		}
	}
	if s.Alias != "" {
		p.str(" as ")
		p.name(s.Alias)
	}
}

// state prints a pattern or sequence element (seq: of a sequence, where
// counts may print as *, + and ?).
func (p *printer) state(s ast.StateElement, seq bool) {
	switch s := s.(type) {
	case *ast.StreamState:
		if s.Ref != "" {
			p.name(s.Ref)
			p.str("=")
		}
		p.streamInput(s.Input)
		if c := s.Count; c != nil {
			switch {
			case seq && c.Min == 0 && c.Max == ast.AnyCount:
				p.str("*")
			case seq && c.Min == 1 && c.Max == ast.AnyCount:
				p.str("+")
			case seq && c.Min == 0 && c.Max == 1:
				p.str("?")
			case c.Max == c.Min:
				p.str("<" + strconv.Itoa(c.Min) + ">")
			case c.Max == ast.AnyCount:
				p.str("<" + strconv.Itoa(c.Min) + ":>")
			default:
				p.str("<" + strconv.Itoa(c.Min) + ":" + strconv.Itoa(c.Max) + ">")
			}
		}
	case *ast.AbsentState:
		p.str("not ")
		p.streamInput(s.Input)
		if s.For != nil {
			p.str(" for ")
			p.expr(s.For)
		}
	case *ast.LogicalState:
		// The operands of and/or are single states.
		p.stateIn(s.X, seq, isSingleState)
		p.str(" " + s.Op.String() + " ")
		p.stateIn(s.Y, seq, isSingleState)
	case *ast.EveryState:
		// every takes a single or logical state; anything else is grouped.
		p.str("every ")
		p.stateIn(s.X, seq, func(x ast.StateElement) bool {
			_, logical := x.(*ast.LogicalState)
			return logical || isSingleState(x)
		})
	case *ast.NextState:
		sep := " -> "
		if seq {
			sep = ", "
		}
		for i, x := range s.States {
			if i > 0 {
				p.str(sep)
			}
			p.stateIn(x, seq, func(x ast.StateElement) bool {
				_, chain := x.(*ast.NextState)
				return !chain
			})
		}
	}
}

// stateIn prints s, in parentheses unless bare(s).
func (p *printer) stateIn(s ast.StateElement, seq bool, bare func(ast.StateElement) bool) {
	if bare(s) {
		p.state(s, seq)
		return
	}
	p.str("(")
	p.state(s, seq)
	p.str(")")
}

func isSingleState(s ast.StateElement) bool {
	switch s.(type) {
	case *ast.StreamState, *ast.AbsentState:
		return true
	}
	return false
}

// ---- expressions ----

// Precedence levels, from the loosest; see package parser.
const (
	precOr = iota + 1
	precAnd
	precIn
	precEquality
	precRelational
	precAdditive
	precMultiplicative
	precUnary
	precPrimary
)

func binaryPrec(op ast.Op) int {
	switch op {
	case ast.OpOr:
		return precOr
	case ast.OpAnd:
		return precAnd
	case ast.OpEq, ast.OpNe:
		return precEquality
	case ast.OpLt, ast.OpLe, ast.OpGt, ast.OpGe:
		return precRelational
	case ast.OpAdd, ast.OpSub:
		return precAdditive
	}
	return precMultiplicative
}

func exprPrec(e ast.Expr) int {
	switch e := e.(type) {
	case *ast.Binary:
		return binaryPrec(e.Op)
	case *ast.In:
		return precIn
	case *ast.Unary:
		return precUnary
	case *ast.Constant:
		if isNegative(e) {
			return precUnary
		}
	}
	return precPrimary
}

// isNegative reports whether a numeric constant prints with a leading '-'.
func isNegative(c *ast.Constant) bool {
	v := c.Value
	switch v.Type() {
	case event.Int, event.Long:
		return v.Int() < 0
	case event.Float, event.Double:
		return math.Signbit(v.Float())
	}
	return false
}

func (p *printer) operand(e ast.Expr, min int) {
	if exprPrec(e) < min {
		p.str("(")
		p.expr(e)
		p.str(")")
		return
	}
	p.expr(e)
}

func (p *printer) expr(e ast.Expr) {
	switch e := e.(type) {
	case *ast.Constant:
		p.constant(e)
	case *ast.Variable:
		p.variable(e)
	case *ast.Binary:
		prec := binaryPrec(e.Op)
		p.operand(e.X, prec)
		p.str(" " + e.Op.String() + " ")
		p.operand(e.Y, prec+1)
	case *ast.Unary:
		if e.Op == ast.OpNot {
			p.str("not ")
			p.operand(e.X, precUnary)
			return
		}
		p.str("-")
		// -(5) must not turn into the literal -5, nor -(-5) into a comment.
		if c, ok := e.X.(*ast.Constant); ok && c.Value.Type().IsNumeric() || exprPrec(e.X) < precPrimary {
			p.str("(")
			p.expr(e.X)
			p.str(")")
			return
		}
		p.expr(e.X)
	case *ast.IsNull:
		// `is null` applies to a name, a call or a parenthesised expression.
		switch x := e.X.(type) {
		case *ast.Variable, *ast.Call:
			p.expr(x)
		case *ast.Constant:
			p.operand(x, precPrimary)
		default:
			p.str("(")
			p.expr(x)
			p.str(")")
		}
		p.str(" is null")
	case *ast.In:
		p.operand(e.X, precIn)
		p.str(" in ")
		p.name(e.Source)
	case *ast.Call:
		if e.Star {
			if e.Namespace != "" {
				p.name(e.Namespace)
				p.str(":")
			}
			p.name(e.Name)
			p.str("(*)")
			return
		}
		p.function(e.Namespace, e.Name, e.Args)
	}
}

func (p *printer) function(ns, name string, args []ast.Expr) {
	if ns != "" {
		p.name(ns)
		p.str(":")
	}
	p.name(name)
	p.str("(")
	for i, a := range args {
		if i > 0 {
			p.str(", ")
		}
		p.expr(a)
	}
	p.str(")")
}

func (p *printer) variable(v *ast.Variable) {
	if v.Inner {
		p.str("#")
	}
	if v.Fault {
		p.str("!")
	}
	if v.Stream != "" {
		p.name(v.Stream)
		if i := v.Index; i != nil {
			switch {
			case i.Last && i.N == 0:
				p.str("[last]")
			case i.Last:
				p.str("[last-" + strconv.Itoa(i.N) + "]")
			default:
				p.str("[" + strconv.Itoa(i.N) + "]")
			}
		}
		if v.Name == "" {
			return
		}
		p.str(".")
	}
	p.name(v.Name)
}

func (p *printer) constant(c *ast.Constant) {
	v := c.Value
	if c.IsTime {
		p.str(TimeString(v.Int()))
		return
	}
	switch v.Type() {
	case event.Null:
		p.str("null")
	case event.Bool:
		p.str(strconv.FormatBool(v.Bool()))
	case event.Int:
		p.str(strconv.FormatInt(v.Int(), 10))
	case event.Long:
		p.str(strconv.FormatInt(v.Int(), 10) + "L")
	case event.Float:
		p.str(floatLiteral(v.Float(), 32) + "f")
	case event.Double:
		s := floatLiteral(v.Float(), 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		p.str(s)
	case event.String:
		p.quote(v.Str())
	default:
		p.str("null")
	}
}

// floatLiteral formats f so that it scans back to the same value; infinities
// (which Siddhi's literals overflow to) become a literal that overflows.
func floatLiteral(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return "1e999"
	case math.IsInf(f, -1):
		return "-1e999"
	case math.IsNaN(f):
		return "0" // unreachable from source text
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// TimeString renders milliseconds as a Siddhi time value, such as
// `1 min 30 sec`.
func TimeString(ms int64) string {
	if ms == 0 {
		return "0 sec"
	}
	type unit struct {
		name string
		ms   int64
	}
	// Years, months and weeks only for exact multiples; otherwise days down.
	for _, u := range []unit{{"year", 365 * 86400000}, {"month", 30 * 86400000}, {"week", 7 * 86400000}} {
		if ms%u.ms == 0 {
			return plural(ms/u.ms, u.name)
		}
	}
	var parts []string
	for _, u := range []unit{{"day", 86400000}, {"hour", 3600000}, {"min", 60000}, {"sec", 1000}, {"millisec", 1}} {
		if n := ms / u.ms; n > 0 {
			parts = append(parts, plural(n, u.name))
			ms -= n * u.ms
		}
	}
	return strings.Join(parts, " ")
}

func plural(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 && unit != "min" && unit != "sec" && unit != "millisec" {
		s += "s"
	}
	return s
}

// quote writes s as a SiddhiQL string literal. Single- and double-quoted
// strings are taken literally, so they are used when they can hold s; other
// strings are triple-quoted with Java escapes.
func (p *printer) quote(s string) {
	p.str(Quote(s))
}

// Quote returns s as a SiddhiQL string literal that scans back to s.
func Quote(s string) string {
	plain := !strings.ContainsAny(s, "\n\r")
	switch {
	case plain && !strings.Contains(s, "'"):
		return "'" + s + "'"
	case plain && !strings.Contains(s, `"`):
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteString(`"""`)
	// Bytes, not runes: the scanner keeps non-ASCII bytes as they are, valid
	// UTF-8 or not.
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteString(strconv.FormatInt(int64(c)>>4, 16))
				b.WriteString(strconv.FormatInt(int64(c)&15, 16))
				continue
			}
			b.WriteByte(c)
		}
	}
	b.WriteString(`"""`)
	return b.String()
}

// name writes an identifier, backquoted when it is a keyword or not a plain
// identifier.
func (p *printer) name(s string) { p.str(Name(s)) }

// Name returns s as a SiddhiQL name, backquoted when needed.
func Name(s string) string {
	if isIdent(s) && !isKeyword(s) {
		return s
	}
	return "`" + s + "`"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isPropertyName reports whether s can be written unquoted as an annotation
// key: names joined by '.', '-' or ':'.
func isPropertyName(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' || s[i] == '-' || s[i] == ':' {
			if !isIdent(s[start:i]) {
				return false
			}
			start = i + 1
		}
	}
	return true
}

var keywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`app stream define table from partition window select group by order
		asc desc limit offset having insert delete update set return events into output expired current
		snapshot for raw of as at or and in on is not within with begin end null every last all first
		join inner outer right left full unidirectional false true string int long float double bool
		object function trigger aggregation aggregate per
		year years month months week weeks day days hour hours min minute minutes sec second seconds
		millisec millisecond milliseconds`) {
		m[k] = true
	}
	return m
}()

func isKeyword(s string) bool { return keywords[strings.ToLower(s)] }
