package check

import (
	"bytes"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/internal/asttest"
	"github.com/tandem-stream/tandem/lang/parser"
)

// FuzzCheck parses and checks arbitrary input: the checker must not panic,
// even on the partial tree of an app with syntax errors, and its errors
// must point into the input.
func FuzzCheck(f *testing.F) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(2))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add([]byte(c.App))
	}
	f.Add([]byte(defs + "from S#window.length(2) as a join T as b on a.sym == b.sym select a.sym, sum(b.qty) as q insert into O;"))
	f.Fuzz(func(t *testing.T, src []byte) {
		app, _ := parser.Parse("f", src)
		_, err := Check(app, nil)
		if err == nil {
			return
		}
		list, ok := err.(ast.ErrorList)
		if !ok {
			t.Fatalf("error is %T", err)
		}
		for _, e := range list {
			p := e.Pos
			if !p.IsValid() {
				continue
			}
			if p.Offset < 0 || p.Offset > len(src) {
				t.Fatalf("%v: offset outside the input", e)
			}
			if line := 1 + bytes.Count(src[:p.Offset], []byte("\n")); line != p.Line {
				t.Fatalf("%v: line %d for offset %d", e, line, p.Offset)
			}
			_ = e.Render(src)
		}
	})
}
