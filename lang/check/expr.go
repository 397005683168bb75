package check

import (
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// unknown is the type of an expression whose type could not be worked out
// because of an error already reported; it fits anywhere, so that one
// mistake is reported once.
const unknown event.Type = 254

// source is one input a query's expressions can name: a stream, a join
// side, a pattern event, a table in an `in` condition, or a query's output.
type source struct {
	stream string   // the stream, table or window it reads, if any
	names  []string // aliases and event references
	attrs  []event.Attribute
	event  bool   // a pattern or sequence event: may be indexed, tested with is null
	absent bool   // an absent state: cannot be referenced
	inner  bool   // an inner stream (#name)
	fault  bool   // a fault stream (!name)
	label  string // how errors name it
}

func (s *source) attr(name string) (event.Attribute, bool) {
	for _, a := range s.attrs {
		if a.Name == name {
			return a, true
		}
	}
	return event.Attribute{}, false
}

// named reports whether the source answers to name (with the # or !
// prefix when inner or fault).
func (s *source) named(name string, inner, fault bool) bool {
	if inner || fault {
		return s.stream == name && s.inner == inner && s.fault == fault
	}
	if s.stream == name && !s.inner && !s.fault {
		return true
	}
	for _, n := range s.names {
		if n == name {
			return true
		}
	}
	return false
}

// ref is the name the source is best referred to by.
func (s *source) ref() string {
	if len(s.names) > 0 {
		return s.names[0]
	}
	return s.stream
}

// scope is what names an expression can see.
type scope struct {
	sources []*source
	current *source // a filter's own stream, searched first
	outputs *source // the query's outputs, for having and order by
	unknown bool    // the input is undefined: do not report missing attributes
	multi   bool    // a join, pattern or sequence: unqualified names must be unique
}

// exprCtx says where an expression stands.
type exprCtx struct {
	sc    *scope
	aggOK bool   // aggregators are allowed
	where string // for messages: "a filter", "a window parameter", ...
}

func (c *checker) expr(e ast.Expr, x exprCtx) event.Type {
	t := c.exprType(e, x)
	if e != nil {
		c.info.Types[e] = t
	}
	return t
}

// boolExpr checks that e is a condition.
func (c *checker) boolExpr(e ast.Expr, x exprCtx) {
	if t := c.expr(e, x); t != event.Bool && t != unknown {
		c.errorf(e.Position(), "%s must be a bool condition, but '%s' is %s", upperFirst(x.where), exprString(e), article(t))
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func article(t event.Type) string {
	switch t {
	case event.Int, event.Object:
		return "an " + t.String()
	}
	return "a " + t.String()
}

func (c *checker) exprType(e ast.Expr, x exprCtx) event.Type {
	switch e := e.(type) {
	case nil:
		return unknown
	case *ast.Constant:
		if e.IsTime {
			return event.Long
		}
		if e.Value.IsNull() {
			c.errorf(e.Pos, "null is not a value in SiddhiQL")
			c.hintf("test for null with 'x is null'")
			return unknown
		}
		return e.Value.Type()
	case *ast.Variable:
		return c.variable(e, x)
	case *ast.Unary:
		t := c.expr(e.X, x)
		switch {
		case t == unknown:
			return unknown
		case e.Op == ast.OpNot && t != event.Bool:
			c.errorf(e.Pos, "'not' needs a bool operand, but '%s' is %s", exprString(e.X), article(t))
			return unknown
		case e.Op == ast.OpNeg && !t.IsNumeric():
			c.errorf(e.Pos, "'-' needs a numeric operand, but '%s' is %s", exprString(e.X), article(t))
			return unknown
		}
		return t
	case *ast.Binary:
		return c.binary(e, x)
	case *ast.IsNull:
		if v, ok := e.X.(*ast.Variable); ok && c.isEventRef(v, x.sc) {
			c.info.Types[v] = event.Object
			return event.Bool
		}
		c.expr(e.X, x)
		return event.Bool
	case *ast.In:
		d := c.defs[e.Source]
		switch {
		case d == nil:
			c.errorf(e.Pos, "'%s' in 'in %s' is not defined", e.Source, e.Source)
			c.didYouMean(e.Source, c.defNames(kindTable, kindWindow))
			c.expr(e.X, x)
			return event.Bool
		case d.kind != kindTable && d.kind != kindWindow:
			c.errorf(e.Pos, "'in %s' needs a table or a named window, but %s is a %s", e.Source, e.Source, d.kind)
		}
		// The condition sees the table's attributes next to the query's.
		inner := *x.sc
		inner.sources = append(append([]*source(nil), x.sc.sources...), &source{stream: d.name, attrs: d.attrs, label: d.kind.String() + " " + d.name})
		c.boolExpr(e.X, exprCtx{sc: &inner, aggOK: x.aggOK, where: "the condition of 'in'"})
		return event.Bool
	case *ast.Call:
		return c.call(e, x)
	}
	return unknown
}

func (c *checker) binary(e *ast.Binary, x exprCtx) event.Type {
	l, r := c.expr(e.X, x), c.expr(e.Y, x)
	if l == unknown || r == unknown {
		if e.Op >= ast.OpEq {
			return event.Bool
		}
		return unknown
	}
	switch e.Op {
	case ast.OpAnd, ast.OpOr:
		for _, side := range []struct {
			x ast.Expr
			t event.Type
		}{{e.X, l}, {e.Y, r}} {
			if side.t != event.Bool {
				c.errorf(side.x.Position(), "'%s' needs bool operands, but '%s' is %s", e.Op, exprString(side.x), article(side.t))
			}
		}
		return event.Bool
	case ast.OpAdd, ast.OpSub, ast.OpMul, ast.OpDiv, ast.OpMod:
		if !l.IsNumeric() || !r.IsNumeric() {
			c.errorf(e.OpPos, "'%s' needs numeric operands, but found %s and %s", e.Op, l, r)
			if l == event.String && r == event.String && e.Op == ast.OpAdd {
				c.hintf("join strings with str:concat(a, b)")
			}
			return unknown
		}
		return widen(l, r)
	case ast.OpLt, ast.OpLe, ast.OpGt, ast.OpGe:
		for _, t := range []event.Type{l, r} {
			if !t.IsNumeric() {
				c.errorf(e.OpPos, "'%s' cannot compare %s values: it needs numbers, but found %s and %s", e.Op, t, l, r)
				return event.Bool
			}
		}
		return event.Bool
	case ast.OpEq, ast.OpNe:
		if !(l.IsNumeric() && r.IsNumeric() || l == r) {
			c.errorf(e.OpPos, "%s cannot be compared with %s", l, r)
			if l.IsNumeric() && r == event.String || l == event.String && r.IsNumeric() {
				c.hintf("convert one side, e.g. convert(x, 'string')")
			}
		}
		return event.Bool
	}
	return unknown
}

// widen returns the type of arithmetic on a and b: the wider of int, long,
// float and double.
func widen(a, b event.Type) event.Type {
	if a > b {
		return a
	}
	return b
}

// isEventRef reports whether v names an input event itself (`e1`, `e1[2]`,
// a join alias) rather than an attribute.
func (c *checker) isEventRef(v *ast.Variable, sc *scope) bool {
	name := v.Name
	if v.Stream != "" {
		if v.Name != "" {
			return false
		}
		name = v.Stream
	} else if v.Index != nil {
		return false
	}
	for _, s := range sc.sources {
		if (s.event || v.Index == nil) && !s.absent && s.named(name, v.Inner, v.Fault) {
			if v.Stream == "" {
				// A plain name is an attribute first.
				for _, t := range sc.sources {
					if _, ok := t.attr(name); ok {
						return false
					}
				}
			}
			return true
		}
	}
	return false
}

func (c *checker) variable(v *ast.Variable, x exprCtx) event.Type {
	sc := x.sc
	if v.Stream != "" || v.Inner || v.Fault {
		var src *source
		for _, s := range sc.sources {
			if s.named(v.Stream, v.Inner, v.Fault) {
				src = s
				break
			}
		}
		if src == nil {
			if sc.unknown {
				return unknown
			}
			c.errorf(v.Pos, "'%s' is not an input of this query", refName(v))
			var names []string
			for _, s := range sc.sources {
				names = append(names, s.names...)
				if s.stream != "" {
					names = append(names, s.stream)
				}
			}
			if s := suggest(v.Stream, names); s != "" {
				c.hintf("did you mean '%s'?", s)
			} else if len(names) > 0 {
				c.hintf("the inputs are %s", quoteList(names))
			}
			return unknown
		}
		if v.Index != nil && !src.event {
			c.errorf(v.Pos, "'%s' is not a pattern or sequence event, so it cannot be indexed", v.Stream)
			return unknown
		}
		if src.absent {
			c.errorf(v.Pos, "'%s' is an absent ('not') state and has no attributes", v.Stream)
			return unknown
		}
		if v.Name == "" {
			return event.Object // the event itself, as in e1 is null
		}
		a, ok := src.attr(v.Name)
		if !ok {
			c.errorf(v.Pos, "attribute '%s' is not defined in %s", v.Name, src.label)
			c.didYouMean(v.Name, attrNames(src.attrs))
			return unknown
		}
		return a.Type
	}
	// An unqualified name: the query's outputs (in having and order by),
	// then the filter's own stream, then every input.
	if sc.outputs != nil {
		if a, ok := sc.outputs.attr(v.Name); ok {
			return a.Type
		}
	}
	if sc.current != nil {
		if a, ok := sc.current.attr(v.Name); ok {
			return a.Type
		}
	}
	var found []*source
	var typ event.Type
	for _, s := range sc.sources {
		if s.absent {
			continue
		}
		if a, ok := s.attr(v.Name); ok {
			found = append(found, s)
			typ = a.Type
		}
	}
	switch {
	case len(found) == 1:
		return typ
	case len(found) > 1:
		if sc.multi {
			c.errorf(v.Pos, "attribute '%s' is ambiguous: it is in both %s and %s", v.Name, found[0].label, found[1].label)
			c.hintf("qualify it, e.g. %s.%s", found[0].ref(), v.Name)
			return unknown
		}
		return typ
	}
	if c.isEventRef(v, sc) {
		return event.Object
	}
	if sc.unknown {
		return unknown
	}
	var all []string
	var where []string
	for _, s := range append(append([]*source(nil), sc.sources...), sc.outputs) {
		if s == nil {
			continue
		}
		all = append(all, attrNames(s.attrs)...)
		where = append(where, s.label)
	}
	if len(where) == 1 {
		c.errorf(v.Pos, "attribute '%s' is not defined in %s", v.Name, where[0])
	} else {
		c.errorf(v.Pos, "attribute '%s' is not defined in any input of this query", v.Name)
	}
	c.didYouMean(v.Name, all)
	return unknown
}

func refName(v *ast.Variable) string {
	prefix := ""
	if v.Inner {
		prefix = "#"
	}
	if v.Fault {
		prefix = "!"
	}
	return prefix + v.Stream
}

func attrNames(attrs []event.Attribute) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.Name
	}
	return out
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

// ---- calls ----

func (c *checker) args(list []ast.Expr, x exprCtx) []Arg {
	args := make([]Arg, len(list))
	for i, a := range list {
		args[i] = Arg{Expr: a, Type: c.expr(a, x)}
		if k, ok := a.(*ast.Constant); ok {
			args[i].Const = k
		}
	}
	return args
}

func (c *checker) call(e *ast.Call, x exprCtx) event.Type {
	name := e.Name
	if e.Namespace != "" {
		name = e.Namespace + ":" + e.Name
	}
	inner := x
	inner.aggOK = false
	inner.where = "an argument of " + name + "()"
	if f, ok := c.funcs[name]; ok && e.Namespace == "" {
		c.args(e.Args, inner)
		return f.ReturnType
	}
	f := c.reg.Func(name)
	if f == nil {
		c.args(e.Args, inner)
		c.errorf(e.Pos, "unknown function '%s'", name)
		switch {
		case c.reg.Window(name) != nil:
			c.hintf("%s is a window: use it as #window.%s(...) after the stream", name, name)
		case c.reg.StreamFunc(name) != nil:
			c.hintf("%s is a stream function: use it as #%s(...) after the stream", name, name)
		default:
			c.didYouMean(name, c.reg.funcNames())
		}
		return unknown
	}
	if f.Aggregate && !x.aggOK {
		c.errorf(e.Pos, "aggregate function %s() is not allowed in %s", name, x.where)
		c.hintf("aggregates belong in select, having and order by")
	}
	args := c.args(e.Args, inner)
	if e.Star {
		args = starArgs(x.sc)
	}
	before := len(c.errs)
	if _, ok := c.matchOverload(e.Pos, "function", name, f.Overloads, args); !ok {
		if e.Star && len(c.errs) > before {
			c.hintf("%s; f(*) passes every attribute of the input", c.errs[len(c.errs)-1].Hint)
		}
		return unknown
	}
	if f.Result == nil {
		return f.Returns
	}
	t, err := f.Result(args)
	if err != nil {
		c.errorf(e.Pos, "%s", err.Error())
		return unknown
	}
	return t
}

// starArgs stands for the arguments of f(*): every attribute of the input.
func starArgs(sc *scope) []Arg {
	var args []Arg
	for _, s := range sc.sources {
		if s.absent {
			continue
		}
		for _, a := range s.attrs {
			args = append(args, Arg{Expr: &ast.Variable{Name: a.Name}, Type: a.Type})
		}
	}
	return args
}

// matchOverload finds the overload the arguments fit and checks its
// literal-only and attribute-only parameters. It reports the error and
// returns false when nothing fits.
func (c *checker) matchOverload(pos ast.Pos, kind, name string, overloads []Overload, args []Arg) (Overload, bool) {
	for _, a := range args {
		if a.Type == unknown {
			return nil, false // already reported
		}
	}
	for _, o := range overloads {
		if !fits(o, args) {
			continue
		}
		ok := true
		for i, a := range args {
			prm := paramAt(o, i)
			switch {
			case prm.Static && a.Const == nil:
				c.errorf(a.Expr.Position(), "%s '%s' expects parameter '%s' (argument %d) to be a literal, but found the expression '%s'", kind, name, prm.Name, i+1, exprString(a.Expr))
				ok = false
			case prm.Var:
				if v, isVar := a.Expr.(*ast.Variable); !isVar || v.Name == "" {
					c.errorf(a.Expr.Position(), "%s '%s' expects parameter '%s' (argument %d) to be an attribute, but found '%s'", kind, name, prm.Name, i+1, exprString(a.Expr))
					ok = false
				}
			}
		}
		return o, ok
	}
	types := make([]string, len(args))
	for i, a := range args {
		types[i] = a.Type.String()
		if a.Const != nil && a.Const.IsTime {
			types[i] = "time"
		}
	}
	want := make([]string, len(overloads))
	for i, o := range overloads {
		want[i] = o.String()
	}
	c.errorf(pos, "%s '%s' does not take (%s)", kind, name, strings.Join(types, ", "))
	c.hintf("it takes %s", strings.Join(want, " or "))
	return nil, false
}

func paramAt(o Overload, i int) Param {
	if i < len(o) {
		return o[i]
	}
	return o[len(o)-1] // the variadic tail
}

// fits reports whether args match o by count and type.
func fits(o Overload, args []Arg) bool {
	variadic := len(o) > 0 && o[len(o)-1].Variadic
	switch {
	case variadic && len(args) < len(o)-1:
		return false
	case !variadic && len(args) != len(o):
		return false
	}
	for i, a := range args {
		isTime := a.Const != nil && a.Const.IsTime
		if !paramAt(o, i).Types.Has(a.Type, isTime) {
			return false
		}
	}
	return true
}

// exprString renders an expression for messages.
func exprString(e ast.Expr) string {
	if e == nil {
		return ""
	}
	return printExpr(e)
}
