package parser

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/internal/asttest"
)

// conformanceApps returns the app texts and on-demand queries of every
// conformance case, or nil when the cases are not there.
func conformanceApps(tb testing.TB) []string {
	tb.Helper()
	cases, err := asttest.LoadCases(asttest.ConformanceDir(2))
	if err != nil {
		tb.Fatal(err)
	}
	var srcs []string
	for _, c := range cases {
		srcs = append(srcs, c.App)
		for _, in := range c.Inputs {
			if in.Query != "" {
				srcs = append(srcs, in.Query)
			}
		}
	}
	return srcs
}

func FuzzParse(f *testing.F) {
	for _, app := range conformanceApps(f) {
		f.Add([]byte(app))
	}
	f.Add([]byte("@app:name('x') define stream S (a int); from S[a > 1]#window.length(2) select a, sum(a) as s group by a having s > 1 insert into T;"))
	f.Add([]byte(`from S select """a\u0041""" as x, 'b' as y, 1 min 2 sec as z insert into T;`))
	f.Add([]byte("/* unterminated"))
	f.Add([]byte("@a(@b(@c('x')))"))
	f.Fuzz(func(t *testing.T, src []byte) {
		app, err := Parse("f", src)
		if app == nil {
			t.Fatal("nil app")
		}
		if err != nil {
			list, ok := err.(ast.ErrorList)
			if !ok {
				t.Fatalf("error is %T, want ast.ErrorList", err)
			}
			if len(list) == 0 || len(list) > maxErrors {
				t.Fatalf("%d errors", len(list))
			}
			for _, e := range list {
				if strings.Contains(e.Msg, "internal parser error") {
					t.Fatalf("%v", e)
				}
				checkPos(t, src, e.Pos, "error "+e.Msg)
			}
		}
		forEachPos(app, func(p ast.Pos) {
			if p.IsValid() {
				checkPos(t, src, p, "node")
			}
		})
	})
}

// checkPos asserts that p lies within src and that its line and column agree
// with its offset.
func checkPos(t *testing.T, src []byte, p ast.Pos, what string) {
	t.Helper()
	if p.Offset < 0 || p.Offset > len(src) {
		t.Fatalf("%s: offset %d outside input of %d bytes", what, p.Offset, len(src))
	}
	line := 1 + bytes.Count(src[:p.Offset], []byte("\n"))
	col := p.Offset - (bytes.LastIndexByte(src[:p.Offset], '\n') + 1) + 1
	if p.Line != line || p.Col != col {
		t.Fatalf("%s: position %d:%d, but offset %d is at %d:%d", what, p.Line, p.Col, p.Offset, line, col)
	}
}

func forEachPos(v any, fn func(ast.Pos)) { asttest.ForEachPos(v, fn) }

func FuzzParseOnDemand(f *testing.F) {
	for _, src := range conformanceApps(f) {
		if !strings.Contains(src, "define ") {
			f.Add([]byte(src))
		}
	}
	f.Add([]byte("from T on a > 1 within '2017', '2018' per 'days' select a, b order by a limit 2;"))
	f.Add([]byte("select 1 as a update or insert into T set T.a = a on T.a == 1"))
	f.Fuzz(func(t *testing.T, src []byte) {
		q, err := ParseOnDemand("f", src)
		if err != nil {
			list, ok := err.(ast.ErrorList)
			if !ok {
				t.Fatalf("error is %T, want ast.ErrorList", err)
			}
			for _, e := range list {
				if strings.Contains(e.Msg, "internal parser error") {
					t.Fatalf("%v", e)
				}
				checkPos(t, src, e.Pos, "error "+e.Msg)
			}
			return
		}
		forEachPos(q, func(p ast.Pos) {
			if p.IsValid() {
				checkPos(t, src, p, "node")
			}
		})
	})
}
