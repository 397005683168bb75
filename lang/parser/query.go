package parser

import (
	"github.com/tandem-stream/tandem/lang/ast"
)

// query parses `from <input> [select ...] [output rate] <output>`.
func (p *parser) query(anns []*ast.Annotation) *ast.Query {
	q := &ast.Query{Pos: p.expectKw("from"), Annotations: anns}
	q.Input = p.queryInput()
	q.Select = p.selector()
	q.Output = p.queryOutput()
	return q
}

func (p *parser) queryInput() ast.Input {
	return p.streamInput()
}

// streamInput parses `[#|!]Stream` followed by filters, stream functions and
// at most one window.
func (p *parser) streamInput() *ast.StreamInput {
	s := &ast.StreamInput{Pos: p.tok.pos}
	s.Stream, _ = p.name("stream name")
	p.handlers(s, true)
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
	args, star := p.args()
	if star {
		p.fail(p.tok.pos, "'*' is not allowed as an argument here")
	}
	return ns, name, args
}

// selector parses the optional select clause with group by, having, order by,
// limit and offset. Without a select clause every attribute is selected.
func (p *parser) selector() *ast.Selector {
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
	if p.gotKw("having") {
		sel.Having = p.expr()
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

// queryOutput parses `insert [events] into Target`.
func (p *parser) queryOutput() *ast.Output {
	out := &ast.Output{Pos: p.tok.pos}
	switch {
	case p.gotKw("insert"):
		out.Events = p.eventKind(ast.CurrentEvents)
		p.expectKw("into")
		out.Stream, _ = p.name("stream name")
	default:
		p.errorExpected("'insert'")
	}
	return out
}

// eventKind parses the optional `current events`, `expired events`,
// `all events` (or bare `events`).
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
