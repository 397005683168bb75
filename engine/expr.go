package engine

import (
	"math"

	"github.com/tandem-stream/tandem/event"
)

// frame is what a compiled expression reads: the attributes of the event being
// processed and, inside a selector, the aggregate results and the output row
// built so far (for having).
type frame struct {
	ts  int64 // the event's timestamp
	in  []event.Value
	agg []event.Value
	out []event.Value

	// An expression window's condition also reads the window's first
	// event and its newest one.
	first, last     []event.Value
	firstTS, lastTS int64
}

// space names the part of a frame a variable lives in.
type space uint8

const (
	spaceIn space = iota
	spaceAgg
	spaceOut
	spaceFirst // an expression window's first event
	spaceLast  // an expression window's newest event
)

// expr is a compiled, type-checked expression. The planner knows every type
// statically, so each expression gets an evaluator specialised for its type
// and no Value is built on the way unless the caller asks for one:
//
//	Int, Long      num  (value, ok) where !ok means null
//	Float, Double  flt  (value, ok); Float results are already rounded to float32
//	Bool           cond (null reads as false, which is Siddhi's condition rule)
//	String         str  (value, ok)
//
// val is always set and returns the result as a Value.
type expr struct {
	typ  event.Type
	num  func(*frame) (int64, bool)
	flt  func(*frame) (float64, bool)
	cond func(*frame) bool
	str  func(*frame) (string, bool)
	val  func(*frame) event.Value

	// isVar is set for a plain variable, so projections can copy the value
	// without calling anything.
	isVar bool
	sp    space
	col   int

	isConst bool
	konst   event.Value
}

// finish fills in val (and the typed evaluators a constant or variable needs)
// from the typed evaluator that the constructor set.
func (e *expr) finish() *expr {
	if e.val != nil {
		return e
	}
	switch e.typ {
	case event.Int:
		num := e.num
		e.val = func(f *frame) event.Value {
			n, ok := num(f)
			if !ok {
				return event.Value{}
			}
			return event.IntValue(int32(n))
		}
	case event.Long:
		num := e.num
		e.val = func(f *frame) event.Value {
			n, ok := num(f)
			if !ok {
				return event.Value{}
			}
			return event.LongValue(n)
		}
	case event.Float:
		flt := e.flt
		e.val = func(f *frame) event.Value {
			x, ok := flt(f)
			if !ok {
				return event.Value{}
			}
			return event.FloatValue(float32(x))
		}
	case event.Double:
		flt := e.flt
		e.val = func(f *frame) event.Value {
			x, ok := flt(f)
			if !ok {
				return event.Value{}
			}
			return event.DoubleValue(x)
		}
	case event.Bool:
		cond := e.cond
		e.val = func(f *frame) event.Value { return event.BoolValue(cond(f)) }
	case event.String:
		str := e.str
		e.val = func(f *frame) event.Value {
			s, ok := str(f)
			if !ok {
				return event.Value{}
			}
			return event.StringValue(s)
		}
	default:
		e.val = func(*frame) event.Value { return event.Value{} }
	}
	return e
}

// fillTyped derives the typed evaluators from val, for expressions whose
// natural form is a Value (variables, generic functions).
func (e *expr) fillTyped() *expr {
	val := e.val
	switch e.typ {
	case event.Int, event.Long:
		if e.num == nil {
			e.num = func(f *frame) (int64, bool) {
				v := val(f)
				return v.Int(), !v.IsNull()
			}
		}
	case event.Float, event.Double:
		if e.flt == nil {
			e.flt = func(f *frame) (float64, bool) {
				v := val(f)
				return v.Float(), !v.IsNull()
			}
		}
	case event.Bool:
		if e.cond == nil {
			e.cond = func(f *frame) bool { return val(f).Bool() }
		}
	case event.String:
		if e.str == nil {
			e.str = func(f *frame) (string, bool) {
				v := val(f)
				return v.Str(), !v.IsNull()
			}
		}
	}
	return e
}

// constExpr compiles a literal.
func constExpr(v event.Value) *expr {
	e := &expr{typ: v.Type(), isConst: true, konst: v}
	e.val = func(*frame) event.Value { return v }
	switch v.Type() {
	case event.Int, event.Long:
		n := v.Int()
		e.num = func(*frame) (int64, bool) { return n, true }
	case event.Float, event.Double:
		x := v.Float()
		e.flt = func(*frame) (float64, bool) { return x, true }
	case event.Bool:
		b := v.Bool()
		e.cond = func(*frame) bool { return b }
	case event.String:
		s := v.Str()
		e.str = func(*frame) (string, bool) { return s, true }
	case event.Null:
		e.num = func(*frame) (int64, bool) { return 0, false }
		e.flt = func(*frame) (float64, bool) { return 0, false }
		e.cond = func(*frame) bool { return false }
		e.str = func(*frame) (string, bool) { return "", false }
	}
	return e
}

// varExpr compiles a reference to column col of a frame space.
func varExpr(sp space, col int, t event.Type) *expr {
	e := &expr{typ: t, isVar: true, sp: sp, col: col}
	switch sp {
	case spaceIn:
		e.val = func(f *frame) event.Value { return f.in[col] }
		switch t {
		case event.Int, event.Long:
			e.num = func(f *frame) (int64, bool) {
				v := &f.in[col]
				return v.Int(), !v.IsNull()
			}
		case event.Float, event.Double:
			e.flt = func(f *frame) (float64, bool) {
				v := &f.in[col]
				return v.Float(), !v.IsNull()
			}
		case event.Bool:
			e.cond = func(f *frame) bool { return f.in[col].Bool() }
		case event.String:
			e.str = func(f *frame) (string, bool) {
				v := &f.in[col]
				return v.Str(), !v.IsNull()
			}
		}
	case spaceAgg:
		e.val = func(f *frame) event.Value { return f.agg[col] }
	case spaceFirst:
		e.val = func(f *frame) event.Value { return f.first[col] }
	case spaceLast:
		e.val = func(f *frame) event.Value { return f.last[col] }
	default:
		e.val = func(f *frame) event.Value { return f.out[col] }
	}
	return e.fillTyped()
}

// promote returns the type of arithmetic between a and b: Java's binary
// numeric promotion, which Siddhi follows.
func promote(a, b event.Type) event.Type {
	if a > b {
		return a
	}
	return b
}

// asInt returns an evaluator of e (an Int or Long expression) as int64.
func asInt(e *expr) func(*frame) (int64, bool) { return e.num }

// asFloat returns an evaluator of numeric e converted to t (Float or Double),
// converting integers the way Java does: to float32 first when t is Float.
func asFloat(e *expr, t event.Type) func(*frame) (float64, bool) {
	switch e.typ {
	case event.Float, event.Double:
		return e.flt
	case event.Int, event.Long:
		num := e.num
		if t == event.Float {
			return func(f *frame) (float64, bool) {
				n, ok := num(f)
				return float64(float32(n)), ok
			}
		}
		return func(f *frame) (float64, bool) {
			n, ok := num(f)
			return float64(n), ok
		}
	}
	// Null constant.
	return func(*frame) (float64, bool) { return 0, false }
}

func nullInt(*frame) (int64, bool) { return 0, false }

// arith compiles x op y for numeric x and y; t is the promoted type.
func arith(op arithOp, t event.Type, x, y *expr) *expr {
	e := &expr{typ: t}
	switch t {
	case event.Int, event.Long:
		a, b := asInt(x), asInt(y)
		if x.typ == event.Null || y.typ == event.Null {
			e.num = nullInt
			break
		}
		wrap := t == event.Int
		e.num = intArith(op, a, b, wrap)
	default:
		a, b := asFloat(x, t), asFloat(y, t)
		e.flt = floatArith(op, a, b, t == event.Float)
	}
	return e.finish()
}

type arithOp uint8

const (
	opAdd arithOp = iota
	opSub
	opMul
	opDiv
	opMod
)

func intArith(op arithOp, a, b func(*frame) (int64, bool), wrap bool) func(*frame) (int64, bool) {
	var f func(x, y int64) (int64, bool)
	switch op {
	case opAdd:
		f = func(x, y int64) (int64, bool) { return x + y, true }
	case opSub:
		f = func(x, y int64) (int64, bool) { return x - y, true }
	case opMul:
		f = func(x, y int64) (int64, bool) { return x * y, true }
	case opDiv:
		if wrap {
			// int32 division: MinInt32 / -1 overflows back to MinInt32 in Java.
			f = func(x, y int64) (int64, bool) {
				if y == 0 {
					return 0, false
				}
				return int64(int32(x) / int32(y)), true
			}
		} else {
			f = func(x, y int64) (int64, bool) {
				if y == 0 {
					return 0, false
				}
				return x / y, true
			}
		}
	case opMod:
		if wrap {
			f = func(x, y int64) (int64, bool) {
				if y == 0 {
					return 0, false
				}
				return int64(int32(x) % int32(y)), true
			}
		} else {
			f = func(x, y int64) (int64, bool) {
				if y == 0 {
					return 0, false
				}
				return x % y, true
			}
		}
	}
	if wrap {
		return func(fr *frame) (int64, bool) {
			x, ok := a(fr)
			if !ok {
				return 0, false
			}
			y, ok := b(fr)
			if !ok {
				return 0, false
			}
			r, ok := f(x, y)
			return int64(int32(r)), ok
		}
	}
	return func(fr *frame) (int64, bool) {
		x, ok := a(fr)
		if !ok {
			return 0, false
		}
		y, ok := b(fr)
		if !ok {
			return 0, false
		}
		return f(x, y)
	}
}

func floatArith(op arithOp, a, b func(*frame) (float64, bool), single bool) func(*frame) (float64, bool) {
	var f func(x, y float64) float64
	switch op {
	case opAdd:
		f = func(x, y float64) float64 { return x + y }
	case opSub:
		f = func(x, y float64) float64 { return x - y }
	case opMul:
		f = func(x, y float64) float64 { return x * y }
	case opDiv:
		f = func(x, y float64) float64 { return x / y }
	case opMod:
		f = math.Mod // Java's % on floating point: the sign follows the dividend.
	}
	return func(fr *frame) (float64, bool) {
		x, ok := a(fr)
		if !ok {
			return 0, false
		}
		y, ok := b(fr)
		if !ok {
			return 0, false
		}
		r := f(x, y)
		if single {
			// Computing in float64 and rounding once gives exactly the float32
			// result for + - * / %: float64 has more than twice the precision.
			r = float64(float32(r))
		}
		return r, true
	}
}

// negate compiles -x for numeric x.
func negate(x *expr) *expr {
	e := &expr{typ: x.typ}
	switch x.typ {
	case event.Int:
		a := x.num
		e.num = func(f *frame) (int64, bool) {
			n, ok := a(f)
			return int64(-int32(n)), ok
		}
	case event.Long:
		a := x.num
		e.num = func(f *frame) (int64, bool) {
			n, ok := a(f)
			return -n, ok
		}
	default:
		a := x.flt
		e.flt = func(f *frame) (float64, bool) {
			n, ok := a(f)
			return -n, ok
		}
	}
	return e.finish()
}

type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

func cmpInt(op cmpOp) func(x, y int64) bool {
	switch op {
	case cmpEq:
		return func(x, y int64) bool { return x == y }
	case cmpNe:
		return func(x, y int64) bool { return x != y }
	case cmpLt:
		return func(x, y int64) bool { return x < y }
	case cmpLe:
		return func(x, y int64) bool { return x <= y }
	case cmpGt:
		return func(x, y int64) bool { return x > y }
	}
	return func(x, y int64) bool { return x >= y }
}

// compareNumeric compiles x op y for numeric x, y. Any null operand makes the
// comparison false, as in Siddhi.
func compareNumeric(op cmpOp, x, y *expr) *expr {
	t := promote(x.typ, y.typ)
	e := &expr{typ: event.Bool}
	if x.typ == event.Null || y.typ == event.Null {
		e.cond = func(*frame) bool { return false }
		return e.finish()
	}
	if t == event.Int || t == event.Long {
		a, b := x.num, y.num
		// The hot filter shape: an input column against a constant.
		if x.isVar && x.sp == spaceIn && y.isConst {
			col, c := x.col, y.konst.Int()
			switch op {
			case cmpGt:
				e.cond = func(f *frame) bool { v := &f.in[col]; return !v.IsNull() && v.Int() > c }
			case cmpLt:
				e.cond = func(f *frame) bool { v := &f.in[col]; return !v.IsNull() && v.Int() < c }
			}
		}
		if e.cond == nil {
			c := cmpInt(op)
			e.cond = func(f *frame) bool {
				l, ok := a(f)
				if !ok {
					return false
				}
				r, ok := b(f)
				return ok && c(l, r)
			}
		}
		return e.finish()
	}
	a, b := asFloat(x, t), asFloat(y, t)
	if x.isVar && x.sp == spaceIn && y.isConst && x.typ == t {
		col := x.col
		cv, _ := b(nil)
		switch op {
		case cmpGt:
			e.cond = func(f *frame) bool { v := &f.in[col]; return !v.IsNull() && v.Float() > cv }
		case cmpGe:
			e.cond = func(f *frame) bool { v := &f.in[col]; return !v.IsNull() && v.Float() >= cv }
		case cmpLt:
			e.cond = func(f *frame) bool { v := &f.in[col]; return !v.IsNull() && v.Float() < cv }
		case cmpLe:
			e.cond = func(f *frame) bool { v := &f.in[col]; return !v.IsNull() && v.Float() <= cv }
		}
	}
	if e.cond == nil {
		var c func(x, y float64) bool
		switch op {
		case cmpEq:
			c = func(x, y float64) bool { return x == y }
		case cmpNe:
			c = func(x, y float64) bool { return x != y }
		case cmpLt:
			c = func(x, y float64) bool { return x < y }
		case cmpLe:
			c = func(x, y float64) bool { return x <= y }
		case cmpGt:
			c = func(x, y float64) bool { return x > y }
		default:
			c = func(x, y float64) bool { return x >= y }
		}
		e.cond = func(f *frame) bool {
			l, ok := a(f)
			if !ok {
				return false
			}
			r, ok := b(f)
			return ok && c(l, r)
		}
	}
	return e.finish()
}

// compareString compiles == and != (and the ordering operators, which compare
// lexicographically) on strings.
func compareString(op cmpOp, x, y *expr) *expr {
	a, b := x.str, y.str
	e := &expr{typ: event.Bool}
	var c func(x, y string) bool
	switch op {
	case cmpEq:
		c = func(x, y string) bool { return x == y }
	case cmpNe:
		c = func(x, y string) bool { return x != y }
	case cmpLt:
		c = func(x, y string) bool { return x < y }
	case cmpLe:
		c = func(x, y string) bool { return x <= y }
	case cmpGt:
		c = func(x, y string) bool { return x > y }
	default:
		c = func(x, y string) bool { return x >= y }
	}
	e.cond = func(f *frame) bool {
		l, ok := a(f)
		if !ok {
			return false
		}
		r, ok := b(f)
		return ok && c(l, r)
	}
	return e.finish()
}

// compareValues compiles == and != on bools (and objects): both must be non-null.
func compareValues(op cmpOp, x, y *expr) *expr {
	a, b := x.val, y.val
	e := &expr{typ: event.Bool}
	eq := op == cmpEq
	e.cond = func(f *frame) bool {
		l := a(f)
		r := b(f)
		if l.IsNull() || r.IsNull() {
			return false
		}
		return l.Equal(r) == eq
	}
	return e.finish()
}

func andExpr(x, y *expr) *expr {
	a, b := x.cond, y.cond
	return (&expr{typ: event.Bool, cond: func(f *frame) bool { return a(f) && b(f) }}).finish()
}

func orExpr(x, y *expr) *expr {
	a, b := x.cond, y.cond
	return (&expr{typ: event.Bool, cond: func(f *frame) bool { return a(f) || b(f) }}).finish()
}

func notExpr(x *expr) *expr {
	a := x.cond
	return (&expr{typ: event.Bool, cond: func(f *frame) bool { return !a(f) }}).finish()
}

func isNullExpr(x *expr) *expr {
	v := x.val
	return (&expr{typ: event.Bool, cond: func(f *frame) bool { return v(f).IsNull() }}).finish()
}
