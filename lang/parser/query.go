package parser

import (
	"github.com/tandem-stream/tandem/lang/ast"
)

// query parses `from <input> [select ...] [output rate] <output>`.
func (p *parser) query(anns []*ast.Annotation) *ast.Query {
	q := &ast.Query{Pos: p.expectKw("from"), Annotations: anns}
	q.Input = p.queryInput()
	q.Select = p.selector(true)
	q.Rate = p.outputRate()
	q.Output = p.queryOutput()
	return q
}

// queryInput decides between a single stream, a join, a pattern, a sequence
// and an anonymous stream. Patterns and sequences announce themselves by
// their first token (every, not, '(', `e1=`) or by what follows the first
// stream ('->', ',', '<', and, or, and in sequences '*', '+', '?').
func (p *parser) queryInput() ast.Input {
	switch {
	case p.tok.kind == tLParen && isKw(p.peek(1), "from"):
		return p.anonymousInput()
	case p.isKw("every") || p.isKw("not") && p.peek(1).kind != tDot ||
		p.tok.kind == tLParen || p.tok.kind == tIdent && p.peek(1).kind == tAssign:
		return p.stateInput(nil)
	}
	s := p.joinSource()
	switch {
	case p.isJoinStart():
		return p.joinInput(s)
	case p.tok.kind == tArrow || p.tok.kind == tComma || p.tok.kind == tLt ||
		p.tok.kind == tStar || p.tok.kind == tPlus || p.tok.kind == tQuestion ||
		p.isKw("and") || p.isKw("or"):
		if s.Alias != "" {
			p.fail(s.Pos, "'as' is not allowed in a pattern or sequence: name events with e1=Stream")
		}
		if w := s.Window(); w != nil {
			p.fail(w.Pos, "a window is not allowed in a pattern or sequence")
		}
		return p.stateInput(s)
	}
	if s.Alias != "" {
		p.errorExpected("'join'")
	}
	return s
}

func (p *parser) isJoinStart() bool {
	for _, kw := range [...]string{"join", "left", "right", "full", "outer", "inner", "unidirectional"} {
		if p.isKw(kw) {
			return true
		}
	}
	return false
}

// streamSource parses `[#|!]Stream` followed by filters, stream functions
// and, when windowOK, at most one window.
func (p *parser) streamSource(windowOK bool) *ast.StreamInput {
	s := &ast.StreamInput{Pos: p.tok.pos}
	switch {
	case p.got(tHash):
		s.Inner = true
	case p.got(tBang):
		s.Fault = true
	}
	s.Stream, _ = p.name("stream name")
	p.handlers(s, windowOK)
	return s
}

// joinSource parses a stream source with an optional window and `as alias`.
func (p *parser) joinSource() *ast.StreamInput {
	s := p.streamSource(true)
	if p.gotKw("as") {
		s.Alias, _ = p.name("alias")
	}
	return s
}

// handlers parses the chain `[cond]`, `#[cond]`, `#fn(...)`, `#window.w(...)`.
func (p *parser) handlers(s *ast.StreamInput, windowOK bool) {
	window := false
	for {
		pos := p.tok.pos
		switch {
		case p.tok.kind == tLBrack:
			p.next()
			h := &ast.Handler{Pos: pos, Kind: ast.FilterHandler, Filter: p.expr()}
			p.expect(tRBrack)
			s.Handlers = append(s.Handlers, h)
		case p.tok.kind == tHash && p.peek(1).kind == tLBrack:
			p.next()
			continue
		case p.tok.kind == tHash && isKw(p.peek(1), "window") && p.peek(2).kind == tDot:
			if !windowOK {
				p.fail(pos, "a window is not allowed here")
			}
			if window {
				p.fail(pos, "only one window is allowed per stream")
			}
			window = true
			p.next()
			p.next()
			p.next()
			h := &ast.Handler{Pos: pos, Kind: ast.WindowHandler}
			h.Namespace, h.Name, h.Args = p.functionOperation()
			s.Handlers = append(s.Handlers, h)
		case p.tok.kind == tHash && p.peek(1).kind == tIdent:
			p.next()
			h := &ast.Handler{Pos: pos, Kind: ast.FunctionHandler}
			h.Namespace, h.Name, h.Args = p.functionOperation()
			s.Handlers = append(s.Handlers, h)
		default:
			return
		}
	}
}

// functionOperation parses `[ns:]name(args)`.
func (p *parser) functionOperation() (ns, name string, args []ast.Expr) {
	name, _ = p.name("function name")
	if p.got(tColon) {
		ns = name
		name, _ = p.name("function name")
	}
	if p.tok.kind != tLParen {
		p.errorExpected("'('")
	}
	args, star := p.args()
	if star {
		p.fail(p.tok.pos, "'*' is not allowed as an argument here")
	}
	return ns, name, args
}

// ---- joins ----

// joinInput parses the rest of `Left [unidirectional] <join> Right
// [unidirectional] [on cond] [within a[, b] per g]`.
func (p *parser) joinInput(left *ast.StreamInput) *ast.JoinInput {
	j := &ast.JoinInput{Pos: left.Pos, Left: left}
	if p.gotKw("unidirectional") {
		j.Unidirectional = ast.LeftSide
	}
	j.KindPos = p.tok.pos
	switch {
	case p.gotKw("left"):
		p.expectKw("outer")
		j.Kind = ast.LeftOuterJoin
	case p.gotKw("right"):
		p.expectKw("outer")
		j.Kind = ast.RightOuterJoin
	case p.gotKw("full"):
		p.expectKw("outer")
		j.Kind = ast.FullOuterJoin
	case p.isKw("outer"):
		p.fail(p.tok.pos, "'outer join' is not supported: use 'left outer join', 'right outer join' or 'full outer join'")
	case p.gotKw("inner"):
	case p.isKw("join"):
	default:
		p.errorExpected("'join', 'inner join', 'left outer join', 'right outer join' or 'full outer join'")
	}
	p.expectKw("join")
	j.Right = p.joinSource()
	for _, s := range []*ast.StreamInput{j.Left, j.Right} {
		if w := s.Window(); w != nil && w != s.Handlers[len(s.Handlers)-1] {
			p.fail(s.Handlers[len(s.Handlers)-1].Pos, "a side of a join cannot filter or process events after its window; move this before #window")
		}
	}
	if p.isKw("unidirectional") {
		if j.Unidirectional != ast.NoSide {
			p.fail(p.tok.pos, "only one side of a join can be unidirectional")
		}
		p.next()
		j.Unidirectional = ast.RightSide
	}
	if p.gotKw("on") {
		j.On = p.expr()
	}
	j.Within, j.WithinEnd, j.Per = p.withinPer()
	return j
}

// withinPer parses the optional `within start[, end] per granularity`.
func (p *parser) withinPer() (within, end, per ast.Expr) {
	if !p.gotKw("within") {
		return nil, nil, nil
	}
	within = p.expr()
	if p.got(tComma) {
		end = p.expr()
	}
	p.expectKw("per")
	return within, end, p.expr()
}

// ---- patterns and sequences ----

// stateParse holds what a pattern or sequence parse learns as it goes.
type stateParse struct {
	sep    kind      // tArrow or tComma once the first separator is seen
	kleene []ast.Pos // positions of *, + and ? (only sequences allow them)
}

func (p *parser) stateInput(first *ast.StreamInput) *ast.StateInput {
	in := &ast.StateInput{Pos: p.tok.pos}
	if first != nil {
		in.Pos = first.Pos
	}
	var sp stateParse
	in.State = p.stateChain(&sp, first)
	in.Sequence = sp.sep == tComma
	if !in.Sequence && len(sp.kleene) > 0 {
		p.fail(sp.kleene[0], "'*', '+' and '?' are only allowed in sequences (states joined by ','); use <n:m> in patterns")
	}
	if p.gotKw("within") {
		in.Within = p.timeConst("after 'within'")
	}
	return in
}

// stateChain parses states joined by '->' (pattern) or ',' (sequence).
func (p *parser) stateChain(sp *stateParse, first *ast.StreamInput) ast.StateElement {
	p.enter()
	defer p.leave()
	x := p.stateTerm(sp, first)
	states := []ast.StateElement{x}
	for p.tok.kind == tArrow || p.tok.kind == tComma {
		switch {
		case sp.sep == 0:
			sp.sep = p.tok.kind
		case sp.sep != p.tok.kind:
			p.fail(p.tok.pos, "cannot mix '->' (pattern) and ',' (sequence) in one query")
		}
		p.next()
		states = append(states, p.stateTerm(sp, nil))
	}
	if len(states) == 1 {
		return x
	}
	return &ast.NextState{Pos: x.Position(), States: states}
}

// stateTerm parses `every X` or a logical state.
func (p *parser) stateTerm(sp *stateParse, first *ast.StreamInput) ast.StateElement {
	if first == nil && p.isKw("every") {
		pos := p.tok.pos
		p.next()
		return &ast.EveryState{Pos: pos, X: p.stateLogical(sp, nil)}
	}
	return p.stateLogical(sp, first)
}

// stateLogical parses `X and Y`, `X or Y` or a single state.
func (p *parser) stateLogical(sp *stateParse, first *ast.StreamInput) ast.StateElement {
	x := p.stateUnit(sp, first)
	var op ast.Op
	switch {
	case p.isKw("and"):
		op = ast.OpAnd
	case p.isKw("or"):
		op = ast.OpOr
	default:
		return x
	}
	p.next()
	y := p.stateUnit(sp, nil)
	return &ast.LogicalState{Pos: x.Position(), Op: op, X: x, Y: y}
}

// stateUnit parses `(chain)`, `not S[f] [for t]` or `[e=]S[f][count]`.
func (p *parser) stateUnit(sp *stateParse, first *ast.StreamInput) ast.StateElement {
	if first != nil {
		return p.streamState(sp, &ast.StreamState{Pos: first.Pos, Input: first})
	}
	pos := p.tok.pos
	switch {
	case p.tok.kind == tLParen:
		p.next()
		x := p.stateChain(sp, nil)
		p.expect(tRParen)
		return x
	case p.isKw("not"):
		p.next()
		a := &ast.AbsentState{Pos: pos, Input: p.streamSource(false)}
		if p.gotKw("for") {
			a.For = p.timeConst("after 'for'")
		}
		return a
	case p.tok.kind == tIdent && p.peek(1).kind == tAssign:
		ref := p.tok.lit
		p.next()
		p.next()
		return p.streamState(sp, &ast.StreamState{Pos: pos, Ref: ref, Input: p.streamSource(false)})
	}
	return p.streamState(sp, &ast.StreamState{Pos: pos, Input: p.streamSource(false)})
}

// streamState parses the optional count after a state's stream.
func (p *parser) streamState(sp *stateParse, s *ast.StreamState) ast.StateElement {
	switch p.tok.kind {
	case tLt:
		p.next()
		c := &ast.Count{Min: 0, Max: ast.AnyCount}
		switch {
		case p.got(tColon):
			c.Max = p.smallInt("maximum count")
		default:
			c.Min = p.smallInt("count")
			if p.got(tColon) {
				if p.tok.kind == tInt {
					c.Max = p.smallInt("maximum count")
				}
			} else {
				c.Max = c.Min
			}
		}
		if c.Max != ast.AnyCount && c.Max < c.Min {
			p.failf(s.Pos, "count <%d:%d> has a maximum below its minimum", c.Min, c.Max)
		}
		p.expect(tGt)
		s.Count = c
	case tStar:
		sp.kleene = append(sp.kleene, p.tok.pos)
		p.next()
		s.Count = &ast.Count{Min: 0, Max: ast.AnyCount}
	case tPlus:
		sp.kleene = append(sp.kleene, p.tok.pos)
		p.next()
		s.Count = &ast.Count{Min: 1, Max: ast.AnyCount}
	case tQuestion:
		sp.kleene = append(sp.kleene, p.tok.pos)
		p.next()
		s.Count = &ast.Count{Min: 0, Max: 1}
	}
	return s
}

// timeConst parses a time value such as `1 min 30 sec`.
func (p *parser) timeConst(context string) *ast.Constant {
	if p.tok.kind != tInt || !isTimeUnit(p.peek(1)) {
		p.errorExpected("time value (such as 10 sec) " + context)
	}
	return p.timeValue()
}

// ---- anonymous streams ----

// anonymousInput parses `(from ... [select ...] [output rate] return [events])`.
func (p *parser) anonymousInput() *ast.AnonymousInput {
	a := &ast.AnonymousInput{Pos: p.expect(tLParen).pos}
	p.enter()
	defer p.leave()
	q := &ast.Query{Pos: p.expectKw("from")}
	q.Input = p.queryInput()
	q.Select = p.selector(true)
	q.Rate = p.outputRate()
	q.Output = &ast.Output{Pos: p.expectKw("return"), Action: ast.ReturnOutput}
	q.Output.Events = p.eventKind(ast.CurrentEvents)
	p.expect(tRParen)
	a.Query = q
	return a
}

// ---- selection ----

// selector parses the optional select clause with group by and, when full,
// having, order by, limit and offset. Without a select clause every
// attribute is selected.
func (p *parser) selector(full bool) *ast.Selector {
	sel := &ast.Selector{Pos: p.tok.pos}
	if !p.gotKw("select") {
		sel.Star = true
		return sel
	}
	if p.got(tStar) {
		sel.Star = true
	} else {
		for {
			sel.Items = append(sel.Items, p.outputAttr())
			if !p.got(tComma) {
				break
			}
		}
	}
	if p.isKw("group") {
		p.next()
		p.expectKw("by")
		for {
			sel.GroupBy = append(sel.GroupBy, p.attrRef("attribute to group by"))
			if !p.got(tComma) {
				break
			}
		}
	}
	if !full {
		return sel
	}
	if p.gotKw("having") {
		sel.Having = p.expr()
	}
	if p.isKw("order") {
		p.next()
		p.expectKw("by")
		for {
			o := &ast.OrderItem{Pos: p.tok.pos, Var: p.attrRef("attribute to order by")}
			switch {
			case p.gotKw("desc"):
				o.Desc = true
			case p.gotKw("asc"):
			}
			sel.OrderBy = append(sel.OrderBy, o)
			if !p.got(tComma) {
				break
			}
		}
	}
	if p.gotKw("limit") {
		sel.Limit = p.expr()
	}
	if p.gotKw("offset") {
		sel.Offset = p.expr()
	}
	return sel
}

// attrRef parses an attribute reference (not an arbitrary expression).
func (p *parser) attrRef(what string) *ast.Variable {
	if p.tok.kind != tIdent && p.tok.kind != tHash && p.tok.kind != tBang {
		p.errorExpected(what)
	}
	x := p.primary()
	v, ok := x.(*ast.Variable)
	if !ok || v.Name == "" {
		p.failf(x.Position(), "expected %s, found an expression", what)
	}
	return v
}

// outputAttr parses `expr as name`, or a bare attribute reference, which is
// named after the attribute.
func (p *parser) outputAttr() *ast.OutputAttr {
	a := &ast.OutputAttr{Pos: p.tok.pos}
	a.Expr = p.expr()
	if p.gotKw("as") {
		a.Name, _ = p.name("output attribute name")
		return a
	}
	if v, ok := a.Expr.(*ast.Variable); ok && v.Name != "" {
		a.Name = v.Name
		return a
	}
	// Siddhi's grammar only lets a plain attribute go without `as`.
	if p.tok.kind == tIllegal {
		panic(bailout{})
	}
	p.failf(p.tok.pos, "expected 'as', found %s: a select expression that is not a plain attribute needs a name (expr as name)", p.tok.describe())
	return nil
}

// outputRate parses the optional `output [all|first|last] every <n> events`,
// `output [all|first|last] every <time>` or `output snapshot every <time>`.
func (p *parser) outputRate() *ast.OutputRate {
	if !p.isKw("output") {
		return nil
	}
	r := &ast.OutputRate{Pos: p.tok.pos}
	p.next()
	switch {
	case p.gotKw("snapshot"):
		r.Kind = ast.RateSnapshot
	case p.gotKw("all"):
	case p.gotKw("first"):
		r.Kind = ast.RateFirst
	case p.gotKw("last"):
		r.Kind = ast.RateLast
	}
	p.expectKw("every")
	if r.Kind != ast.RateSnapshot && p.tok.kind == tInt && isKw(p.peek(1), "events") {
		r.Events = p.smallInt("event count")
		p.next()
		return r
	}
	if r.Kind == ast.RateSnapshot {
		r.Time = p.timeConst("after 'snapshot every'")
	} else if p.tok.kind != tInt || !isTimeUnit(p.peek(1)) {
		p.errorExpected("'<n> events' or a time value (such as 10 sec) after 'every'")
	} else {
		r.Time = p.timeValue()
	}
	return r
}

// ---- outputs ----

// queryOutput parses the action that ends a query.
func (p *parser) queryOutput() *ast.Output {
	out := &ast.Output{Pos: p.tok.pos}
	switch {
	case p.gotKw("insert"):
		out.Events = p.eventKind(ast.CurrentEvents)
		p.expectKw("into")
		p.target(out)
	case p.gotKw("delete"):
		out.Action = ast.DeleteOutput
		p.target(out)
		p.forEvents(out)
		if p.gotKw("on") {
			out.On = p.expr()
		}
	case p.gotKw("update"):
		out.Action = ast.UpdateOutput
		if p.gotKw("or") {
			p.expectKw("insert")
			p.expectKw("into")
			out.Action = ast.UpdateOrInsertOutput
		}
		p.target(out)
		p.forEvents(out)
		p.setClause(out)
		p.expectKw("on")
		out.On = p.expr()
	case p.gotKw("return"):
		out.Action = ast.ReturnOutput
		out.Events = p.eventKind(ast.CurrentEvents)
	default:
		p.errorExpected("'insert', 'delete', 'update' or 'return'")
	}
	return out
}

// target parses `[#|!]Name`.
func (p *parser) target(out *ast.Output) {
	switch {
	case p.got(tHash):
		out.Inner = true
	case p.got(tBang):
		out.Fault = true
	}
	out.Stream, _ = p.name("stream or table name")
}

// forEvents parses the optional `for <events>` of delete and update.
func (p *parser) forEvents(out *ast.Output) {
	if !p.gotKw("for") {
		return
	}
	out.Events = p.eventKind(-1)
	if out.Events < 0 {
		p.errorExpected("'current events', 'expired events' or 'all events'")
	}
}

// setClause parses the optional `set T.a = expr, ...`.
func (p *parser) setClause(out *ast.Output) {
	if !p.gotKw("set") {
		return
	}
	for {
		a := &ast.SetAssign{Pos: p.tok.pos, Attr: p.attrRef("attribute to set")}
		p.expect(tAssign)
		a.Value = p.expr()
		out.Set = append(out.Set, a)
		if !p.got(tComma) {
			return
		}
	}
}

// eventKind parses the optional `current events`, `expired events`,
// `all events` (or bare `events`) and returns def when there is none.
func (p *parser) eventKind(def ast.EventKind) ast.EventKind {
	switch {
	case p.isKw("all") && isKw(p.peek(1), "events"):
		p.next()
		p.next()
		return ast.AllEvents
	case p.isKw("expired") && isKw(p.peek(1), "events"):
		p.next()
		p.next()
		return ast.ExpiredEvents
	case p.isKw("current") && isKw(p.peek(1), "events"):
		p.next()
		p.next()
		return ast.CurrentEvents
	case p.isKw("events"):
		p.next()
		return ast.CurrentEvents
	case p.isKw("all") || p.isKw("expired") || p.isKw("current"):
		p.next()
		p.errorExpected("'events'")
	}
	return def
}

// ---- partitions ----

// partition parses `partition with (key of S, ...) begin query; ... end`.
func (p *parser) partition(anns []*ast.Annotation) *ast.Partition {
	pt := &ast.Partition{Pos: p.expectKw("partition"), Annotations: anns}
	p.expectKw("with")
	p.expect(tLParen)
	for {
		pt.With = append(pt.With, p.partitionKey())
		if !p.got(tComma) {
			break
		}
	}
	p.expect(tRParen)
	p.expectKw("begin")
	for !p.isKw("end") && p.tok.kind != tEOF {
		if p.got(tSemi) {
			continue
		}
		if q := p.partitionQuery(); q != nil {
			pt.Queries = append(pt.Queries, q)
		}
	}
	p.expectKw("end")
	if len(pt.Queries) == 0 {
		p.fail(pt.Pos, "a partition needs at least one query")
	}
	return pt
}

// partitionQuery parses one query of a partition body and its ';'. After an
// error it skips to the next ';' or to 'end' and returns nil.
func (p *parser) partitionQuery() (q *ast.Query) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			p.nest = 0
			p.skipPast(tSemi, "end")
			q = nil
		}
	}()
	anns := p.annotations()
	if !p.isKw("from") {
		p.errorExpected("'from' or 'end'")
	}
	q = p.query(anns)
	if !p.got(tSemi) && !p.isKw("end") {
		p.errorExpected("';' or 'end'")
	}
	return q
}

// partitionKey parses `expr of S` or `cond as 'label' or ... of S`.
func (p *parser) partitionKey() *ast.PartitionKey {
	k := &ast.PartitionKey{Pos: p.tok.pos}
	x := p.expr()
	if p.isKw("as") {
		for {
			p.expectKw("as")
			if p.tok.kind != tString {
				p.errorExpected("range label string")
			}
			k.Ranges = append(k.Ranges, &ast.PartitionRange{Pos: x.Position(), Cond: x, Label: p.tok.lit})
			p.next()
			if !p.gotKw("or") {
				break
			}
			x = p.expr()
		}
	} else {
		k.Value = x
	}
	p.expectKw("of")
	k.Stream, _ = p.name("stream name")
	return k
}

// ---- on-demand queries ----

// onDemand parses an on-demand (store) query and its optional ';'.
func (p *parser) onDemand() *ast.OnDemandQuery {
	q := &ast.OnDemandQuery{Pos: p.tok.pos}
	if p.gotKw("from") {
		in := &ast.StoreInput{Pos: p.tok.pos}
		in.Source, _ = p.name("table, window or aggregation name")
		if p.gotKw("as") {
			in.Alias, _ = p.name("alias")
		}
		if p.gotKw("on") {
			in.On = p.expr()
		}
		in.Within, in.WithinEnd, in.Per = p.withinPer()
		q.Input = in
		if p.isKw("select") {
			q.Select = p.selector(true)
		}
	} else {
		if p.isKw("select") {
			q.Select = p.selector(true)
		}
		out := &ast.Output{Pos: p.tok.pos}
		switch {
		case p.gotKw("insert"):
			if q.Select == nil {
				p.fail(out.Pos, "an on-demand insert needs a select clause")
			}
			p.expectKw("into")
			p.target(out)
		case p.gotKw("delete"):
			out.Action = ast.DeleteOutput
			p.target(out)
			p.expectKw("on")
			out.On = p.expr()
		case p.gotKw("update"):
			out.Action = ast.UpdateOutput
			if p.gotKw("or") {
				if q.Select == nil {
					p.fail(out.Pos, "an on-demand update or insert needs a select clause")
				}
				p.expectKw("insert")
				p.expectKw("into")
				out.Action = ast.UpdateOrInsertOutput
			}
			p.target(out)
			p.setClause(out)
			p.expectKw("on")
			out.On = p.expr()
		default:
			if q.Select == nil {
				p.errorExpected("'from', 'select', 'delete' or 'update'")
			}
			p.errorExpected("'insert', 'delete' or 'update'")
		}
		q.Output = out
	}
	p.got(tSemi)
	if p.tok.kind != tEOF {
		p.errorExpected("end of query")
	}
	return q
}
