package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// A scalar function is planned by a builder that checks the argument types
// and returns the compiled call, or reports an error and returns nil. The
// table is keyed by the lower-case name.
type funcBuilder func(p *planner, c *ast.Call, args []*expr) *expr

var scalarFuncs = map[string]funcBuilder{
	"cast":              buildCast,
	"convert":           buildConvert,
	"coalesce":          buildCoalesce,
	"default":           buildDefault,
	"ifthenelse":        buildIfThenElse,
	"maximum":           func(p *planner, c *ast.Call, a []*expr) *expr { return buildExtreme(p, c, a, true) },
	"minimum":           func(p *planner, c *ast.Call, a []*expr) *expr { return buildExtreme(p, c, a, false) },
	"instanceofboolean": instanceOf(event.Bool),
	"instanceofstring":  instanceOf(event.String),
	"instanceofinteger": instanceOf(event.Int),
	"instanceoflong":    instanceOf(event.Long),
	"instanceoffloat":   instanceOf(event.Float),
	"instanceofdouble":  instanceOf(event.Double),
	"eventtimestamp":    buildEventTimestamp,
	"currenttimemillis": buildCurrentTime,
	"uuid":              buildUUID,
}

// function compiles a scalar function call.
func (p *planner) function(c *ast.Call, sc *scope) *expr {
	name := c.Name
	if c.Namespace != "" {
		name = c.Namespace + ":" + c.Name
	}
	build, ok := scalarFuncs[strings.ToLower(name)]
	if !ok {
		p.errorf(c.Pos, "unknown function %s", name)
		return nil
	}
	if sc.winExpr && strings.EqualFold(name, "uuid") {
		p.errorf(c.Pos, "UUID() is not supported in window expressions")
		return nil
	}
	if strings.EqualFold(name, "eventTimestamp") && len(c.Args) == 1 {
		return p.eventTimestampOf(c, sc)
	}
	var args []*expr
	if c.Star {
		// f(*): every attribute of the input.
		for i, a := range sc.in.Attrs {
			args = append(args, varExpr(spaceIn, i, a.Type))
			if sc.used != nil {
				sc.used[i] = true
			}
		}
	}
	for _, a := range c.Args {
		x := p.compile(a, sc)
		if x == nil {
			return nil
		}
		args = append(args, x)
	}
	return build(p, c, args)
}

func (p *planner) wantArgs(c *ast.Call, args []*expr, n int) bool {
	if len(args) != n {
		p.errorf(c.Pos, "%s takes %d arguments, found %d", c.Name, n, len(args))
		return false
	}
	return true
}

// typeArg reads a constant type name argument such as 'double'.
func (p *planner) typeArg(c *ast.Call, e *expr) (event.Type, bool) {
	if !e.isConst || e.typ != event.String {
		p.errorf(c.Pos, "%s needs a constant type name (int, long, float, double, bool, string) as its 2nd argument", c.Name)
		return event.Null, false
	}
	t, ok := event.ParseType(e.konst.Str())
	if !ok || t == event.Object {
		p.errorf(c.Pos, "%s: type must be one of int, long, float, double, bool, string, found '%s'", c.Name, e.konst.Str())
		return event.Null, false
	}
	return t, true
}

func valueExpr(t event.Type, val func(*frame) event.Value) *expr {
	return (&expr{typ: t, val: val}).fillTyped()
}

// buildCast is cast(x, 'type'): Siddhi only relabels the value's type (and
// widens an int to a long). Values of another type pass through unchanged;
// an object holding a value of the target type is unwrapped.
func buildCast(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 2) {
		return nil
	}
	t, ok := p.typeArg(c, args[1])
	if !ok {
		return nil
	}
	x := args[0].val
	return valueExpr(t, func(f *frame) event.Value {
		v := x(f)
		switch {
		case v.Type() == t:
			return v
		case v.Type() == event.Int && t == event.Long:
			return event.LongValue(v.Int())
		case v.Type() == event.Object:
			if u := unwrap(v.Obj()); u.Type() == t {
				return u
			}
		}
		return v
	})
}

// unwrap turns an object holding a plain Go value into the typed value.
func unwrap(o any) event.Value {
	switch x := o.(type) {
	case int32:
		return event.IntValue(x)
	case int64:
		return event.LongValue(x)
	case float32:
		return event.FloatValue(x)
	case float64:
		return event.DoubleValue(x)
	case bool:
		return event.BoolValue(x)
	case string:
		return event.StringValue(x)
	}
	return event.ObjectValue(o)
}

// buildConvert is convert(x, 'type'), following Siddhi's
// ConvertFunctionExecutor case by case; unparsable strings and objects give
// null.
func buildConvert(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 2) {
		return nil
	}
	t, ok := p.typeArg(c, args[1])
	if !ok {
		return nil
	}
	x := args[0].val
	return valueExpr(t, func(f *frame) event.Value { return convertValue(x(f), t) })
}

func convertValue(v event.Value, t event.Type) event.Value {
	if v.IsNull() {
		return v
	}
	in := v.Type()
	if t == event.String {
		return event.StringValue(v.String())
	}
	if in == event.Object {
		return event.Value{}
	}
	if in == t {
		return v
	}
	switch t {
	case event.Int, event.Long:
		var n int64
		switch in {
		case event.String:
			bits := 64
			if t == event.Int {
				bits = 32
			}
			x, err := strconv.ParseInt(v.Str(), 10, bits)
			if err != nil {
				return event.Value{}
			}
			n = x
		case event.Int, event.Long:
			n = v.Int()
		case event.Float, event.Double:
			if t == event.Int {
				n = int64(javaD2I(v.Float()))
			} else {
				n = javaD2L(v.Float())
			}
		case event.Bool:
			if v.Bool() {
				n = 1
			}
		}
		if t == event.Int {
			return event.IntValue(int32(n))
		}
		return event.LongValue(n)
	case event.Float, event.Double:
		var x float64
		switch in {
		case event.String:
			y, ok := parseJavaFloat(v.Str(), t == event.Float)
			if !ok {
				return event.Value{}
			}
			x = y
		case event.Int, event.Long:
			x = float64(v.Int())
			if t == event.Float {
				x = float64(float32(v.Int()))
			}
		case event.Float, event.Double:
			x = v.Float()
		case event.Bool:
			if v.Bool() {
				x = 1
			}
		}
		if t == event.Float {
			return event.FloatValue(float32(x))
		}
		return event.DoubleValue(x)
	case event.Bool:
		switch in {
		case event.String:
			return event.BoolValue(strings.EqualFold(v.Str(), "true"))
		case event.Int, event.Long:
			return event.BoolValue(v.Int() == 1)
		case event.Float, event.Double:
			return event.BoolValue(v.Float() == 1)
		}
	}
	return event.Value{}
}

// parseJavaFloat parses like Java's Float/Double.parseFloat: surrounding
// blanks are ignored and a trailing f, F, d or D is allowed.
func parseJavaFloat(s string, single bool) (float64, bool) {
	s = strings.TrimSpace(s)
	if n := len(s); n > 1 && strings.ContainsRune("fFdD", rune(s[n-1])) && s[n-2] != 'n' && s[n-2] != 'N' {
		s = s[:n-1]
	}
	bits := 64
	if single {
		bits = 32
	}
	x, err := strconv.ParseFloat(s, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return x, true
}

// javaD2I and javaD2L convert like Java's (int) and (long) casts: NaN is 0
// and out-of-range values saturate.
func javaD2I(x float64) int32 {
	switch {
	case math.IsNaN(x):
		return 0
	case x >= math.MaxInt32:
		return math.MaxInt32
	case x <= math.MinInt32:
		return math.MinInt32
	}
	return int32(x)
}

func javaD2L(x float64) int64 {
	switch {
	case math.IsNaN(x):
		return 0
	case x >= math.MaxInt64:
		return math.MaxInt64
	case x <= math.MinInt64:
		return math.MinInt64
	}
	return int64(x)
}

func sameTypeArgs(p *planner, c *ast.Call, args []*expr) bool {
	for _, a := range args[1:] {
		if a.typ != args[0].typ {
			p.errorf(c.Pos, "%s needs arguments of one type, found %s and %s", c.Name, args[0].typ, a.typ)
			return false
		}
	}
	return true
}

// buildCoalesce is coalesce(a, b, ...): the first non-null argument.
func buildCoalesce(p *planner, c *ast.Call, args []*expr) *expr {
	if len(args) == 0 {
		p.errorf(c.Pos, "coalesce needs at least one argument")
		return nil
	}
	if !sameTypeArgs(p, c, args) {
		return nil
	}
	vals := make([]func(*frame) event.Value, len(args))
	for i, a := range args {
		vals[i] = a.val
	}
	return valueExpr(args[0].typ, func(f *frame) event.Value {
		for _, v := range vals {
			if x := v(f); !x.IsNull() {
				return x
			}
		}
		return event.Value{}
	})
}

// buildDefault is default(x, constant): the constant when x is null.
func buildDefault(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 2) {
		return nil
	}
	if !args[1].isConst {
		p.errorf(c.Pos, "default needs a constant as its 2nd argument")
		return nil
	}
	if args[0].typ != args[1].typ {
		p.errorf(c.Pos, "default needs an attribute and a default of one type, found %s and %s", args[0].typ, args[1].typ)
		return nil
	}
	x, d := args[0].val, args[1].konst
	return valueExpr(args[0].typ, func(f *frame) event.Value {
		if v := x(f); !v.IsNull() {
			return v
		}
		return d
	})
}

// buildIfThenElse is ifThenElse(cond, a, b); only the chosen branch is
// evaluated, and a null condition chooses b.
func buildIfThenElse(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 3) {
		return nil
	}
	if args[0].typ != event.Bool {
		p.errorf(c.Pos, "ifThenElse needs a bool condition, found %s", args[0].typ)
		return nil
	}
	if args[1].typ != args[2].typ {
		p.errorf(c.Pos, "ifThenElse needs branches of one type, found %s and %s", args[1].typ, args[2].typ)
		return nil
	}
	cond, a, b := args[0].cond, args[1].val, args[2].val
	return valueExpr(args[1].typ, func(f *frame) event.Value {
		if cond(f) {
			return a(f)
		}
		return b(f)
	})
}

// buildExtreme is maximum(...) and minimum(...), reproducing Siddhi's
// executors: the work is done in double starting from Double.MIN_VALUE (the
// smallest positive double, so the maximum of negative numbers is 0) or
// Double.MAX_VALUE, nulls are skipped, and the result is cast back.
func buildExtreme(p *planner, c *ast.Call, args []*expr, isMax bool) *expr {
	if len(args) == 0 {
		p.errorf(c.Pos, "%s needs at least one argument", c.Name)
		return nil
	}
	for _, a := range args {
		if !a.typ.IsNumeric() {
			p.errorf(c.Pos, "%s needs int, long, float or double arguments, found %s", c.Name, a.typ)
			return nil
		}
	}
	if !sameTypeArgs(p, c, args) {
		return nil
	}
	t := args[0].typ
	if len(args) == 1 {
		return args[0]
	}
	vals := make([]func(*frame) event.Value, len(args))
	for i, a := range args {
		vals[i] = a.val
	}
	return valueExpr(t, func(f *frame) event.Value {
		acc := math.MaxFloat64
		if isMax {
			acc = math.SmallestNonzeroFloat64
		}
		for _, v := range vals {
			x := v(f)
			if x.IsNull() {
				continue
			}
			if y := x.Float(); isMax && y > acc || !isMax && y < acc {
				acc = y
			}
		}
		switch t {
		case event.Int:
			return event.IntValue(javaD2I(acc))
		case event.Long:
			return event.LongValue(javaD2L(acc))
		case event.Float:
			return event.FloatValue(float32(acc))
		}
		return event.DoubleValue(acc)
	})
}

// instanceOf builds instanceOfX(v): whether the value (or the plain value an
// object holds) is of type t. Null is of no type.
func instanceOf(t event.Type) funcBuilder {
	return func(p *planner, c *ast.Call, args []*expr) *expr {
		if !p.wantArgs(c, args, 1) {
			return nil
		}
		x := args[0].val
		return (&expr{typ: event.Bool, cond: func(f *frame) bool {
			v := x(f)
			if v.Type() == event.Object {
				v = unwrap(v.Obj())
			}
			return v.Type() == t
		}}).finish()
	}
}

// buildEventTimestamp is eventTimestamp(): the timestamp of the event.
func buildEventTimestamp(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 0) {
		return nil
	}
	return (&expr{typ: event.Long, num: func(f *frame) (int64, bool) { return f.ts, true }}).finish()
}

// eventTimestampOf is eventTimestamp(ref): the timestamp of the event a
// stream reference names. Over one stream that is the event itself; in an
// expression window's condition, first and last name the window's first and
// newest events.
func (p *planner) eventTimestampOf(c *ast.Call, sc *scope) *expr {
	v, ok := c.Args[0].(*ast.Variable)
	if !ok || v.Stream != "" || v.Index != nil {
		p.errorf(c.Pos, "eventTimestamp takes a stream reference, such as eventTimestamp(e1)")
		return nil
	}
	if sc.winExpr && (v.Name == "first" || v.Name == "last") {
		if v.Name == "first" {
			return (&expr{typ: event.Long, num: func(f *frame) (int64, bool) { return f.firstTS, true }}).finish()
		}
		return (&expr{typ: event.Long, num: func(f *frame) (int64, bool) { return f.lastTS, true }}).finish()
	}
	for _, n := range sc.names {
		if n == v.Name {
			return (&expr{typ: event.Long, num: func(f *frame) (int64, bool) { return f.ts, true }}).finish()
		}
	}
	p.errorf(v.Pos, "eventTimestamp(%s): %s is not a stream of this query", v.Name, v.Name)
	return nil
}

// buildUUID is UUID(): a random-looking version 4 UUID. Random ones would
// make the two nodes' outputs differ, so each is derived from the app's
// name, the clock and a sequence number that the snapshot keeps: the nodes
// compute the same ones, and runs at other times get other ones.
func buildUUID(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 0) {
		return nil
	}
	r := p.r
	r.uuids = true
	return valueExpr(event.String, func(*frame) event.Value { return event.StringValue(r.nextUUID()) })
}

func (r *Runtime) nextUUID() string {
	r.uuidSeq++
	var b [8 + 8 + 8]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(r.clock))
	binary.LittleEndian.PutUint64(b[8:], r.uuidSeq)
	h := sha256.New()
	h.Write([]byte(r.name))
	h.Write(b[:16])
	sum := h.Sum(nil)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// buildCurrentTime is currentTimeMillis(): the app clock, not the wall
// clock, so that both nodes compute the same value.
func buildCurrentTime(p *planner, c *ast.Call, args []*expr) *expr {
	if !p.wantArgs(c, args, 0) {
		return nil
	}
	clock := &p.r.clock
	return (&expr{typ: event.Long, num: func(*frame) (int64, bool) { return *clock, true }}).finish()
}
