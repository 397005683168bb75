package ast_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
)

func TestInspect(t *testing.T) {
	src := `@app:name('A')
define stream S (a int, b string);
define table T (a int);
@info(name='q') from S[a > 1]#window.length(2) as x join T on x.a == T.a select x.a, count() as c group by x.a having c > 1 order by c limit 3 output every 2 events insert into O;
partition with (b of S) begin from every e1=S -> not S for 1 sec select e1.a insert into #I; end;`
	app, err := parser.Parse("f", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	depth, maxDepth := 0, 0
	ast.InspectApp(app, func(n ast.Node) bool {
		if n == nil {
			depth--
			return false
		}
		depth++
		maxDepth = max(maxDepth, depth)
		counts[reflect.TypeOf(n).Elem().Name()]++
		return true
	})
	if depth != 0 {
		t.Errorf("enter/leave calls unbalanced: depth %d", depth)
	}
	for kind, want := range map[string]int{
		"Annotation": 2, "StreamDef": 1, "TableDef": 1, "Query": 2, "JoinInput": 1, "Handler": 2,
		"Selector": 2, "OutputRate": 1, "Partition": 1, "PartitionKey": 1, "StateInput": 1,
		"NextState": 1, "EveryState": 1, "StreamState": 1, "AbsentState": 1, "Call": 1, "OrderItem": 1,
		"AttrDef": 3, "Output": 2,
	} {
		if counts[kind] != want {
			t.Errorf("visited %d %s nodes, want %d (all: %v)", counts[kind], kind, want, counts)
		}
	}
	// Returning false skips the children.
	n := 0
	ast.InspectApp(app, func(node ast.Node) bool {
		if node != nil {
			n++
		}
		return false
	})
	if n != len(app.Annotations)+len(app.Body) {
		t.Errorf("pruned walk visited %d nodes, want %d", n, len(app.Annotations)+len(app.Body))
	}
}

func TestErrorRender(t *testing.T) {
	src := []byte("define stream S (a int);\n\tfrom S[b > 1] select a insert into T;\n")
	e := &ast.Error{File: "f.siddhi", Pos: ast.Pos{Offset: 33, Line: 2, Col: 9}, Msg: "attribute 'b' is not defined", Hint: "did you mean 'a'?"}
	want := "f.siddhi:2:9: attribute 'b' is not defined\n" +
		"  2 |  from S[b > 1] select a insert into T;\n" +
		"    |         ^\n" +
		"    = hint: did you mean 'a'?\n"
	if got := e.Render(src); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
	// Without source, or with a position outside it, only the message and hint remain.
	if got := e.Render(nil); got != "f.siddhi:2:9: attribute 'b' is not defined\n    = hint: did you mean 'a'?\n" {
		t.Errorf("without source: %q", got)
	}
	list := ast.ErrorList{
		{File: "f", Pos: ast.Pos{Offset: 30, Line: 2, Col: 6}, Msg: "second"},
		{File: "f", Pos: ast.Pos{Offset: 3, Line: 1, Col: 4}, Msg: "first"},
	}
	list.Sort()
	var b strings.Builder
	if err := list.Render(&b, src); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "f:1:4: first\n") || !strings.Contains(b.String(), "f:2:6: second\n") {
		t.Errorf("list render:\n%s", b.String())
	}
	if list.Error() != "f:1:4: first (and 1 more errors)" {
		t.Errorf("Error() = %q", list.Error())
	}
}

func TestAppName(t *testing.T) {
	for src, want := range map[string]string{
		"@app:name('A') define stream S (a int);": "A",
		"@App:Name('B') define stream S (a int);": "B",
		"define stream S (a int);":                "",
	} {
		app, err := parser.Parse("f", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := app.Name(); got != want {
			t.Errorf("Name() of %q = %q, want %q", src, got, want)
		}
	}
}
