package check

import (
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/printer"
)

func printExpr(e ast.Expr) string { return printer.Expr(e) }

// query checks one query and returns its output attributes.
func (c *checker) query(q *ast.Query) []event.Attribute {
	c.queryAnnotations(q)
	sc := c.input(q.Input)
	out := c.selector(q.Select, sc)
	c.rate(q.Rate)
	c.output(q, out, sc)
	c.info.Outputs[q] = &event.Schema{Name: q.Name(), Attrs: out}
	return out
}

// ---- inputs ----

func (c *checker) input(in ast.Input) *scope {
	switch in := in.(type) {
	case *ast.StreamInput:
		return c.singleInput(in)
	case *ast.JoinInput:
		return c.joinInput(in)
	case *ast.StateInput:
		return c.stateInput(in)
	case *ast.AnonymousInput:
		if in.Query == nil {
			return &scope{unknown: true}
		}
		out := c.query(in.Query)
		if in.Query.Output == nil || in.Query.Output.Action != ast.ReturnOutput {
			c.errorf(in.Pos, "an anonymous stream's query must end with 'return'")
		}
		return &scope{sources: []*source{{attrs: out, label: "the anonymous stream"}}}
	}
	c.errorf(ast.Pos{}, "query has no input")
	return &scope{unknown: true}
}

// streamDef finds the definition a stream input names and reports when
// there is none.
func (c *checker) streamSource(s *ast.StreamInput) *def {
	if s.Fault {
		d := c.defs[s.Stream]
		switch {
		case d == nil:
		case d.kind != kindStream || !d.fault:
			c.errorf(s.Pos, "there is no fault stream !%s", s.Stream)
			c.hintf("add @OnError(action='stream') to the definition of %s", s.Stream)
			return nil
		default:
			return &def{kind: kindStream, name: s.Stream, pos: d.pos, attrs: faultAttrs(d.attrs)}
		}
	}
	d := c.lookup(s.Stream, s.Inner)
	if d != nil {
		return d
	}
	prefix := ""
	var names []string
	if s.Inner {
		prefix = "#"
		if c.inner == nil {
			c.errorf(s.Pos, "inner stream #%s can only be used inside a partition", s.Stream)
			return nil
		}
		names = keys(c.inner)
	} else {
		names = c.defNames(kindStream, kindTable, kindWindow, kindAggregation)
	}
	c.errorf(s.Pos, "stream %s%s is not defined", prefix, s.Stream)
	c.didYouMean(s.Stream, names)
	return nil
}

// singleInput checks `from S[...]#window...`.
func (c *checker) singleInput(s *ast.StreamInput) *scope {
	d := c.streamSource(s)
	if d == nil {
		return &scope{unknown: true}
	}
	switch d.kind {
	case kindTable:
		c.errorf(s.Pos, "'%s' is a table, not a stream: read a table with a join or with 'in'", s.Stream)
		c.hintf("e.g. from Other join %s on ...; or on-demand: from %s select ...", s.Stream, s.Stream)
		return &scope{unknown: true}
	case kindAggregation:
		c.errorf(s.Pos, "'%s' is an aggregation, not a stream: read it with a join using 'within ... per ...'", s.Stream)
		return &scope{unknown: true}
	case kindWindow:
		if w := s.Window(); w != nil {
			c.errorf(w.Pos, "'%s' is a named window and cannot take another window", s.Stream)
		}
	}
	src := &source{stream: s.Stream, attrs: d.attrs, inner: s.Inner, fault: s.Fault, label: d.kind.String() + " " + refName(&ast.Variable{Stream: s.Stream, Inner: s.Inner, Fault: s.Fault})}
	if s.Alias != "" {
		src.names = append(src.names, s.Alias)
	}
	sc := &scope{sources: []*source{src}}
	c.handlers(s, src, sc)
	return sc
}

// handlers checks filters, stream functions and the window of a stream
// input, in order: a stream function may add attributes for what follows.
func (c *checker) handlers(s *ast.StreamInput, src *source, sc *scope) {
	for _, h := range s.Handlers {
		hsc := *sc
		hsc.current = src
		switch h.Kind {
		case ast.FilterHandler:
			c.boolExpr(h.Filter, exprCtx{sc: &hsc, where: "a filter"})
		case ast.WindowHandler:
			c.window(h, &hsc)
		case ast.FunctionHandler:
			src.attrs = append(src.attrs[:len(src.attrs):len(src.attrs)], c.streamFunction(h, &hsc)...)
		}
	}
}

func handlerName(h *ast.Handler) string {
	if h.Namespace != "" {
		return h.Namespace + ":" + h.Name
	}
	return h.Name
}

// window checks a window and its parameters.
func (c *checker) window(h *ast.Handler, sc *scope) {
	name := handlerName(h)
	x := exprCtx{sc: sc, where: "a window parameter"}
	w := c.reg.Window(name)
	if w == nil {
		c.args(h.Args, x)
		c.errorf(h.Pos, "unknown window '%s'", name)
		if c.reg.Func(name) != nil {
			c.hintf("%s is a function, not a window", name)
		} else {
			c.didYouMean(name, c.reg.windowNames())
		}
		return
	}
	args := c.args(h.Args, x)
	if _, ok := c.matchOverload(h.Pos, "window", name, w.Overloads, args); ok && w.Validate != nil {
		if err := w.Validate(args); err != nil {
			c.errorf(h.Pos, "%s", err.Error())
		}
	}
}

// streamFunction checks a stream function and returns the attributes it adds.
func (c *checker) streamFunction(h *ast.Handler, sc *scope) []event.Attribute {
	name := handlerName(h)
	x := exprCtx{sc: sc, where: "a stream function parameter"}
	f := c.reg.StreamFunc(name)
	if f == nil {
		c.args(h.Args, x)
		c.errorf(h.Pos, "unknown stream function '%s'", name)
		if c.reg.Window(name) != nil {
			c.hintf("%s is a window: write #window.%s(...)", name, name)
		} else {
			c.didYouMean(name, c.reg.streamNames())
		}
		return nil
	}
	args := c.args(h.Args, x)
	if _, ok := c.matchOverload(h.Pos, "stream function", name, f.Overloads, args); !ok || f.Adds == nil {
		return nil
	}
	return f.Adds(args)
}

// joinSide checks one side of a join.
func (c *checker) joinSide(s *ast.StreamInput) (*source, *def) {
	d := c.streamSource(s)
	if d == nil {
		return nil, nil
	}
	if w := s.Window(); w != nil && d.kind != kindStream {
		c.errorf(w.Pos, "'%s' is a %s and cannot take a window in a join", s.Stream, d.kind)
	}
	src := &source{stream: s.Stream, attrs: d.attrs, inner: s.Inner, fault: s.Fault, label: d.kind.String() + " " + s.Stream}
	if s.Alias != "" {
		src.names = []string{s.Alias}
		src.label = d.kind.String() + " " + s.Stream + " (as " + s.Alias + ")"
	}
	return src, d
}

func (c *checker) joinInput(j *ast.JoinInput) *scope {
	lsrc, ld := c.joinSide(j.Left)
	rsrc, rd := c.joinSide(j.Right)
	if lsrc == nil || rsrc == nil {
		sc := &scope{unknown: true, multi: true}
		for _, s := range []*source{lsrc, rsrc} {
			if s != nil {
				sc.sources = append(sc.sources, s)
			}
		}
		return sc
	}
	if j.Left.Ref() == j.Right.Ref() {
		c.errorf(j.Right.Pos, "both sides of the join are called '%s'", j.Right.Ref())
		c.hintf("name them apart with 'as', e.g. %s as a join %s as b", j.Left.Stream, j.Right.Stream)
	}
	sc := &scope{sources: []*source{lsrc, rsrc}, multi: true}
	// Filters and windows see their own side (and may use its attributes
	// unqualified).
	for i, s := range []*ast.StreamInput{j.Left, j.Right} {
		side := sc.sources[i]
		c.handlers(s, side, &scope{sources: []*source{side}})
	}
	isAgg := func(d *def) bool { return d.kind == kindAggregation }
	streamLike := func(d *def) bool { return d.kind == kindStream || d.kind == kindWindow }
	switch {
	case !streamLike(ld) && !streamLike(rd):
		c.errorf(j.KindPos, "a join needs a stream or a named window on at least one side, but %s is a %s and %s is a %s", ld.name, ld.kind, rd.name, rd.kind)
	case (isAgg(ld) || isAgg(rd)) && (j.Within == nil || j.Per == nil):
		c.errorf(j.KindPos, "a join with an aggregation needs 'within <start>, <end> per <granularity>'")
		c.hintf("e.g. within '2024-01-01 00:00:00', '2024-12-31 23:59:59' per 'days'")
	case !isAgg(ld) && !isAgg(rd) && j.Within != nil:
		c.errorf(j.Within.Position(), "'within ... per ...' is only for joins with an aggregation")
	}
	if j.Unidirectional == ast.LeftSide && !streamLike(ld) || j.Unidirectional == ast.RightSide && !streamLike(rd) {
		c.errorf(j.KindPos, "only a stream or window side of a join can be unidirectional")
	}
	if j.On != nil {
		c.boolExpr(j.On, exprCtx{sc: sc, where: "the join condition"})
	}
	// within and per read the stream side only.
	streamSide := &scope{multi: true}
	for i, d := range []*def{ld, rd} {
		if !isAgg(d) {
			streamSide.sources = append(streamSide.sources, sc.sources[i])
		}
	}
	for _, e := range []ast.Expr{j.Within, j.WithinEnd} {
		if e == nil {
			continue
		}
		if t := c.expr(e, exprCtx{sc: streamSide, where: "'within'"}); t != unknown && t != event.String && t != event.Long {
			c.errorf(e.Position(), "'within' needs a string such as '2024-01-** **:**:**' or a long timestamp, but found %s", article(t))
		}
	}
	if j.Per != nil {
		c.per(j.Per, streamSide)
	}
	return sc
}

// perValues are the granularities `per` accepts.
var perValues = []string{"seconds", "minutes", "hours", "days", "months", "years"}

// perSpellings are the other spellings of perValues Siddhi accepts.
var perSpellings = []string{"sec", "second", "min", "minute", "hour", "day", "month", "year"}

func (c *checker) per(e ast.Expr, sc *scope) {
	t := c.expr(e, exprCtx{sc: sc, where: "'per'"})
	if t != unknown && t != event.String {
		c.errorf(e.Position(), "'per' needs a string such as 'days', but found %s", article(t))
		return
	}
	if k, ok := e.(*ast.Constant); ok {
		v := strings.ToLower(k.Value.Str())
		for _, p := range append(perValues, perSpellings...) {
			if v == p {
				return
			}
		}
		c.errorf(e.Position(), "'per' must be one of %s, but found '%s'", quoteList(perValues), k.Value.Str())
		c.didYouMean(v, perValues)
	}
}

// stateInput checks a pattern or sequence.
func (c *checker) stateInput(in *ast.StateInput) *scope {
	sc := &scope{multi: true}
	type stateSrc struct {
		input *ast.StreamInput
		src   *source
	}
	var states []stateSrc
	var walk func(s ast.StateElement)
	walk = func(s ast.StateElement) {
		switch s := s.(type) {
		case *ast.StreamState:
			d := c.streamSource(s.Input)
			if d == nil {
				sc.unknown = true
				return
			}
			if d.kind != kindStream {
				c.errorf(s.Input.Pos, "'%s' is a %s: patterns and sequences read streams only", s.Input.Stream, d.kind)
				sc.unknown = true
				return
			}
			src := &source{stream: s.Input.Stream, attrs: d.attrs, event: true, inner: s.Input.Inner, fault: s.Input.Fault, label: "stream " + s.Input.Stream}
			if s.Ref != "" {
				src.names = []string{s.Ref}
				src.label = "event " + s.Ref + " (stream " + s.Input.Stream + ")"
			}
			if s.Count != nil && s.Count.Max == 0 {
				c.errorf(s.Pos, "count <%d:%d> never matches an event", s.Count.Min, s.Count.Max)
			}
			sc.sources = append(sc.sources, src)
			states = append(states, stateSrc{s.Input, src})
		case *ast.AbsentState:
			d := c.streamSource(s.Input)
			if d == nil {
				sc.unknown = true
				return
			}
			src := &source{stream: s.Input.Stream, attrs: d.attrs, absent: true, inner: s.Input.Inner, label: "absent stream " + s.Input.Stream}
			states = append(states, stateSrc{s.Input, src})
			if s.For != nil {
				if k, ok := s.For.(*ast.Constant); ok && k.Value.Int() <= 0 {
					c.errorf(s.For.Position(), "'for' needs a positive time")
				}
			}
		case *ast.LogicalState:
			walk(s.X)
			walk(s.Y)
			_, xa := s.X.(*ast.AbsentState)
			_, ya := s.Y.(*ast.AbsentState)
			if s.Op == ast.OpOr && (xa && s.X.(*ast.AbsentState).For == nil || ya && s.Y.(*ast.AbsentState).For == nil) {
				c.errorf(s.Pos, "'or' with an absent state needs 'for <time>' on it")
			}
		case *ast.NextState:
			for _, x := range s.States {
				walk(x)
			}
		case *ast.EveryState:
			walk(s.X)
		}
	}
	walk(in.State)
	if a, ok := in.State.(*ast.AbsentState); ok && a.For == nil {
		c.errorf(a.Pos, "an absent state on its own needs 'for <time>'")
	}
	// Filters see every event of the pattern, their own stream first.
	for _, st := range states {
		own := *st.src
		own.absent = false
		hsc := *sc
		hsc.current = &own
		for _, h := range st.input.Handlers {
			switch h.Kind {
			case ast.FilterHandler:
				c.boolExpr(h.Filter, exprCtx{sc: &hsc, where: "a filter"})
			case ast.FunctionHandler:
				st.src.attrs = append(st.src.attrs[:len(st.src.attrs):len(st.src.attrs)], c.streamFunction(h, &hsc)...)
			}
		}
	}
	return sc
}

// ---- selection ----

// selector checks the select clause and returns the output attributes.
func (c *checker) selector(sel *ast.Selector, sc *scope) []event.Attribute {
	if sel == nil {
		return c.starAttrs(ast.Pos{}, sc)
	}
	var out []event.Attribute
	if sel.Star && len(sel.Items) == 0 {
		out = c.starAttrs(sel.Pos, sc)
	}
	seen := map[string]ast.Pos{}
	for _, item := range sel.Items {
		t := c.expr(item.Expr, exprCtx{sc: sc, aggOK: true, where: "select"})
		if p, dup := seen[item.Name]; dup {
			c.errorf(item.Pos, "output attribute '%s' is already selected at %s", item.Name, p)
			c.hintf("rename one with 'as'")
		}
		seen[item.Name] = item.Pos
		out = append(out, event.Attribute{Name: item.Name, Type: t})
	}
	for _, g := range sel.GroupBy {
		c.expr(g, exprCtx{sc: sc, where: "group by"})
	}
	withOut := *sc
	withOut.outputs = &source{attrs: out, label: "the query's output"}
	if sel.Having != nil {
		c.boolExpr(sel.Having, exprCtx{sc: &withOut, aggOK: true, where: "having"})
	}
	for _, o := range sel.OrderBy {
		c.expr(o.Var, exprCtx{sc: &withOut, where: "order by"})
	}
	c.bound(sel.Limit, "limit")
	c.bound(sel.Offset, "offset")
	return out
}

// bound checks a limit or offset: a non-negative int or long literal.
func (c *checker) bound(e ast.Expr, what string) {
	if e == nil {
		return
	}
	k, ok := e.(*ast.Constant)
	if !ok || k.IsTime || (k.Value.Type() != event.Int && k.Value.Type() != event.Long) {
		c.errorf(e.Position(), "'%s' needs an int or long literal", what)
		return
	}
	c.info.Types[e] = k.Value.Type()
	if k.Value.Int() < 0 {
		c.errorf(e.Position(), "'%s' cannot be negative, but found %d", what, k.Value.Int())
	}
}

// starAttrs returns what `select *` selects: every attribute of every input.
func (c *checker) starAttrs(pos ast.Pos, sc *scope) []event.Attribute {
	var out []event.Attribute
	from := map[string]*source{}
	for _, s := range sc.sources {
		if s.absent {
			continue
		}
		for _, a := range s.attrs {
			if other, dup := from[a.Name]; dup {
				c.errorf(pos, "select * would output attribute '%s' twice, from %s and %s", a.Name, other.label, s.label)
				c.hintf("list the attributes and rename one with 'as'")
				return out
			}
			from[a.Name] = s
			out = append(out, a)
		}
	}
	return out
}

func (c *checker) rate(r *ast.OutputRate) {
	if r == nil {
		return
	}
	switch {
	case r.Time != nil && r.Time.Value.Int() <= 0:
		c.errorf(r.Time.Pos, "output rate interval must be positive")
	case r.Time == nil && r.Events <= 0:
		c.errorf(r.Pos, "output rate must be at least 1 event")
	}
}

// ---- outputs ----

func (c *checker) output(q *ast.Query, out []event.Attribute, sc *scope) {
	o := q.Output
	if o == nil {
		c.errorf(q.Pos, "query has no output")
		return
	}

	switch o.Action {
	case ast.ReturnOutput:
		return
	case ast.InsertOutput:
		c.insertInto(o, out)
	case ast.DeleteOutput, ast.UpdateOutput, ast.UpdateOrInsertOutput:
		d := c.defs[o.Stream]
		if o.Inner || o.Fault || d == nil || d.kind != kindTable {
			c.errorf(o.Pos, "'%s' is not a table: only tables can be updated or deleted from", targetName(o))
			if d == nil {
				c.didYouMean(o.Stream, c.defNames(kindTable))
			}
			return
		}
		if o.Action == ast.UpdateOrInsertOutput && !matches(out, d.attrs) {
			c.errorf(o.Pos, "update or insert needs the query's output %s to match table %s %s", attrList(out), d.name, attrList(d.attrs))
		}
		c.tableAction(o, out, d)
	}
}

// matches reports whether a query's output fits a definition's attributes.
// An output with an attribute of unknown type (an error reported already)
// fits anything, so that one mistake is reported once.
func matches(out, want []event.Attribute) bool {
	for _, a := range out {
		if a.Type == unknown {
			return true
		}
	}
	return sameAttrs(out, want)
}

func targetName(o *ast.Output) string {
	return refName(&ast.Variable{Stream: o.Stream, Inner: o.Inner, Fault: o.Fault})
}

// tableAction checks the set clause and the on condition of delete and
// update: they see the table (by its name) and the query's output.
func (c *checker) tableAction(o *ast.Output, out []event.Attribute, d *def) {
	table := &source{stream: d.name, attrs: d.attrs, label: "table " + d.name}
	outSrc := &source{attrs: out, label: "the query's output"}
	sc := &scope{sources: []*source{table}, current: outSrc}
	for _, s := range o.Set {
		tsc := &scope{sources: []*source{table}}
		if s.Attr.Stream != "" && s.Attr.Stream != d.name {
			c.errorf(s.Attr.Pos, "set can only assign attributes of table %s", d.name)
		} else {
			c.expr(s.Attr, exprCtx{sc: tsc, where: "set"})
		}
		c.expr(s.Value, exprCtx{sc: sc, where: "set"})
	}
	if o.On != nil {
		c.boolExpr(o.On, exprCtx{sc: sc, where: "the 'on' condition"})
	}
}

// insertInto checks `insert into X`: it defines X when nothing else does,
// and must match X's attributes otherwise.
func (c *checker) insertInto(o *ast.Output, out []event.Attribute) {
	switch {
	case o.Inner:
		if c.inner == nil {
			c.errorf(o.Pos, "inner stream #%s can only be used inside a partition", o.Stream)
			return
		}
		if d := c.inner[o.Stream]; d != nil {
			if !matches(out, d.attrs) {
				c.errorf(o.Pos, "query output %s does not match inner stream #%s %s defined at %s", attrList(out), o.Stream, attrList(d.attrs), d.pos)
			}
			return
		}
		c.inner[o.Stream] = &def{kind: kindStream, name: o.Stream, pos: o.Pos, attrs: out, inferred: true}
		return
	case o.Fault:
		d := c.defs[o.Stream]
		if d == nil || d.kind != kindStream || !d.fault {
			c.errorf(o.Pos, "there is no fault stream !%s", o.Stream)
			c.hintf("add @OnError(action='stream') to the definition of %s", o.Stream)
			return
		}
		if want := faultAttrs(d.attrs); !matches(out, want) {
			c.errorf(o.Pos, "query output %s does not match fault stream !%s %s", attrList(out), o.Stream, attrList(want))
		}
		return
	}
	d := c.defs[o.Stream]
	if d == nil {
		c.defs[o.Stream] = &def{kind: kindStream, name: o.Stream, pos: o.Pos, attrs: out, inferred: true}
		return
	}
	if d.kind == kindAggregation {
		c.errorf(o.Pos, "cannot insert into aggregation %s", o.Stream)
		return
	}
	if !matches(out, d.attrs) {
		c.errorf(o.Pos, "query output %s does not match %s", attrList(out), d.describe())
		if d.inferred {
			c.hintf("another query at %s already inserts %s into %s", d.pos, attrList(d.attrs), d.name)
		} else {
			c.hintf("%s is defined at %s; select the same attributes, with the same names and types, in the same order", d.name, d.pos)
		}
	}
}

// ---- partitions ----

func (c *checker) partition(pt *ast.Partition) {
	for _, a := range pt.Annotations {
		c.commonAnnotation(a)
	}
	seen := map[string]bool{}
	for _, k := range pt.With {
		d := c.defs[k.Stream]
		if d == nil {
			c.errorf(k.Pos, "stream %s is not defined", k.Stream)
			c.didYouMean(k.Stream, c.defNames(kindStream))
			continue
		}
		if d.kind != kindStream {
			c.errorf(k.Pos, "'%s' is a %s: only streams can be partitioned", k.Stream, d.kind)
			continue
		}
		if seen[k.Stream] {
			c.errorf(k.Pos, "stream %s is partitioned twice", k.Stream)
		}
		seen[k.Stream] = true
		sc := &scope{sources: []*source{{stream: k.Stream, attrs: d.attrs, label: "stream " + k.Stream}}}
		if k.Value != nil {
			c.expr(k.Value, exprCtx{sc: sc, where: "a partition key"})
		}
		labels := map[string]bool{}
		for _, r := range k.Ranges {
			c.boolExpr(r.Cond, exprCtx{sc: sc, where: "a range partition condition"})
			if labels[r.Label] {
				c.errorf(r.Pos, "range label '%s' is used twice", r.Label)
			}
			labels[r.Label] = true
		}
	}
	c.inner, c.innerMade, c.part = map[string]*def{}, map[string]bool{}, pt
	defer func() { c.inner, c.innerMade, c.part = nil, nil, nil }()
	var pending []ast.Node
	for _, q := range pt.Queries {
		c.collectProduced(q, c.innerMade)
		pending = append(pending, q)
	}
	c.runDeferred(pending, c.ready, func(n ast.Node) { c.query(n.(*ast.Query)) })
	inner := map[string]*event.Schema{}
	for name, d := range c.inner {
		inner[name] = &event.Schema{Name: "#" + name, Attrs: d.attrs}
	}
	c.info.Inner[pt] = inner
}

// ---- aggregations ----

// incremental lists the aggregators an incremental aggregation supports.
var incremental = map[string]bool{"sum": true, "count": true, "avg": true, "min": true, "max": true, "distinctCount": true}

func (c *checker) aggregationDef(a *ast.AggregationDef) {
	d := c.define(&def{kind: kindAggregation, name: a.Name, pos: a.Pos, agg: a})
	if d.agg != a {
		return
	}
	c.aggregationAnnotations(a)
	in := c.defs[a.Input.Stream]
	if in == nil || a.Input.Inner || a.Input.Fault {
		c.errorf(a.Input.Pos, "stream %s is not defined", a.Input.Stream)
		c.didYouMean(a.Input.Stream, c.defNames(kindStream))
		d.attrs = []event.Attribute{{Name: "AGG_TIMESTAMP", Type: event.Long}}
		return
	}
	if in.kind != kindStream {
		c.errorf(a.Input.Pos, "'%s' is a %s: an aggregation reads a stream", a.Input.Stream, in.kind)
	}
	src := &source{stream: a.Input.Stream, attrs: in.attrs, label: "stream " + a.Input.Stream}
	sc := &scope{sources: []*source{src}}
	c.handlers(a.Input, src, sc)
	ast.Inspect(a.Select, func(n ast.Node) bool {
		if call, ok := n.(*ast.Call); ok && call.Namespace == "" {
			if f := c.reg.Func(call.Name); f != nil && f.Aggregate && !incremental[call.Name] {
				c.errorf(call.Pos, "%s() cannot be used in an aggregation definition", call.Name)
				c.hintf("incremental aggregations support sum, count, avg, min, max and distinctCount")
			}
		}
		return true
	})
	out := c.selector(a.Select, sc)
	d.attrs = append([]event.Attribute{{Name: "AGG_TIMESTAMP", Type: event.Long}}, out...)
	if a.AggregateBy != nil {
		if t := c.expr(a.AggregateBy, exprCtx{sc: sc, where: "aggregate by"}); t != unknown && t != event.Long && t != event.String {
			c.errorf(a.AggregateBy.Pos, "'aggregate by' needs a long timestamp or a string time, but '%s' is %s", exprString(a.AggregateBy), article(t))
		}
	}
	if len(a.Every) == 0 {
		c.errorf(a.Pos, "aggregation %s has no durations", a.Name)
	}
	for i := 1; i < len(a.Every); i++ {
		if a.Every[i] <= a.Every[i-1] {
			c.errorf(a.Pos, "aggregation durations must go from the smallest to the largest without repeats, but %s follows %s", a.Every[i], a.Every[i-1])
			break
		}
	}
}

// ---- on-demand queries ----

func (c *checker) onDemand(q *ast.OnDemandQuery) {
	var sc *scope
	switch {
	case q.Input != nil:
		in := q.Input
		d := c.defs[in.Source]
		if d == nil {
			c.errorf(in.Pos, "'%s' is not defined", in.Source)
			c.didYouMean(in.Source, c.defNames(kindTable, kindWindow, kindAggregation))
			sc = &scope{unknown: true}
			break
		}
		if d.kind == kindStream {
			c.errorf(in.Pos, "'%s' is a stream: on-demand queries read tables, named windows and aggregations", in.Source)
			sc = &scope{unknown: true}
			break
		}
		src := &source{stream: in.Source, attrs: d.attrs, label: d.kind.String() + " " + in.Source}
		if in.Alias != "" {
			src.names = append(src.names, in.Alias)
		}
		sc = &scope{sources: []*source{src}}
		if in.On != nil {
			c.boolExpr(in.On, exprCtx{sc: sc, where: "the 'on' condition"})
		}
		switch {
		case d.kind == kindAggregation && (in.Within == nil || in.Per == nil):
			c.errorf(in.Pos, "an on-demand query on an aggregation needs 'within ... per ...'")
		case d.kind != kindAggregation && in.Within != nil:
			c.errorf(in.Within.Position(), "'within ... per ...' is only for aggregations")
		}
		for _, e := range []ast.Expr{in.Within, in.WithinEnd} {
			if e != nil {
				c.expr(e, exprCtx{sc: &scope{}, where: "'within'"})
			}
		}
		if in.Per != nil {
			c.per(in.Per, &scope{})
		}
	default:
		sc = &scope{}
	}
	var out []event.Attribute
	if q.Select != nil {
		out = c.selector(q.Select, sc)
	} else if q.Input != nil {
		out = c.starAttrs(q.Pos, sc)
	}
	if o := q.Output; o != nil {
		if d := c.defs[o.Stream]; o.Action == ast.InsertOutput && (d == nil || d.kind != kindTable || o.Inner || o.Fault) {
			c.errorf(o.Pos, "'%s' is not a table: an on-demand query inserts into a table", targetName(o))
			c.didYouMean(o.Stream, c.defNames(kindTable))
			return
		}
		fake := &ast.Query{Pos: q.Pos, Output: o}
		c.output(fake, out, sc)
	}
}
