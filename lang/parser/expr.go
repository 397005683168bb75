package parser

import (
	"math"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// Expressions follow the precedence of Siddhi's math_operation rule, from
// the loosest binding:
//
//	or
//	and
//	X in Table
//	==  !=
//	<  <=  >  >=
//	+  -
//	*  /  %
//	not X, -X            (prefix operators bind tighter than any binary one)
//	X is null, (X), literals, names, calls
//
// All binary operators are left-associative. Note that, as in Siddhi, `not`
// applies to the operand right after it: `not a == b` means `(not a) == b`.
func (p *parser) expr() ast.Expr {
	p.enter()
	defer p.leave()
	return p.binary(precOr)
}

const (
	precOr = iota + 1
	precAnd
	precIn
	precEquality
	precRelational
	precAdditive
	precMultiplicative
)

// binaryOp returns the operator and precedence of the current token if it is
// a binary operator.
func (p *parser) binaryOp() (ast.Op, int) {
	switch p.tok.kind {
	case tStar:
		return ast.OpMul, precMultiplicative
	case tSlash:
		return ast.OpDiv, precMultiplicative
	case tPercent:
		return ast.OpMod, precMultiplicative
	case tPlus:
		return ast.OpAdd, precAdditive
	case tMinus:
		return ast.OpSub, precAdditive
	case tLt:
		return ast.OpLt, precRelational
	case tLe:
		return ast.OpLe, precRelational
	case tGt:
		return ast.OpGt, precRelational
	case tGe:
		return ast.OpGe, precRelational
	case tEq:
		return ast.OpEq, precEquality
	case tNe:
		return ast.OpNe, precEquality
	case tIdent:
		switch {
		case p.isKw("and"):
			return ast.OpAnd, precAnd
		case p.isKw("or"):
			return ast.OpOr, precOr
		case p.isKw("in"):
			return ast.OpInvalid, precIn
		}
	}
	return ast.OpInvalid, 0
}

// binary parses operands joined by operators of precedence prec or higher.
func (p *parser) binary(prec int) ast.Expr {
	x := p.unary()
	for {
		op, oprec := p.binaryOp()
		if oprec < prec || oprec == 0 {
			return x
		}
		opPos := p.tok.pos
		p.next()
		if oprec == precIn {
			src, _ := p.name("table or window name after 'in'")
			x = &ast.In{Pos: x.Position(), X: x, Source: src}
			continue
		}
		y := p.binary(oprec + 1)
		x = &ast.Binary{Pos: x.Position(), Op: op, X: x, Y: y, OpPos: opPos}
	}
}

func (p *parser) unary() ast.Expr {
	p.enter()
	defer p.leave()
	pos := p.tok.pos
	switch {
	case p.isKw("not"):
		p.next()
		return &ast.Unary{Pos: pos, Op: ast.OpNot, X: p.unary()}
	case p.tok.kind == tMinus || p.tok.kind == tPlus:
		neg := p.tok.kind == tMinus
		if n := p.peek(1); isNumber(n.kind) && !(n.kind == tInt && isTimeUnit(p.peek(2))) {
			// A signed literal, as Siddhi's grammar has it; parsing the sign
			// with the digits keeps the most negative int and long exact.
			p.next()
			return p.number(pos, neg)
		}
		if !neg {
			p.errorExpected("expression")
		}
		p.next()
		return &ast.Unary{Pos: pos, Op: ast.OpNeg, X: p.unary()}
	}
	return p.postfix(p.primary())
}

// postfix parses `X is null`.
func (p *parser) postfix(x ast.Expr) ast.Expr {
	if p.isKw("is") {
		p.next()
		p.expectKw("null")
		return &ast.IsNull{Pos: x.Position(), X: x}
	}
	return x
}

func isNumber(k kind) bool { return k == tInt || k == tLong || k == tFloat || k == tDouble }

func (p *parser) primary() ast.Expr {
	t := p.tok
	switch t.kind {
	case tLParen:
		p.next()
		x := p.expr()
		p.expect(tRParen)
		return x
	case tInt:
		if isTimeUnit(p.peek(1)) {
			return p.timeValue()
		}
		return p.number(t.pos, false)
	case tLong, tFloat, tDouble:
		return p.number(t.pos, false)
	case tString:
		p.next()
		return &ast.Constant{Pos: t.pos, Value: event.StringValue(t.lit)}
	case tHash, tBang:
		// #Inner.attr or !Fault.attr
		p.next()
		v := p.reference()
		v.Pos = t.pos
		v.Inner, v.Fault = t.kind == tHash, t.kind == tBang
		if v.Stream == "" && v.Index == nil && v.Name != "" {
			v.Stream, v.Name = v.Name, ""
		}
		return v
	case tIdent:
		if !t.quoted {
			switch {
			case equalFold(t.lit, "true"), equalFold(t.lit, "false"):
				p.next()
				return &ast.Constant{Pos: t.pos, Value: event.BoolValue(equalFold(t.lit, "true"))}
			case equalFold(t.lit, "null"):
				p.next()
				return &ast.Constant{Pos: t.pos, Value: event.NullValue()}
			}
		}
		if n := p.peek(1); n.kind == tLParen || n.kind == tColon && p.peek(2).kind == tIdent && p.peek(3).kind == tLParen {
			return p.call()
		}
		return p.reference()
	}
	p.errorExpected("expression")
	return nil
}

// reference parses `name`, `S.name`, `e[i].name` and `e[i]`.
func (p *parser) reference() *ast.Variable {
	first, pos := p.name("attribute or stream name")
	v := &ast.Variable{Pos: pos}
	if p.tok.kind == tLBrack {
		v.Stream = first
		v.Index = p.eventIndex()
		if p.tok.kind != tDot {
			return v // e1[0] on its own, for `e1[0] is null`
		}
	}
	if p.tok.kind == tDot {
		p.next()
		v.Stream = first
		v.Name, _ = p.name("attribute name")
		return v
	}
	v.Name = first
	return v
}

// eventIndex parses `[N]`, `[last]` or `[last - N]`.
func (p *parser) eventIndex() *ast.EventIndex {
	p.expect(tLBrack)
	idx := &ast.EventIndex{}
	if p.gotKw("last") {
		idx.Last = true
		if p.got(tMinus) {
			idx.N = p.smallInt("event index")
		}
	} else {
		idx.N = p.smallInt("event index (a number or 'last')")
	}
	p.expect(tRBrack)
	return idx
}

// smallInt parses a non-negative int literal.
func (p *parser) smallInt(what string) int {
	t := p.tok
	if t.kind != tInt {
		p.errorExpected(what)
	}
	n, err := strconv.ParseInt(t.lit, 10, 32)
	if err != nil {
		p.failf(t.pos, "%s %s is out of range", what, t.lit)
	}
	p.next()
	return int(n)
}

// call parses `name(args)` or `ns:name(args)`; `f(*)` sets Star.
func (p *parser) call() *ast.Call {
	c := &ast.Call{}
	c.Name, c.Pos = p.name("function name")
	if p.got(tColon) {
		c.Namespace = c.Name
		c.Name, _ = p.name("function name")
	}
	c.Args, c.Star = p.args()
	return c
}

// args parses `(expr, ...)`, `()` or `(*)`.
func (p *parser) args() ([]ast.Expr, bool) {
	p.expect(tLParen)
	if p.got(tRParen) {
		return nil, false
	}
	if p.tok.kind == tStar && p.peek(1).kind == tRParen {
		p.next()
		p.next()
		return nil, true
	}
	var args []ast.Expr
	for {
		args = append(args, p.expr())
		if !p.got(tComma) {
			break
		}
	}
	p.expect(tRParen)
	return args, false
}

// number converts the current numeric token, with its sign, to a constant.
func (p *parser) number(pos ast.Pos, neg bool) *ast.Constant {
	t := p.tok
	p.next()
	text := t.lit
	if neg {
		text = "-" + text
	}
	c := &ast.Constant{Pos: pos}
	switch t.kind {
	case tInt:
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			p.failf(t.pos, "int literal %s is out of range (add L for a long)", text)
		}
		c.Value = event.IntValue(int32(n))
	case tLong:
		n, err := strconv.ParseInt(text[:len(text)-1], 10, 64)
		if err != nil {
			p.failf(t.pos, "long literal %s is out of range", text)
		}
		c.Value = event.LongValue(n)
	case tFloat:
		// Like Java's Float.parseFloat, out-of-range values become infinities.
		f, _ := strconv.ParseFloat(text[:len(text)-1], 32)
		c.Value = event.FloatValue(float32(f))
	case tDouble:
		if last := text[len(text)-1] | 0x20; last == 'd' {
			text = text[:len(text)-1]
		}
		f, _ := strconv.ParseFloat(text, 64)
		c.Value = event.DoubleValue(f)
	}
	return c
}

// timeUnits lists Siddhi's time units from the largest down, with their
// spellings and lengths in milliseconds (a month is 30 days, a year 365).
var timeUnits = [...]struct {
	names []string
	ms    int64
}{
	{[]string{"year", "years"}, 365 * 24 * 3600 * 1000},
	{[]string{"month", "months"}, 30 * 24 * 3600 * 1000},
	{[]string{"week", "weeks"}, 7 * 24 * 3600 * 1000},
	{[]string{"day", "days"}, 24 * 3600 * 1000},
	{[]string{"hour", "hours"}, 3600 * 1000},
	{[]string{"min", "minute", "minutes"}, 60 * 1000},
	{[]string{"sec", "second", "seconds"}, 1000},
	{[]string{"millisec", "millisecond", "milliseconds"}, 1},
}

// timeUnit returns the rank (0 = years) of a time unit token, or -1.
func timeUnit(t token) int {
	if t.kind != tIdent || t.quoted {
		return -1
	}
	for i, u := range timeUnits {
		for _, n := range u.names {
			if equalFold(t.lit, n) {
				return i
			}
		}
	}
	return -1
}

func isTimeUnit(t token) bool { return timeUnit(t) >= 0 }

// timeValue parses `1 min 30 sec`: int literals with units from the largest
// to the smallest. The value is a Long number of milliseconds.
func (p *parser) timeValue() *ast.Constant {
	c := &ast.Constant{Pos: p.tok.pos, IsTime: true}
	var total int64
	last, lastTok := -1, token{}
	for p.tok.kind == tInt && isTimeUnit(p.peek(1)) {
		num, unit := p.tok, p.peek(1)
		rank := timeUnit(unit)
		if rank <= last {
			p.failf(unit.pos, "time unit '%s' must come before '%s' in a time value", unit.lit, lastTok.lit)
		}
		n, err := strconv.ParseInt(num.lit, 10, 64)
		ms := timeUnits[rank].ms
		if err != nil || n > (math.MaxInt64-total)/ms {
			p.failf(num.pos, "time value %s %s is too large", num.lit, strings.ToLower(unit.lit))
		}
		total += n * ms
		last, lastTok = rank, unit
		p.next()
		p.next()
	}
	c.Value = event.LongValue(total)
	return c
}
