package parser

import (
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
)

func TestExprPrecedence(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a", "a"},
		{"S.a", "S.a"},
		{"a + b * c", "(+ a (* b c))"},
		{"a * b + c", "(+ (* a b) c)"},
		{"a - b - c", "(- (- a b) c)"},
		{"a / b % c", "(% (/ a b) c)"},
		{"(a + b) * c", "(* (+ a b) c)"},
		{"a + b > c", "(> (+ a b) c)"},
		{"a < b == c < d", "(== (< a b) (< c d))"},
		{"a == b != c", "(!= (== a b) c)"},
		{"a > 1 and b < 2 or c == 3", "(or (and (> a int:1) (< b int:2)) (== c int:3))"},
		{"a or b and c", "(or a (and b c))"},
		{"not a and b", "(and (not a) b)"},
		{"not (a == b)", "(not (== a b))"},
		// Siddhi's prefix `not` binds tighter than comparison.
		{"not a == b", "(== (not a) b)"},
		{"not not a", "(not (not a))"},
		{"a is null", "(isnull a)"},
		{"not a is null", "(not (isnull a))"},
		{"a is null or b is null", "(or (isnull a) (isnull b))"},
		{"f(a) is null", "(isnull (f a))"},
		{"e1 is null", "(isnull e1)"},
		{"e1[2] is null", "(isnull e1[2])"},
		{"-a * b", "(* (- a) b)"},
		{"a - -1", "(- a int:-1)"},
		{"a * -2.5", "(* a double:-2.5)"},
		{"-2147483648", "int:-2147483648"},
		{"-9223372036854775808L", "long:-9223372036854775808"},
		{"+5", "int:5"},
		{"a == b in T", "(in (== a b) T)"},
		{"a == b in T and c", "(and (in (== a b) T) c)"},
		{"T.x == y in T or z", "(or (in (== T.x y) T) z)"},
		{"count()", "(count)"},
		{"count(*)", "(count *)"},
		{"str:concat(a, 'x', 1)", `(str:concat a "x" int:1)`},
		{"math:abs(-x)", "(math:abs (- x))"},
		{"e1[0].price", "e1[0].price"},
		{"e1[last].price", "e1[last-0].price"},
		{"e2[last - 1].price", "e2[last-1].price"},
		{"#Inner.a", "#Inner.a"},
		{"!Fault.a", "!Fault.a"},
		{"#S is null", "(isnull #S)"},
		{"`select`", "select"},
		{"select + from", "(+ select from)"},
		{"a AND b OR NOT c", "(or (and a b) (not c))"},
		{"TRUE == False", "(== bool:true bool:false)"},
		{"NULL", "null"},
	}
	for _, tt := range tests {
		x, err := ParseExpr("", []byte(tt.src))
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.src, err)
			continue
		}
		if got := sexpr(x); got != tt.want {
			t.Errorf("ParseExpr(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestLiterals(t *testing.T) {
	tests := []struct{ src, want string }{
		{"10", "int:10"},
		{"10L", "long:10"},
		{"10l", "long:10"},
		{"2.5", "double:2.5"},
		{".5", "double:0.5"},
		{"2.5d", "double:2.5"},
		{"2D", "double:2.0"},
		{"1e3", "double:1000.0"},
		{"1.5E-2", "double:0.015"},
		{"55.6f", "float:55.6"},
		{"55.6F", "float:55.6"},
		{"3f", "float:3.0"},
		{"'abc'", `"abc"`},
		{`"abc"`, `"abc"`},
		{`"it's"`, `"it's"`},
		{`'a"b'`, `"a\"b"`},
		// As in Siddhi, backslashes in '...' and "..." are literal.
		{`'\d+'`, `"\\d+"`},
		{`"""a\tb\n\"c\u0041\101"""`, `"a\tb\n\"cAA"`},
		{"\"\"\"line1\nline2 \"quoted\"\"\"\"", `"line1\nline2 \"quoted\""`},
		{"true", "bool:true"},
		{"false", "bool:false"},
		{"1 sec", "time:1000"},
		{"1 min 30 sec", "time:90000"},
		{"500 millisec", "time:500"},
		{"500 milliseconds", "time:500"},
		{"2 hours", "time:7200000"},
		{"1 hour", "time:3600000"},
		{"1 day", "time:86400000"},
		{"2 weeks", "time:1209600000"},
		{"1 month", "time:2592000000"},
		{"1 year", "time:31536000000"},
		{"1 minute", "time:60000"},
		{"3 seconds", "time:3000"},
		{"1 second 1 millisecond", "time:1001"},
		{"5 MIN", "time:300000"},
		{"1 year 1 month 1 week 1 day 1 hour 1 min 1 sec 1 millisec", "time:34822861001"},
		{"2days", "time:172800000"},
	}
	for _, tt := range tests {
		x, err := ParseExpr("", []byte(tt.src))
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.src, err)
			continue
		}
		if got := sexpr(x); got != tt.want {
			t.Errorf("ParseExpr(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestExprErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a +", "1:4: expected expression, found end of input"},
		{"(a", "1:3: expected ')', found end of input"},
		{"a b", "1:3: expected end of expression, found 'b'"},
		{"2147483648", "1:1: int literal 2147483648 is out of range (add L for a long)"},
		{"99999999999999999999L", "1:1: long literal 99999999999999999999L is out of range"},
		{"1 sec 1 min", "1:9: time unit 'min' must come before 'sec' in a time value"},
		{"99999999999 years", "1:1: time value 99999999999 years is too large"},
		{"'abc", "1:1: string literal not terminated"},
		{"'a\nb'", "1:1: string literal not terminated"},
		{`"""abc`, "1:1: string literal not terminated"},
		{`"""a\qb"""`, `1:5: unknown escape sequence '\q'`},
		{"a ^ b", "1:3: unexpected character '^'"},
		{"a is not null", "1:6: expected 'null', found 'not'"},
		{"e1[x].a", "1:4: expected event index (a number or 'last'), found 'x'"},
		{"f(a,)", "1:5: expected expression, found ')'"},
		{"+a", "1:1: expected expression, found '+'"},
		{"a in 5", "1:6: expected table or window name after 'in', found int literal 5"},
		{"x\n  + ", "2:5: expected expression, found end of input"},
	}
	for _, tt := range tests {
		_, err := ParseExpr("", []byte(tt.src))
		if err == nil {
			t.Errorf("ParseExpr(%q): no error, want %q", tt.src, tt.want)
			continue
		}
		list, ok := err.(ast.ErrorList)
		if !ok {
			t.Errorf("ParseExpr(%q): error is %T, want ast.ErrorList", tt.src, err)
			continue
		}
		if got := list[0].Error(); got != tt.want {
			t.Errorf("ParseExpr(%q) error = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestNestingLimit(t *testing.T) {
	for _, src := range []string{
		strings.Repeat("(", 10000) + "a" + strings.Repeat(")", 10000),
		strings.Repeat("not ", 10000) + "a",
		strings.Repeat("f(", 10000) + strings.Repeat(")", 10000),
		strings.Repeat("- ", 10000) + "a",
	} {
		_, err := ParseExpr("", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "too deeply nested") {
			t.Errorf("deep nesting: err = %v, want 'too deeply nested'", err)
		}
	}
	// Deep but legal nesting works.
	src := strings.Repeat("(", 50) + "a" + strings.Repeat(")", 50)
	if _, err := ParseExpr("", []byte(src)); err != nil {
		t.Errorf("50 levels: %v", err)
	}
}

func TestExprPositions(t *testing.T) {
	x, err := ParseExpr("", []byte("a +\n  f(b, 'c') * 2"))
	if err != nil {
		t.Fatal(err)
	}
	bin := x.(*ast.Binary)
	want := func(n ast.Node, line, col, off int) {
		t.Helper()
		if p := n.Position(); p != (ast.Pos{Offset: off, Line: line, Col: col}) {
			t.Errorf("%T at %v (offset %d), want %d:%d (offset %d)", n, p, p.Offset, line, col, off)
		}
	}
	want(bin, 1, 1, 0)
	if bin.OpPos != (ast.Pos{Offset: 2, Line: 1, Col: 3}) {
		t.Errorf("OpPos = %v", bin.OpPos)
	}
	mul := bin.Y.(*ast.Binary)
	want(mul, 2, 3, 6)
	call := mul.X.(*ast.Call)
	want(call, 2, 3, 6)
	want(call.Args[0], 2, 5, 8)
	want(call.Args[1], 2, 8, 11)
	want(mul.Y, 2, 15, 18)
}
