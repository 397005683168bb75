// Package parser turns SiddhiQL source text into a syntax tree (package ast).
//
// The parser is hand-written recursive descent over the tokens of a small
// scanner, in the manner of go/parser. It follows the grammar of Siddhi 5
// (SiddhiQL.g4): keywords are case-insensitive and may also be used as names,
// and operator precedence is Siddhi's. Errors are collected as an
// ast.ErrorList; after an error the parser skips to the next ';' and goes on,
// so one run reports several problems. Bad input never makes it panic.
package parser

import (
	"fmt"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

const (
	// maxErrors stops reporting once the input is clearly not SiddhiQL.
	maxErrors = 10
	// maxNest bounds the depth of nested expressions and patterns so that
	// hostile input cannot exhaust the stack.
	maxNest = 200
)

// Parse parses a SiddhiQL app. file is used in error messages. On errors it
// returns the part of the app that parsed together with an ast.ErrorList.
func Parse(file string, src []byte) (app *ast.App, err error) {
	p := newParser(file, src)
	defer p.recoverAtBoundary(&err)
	app = &ast.App{File: file}
	p.parseApp(app)
	return app, p.errs.Err()
}

// ParseExpr parses a single SiddhiQL expression, such as a filter condition.
func ParseExpr(file string, src []byte) (x ast.Expr, err error) {
	p := newParser(file, src)
	defer p.recoverAtBoundary(&err)
	x = p.expr()
	if p.tok.kind != tEOF {
		p.errorExpected("end of expression")
	}
	return x, p.errs.Err()
}

// ParseOnDemand parses an on-demand (store) query such as
// `from T on price > 10 select *` or `delete T on T.id == 1`.
func ParseOnDemand(file string, src []byte) (q *ast.OnDemandQuery, err error) {
	p := newParser(file, src)
	defer p.recoverAtBoundary(&err)
	q = p.onDemand()
	return q, p.errs.Err()
}

// HasComments reports whether src holds a comment. The syntax tree does not
// keep comments, so tools that rewrite files use this to avoid losing them.
func HasComments(src []byte) bool {
	s := newScanner(src, func(ast.Pos, string) {})
	for s.comments == 0 {
		if s.next().kind == tEOF {
			break
		}
	}
	return s.comments > 0
}

type parser struct {
	file  string
	sc    *scanner
	tok   token   // current token
	ahead []token // tokens after tok that peek has already scanned
	errs  ast.ErrorList
	nest  int
}

// bailout unwinds to the enclosing statement after a syntax error; the
// statement loop then skips to the next ';'.
type bailout struct{}

// tooManyErrors unwinds out of Parse once maxErrors are collected.
type tooManyErrors struct{}

func newParser(file string, src []byte) *parser {
	p := &parser{file: file}
	p.sc = newScanner(src, p.addError)
	p.next()
	return p
}

// recoverAtBoundary turns the parser's own unwinding into a normal return and
// any other panic, which would be a bug, into an error rather than a crash.
func (p *parser) recoverAtBoundary(err *error) {
	switch r := recover().(type) {
	case nil:
		return
	case tooManyErrors, bailout:
	default:
		p.errs = append(p.errs, &ast.Error{File: p.file, Pos: p.tok.pos,
			Msg: fmt.Sprintf("internal parser error: %v", r)})
	}
	*err = p.errs.Err()
}

func (p *parser) next() {
	if len(p.ahead) > 0 {
		p.tok = p.ahead[0]
		p.ahead = p.ahead[1:]
		return
	}
	p.tok = p.sc.next()
}

// peek returns the token n places after the current one (n >= 1).
func (p *parser) peek(n int) token {
	for len(p.ahead) < n {
		p.ahead = append(p.ahead, p.sc.next())
	}
	return p.ahead[n-1]
}

// ---- errors ----

func (p *parser) addError(pos ast.Pos, msg string) {
	if len(p.errs) >= maxErrors {
		panic(tooManyErrors{})
	}
	p.errs.Add(p.file, pos, msg)
}

// fail reports an error and abandons the current statement.
func (p *parser) fail(pos ast.Pos, msg string) {
	p.addError(pos, msg)
	panic(bailout{})
}

func (p *parser) failf(pos ast.Pos, format string, args ...any) {
	p.fail(pos, fmt.Sprintf(format, args...))
}

// errorExpected reports "expected X, found Y" at the current token. An illegal
// token was already reported by the scanner, so only the unwinding remains.
func (p *parser) errorExpected(what string) {
	if p.tok.kind == tIllegal {
		panic(bailout{})
	}
	p.fail(p.tok.pos, "expected "+what+", found "+p.tok.describe())
}

func (p *parser) expect(k kind) token {
	t := p.tok
	if t.kind != k {
		p.errorExpected(k.String())
	}
	p.next()
	return t
}

// ---- keywords and names ----

// isKw reports whether t is the (case-insensitive, unquoted) keyword kw.
func isKw(t token, kw string) bool {
	return t.kind == tIdent && !t.quoted && equalFold(t.lit, kw)
}

func (p *parser) isKw(kw string) bool { return isKw(p.tok, kw) }

// gotKw consumes the keyword kw if it is next.
func (p *parser) gotKw(kw string) bool {
	if p.isKw(kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) ast.Pos {
	pos := p.tok.pos
	if !p.isKw(kw) {
		p.errorExpected("'" + kw + "'")
	}
	p.next()
	return pos
}

func (p *parser) got(k kind) bool {
	if p.tok.kind == k {
		p.next()
		return true
	}
	return false
}

// name parses a name: an identifier, a quoted identifier or a keyword (Siddhi
// lets keywords be names).
func (p *parser) name(what string) (string, ast.Pos) {
	t := p.tok
	if t.kind != tIdent {
		p.errorExpected(what)
	}
	p.next()
	return t.lit, t.pos
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (p *parser) enter() {
	p.nest++
	if p.nest > maxNest {
		p.fail(p.tok.pos, "too deeply nested")
	}
}

func (p *parser) leave() { p.nest-- }

// ---- app structure ----

func (p *parser) parseApp(app *ast.App) {
	for p.tok.kind != tEOF {
		if p.got(tSemi) {
			continue
		}
		p.statement(app)
	}
}

// statement parses one top-level element and its terminating ';', recovering
// from a syntax error inside it by skipping to the next ';'.
func (p *parser) statement(app *ast.App) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			p.nest = 0
			p.skipPast(tSemi, "")
		}
	}()
	anns := p.annotations()
	// @app:* annotations belong to the app wherever they stand before an element.
	var rest []*ast.Annotation
	for _, a := range anns {
		if isAppAnnotation(a) {
			app.Annotations = append(app.Annotations, a)
		} else {
			rest = append(rest, a)
		}
	}
	if p.tok.kind == tEOF && len(rest) == 0 {
		return
	}
	switch {
	case p.isKw("define"):
		if len(app.Queries) > 0 || len(app.Partitions) > 0 {
			p.fail(p.tok.pos, "definitions must come before queries and partitions")
		}
		p.definition(app, rest)
	case p.isKw("from"):
		q := p.query(rest)
		app.Queries = append(app.Queries, q)
		app.Body = append(app.Body, q)
	case p.isKw("partition"):
		pt := p.partition(rest)
		app.Partitions = append(app.Partitions, pt)
		app.Body = append(app.Body, pt)
	default:
		p.errorExpected("'define', 'from' or 'partition'")
	}
	p.endStatement()
}

// endStatement expects the ';' after an element. A missing ';' right before
// the start of the next element is reported without losing that element.
func (p *parser) endStatement() {
	switch {
	case p.tok.kind == tSemi:
		p.next()
	case p.tok.kind == tEOF:
	case p.isKw("define") || p.isKw("from") || p.isKw("partition") || p.tok.kind == tAt:
		p.addError(p.tok.pos, "expected ';', found "+p.tok.describe())
	default:
		p.errorExpected("';'")
	}
}

// skipPast skips tokens up to and including the next k, or up to (not
// including) the keyword stop when it is not "".
func (p *parser) skipPast(k kind, stop string) {
	for p.tok.kind != tEOF {
		if p.tok.kind == k {
			p.next()
			return
		}
		if stop != "" && p.isKw(stop) {
			return
		}
		p.next()
	}
}

func isAppAnnotation(a *ast.Annotation) bool {
	return len(a.Name) > 4 && equalFold(a.Name[:4], "app:")
}

// ---- annotations ----

func (p *parser) annotations() []*ast.Annotation {
	var list []*ast.Annotation
	for p.tok.kind == tAt {
		list = append(list, p.annotation())
	}
	return list
}

// annotation parses `@name`, `@ns:name`, `@name(elem, ...)` where an element is
// `key = 'value'`, `'value'` or a nested annotation.
func (p *parser) annotation() *ast.Annotation {
	p.enter()
	defer p.leave()
	a := &ast.Annotation{Pos: p.expect(tAt).pos}
	a.Name, _ = p.name("annotation name")
	if p.got(tColon) {
		n, _ := p.name("annotation name")
		a.Name += ":" + n
	}
	if !p.got(tLParen) {
		return a
	}
	for {
		if p.tok.kind == tAt {
			a.Annotations = append(a.Annotations, p.annotation())
		} else {
			a.Elements = append(a.Elements, p.annotationElement())
		}
		if !p.got(tComma) {
			break
		}
	}
	p.expect(tRParen)
	return a
}

func (p *parser) annotationElement() *ast.Element {
	e := &ast.Element{Pos: p.tok.pos}
	switch {
	case p.tok.kind == tString && p.peek(1).kind == tAssign:
		e.Key = p.tok.lit
		p.next()
		p.next()
	case p.tok.kind == tIdent:
		keyTok := p.tok
		e.Key = p.propertyName()
		if p.tok.kind != tAssign {
			if p.tok.kind == tComma || p.tok.kind == tRParen {
				p.failf(keyTok.pos, "annotation values must be quoted strings: write '%s' instead of %s", e.Key, e.Key)
			}
			p.errorExpected("'='")
		}
		p.next()
	}
	if p.tok.kind != tString {
		if e.Key == "" {
			p.errorExpected("annotation element (key = 'value', 'value' or @annotation)")
		}
		p.errorExpected("string literal as the value of '" + e.Key + "'")
	}
	e.Value = p.tok.lit
	p.next()
	return e
}

// propertyName parses a key such as `type`, `receiver.url`, `buffer-size` or
// `a:b`: names joined by '.', '-' or ':' with no space around them.
func (p *parser) propertyName() string {
	key, _ := p.name("annotation key")
	for {
		sep := p.tok
		if sep.kind != tDot && sep.kind != tMinus && sep.kind != tColon {
			return key
		}
		nt := p.peek(1)
		if nt.kind != tIdent {
			return key
		}
		p.next()
		p.next()
		key += p.sc.text(sep) + nt.lit
	}
}

// ---- definitions ----

func (p *parser) definition(app *ast.App, anns []*ast.Annotation) {
	pos := p.expectKw("define")
	switch {
	case p.gotKw("stream"):
		d := &ast.StreamDef{Pos: pos, Annotations: anns}
		d.Name, _ = p.name("stream name")
		d.Attrs = p.attrDefs()
		app.Streams = append(app.Streams, d)
		app.Body = append(app.Body, d)
	case p.gotKw("table"):
		d := &ast.TableDef{Pos: pos, Annotations: anns}
		d.Name, _ = p.name("table name")
		d.Attrs = p.attrDefs()
		app.Tables = append(app.Tables, d)
		app.Body = append(app.Body, d)
	case p.gotKw("window"):
		d := p.windowDef(pos, anns)
		app.Windows = append(app.Windows, d)
		app.Body = append(app.Body, d)
	case p.gotKw("trigger"):
		p.noAnnotations(anns, "a trigger")
		d := p.triggerDef(pos)
		app.Triggers = append(app.Triggers, d)
		app.Body = append(app.Body, d)
	case p.gotKw("aggregation"):
		d := p.aggregationDef(pos, anns)
		app.Aggregations = append(app.Aggregations, d)
		app.Body = append(app.Body, d)
	case p.gotKw("function"):
		p.noAnnotations(anns, "a function")
		d := p.functionDef(pos)
		app.Functions = append(app.Functions, d)
		app.Body = append(app.Body, d)
	default:
		p.errorExpected("'stream', 'table', 'window', 'trigger', 'aggregation' or 'function'")
	}
}

func (p *parser) noAnnotations(anns []*ast.Annotation, what string) {
	if len(anns) > 0 {
		p.failf(anns[0].Pos, "annotations are not allowed on %s definition", what)
	}
}

// windowDef parses the rest of `define window W (attrs) fn(args) [output
// <events>]`.
func (p *parser) windowDef(pos ast.Pos, anns []*ast.Annotation) *ast.WindowDef {
	d := &ast.WindowDef{Pos: pos, Annotations: anns, Events: ast.AllEvents}
	d.Name, _ = p.name("window name")
	d.Attrs = p.attrDefs()
	h := &ast.Handler{Pos: p.tok.pos, Kind: ast.WindowHandler}
	h.Namespace, h.Name, h.Args = p.functionOperation()
	d.Window = h
	if p.gotKw("output") {
		d.Events = p.eventKind(-1)
		if d.Events < 0 {
			p.errorExpected("'all events', 'expired events' or 'current events'")
		}
	}
	return d
}

// triggerDef parses the rest of `define trigger T at every <time>` or
// `define trigger T at 'start' | '<cron>'`.
func (p *parser) triggerDef(pos ast.Pos) *ast.TriggerDef {
	d := &ast.TriggerDef{Pos: pos}
	d.Name, _ = p.name("trigger name")
	p.expectKw("at")
	switch {
	case p.gotKw("every"):
		d.Every = p.timeConst("after 'every'")
	case p.tok.kind == tString:
		d.At, d.AtPos = p.tok.lit, p.tok.pos
		p.next()
	default:
		p.errorExpected("'every <time>', 'start' or a cron expression")
	}
	return d
}

// aggregationDef parses the rest of `define aggregation A from S select ...
// [group by ...] aggregate [by attr] every <durations>`.
func (p *parser) aggregationDef(pos ast.Pos, anns []*ast.Annotation) *ast.AggregationDef {
	d := &ast.AggregationDef{Pos: pos, Annotations: anns}
	d.Name, _ = p.name("aggregation name")
	p.expectKw("from")
	d.Input = p.streamSource(true)
	if !p.isKw("select") {
		p.errorExpected("'select'")
	}
	d.Select = p.selector(false)
	p.expectKw("aggregate")
	if p.gotKw("by") {
		d.AggregateBy = p.attrRef("attribute to aggregate by")
	}
	p.expectKw("every")
	first := p.duration()
	switch {
	case p.got(tTripleDot):
		lastTok := p.tok
		last := p.duration()
		if last < first {
			p.failf(lastTok.pos, "aggregation range %s...%s runs backwards", first, last)
		}
		d.Range = true
		for g := first; g <= last; g++ {
			d.Every = append(d.Every, g)
		}
	default:
		d.Every = append(d.Every, first)
		for p.got(tComma) {
			d.Every = append(d.Every, p.duration())
		}
	}
	return d
}

// duration parses an aggregation granularity: sec, min, hour, day, week,
// month or year (singular or plural, like time units).
func (p *parser) duration() ast.Duration {
	switch r := timeUnit(p.tok); {
	case r >= 0 && r < len(timeUnits)-1:
		p.next()
		// timeUnits runs from years down to seconds; Duration runs upwards.
		return ast.Duration(len(timeUnits) - 2 - r)
	}
	p.errorExpected("aggregation duration (sec, min, hour, day, week, month or year)")
	return 0
}

// functionDef parses the rest of `define function f[lang] return type {body}`.
func (p *parser) functionDef(pos ast.Pos) *ast.FunctionDef {
	d := &ast.FunctionDef{Pos: pos}
	d.Name, _ = p.name("function name")
	p.expect(tLBrack)
	d.Language, _ = p.name("script language")
	p.expect(tRBrack)
	p.expectKw("return")
	d.ReturnType = p.attrType()
	if p.tok.kind != tScript {
		p.errorExpected("function body in braces")
	}
	d.Body = p.tok.lit
	p.next()
	return d
}

// attrDefs parses `(name type, ...)`.
func (p *parser) attrDefs() []*ast.AttrDef {
	p.expect(tLParen)
	var attrs []*ast.AttrDef
	for {
		a := &ast.AttrDef{}
		a.Name, a.Pos = p.name("attribute name")
		a.Type = p.attrType()
		attrs = append(attrs, a)
		if !p.got(tComma) {
			break
		}
	}
	p.expect(tRParen)
	return attrs
}

func (p *parser) attrType() event.Type {
	t := p.tok
	if t.kind != tIdent {
		p.errorExpected("attribute type")
	}
	typ, ok := event.ParseType(t.lit)
	if !ok || t.quoted {
		p.failf(t.pos, "unknown attribute type %s: expected string, int, long, float, double, bool or object", t.describe())
	}
	p.next()
	return typ
}
