package parser

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// Shorthands for expected trees.
func v(name string) *ast.Variable           { return &ast.Variable{Name: name} }
func sv(stream, name string) *ast.Variable  { return &ast.Variable{Stream: stream, Name: name} }
func ic(n int32) *ast.Constant              { return &ast.Constant{Value: event.IntValue(n)} }
func bin(op ast.Op, x, y ast.Expr) ast.Expr { return &ast.Binary{Op: op, X: x, Y: y} }
func call(name string, args ...ast.Expr) *ast.Call {
	return &ast.Call{Name: name, Args: args}
}
func el(k, val string) *ast.Element { return &ast.Element{Key: k, Value: val} }
func attr(name string, t event.Type) *ast.AttrDef {
	return &ast.AttrDef{Name: name, Type: t}
}

func mustParse(t *testing.T, src string) *ast.App {
	t.Helper()
	app, err := Parse("test.siddhi", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return app
}

func TestParseAnnotations(t *testing.T) {
	src := `@app:name('X') @App:playback
@source(type='http', receiver.url='http://0.0.0.0:8080/x', @map(type='json', @attributes(a='$.a')))
@sink(type="log") @PrimaryKey('a', 'b') @info('positional', "k"='v', basic-auth.enabled='false')
define stream S (a string);`
	app := mustParse(t, src)
	clearPos(app)
	wantApp := []*ast.Annotation{
		{Name: "app:name", Elements: []*ast.Element{el("", "X")}},
		{Name: "App:playback"},
	}
	if !reflect.DeepEqual(app.Annotations, wantApp) {
		t.Errorf("app annotations = %s, want %s", js(app.Annotations), js(wantApp))
	}
	if app.Name() != "X" {
		t.Errorf("Name() = %q", app.Name())
	}
	wantDef := []*ast.Annotation{
		{Name: "source", Elements: []*ast.Element{el("type", "http"), el("receiver.url", "http://0.0.0.0:8080/x")},
			Annotations: []*ast.Annotation{{Name: "map", Elements: []*ast.Element{el("type", "json")},
				Annotations: []*ast.Annotation{{Name: "attributes", Elements: []*ast.Element{el("a", "$.a")}}}}}},
		{Name: "sink", Elements: []*ast.Element{el("type", "log")}},
		{Name: "PrimaryKey", Elements: []*ast.Element{el("", "a"), el("", "b")}},
		{Name: "info", Elements: []*ast.Element{el("", "positional"), el("k", "v"), el("basic-auth.enabled", "false")}},
	}
	if got := app.Streams[0].Annotations; !reflect.DeepEqual(got, wantDef) {
		t.Errorf("stream annotations = %s\nwant %s", js(got), js(wantDef))
	}
	if v, ok := app.Streams[0].Annotations[0].Nested("MAP").Get("TYPE"); !ok || v != "json" {
		t.Errorf("Nested/Get = %q, %v", v, ok)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestParseStreamDef(t *testing.T) {
	app := mustParse(t, `DEFINE Stream StockStream (symbol string, price FLOAT, volume long, i int, d double, b bool, o object, `+"`from`"+` string);`)
	clearPos(app)
	want := []*ast.StreamDef{{Name: "StockStream", Attrs: []*ast.AttrDef{
		attr("symbol", event.String), attr("price", event.Float), attr("volume", event.Long),
		attr("i", event.Int), attr("d", event.Double), attr("b", event.Bool), attr("o", event.Object),
		attr("from", event.String),
	}}}
	if !reflect.DeepEqual(app.Streams, want) {
		t.Errorf("got %s\nwant %s", js(app.Streams), js(want))
	}
}

func TestParseQueries(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *ast.Query
	}{
		{
			name: "filter window aggregate",
			src:  `@info(name='q1') from S[price > 10]#window.length(10) select a, sum(b) as t, avg(c) as x group by a having t > 3 insert into T;`,
			want: &ast.Query{
				Annotations: []*ast.Annotation{{Name: "info", Elements: []*ast.Element{el("name", "q1")}}},
				Input: &ast.StreamInput{Stream: "S", Handlers: []*ast.Handler{
					{Kind: ast.FilterHandler, Filter: bin(ast.OpGt, v("price"), ic(10))},
					{Kind: ast.WindowHandler, Name: "length", Args: []ast.Expr{ic(10)}},
				}},
				Select: &ast.Selector{
					Items: []*ast.OutputAttr{
						{Expr: v("a"), Name: "a"},
						{Expr: call("sum", v("b")), Name: "t"},
						{Expr: call("avg", v("c")), Name: "x"},
					},
					GroupBy: []*ast.Variable{v("a")},
					Having:  bin(ast.OpGt, v("t"), ic(3)),
				},
				Output: &ast.Output{Stream: "T"},
			},
		},
		{
			name: "select star",
			src:  `from S select * insert into T`,
			want: &ast.Query{
				Input:  &ast.StreamInput{Stream: "S"},
				Select: &ast.Selector{Star: true},
				Output: &ast.Output{Stream: "T"},
			},
		},
		{
			name: "no select",
			src:  `from S insert expired events into T;`,
			want: &ast.Query{
				Input:  &ast.StreamInput{Stream: "S"},
				Select: &ast.Selector{Star: true},
				Output: &ast.Output{Stream: "T", Events: ast.ExpiredEvents},
			},
		},
		{
			name: "all events, qualified names, stream functions",
			src:  `FROM S#[a == 'x']#log('hi')#window.ns:w(1 sec, b) SELECT S.a, e:f(b) AS c INSERT ALL EVENTS INTO T`,
			want: &ast.Query{
				Input: &ast.StreamInput{Stream: "S", Handlers: []*ast.Handler{
					{Kind: ast.FilterHandler, Filter: bin(ast.OpEq, v("a"), &ast.Constant{Value: event.StringValue("x")})},
					{Kind: ast.FunctionHandler, Name: "log", Args: []ast.Expr{&ast.Constant{Value: event.StringValue("hi")}}},
					{Kind: ast.WindowHandler, Namespace: "ns", Name: "w", Args: []ast.Expr{
						&ast.Constant{Value: event.LongValue(1000), IsTime: true}, v("b")}},
				}},
				Select: &ast.Selector{Items: []*ast.OutputAttr{
					{Expr: sv("S", "a"), Name: "a"},
					{Expr: &ast.Call{Namespace: "e", Name: "f", Args: []ast.Expr{v("b")}}, Name: "c"},
				}},
				Output: &ast.Output{Stream: "T", Events: ast.AllEvents},
			},
		},
		{
			name: "current events and count()",
			src:  `from S select count() as n insert current events into T`,
			want: &ast.Query{
				Input:  &ast.StreamInput{Stream: "S"},
				Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: call("count"), Name: "n"}}},
				Output: &ast.Output{Stream: "T", Events: ast.CurrentEvents},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := mustParse(t, tt.src)
			if len(app.Queries) != 1 {
				t.Fatalf("got %d queries", len(app.Queries))
			}
			clearPos(app)
			if got := app.Queries[0]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", js(got), js(tt.want))
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	src := "define stream S (a int);\n@info(name='q')\nfrom S[a > 1]\nselect a as b\ninsert into T;"
	app := mustParse(t, src)
	check := func(what string, got ast.Pos, line, col int) {
		t.Helper()
		if got.Line != line || got.Col != col {
			t.Errorf("%s at %v, want %d:%d", what, got, line, col)
		}
		lines := strings.Split(src, "\n")
		off := 0
		for i := 0; i < line-1; i++ {
			off += len(lines[i]) + 1
		}
		if got.Offset != off+col-1 {
			t.Errorf("%s offset %d, want %d", what, got.Offset, off+col-1)
		}
	}
	check("stream", app.Streams[0].Pos, 1, 1)
	check("attr", app.Streams[0].Attrs[0].Pos, 1, 18)
	q := app.Queries[0]
	check("query", q.Pos, 3, 1)
	check("annotation", q.Annotations[0].Pos, 2, 1)
	check("annotation element", q.Annotations[0].Elements[0].Pos, 2, 7)
	in := q.Input.(*ast.StreamInput)
	check("input", in.Pos, 3, 6)
	check("filter", in.Handlers[0].Pos, 3, 7)
	check("filter expr", in.Handlers[0].Filter.Position(), 3, 8)
	check("select", q.Select.Pos, 4, 1)
	check("output attr", q.Select.Items[0].Pos, 4, 8)
	check("output", q.Output.Pos, 5, 1)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every error, in order
	}{
		{"missing as", "define stream S (a int);\nfrom S select a + 1 insert into T;",
			[]string{"f:2:21: expected 'as', found 'insert': a select expression that is not a plain attribute needs a name (expr as name)"}},
		{"missing as on a call", "from S select sum(a) insert into T;",
			[]string{"f:1:22: expected 'as', found 'insert': a select expression that is not a plain attribute needs a name (expr as name)"}},
		{"bad type", "define stream S (a integer);",
			[]string{"f:1:20: unknown attribute type 'integer': expected string, int, long, float, double, bool or object"}},
		{"bad definition", "define strem S (a int);",
			[]string{"f:1:8: expected 'stream', 'table', 'window', 'trigger', 'aggregation' or 'function', found 'strem'"}},
		{"missing into", "from S select a insert T;",
			[]string{"f:1:24: expected 'into', found 'T'"}},
		{"bad start", "select a from S;",
			[]string{"f:1:1: expected 'define', 'from' or 'partition', found 'select'"}},
		{"annotation value not a string", "@info(name=q1) from S insert into T;",
			[]string{"f:1:12: expected string literal as the value of 'name', found 'q1'"}},
		{"unquoted annotation value", "@info(q1) from S insert into T;",
			[]string{"f:1:7: annotation values must be quoted strings: write 'q1' instead of q1"}},
		{"unclosed annotation", "@info(name='q1' from S insert into T;",
			[]string{"f:1:17: expected ')', found 'from'"}},
		{"several errors recovered", "define stream S (a int)\n;from S[a >] insert into T;\ndefine stream U (b foo);\nfrom U select b insert into V;\nfrom S select * insert inot W;",
			[]string{
				"f:2:12: expected expression, found ']'",
				"f:3:20: unknown attribute type 'foo': expected string, int, long, float, double, bool or object",
				"f:5:24: expected 'into', found 'inot'",
			}},
		{"missing semicolon keeps next element", "define stream S (a int)\ndefine stream T (b int);\nfrom S[a > ] insert into T",
			[]string{"f:2:1: expected ';', found 'define'", "f:3:12: expected expression, found ']'"}},
		{"lexical error reported once", "define stream S (a int);\nfrom S[a > $] insert into T;",
			[]string{"f:2:12: unexpected character '$'"}},
		{"trailing junk", "define stream S (a int) x",
			[]string{"f:1:25: expected ';', found 'x'"}},
		{"empty attributes", "define stream S ();",
			[]string{"f:1:18: expected attribute name, found ')'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tt.src))
			list, ok := err.(ast.ErrorList)
			if !ok {
				t.Fatalf("err = %v (%T), want ast.ErrorList", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestErrorCap(t *testing.T) {
	src := strings.Repeat("from S[a >] insert into T;\n", 50)
	_, err := Parse("f", []byte(src))
	list := err.(ast.ErrorList)
	if len(list) != maxErrors {
		t.Errorf("got %d errors, want %d", len(list), maxErrors)
	}
}

func TestEmptyApp(t *testing.T) {
	for _, src := range []string{"", "  \n", "-- only a comment\n", "/* block */", ";;", "@app:name('x')"} {
		app, err := Parse("f", []byte(src))
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
		}
		if app == nil {
			t.Errorf("Parse(%q): nil app", src)
		}
	}
}

func TestHasComments(t *testing.T) {
	for src, want := range map[string]bool{
		"define stream S (a int);":                       false,
		"define stream S (a int); -- note":               true,
		"/* x */ define stream S (a int);":               true,
		"from S select 'a -- b' as c insert into T;":     false,
		"from S select \"/* no */\" as c insert into T;": false,
		"from S select a - -1 as b insert into T;":       false,
		"from S select a--1 as b insert into T;":         true,
	} {
		if got := HasComments([]byte(src)); got != want {
			t.Errorf("HasComments(%q) = %v, want %v", src, got, want)
		}
	}
}
