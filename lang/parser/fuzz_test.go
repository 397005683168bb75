package parser

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
)

// conformanceDir is where Siddhi's recorded test cases live, beside the
// repository; TANDEM_CONFORMANCE overrides it.
func conformanceDir() string {
	if d := os.Getenv("TANDEM_CONFORMANCE"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "conformance")
}

// conformanceApps returns the app texts of every conformance case, or nil
// when the cases are not there.
func conformanceApps(tb testing.TB) []string {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(conformanceDir(), "*.json"))
	var apps []string
	for _, f := range files {
		if filepath.Base(f) == "index.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var cases []struct {
			App string `json:"app"`
		}
		if err := json.Unmarshal(b, &cases); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			apps = append(apps, c.App)
		}
	}
	return apps
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

// forEachPos calls fn with every ast.Pos in the tree rooted at v.
func forEachPos(v any, fn func(ast.Pos)) {
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Struct:
			if v.Type() == posType {
				fn(v.Interface().(ast.Pos))
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		}
	}
	walk(reflect.ValueOf(v))
}
