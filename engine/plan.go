package engine

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// planner turns an app's syntax tree into a Runtime, collecting every error
// it finds instead of stopping at the first.
type planner struct {
	file string
	errs ast.ErrorList
	r    *Runtime
	// shape accumulates a description of the plan's stateful parts; its hash
	// lets Restore reject a snapshot taken from a different app.
	shape strings.Builder
}

func (p *planner) errorf(pos ast.Pos, format string, args ...any) {
	p.errs.Add(p.file, pos, fmt.Sprintf(format, args...))
}

func plan(app *ast.App) (*Runtime, error) {
	p := &planner{file: app.File}
	r := &Runtime{
		app:     app,
		name:    app.Name(),
		byName:  make(map[string]*stream),
		byQuery: make(map[string]*query),
	}
	p.r = r
	for _, d := range app.Streams {
		p.defineStream(d)
	}
	for _, an := range app.Annotations {
		if an != nil && strings.EqualFold(an.Name, "app:playback") {
			p.playback(an)
		}
	}
	// What the engine does not run yet is refused up front, by name.
	for _, d := range app.Tables {
		p.errorf(d.Pos, "define table (%s) is not supported", d.Name)
	}
	for _, d := range app.Aggregations {
		p.errorf(d.Pos, "define aggregation (%s) is not supported", d.Name)
	}
	for _, d := range app.Functions {
		p.errorf(d.Pos, "define function (%s) is not supported", d.Name)
	}
	for _, d := range app.Partitions {
		p.errorf(d.Pos, "partition is not supported")
	}
	r.ndef = len(r.streams)
	for _, d := range app.Streams {
		p.faultStream(d)
	}
	for _, d := range app.Windows {
		p.defineWindow(d)
	}
	for _, d := range app.Triggers {
		p.defineTrigger(d)
	}
	for _, q := range app.Queries {
		p.planQuery(q)
	}
	if len(p.errs) == 0 {
		p.checkCycles()
	}
	if err := p.errs.Err(); err != nil {
		return nil, err
	}
	if r.uuids {
		p.shape.WriteString("uuid")
	}
	h := fnv.New64a()
	h.Write([]byte(p.shape.String()))
	r.shape = h.Sum64()
	return r, nil
}

func (p *planner) defineStream(d *ast.StreamDef) {
	if d == nil {
		return
	}
	if _, dup := p.r.byName[d.Name]; dup {
		p.errorf(d.Pos, "stream %s is already defined", d.Name)
		return
	}
	// A stream with a bad attribute is still defined, so that queries
	// reading it report only their own errors.
	sch, _ := p.schemaOf(d.Name, d.Attrs, d.Pos)
	if sch == nil {
		return
	}
	s := &stream{schema: sch, width: len(sch.Attrs), id: len(p.r.streams), defined: true}
	p.r.streams = append(p.r.streams, s)
	p.r.byName[d.Name] = s
}

// schemaOf checks the attributes of a definition.
func (p *planner) schemaOf(name string, attrs []*ast.AttrDef, pos ast.Pos) (*event.Schema, bool) {
	if name == "" {
		p.errorf(pos, "definition without a name")
		return nil, false
	}
	sch := &event.Schema{Name: name}
	seen := make(map[string]bool)
	ok := true
	for _, a := range attrs {
		if a == nil {
			continue
		}
		if seen[a.Name] {
			p.errorf(a.Pos, "attribute %s is defined twice in %s", a.Name, name)
			ok = false
			continue
		}
		seen[a.Name] = true
		if a.Type == event.Null || a.Type > event.Object {
			p.errorf(a.Pos, "attribute %s of %s has no valid type", a.Name, name)
			ok = false
			continue
		}
		sch.Attrs = append(sch.Attrs, event.Attribute{Name: a.Name, Type: a.Type})
	}
	return sch, ok
}

// playback checks @app:playback(idle.time='...', increment='...'). The engine
// always runs on event time, so playback needs nothing more; the idle-time
// heartbeat, which reads the wall clock, is the host's business.
func (p *planner) playback(an *ast.Annotation) {
	p.r.playback = true
	for _, e := range an.Elements {
		switch k := strings.ToLower(e.Key); k {
		case "idle.time", "increment":
			d, ok := parseDuration(e.Value)
			if !ok {
				p.errorf(e.Pos, "invalid %s constant '%s' in playback annotation", e.Key, e.Value)
			}
			if k == "idle.time" {
				p.r.idle = d
			} else {
				p.r.increment = d
			}
		default:
			p.errorf(e.Pos, "unknown playback annotation element '%s'", e.Key)
		}
	}
}

// parseDuration parses a SiddhiQL time constant written in an annotation,
// such as '100 millisecond' or '2 sec', into milliseconds.
func parseDuration(s string) (int64, bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[string]int64{
		"millisec": 1, "millisecs": 1, "millisecond": 1, "milliseconds": 1, "ms": 1,
		"sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
		"min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000,
		"hour": 3_600_000, "hours": 3_600_000,
		"day": 86_400_000, "days": 86_400_000,
		"week": 604_800_000, "weeks": 604_800_000,
		"month": 2_592_000_000, "months": 2_592_000_000,
		"year": 31_536_000_000, "years": 31_536_000_000,
	}[strings.ToLower(f[1])]
	if unit == 0 || n > math.MaxInt64/unit {
		return 0, false
	}
	return n * unit, true
}

// scope is what names in an expression can refer to.
type scope struct {
	in      *event.Schema
	names   []string       // stream name and alias the input can be qualified with
	out     *event.Schema  // output attributes (having only)
	aggs    *[]*aggregator // where aggregate calls are collected; nil: not allowed
	sliding bool           // the query has a sliding window (min/max track removals)
	used    []bool         // when set, marks the input attributes referenced
	context string         // for messages: "filter", "select", ...
	// winExpr: an expression window's condition, where first.x and last.x
	// name the window's first and newest events.
	winExpr bool
	// sides: the two inputs of a join, whose attributes make up in.
	sides []joinRef
}

func (p *planner) planQuery(aq *ast.Query) {
	if aq == nil {
		return
	}
	r := p.r
	q := &query{rt: r, name: aq.Name(), index: len(r.queries), pos: aq.Pos}
	if q.name != "" {
		if _, dup := r.byQuery[q.name]; dup {
			p.errorf(aq.Pos, "query %s is defined twice", q.name)
		}
	}
	if j, ok := aq.Input.(*ast.JoinInput); ok && j != nil {
		p.planJoin(aq, q, j)
		return
	}
	in, ok := aq.Input.(*ast.StreamInput)
	if !ok || in == nil {
		what := "this input"
		switch aq.Input.(type) {
		case *ast.StateInput:
			what = "pattern and sequence"
		case *ast.AnonymousInput:
			what = "anonymous stream"
		}
		p.errorf(aq.Pos, "%s queries are not supported: only queries over a single stream", what)
		return
	}
	if in.Inner {
		p.errorf(in.Pos, "inner streams are not supported outside partitions")
		return
	}
	outName, ok := p.outputName(aq)
	if !ok {
		return
	}
	srcName := in.Stream
	if in.Fault {
		srcName = "!" + in.Stream
	}
	src, ok := r.byName[srcName]
	if !ok {
		if in.Fault {
			if _, defined := r.byName[in.Stream]; defined {
				p.errorf(in.Pos, "stream %s has no fault stream: add @OnError(action='stream') to its definition", in.Stream)
				return
			}
		}
		p.errorf(in.Pos, "stream %s is not defined", in.Stream)
		return
	}
	sc := &scope{in: src.schema, names: []string{in.Stream}, sliding: src.slide}
	if in.Alias != "" {
		sc.names = append(sc.names, in.Alias)
	}
	fmt.Fprintf(&p.shape, "q%d(", q.index)
	failed := len(p.errs)
	var spec *windowSpec
	var postFilters []*ast.Handler
	expiredOn := aq.Output != nil && aq.Output.Events != ast.CurrentEvents
	sc.sliding = sc.sliding || expiredOn
	for _, h := range in.Handlers {
		if h == nil {
			continue
		}
		switch h.Kind {
		case ast.FilterHandler:
			if spec != nil {
				postFilters = append(postFilters, h)
				continue
			}
			if f := p.filter(h, sc); f != nil {
				q.pre = append(q.pre, f)
			}
		case ast.WindowHandler:
			if spec != nil {
				p.errorf(h.Pos, "a query can have only one window")
				continue
			}
			if src.win != nil {
				p.errorf(h.Pos, "cannot apply window.%s to %s, which is a window itself", h.Name, in.Stream)
				continue
			}
			spec = p.planWindow(h, sc, expiredOn)
			if spec == nil {
				// Keep planning the rest against the unwindowed input, so
				// that its errors are reported too.
				continue
			}
			sc.sliding = spec.sliding() || expiredOn || src.slide
		case ast.FunctionHandler:
			if spec != nil {
				postFilters = append(postFilters, h)
				continue
			}
			if f := p.streamFunction(h, sc, false); f != nil {
				q.pre = append(q.pre, f)
			}
		}
	}
	// Everything after the window reads the events the window stores. Plan
	// it once to learn which attributes it reads; when that is not all of
	// them, the window stores only those (less to copy and to keep) and the
	// rest is planned again against that narrower row.
	in0 := sc.in // the window's input: the stream with what stream functions added
	sc.used = make([]bool, len(in0.Attrs))
	post, sel := p.planAfterWindow(aq, postFilters, sc)
	if sel == nil || len(p.errs) > failed {
		return
	}
	if spec != nil {
		if spec.tsCol >= 0 {
			sc.used[spec.tsCol] = true
		}
		if spec.all {
			for i := range sc.used {
				sc.used[i] = true
			}
		}
		var cols []int
		for i, u := range sc.used {
			if u {
				cols = append(cols, i)
			}
		}
		stored := in0
		if len(cols) < len(in0.Attrs) {
			stored = &event.Schema{Name: in0.Name}
			for _, c := range cols {
				stored.Attrs = append(stored.Attrs, in0.Attrs[c])
			}
			nsc := *sc
			nsc.in, nsc.used = stored, nil
			post, sel = p.planAfterWindow(aq, postFilters, &nsc)
			if sel == nil || len(p.errs) > failed {
				return
			}
		} else {
			cols = nil
		}
		tsCol := spec.tsCol
		for j, c := range cols {
			if c == spec.tsCol {
				tsCol = j
			}
		}
		q.win = spec.build(p, stored, cols, tsCol)
		fmt.Fprintf(&p.shape, "%s%d/%d,", spec.name, spec.n, len(stored.Attrs))
	}
	q.post = post
	q.afterWindowFn = q.afterWindow
	q.emitFn = q.emit
	q.sel = sel
	fmt.Fprintf(&p.shape, "aggs%d,group%v)", len(sel.aggs), sel.groups != nil)

	if !p.planOutput(aq, q, sc, sel, outName, spec != nil) {
		return
	}
	// A named window's readers get expired events too, which the stateless
	// path does not tell apart.
	extends := false
	for _, f := range q.pre {
		extends = extends || f.extend != nil
	}
	q.stateless = q.win == nil && src.win == nil && q.rate == nil && !extends && len(sel.aggs) == 0 && sel.groups == nil &&
		sel.order == nil && sel.limit < 0 && sel.offset < 0 && sel.currentOn
	for _, f := range q.pre {
		if extends {
			break // the fused condition serves the stateless path only
		}
		if q.cond == nil {
			q.cond = f.cond
			continue
		}
		a, b := q.cond, f.cond
		q.cond = func(fr *frame) bool { return a(fr) && b(fr) }
	}
	sel.inCols, sel.inSpan = []int{}, -1
	for _, it := range sel.items {
		if it.src != fromIn {
			sel.inCols = nil
			break
		}
		sel.inCols = append(sel.inCols, it.col)
	}
	if len(sel.inCols) > 0 {
		sel.inSpan = sel.inCols[0]
		for k, c := range sel.inCols {
			if c != sel.inSpan+k {
				sel.inSpan = -1
				break
			}
		}
	}
	src.queries = append(src.queries, q)
	r.queries = append(r.queries, q)
	if q.win != nil && hasTimers(q.win) || q.rate != nil {
		r.timed = append(r.timed, q)
	}
	if q.name != "" {
		r.byQuery[q.name] = q
	}
}

// planOutput plans what a query outputs: which events, the output rate and
// the target stream, which it defines when it is new.
func (p *planner) planOutput(aq *ast.Query, q *query, sc *scope, sel *selector, outName string, windowed bool) bool {
	r := p.r
	if aq.Output == nil || aq.Output.Stream == "" {
		p.errorf(aq.Pos, "query has no output stream")
		return false
	}
	outSchema := &event.Schema{Name: outName}
	outSchema.Attrs = append(outSchema.Attrs, selItems(aq, sc, sel)...)
	switch aq.Output.Events {
	case ast.CurrentEvents:
		sel.currentOn = true
	case ast.ExpiredEvents:
		sel.expiredOn = true
	default:
		sel.currentOn, sel.expiredOn = true, true
	}
	if aq.Rate != nil {
		q.rate = p.planRate(aq, windowed, sel, outSchema)
		if q.rate == nil {
			return false
		}
	}
	if t, ok := r.byName[outName]; ok {
		if !sameTypes(t.schema, outSchema) {
			p.errorf(aq.Output.Pos, "query output (%s) does not match stream %s (%s)",
				describe(outSchema), t.schema.Name, describe(t.schema))
			return false
		}
		q.target = t
	} else {
		t := &stream{schema: outSchema, width: len(outSchema.Attrs), id: len(r.streams)}
		r.streams = append(r.streams, t)
		r.byName[outSchema.Name] = t
		q.target = t
	}
	return true
}

// outputName returns the stream a query inserts into ("!S" for a fault
// stream), or false after reporting why it cannot.
func (p *planner) outputName(aq *ast.Query) (string, bool) {
	o := aq.Output
	if o == nil {
		return "", true
	}
	if o.Action != ast.InsertOutput {
		p.errorf(o.Pos, "only 'insert into' outputs are supported")
		return "", false
	}
	if o.Inner {
		p.errorf(o.Pos, "inner streams are not supported outside partitions")
		return "", false
	}
	if !o.Fault {
		return o.Stream, true
	}
	name := "!" + o.Stream
	if _, ok := p.r.byName[name]; !ok {
		p.errorf(o.Pos, "stream %s has no fault stream: add @OnError(action='stream') to its definition", o.Stream)
		return "", false
	}
	return name, true
}

// filter compiles a filter handler.
func (p *planner) filter(h *ast.Handler, sc *scope) *filter {
	sc.context = "filter"
	c := p.compile(h.Filter, sc)
	if c == nil {
		return nil
	}
	if c.typ != event.Bool {
		p.errorf(h.Filter.Position(), "filter condition must be bool, found %s", c.typ)
		return nil
	}
	return &filter{cond: c.cond}
}

// planAfterWindow plans the filters after the window and the selector.
func (p *planner) planAfterWindow(aq *ast.Query, filters []*ast.Handler, sc *scope) ([]*filter, *selector) {
	var post []*filter
	for _, h := range filters {
		var f *filter
		if h.Kind == ast.FunctionHandler {
			f = p.streamFunction(h, sc, true)
		} else {
			f = p.filter(h, sc)
		}
		if f != nil {
			post = append(post, f)
		}
	}
	return post, p.planSelector(aq, sc)
}

// selItems returns the output attributes of a planned selector.
func selItems(aq *ast.Query, sc *scope, sel *selector) []event.Attribute {
	if aq.Select == nil || aq.Select.Star {
		return sc.in.Attrs
	}
	attrs := make([]event.Attribute, len(sel.items))
	for i, it := range aq.Select.Items {
		attrs[i] = event.Attribute{Name: it.Name, Type: sel.items[i].e.typ}
	}
	return attrs
}

func sameTypes(a, b *event.Schema) bool {
	if len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for i := range a.Attrs {
		if a.Attrs[i].Type != b.Attrs[i].Type {
			return false
		}
	}
	return true
}

func describe(s *event.Schema) string {
	var b strings.Builder
	for i, a := range s.Attrs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Name + " " + a.Type.String())
	}
	return b.String()
}

func (p *planner) planSelector(aq *ast.Query, sc *scope) *selector {
	sel := &selector{}
	aggs := []*aggregator{}
	sc.aggs = &aggs
	sc.context = "select"
	if aq.Select == nil || aq.Select.Star {
		for i, a := range sc.in.Attrs {
			sel.items = append(sel.items, newSelItem(varExpr(spaceIn, i, a.Type)))
			if sc.used != nil {
				sc.used[i] = true
			}
		}
		if aq.Select != nil && len(aq.Select.Items) > 0 {
			p.errorf(aq.Select.Pos, "select * cannot be combined with other attributes")
		}
	} else {
		seen := make(map[string]bool)
		for _, it := range aq.Select.Items {
			if it == nil {
				continue
			}
			c := p.compile(it.Expr, sc)
			if c == nil {
				continue
			}
			if it.Name == "" {
				p.errorf(it.Pos, "select expression needs a name: add 'as <name>'")
				continue
			}
			if seen[it.Name] {
				p.errorf(it.Pos, "attribute %s is selected twice", it.Name)
				continue
			}
			if c.typ == event.Null {
				p.errorf(it.Pos, "cannot select a null literal as %s: its type is unknown", it.Name)
				continue
			}
			seen[it.Name] = true
			sel.items = append(sel.items, newSelItem(c))
		}
	}
	sel.width = len(sel.items)
	sel.scratch = make([]event.Value, sel.width)
	var outSchema *event.Schema
	if aq.Select != nil {
		sc.aggs = nil
		sc.context = "group by"
		for _, v := range aq.Select.GroupBy {
			if v == nil {
				continue
			}
			if c := p.compile(v, sc); c != nil {
				sel.groupBy = append(sel.groupBy, c)
			}
		}
		if aq.Select.Having != nil {
			outSchema = &event.Schema{}
			if !aq.Select.Star {
				for i, it := range aq.Select.Items {
					if i < len(sel.items) && it != nil {
						outSchema.Attrs = append(outSchema.Attrs, event.Attribute{Name: it.Name, Type: sel.items[i].e.typ})
					}
				}
			}
			sc.out = outSchema
			sc.aggs = &aggs
			sc.context = "having"
			if c := p.compile(aq.Select.Having, sc); c != nil {
				if c.typ != event.Bool {
					p.errorf(aq.Select.Having.Position(), "having condition must be bool, found %s", c.typ)
				} else {
					sel.having = c.cond
				}
			}
			sc.out = nil
		}
	}
	sel.limit, sel.offset = -1, -1
	if aq.Select != nil {
		p.orderLimit(aq.Select, sc, sel)
	}
	sel.aggs = aggs
	sel.aggv = make([]event.Value, len(aggs))
	if len(sel.groupBy) > 0 {
		sel.groups = make(map[string]*group)
	}
	if len(aggs) > 0 {
		sel.single = sel.newGroup()
	}
	return sel
}

// orderLimit plans order by (over output attributes), limit and offset.
func (p *planner) orderLimit(s *ast.Selector, sc *scope, sel *selector) {
	for _, o := range s.OrderBy {
		if o == nil || o.Var == nil {
			continue
		}
		col := -1
		for i, it := range s.Items {
			if it != nil && it.Name == o.Var.Name {
				col = i
			}
		}
		if s.Star {
			col = sc.in.Index(o.Var.Name)
		}
		if col < 0 || col >= len(sel.items) {
			p.errorf(o.Pos, "order by %s: not an output attribute of the query", o.Var.Name)
			continue
		}
		sel.order = append(sel.order, orderKey{col: col, desc: o.Desc})
	}
	bound := func(e ast.Expr, what string) int64 {
		if e == nil {
			return -1
		}
		c := p.compile(e, &scope{in: &event.Schema{}, context: what})
		if c == nil {
			return -1
		}
		_, lit := e.(*ast.Constant)
		if u, ok := e.(*ast.Unary); ok {
			_, lit = u.X.(*ast.Constant)
		}
		if !lit || (c.typ != event.Int && c.typ != event.Long) {
			p.errorf(e.Position(), "'%s' must be an int or long constant", what)
			return -1
		}
		n, _ := c.num(nil)
		if n < 0 {
			p.errorf(e.Position(), "'%s' cannot have negative value, but found '%d'", what, n)
			return -1
		}
		return n
	}
	sel.limit = bound(s.Limit, "limit")
	sel.offset = bound(s.Offset, "offset")
}

// compile type-checks and compiles an expression; it returns nil after
// reporting an error.
func (p *planner) compile(e ast.Expr, sc *scope) *expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *ast.Constant:
		return constExpr(e.Value)
	case *ast.Variable:
		return p.variable(e, sc)
	case *ast.Unary:
		x := p.compile(e.X, sc)
		if x == nil {
			return nil
		}
		switch e.Op {
		case ast.OpNot:
			if x.typ != event.Bool {
				p.errorf(e.Pos, "not needs a bool operand, found %s", x.typ)
				return nil
			}
			return notExpr(x)
		case ast.OpNeg:
			if !x.typ.IsNumeric() {
				p.errorf(e.Pos, "cannot negate %s", x.typ)
				return nil
			}
			return negate(x)
		}
		p.errorf(e.Pos, "unknown unary operator %s", e.Op)
		return nil
	case *ast.Binary:
		return p.binary(e, sc)
	case *ast.IsNull:
		x := p.compile(e.X, sc)
		if x == nil {
			return nil
		}
		return isNullExpr(x)
	case *ast.Call:
		return p.call(e, sc)
	case *ast.In:
		p.errorf(e.Pos, "'in' conditions need tables, which are not supported")
		return nil
	}
	p.errorf(e.Position(), "unsupported expression")
	return nil
}

func (p *planner) variable(v *ast.Variable, sc *scope) *expr {
	if v.Index != nil || v.Inner {
		p.errorf(v.Pos, "event indexes and inner streams are not supported")
		return nil
	}
	if sc.winExpr && (v.Stream == "first" || v.Stream == "last") {
		i := sc.in.Index(v.Name)
		if i < 0 {
			p.errorf(v.Pos, "stream %s has no attribute %s", sc.in.Name, v.Name)
			return nil
		}
		sp := spaceFirst
		if v.Stream == "last" {
			sp = spaceLast
		}
		return varExpr(sp, i, sc.in.Attrs[i].Type)
	}
	if len(sc.sides) > 0 {
		if v.Stream == "" && sc.out != nil {
			if i := sc.out.Index(v.Name); i >= 0 {
				return varExpr(spaceOut, i, sc.out.Attrs[i].Type)
			}
		}
		return p.joinVar(v, sc)
	}
	if v.Stream != "" {
		known := false
		for _, n := range sc.names {
			if n == v.Stream {
				known = true
			}
		}
		if !known {
			p.errorf(v.Pos, "unknown stream %s in %s.%s", v.Stream, v.Stream, v.Name)
			return nil
		}
	} else if sc.out != nil {
		// In having, output attributes come first.
		if i := sc.out.Index(v.Name); i >= 0 {
			return varExpr(spaceOut, i, sc.out.Attrs[i].Type)
		}
	}
	i := sc.in.Index(v.Name)
	if i < 0 {
		p.errorf(v.Pos, "stream %s has no attribute %s", sc.in.Name, v.Name)
		return nil
	}
	if sc.used != nil {
		sc.used[i] = true
	}
	return varExpr(spaceIn, i, sc.in.Attrs[i].Type)
}

func (p *planner) binary(e *ast.Binary, sc *scope) *expr {
	x := p.compile(e.X, sc)
	y := p.compile(e.Y, sc)
	if x == nil || y == nil {
		return nil
	}
	switch e.Op {
	case ast.OpAnd, ast.OpOr:
		if x.typ != event.Bool || y.typ != event.Bool {
			p.errorf(e.Pos, "%s needs bool operands, found %s and %s", e.Op, x.typ, y.typ)
			return nil
		}
		if e.Op == ast.OpAnd {
			return andExpr(x, y)
		}
		return orExpr(x, y)
	case ast.OpAdd, ast.OpSub, ast.OpMul, ast.OpDiv, ast.OpMod:
		if !numericOrNull(x.typ) || !numericOrNull(y.typ) || x.typ == event.Null && y.typ == event.Null {
			p.errorf(e.Pos, "arithmetic %s needs numeric operands, found %s and %s", e.Op, x.typ, y.typ)
			return nil
		}
		t := promote(x.typ, y.typ)
		op := map[ast.Op]arithOp{ast.OpAdd: opAdd, ast.OpSub: opSub, ast.OpMul: opMul, ast.OpDiv: opDiv, ast.OpMod: opMod}[e.Op]
		return arith(op, t, x, y)
	case ast.OpEq, ast.OpNe, ast.OpLt, ast.OpLe, ast.OpGt, ast.OpGe:
		op := map[ast.Op]cmpOp{ast.OpEq: cmpEq, ast.OpNe: cmpNe, ast.OpLt: cmpLt, ast.OpLe: cmpLe, ast.OpGt: cmpGt, ast.OpGe: cmpGe}[e.Op]
		switch {
		case x.typ == event.Null || y.typ == event.Null:
			// Every comparison with null is false.
			return constExprBool(false)
		case x.typ.IsNumeric() && y.typ.IsNumeric():
			return compareNumeric(op, x, y)
		case x.typ == event.String && y.typ == event.String:
			return compareString(op, x, y)
		case x.typ == y.typ && (x.typ == event.Bool || x.typ == event.Object) && (op == cmpEq || op == cmpNe):
			return compareValues(op, x, y)
		}
		p.errorf(e.Pos, "cannot compare %s %s %s", x.typ, e.Op, y.typ)
		return nil
	}
	p.errorf(e.Pos, "unknown operator %s", e.Op)
	return nil
}

func numericOrNull(t event.Type) bool { return t.IsNumeric() || t == event.Null }

func constExprBool(b bool) *expr {
	e := constExpr(event.BoolValue(b))
	e.isConst = false // not a literal the user wrote
	return e
}

func (p *planner) call(c *ast.Call, sc *scope) *expr {
	name := strings.ToLower(c.Name)
	if c.Namespace == "" {
		if kind, ok := aggNames[name]; ok {
			return p.aggregate(c, kind, sc)
		}
	}
	return p.function(c, sc)
}

func (p *planner) aggregate(c *ast.Call, kind aggKind, sc *scope) *expr {
	if sc.aggs == nil {
		p.errorf(c.Pos, "aggregate %s is not allowed in %s", c.Name, sc.context)
		return nil
	}
	a := &aggregator{kind: kind, col: -1}
	argType := event.Null
	switch {
	case kind == aggCount && len(c.Args) == 0:
	case len(c.Args) == 1:
		// Aggregates cannot nest: compile the argument without aggregates.
		saved := sc.aggs
		sc.aggs = nil
		a.argE = p.compile(c.Args[0], sc)
		sc.aggs = saved
		if a.argE == nil {
			return nil
		}
		argType = a.argE.typ
		if a.argE.isVar && a.argE.sp == spaceIn {
			a.col = a.argE.col
		}
	default:
		p.errorf(c.Pos, "%s takes one argument, found %d", c.Name, len(c.Args))
		return nil
	}
	t, ok := aggResultType(kind, argType)
	if !ok {
		p.errorf(c.Pos, "%s does not support %s", c.Name, argType)
		return nil
	}
	a.typ = t
	a.track = sc.sliding
	*sc.aggs = append(*sc.aggs, a)
	return varExpr(spaceAgg, len(*sc.aggs)-1, t)
}

// checkCycles rejects apps whose queries feed their own input, which would
// recurse without end.
func (p *planner) checkCycles() {
	const (
		active = 1
		done   = 2
	)
	state := make(map[*stream]int)
	// visit returns the query whose output closes a cycle, if any.
	var visit func(s *stream) *query
	visit = func(s *stream) *query {
		state[s] = active
		for _, q := range s.queries {
			switch state[q.target] {
			case active:
				return q
			case 0:
				if c := visit(q.target); c != nil {
					return c
				}
			}
		}
		state[s] = done
		return nil
	}
	for _, s := range p.r.streams {
		if state[s] != 0 {
			continue
		}
		if q := visit(s); q != nil {
			p.errorf(q.pos, "%s feeds its own input stream %s (directly or through other queries)",
				q.label(), q.target.schema.Name)
			return
		}
	}
}
