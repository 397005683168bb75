package parser

import (
	"reflect"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

func tc(ms int64) *ast.Constant  { return &ast.Constant{Value: event.LongValue(ms), IsTime: true} }
func str(s string) *ast.Constant { return &ast.Constant{Value: event.StringValue(s)} }
func si(name string, hs ...*ast.Handler) *ast.StreamInput {
	return &ast.StreamInput{Stream: name, Handlers: hs}
}
func filter(x ast.Expr) *ast.Handler { return &ast.Handler{Kind: ast.FilterHandler, Filter: x} }
func window(name string, args ...ast.Expr) *ast.Handler {
	return &ast.Handler{Kind: ast.WindowHandler, Name: name, Args: args}
}
func star() *ast.Selector       { return &ast.Selector{Star: true} }
func into(s string) *ast.Output { return &ast.Output{Stream: s} }

func TestParseDefinitions(t *testing.T) {
	src := `@PrimaryKey('a') @Index('b') @store(type='rdbms') define table T (a int, b string);
define window W (a int) time(1 sec) output expired events;
define window V (a int) ns:custom(2, 'x');
define trigger Tr1 at every 5 sec;
define trigger Tr2 at 'start';
define aggregation Ag from S[a > 0] select a, sum(b) as s group by a aggregate by ts every sec ... hour;
define aggregation Ag2 from S select sum(b) as s aggregate every min, days, years;
define function concat[javascript] return string { var s = "}"; return s; };`
	app := mustParse(t, src)
	clearPos(app)
	wantTables := []*ast.TableDef{{
		Annotations: []*ast.Annotation{
			{Name: "PrimaryKey", Elements: []*ast.Element{el("", "a")}},
			{Name: "Index", Elements: []*ast.Element{el("", "b")}},
			{Name: "store", Elements: []*ast.Element{el("type", "rdbms")}},
		},
		Name: "T", Attrs: []*ast.AttrDef{attr("a", event.Int), attr("b", event.String)},
	}}
	if !reflect.DeepEqual(app.Tables, wantTables) {
		t.Errorf("tables = %s", js(app.Tables))
	}
	wantWindows := []*ast.WindowDef{
		{Name: "W", Attrs: []*ast.AttrDef{attr("a", event.Int)}, Window: window("time", tc(1000)), Events: ast.ExpiredEvents},
		{Name: "V", Attrs: []*ast.AttrDef{attr("a", event.Int)},
			Window: &ast.Handler{Kind: ast.WindowHandler, Namespace: "ns", Name: "custom", Args: []ast.Expr{ic(2), str("x")}},
			Events: ast.AllEvents},
	}
	if !reflect.DeepEqual(app.Windows, wantWindows) {
		t.Errorf("windows = %s", js(app.Windows))
	}
	wantTriggers := []*ast.TriggerDef{{Name: "Tr1", Every: tc(5000)}, {Name: "Tr2", At: "start"}}
	if !reflect.DeepEqual(app.Triggers, wantTriggers) {
		t.Errorf("triggers = %s", js(app.Triggers))
	}
	wantAggs := []*ast.AggregationDef{
		{Name: "Ag", Input: si("S", filter(bin(ast.OpGt, v("a"), ic(0)))),
			Select: &ast.Selector{
				Items:   []*ast.OutputAttr{{Expr: v("a"), Name: "a"}, {Expr: call("sum", v("b")), Name: "s"}},
				GroupBy: []*ast.Variable{v("a")},
			},
			AggregateBy: v("ts"), Every: []ast.Duration{ast.Seconds, ast.Minutes, ast.Hours}, Range: true},
		{Name: "Ag2", Input: si("S"),
			Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: call("sum", v("b")), Name: "s"}}},
			Every:  []ast.Duration{ast.Minutes, ast.Days, ast.Years}},
	}
	if !reflect.DeepEqual(app.Aggregations, wantAggs) {
		t.Errorf("aggregations = %s\nwant %s", js(app.Aggregations), js(wantAggs))
	}
	wantFuncs := []*ast.FunctionDef{{Name: "concat", Language: "javascript", ReturnType: event.String,
		Body: ` var s = "}"; return s; `}}
	if !reflect.DeepEqual(app.Functions, wantFuncs) {
		t.Errorf("functions = %s", js(app.Functions))
	}
	if len(app.Body) != 8 {
		t.Errorf("Body has %d elements, want 8", len(app.Body))
	}
	if _, ok := app.Body[0].(*ast.TableDef); !ok {
		t.Errorf("Body[0] is %T", app.Body[0])
	}
}

func TestParseInputs(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want ast.Input
	}{
		{"join", "from A#window.length(1) as a unidirectional join B as b on a.x == b.x select * insert into C",
			&ast.JoinInput{
				Left:           &ast.StreamInput{Stream: "A", Alias: "a", Handlers: []*ast.Handler{window("length", ic(1))}},
				Right:          &ast.StreamInput{Stream: "B", Alias: "b"},
				Unidirectional: ast.LeftSide,
				On:             bin(ast.OpEq, sv("a", "x"), sv("b", "x")),
			}},
		{"outer joins", "from A left outer join B unidirectional select * insert into C",
			&ast.JoinInput{Left: si("A"), Right: si("B"), Kind: ast.LeftOuterJoin, Unidirectional: ast.RightSide}},
		{"right outer", "from A right outer join B select * insert into C",
			&ast.JoinInput{Left: si("A"), Right: si("B"), Kind: ast.RightOuterJoin}},
		{"full outer", "from A full outer join B select * insert into C",
			&ast.JoinInput{Left: si("A"), Right: si("B"), Kind: ast.FullOuterJoin}},
		{"inner", "from A inner join B select * insert into C",
			&ast.JoinInput{Left: si("A"), Right: si("B")}},
		{"aggregation join", `from I as i join Ag as a on i.s == a.s within '2017', "2018" per 'days' select * insert into C`,
			&ast.JoinInput{Left: &ast.StreamInput{Stream: "I", Alias: "i"}, Right: &ast.StreamInput{Stream: "Ag", Alias: "a"},
				On: bin(ast.OpEq, sv("i", "s"), sv("a", "s")), Within: str("2017"), WithinEnd: str("2018"), Per: str("days")}},
		{"pattern", "from every e1=A[x > 1] -> e2=B<2:5> -> not C for 1 sec within 10 sec select * insert into D",
			&ast.StateInput{
				State: &ast.NextState{States: []ast.StateElement{
					&ast.EveryState{X: &ast.StreamState{Ref: "e1", Input: si("A", filter(bin(ast.OpGt, v("x"), ic(1))))}},
					&ast.StreamState{Ref: "e2", Input: si("B"), Count: &ast.Count{Min: 2, Max: 5}},
					&ast.AbsentState{Input: si("C"), For: tc(1000)},
				}},
				Within: tc(10000),
			}},
		{"pattern starting with a plain stream", "from A -> B select * insert into D",
			&ast.StateInput{State: &ast.NextState{States: []ast.StateElement{
				&ast.StreamState{Input: si("A")}, &ast.StreamState{Input: si("B")}}}}},
		{"single-state pattern", "from e1=A select * insert into D",
			&ast.StateInput{State: &ast.StreamState{Ref: "e1", Input: si("A")}}},
		{"logical and grouping", "from every (e1=A -> e2=B) -> e3=A and not B -> e4=A or e5=B select * insert into D",
			&ast.StateInput{State: &ast.NextState{States: []ast.StateElement{
				&ast.EveryState{X: &ast.NextState{States: []ast.StateElement{
					&ast.StreamState{Ref: "e1", Input: si("A")}, &ast.StreamState{Ref: "e2", Input: si("B")}}}},
				&ast.LogicalState{Op: ast.OpAnd, X: &ast.StreamState{Ref: "e3", Input: si("A")}, Y: &ast.AbsentState{Input: si("B")}},
				&ast.LogicalState{Op: ast.OpOr, X: &ast.StreamState{Ref: "e4", Input: si("A")}, Y: &ast.StreamState{Ref: "e5", Input: si("B")}},
			}}}},
		{"counts", "from e1=A<3>, e2=A<2:>, e3=A<:4>, e4=A+, e5=A*, e6=A? select * insert into D",
			&ast.StateInput{Sequence: true, State: &ast.NextState{States: []ast.StateElement{
				&ast.StreamState{Ref: "e1", Input: si("A"), Count: &ast.Count{Min: 3, Max: 3}},
				&ast.StreamState{Ref: "e2", Input: si("A"), Count: &ast.Count{Min: 2, Max: ast.AnyCount}},
				&ast.StreamState{Ref: "e3", Input: si("A"), Count: &ast.Count{Min: 0, Max: 4}},
				&ast.StreamState{Ref: "e4", Input: si("A"), Count: &ast.Count{Min: 1, Max: ast.AnyCount}},
				&ast.StreamState{Ref: "e5", Input: si("A"), Count: &ast.Count{Min: 0, Max: ast.AnyCount}},
				&ast.StreamState{Ref: "e6", Input: si("A"), Count: &ast.Count{Min: 0, Max: 1}},
			}}}},
		{"sequence", "from every e1=A, e2=B[x > e1.x] within 1 min select * insert into D",
			&ast.StateInput{Sequence: true, Within: tc(60000), State: &ast.NextState{States: []ast.StateElement{
				&ast.EveryState{X: &ast.StreamState{Ref: "e1", Input: si("A")}},
				&ast.StreamState{Ref: "e2", Input: si("B", filter(bin(ast.OpGt, v("x"), sv("e1", "x"))))},
			}}}},
		{"anonymous", "from (from A[x > 1] select x return) select * insert into D",
			&ast.AnonymousInput{Query: &ast.Query{
				Input:  si("A", filter(bin(ast.OpGt, v("x"), ic(1)))),
				Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: v("x"), Name: "x"}}},
				Output: &ast.Output{Action: ast.ReturnOutput},
			}}},
		{"inner and fault streams", "from #A select * insert into D",
			&ast.StreamInput{Stream: "A", Inner: true}},
		{"handlers after the window", "from A#window.length(2)[x > 1]#f(x) select * insert into D",
			si("A", window("length", ic(2)), filter(bin(ast.OpGt, v("x"), ic(1))),
				&ast.Handler{Kind: ast.FunctionHandler, Name: "f", Args: []ast.Expr{v("x")}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := mustParse(t, tt.src)
			clearPos(app)
			if got := app.Queries[0].Input; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", js(got), js(tt.want))
			}
		})
	}
}

func TestParseSelectAndOutput(t *testing.T) {
	app := mustParse(t, `from A select x, c order by x desc, c asc limit 10 offset 2 output last every 5 events insert into B;
from A output snapshot every 1 sec insert into B;
from A output first every 1 min insert into B;
from A output every 3 events insert into B;
from A delete T for expired events on T.x == x;
from A update T set T.x = x, T.y = 1 on T.x == x;
from A update or insert into T for all events on T.x == x;
from A insert into !F;`)
	clearPos(app)
	q := app.Queries
	wantSel := &ast.Selector{
		Items:   []*ast.OutputAttr{{Expr: v("x"), Name: "x"}, {Expr: v("c"), Name: "c"}},
		OrderBy: []*ast.OrderItem{{Var: v("x"), Desc: true}, {Var: v("c")}},
		Limit:   ic(10), Offset: ic(2),
	}
	if !reflect.DeepEqual(q[0].Select, wantSel) {
		t.Errorf("select = %s", js(q[0].Select))
	}
	rates := []*ast.OutputRate{
		{Kind: ast.RateLast, Events: 5},
		{Kind: ast.RateSnapshot, Time: tc(1000)},
		{Kind: ast.RateFirst, Time: tc(60000)},
		{Kind: ast.RateAll, Events: 3},
	}
	for i, want := range rates {
		if !reflect.DeepEqual(q[i].Rate, want) {
			t.Errorf("query %d rate = %s, want %s", i, js(q[i].Rate), js(want))
		}
	}
	outs := []*ast.Output{
		{Action: ast.DeleteOutput, Stream: "T", Events: ast.ExpiredEvents, On: bin(ast.OpEq, sv("T", "x"), v("x"))},
		{Action: ast.UpdateOutput, Stream: "T", Set: []*ast.SetAssign{{Attr: sv("T", "x"), Value: v("x")}, {Attr: sv("T", "y"), Value: ic(1)}},
			On: bin(ast.OpEq, sv("T", "x"), v("x"))},
		{Action: ast.UpdateOrInsertOutput, Stream: "T", Events: ast.AllEvents, On: bin(ast.OpEq, sv("T", "x"), v("x"))},
		{Stream: "F", Fault: true},
	}
	for i, want := range outs {
		if got := q[4+i].Output; !reflect.DeepEqual(got, want) {
			t.Errorf("query %d output = %s, want %s", 4+i, js(got), js(want))
		}
	}
}

func TestParsePartition(t *testing.T) {
	app := mustParse(t, `@purge(enable='true') partition with (sym of A, x < 10 as 'low' or x >= 10 as 'high' of B)
begin
  @info(name='q1') from A select x insert into #I;
  from #I select x insert into C
end;`)
	clearPos(app)
	want := []*ast.Partition{{
		Annotations: []*ast.Annotation{{Name: "purge", Elements: []*ast.Element{el("enable", "true")}}},
		With: []*ast.PartitionKey{
			{Stream: "A", Value: v("sym")},
			{Stream: "B", Ranges: []*ast.PartitionRange{
				{Cond: bin(ast.OpLt, v("x"), ic(10)), Label: "low"},
				{Cond: bin(ast.OpGe, v("x"), ic(10)), Label: "high"},
			}},
		},
		Queries: []*ast.Query{
			{Annotations: []*ast.Annotation{{Name: "info", Elements: []*ast.Element{el("name", "q1")}}},
				Input: si("A"), Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: v("x"), Name: "x"}}},
				Output: &ast.Output{Stream: "I", Inner: true}},
			{Input: &ast.StreamInput{Stream: "I", Inner: true}, Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: v("x"), Name: "x"}}},
				Output: into("C")},
		},
	}}
	if !reflect.DeepEqual(app.Partitions, want) {
		t.Errorf("got  %s\nwant %s", js(app.Partitions), js(want))
	}
	if len(app.Queries) != 0 {
		t.Errorf("partition queries leaked into App.Queries")
	}
}

func TestParseOnDemand(t *testing.T) {
	tests := []struct {
		src  string
		want *ast.OnDemandQuery
	}{
		{"from T on x > 1 select x, sum(y) as s group by x;", &ast.OnDemandQuery{
			Input: &ast.StoreInput{Source: "T", On: bin(ast.OpGt, v("x"), ic(1))},
			Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: v("x"), Name: "x"}, {Expr: call("sum", v("y")), Name: "s"}},
				GroupBy: []*ast.Variable{v("x")}}}},
		{"from T", &ast.OnDemandQuery{Input: &ast.StoreInput{Source: "T"}}},
		{`from Ag as a within "2017-**", "2018" per "days" select *`, &ast.OnDemandQuery{
			Input:  &ast.StoreInput{Source: "Ag", Alias: "a", Within: str("2017-**"), WithinEnd: str("2018"), Per: str("days")},
			Select: star()}},
		{"select 1 as x insert into T", &ast.OnDemandQuery{
			Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: ic(1), Name: "x"}}}, Output: into("T")}},
		{"delete T on T.x == 1", &ast.OnDemandQuery{
			Output: &ast.Output{Action: ast.DeleteOutput, Stream: "T", On: bin(ast.OpEq, sv("T", "x"), ic(1))}}},
		{"update T set T.x = 2 on T.x == 1", &ast.OnDemandQuery{
			Output: &ast.Output{Action: ast.UpdateOutput, Stream: "T", Set: []*ast.SetAssign{{Attr: sv("T", "x"), Value: ic(2)}},
				On: bin(ast.OpEq, sv("T", "x"), ic(1))}}},
		{"select 2 as x update or insert into T set T.x = x on T.x == 2", &ast.OnDemandQuery{
			Select: &ast.Selector{Items: []*ast.OutputAttr{{Expr: ic(2), Name: "x"}}},
			Output: &ast.Output{Action: ast.UpdateOrInsertOutput, Stream: "T", Set: []*ast.SetAssign{{Attr: sv("T", "x"), Value: v("x")}},
				On: bin(ast.OpEq, sv("T", "x"), ic(2))}}},
	}
	for _, tt := range tests {
		q, err := ParseOnDemand("q", []byte(tt.src))
		if err != nil {
			t.Errorf("ParseOnDemand(%q): %v", tt.src, err)
			continue
		}
		clearPos(q)
		if !reflect.DeepEqual(q, tt.want) {
			t.Errorf("ParseOnDemand(%q)\n got  %s\n want %s", tt.src, js(q), js(tt.want))
		}
	}
	for src, want := range map[string]string{
		"from T select * insert into U": "q:1:17: expected end of query, found 'insert'",
		"insert into T":                 "q:1:1: an on-demand insert needs a select clause",
		"update T set T.x = 1":          "q:1:21: expected 'on', found end of input",
		"":                              "q:1:1: expected 'from', 'select', 'delete' or 'update', found end of input",
	} {
		_, err := ParseOnDemand("q", []byte(src))
		if err == nil || err.Error() != want {
			t.Errorf("ParseOnDemand(%q) error = %v, want %s", src, err, want)
		}
	}
}

func TestParsePhase2Errors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"from A outer join B select * insert into C", "f:1:8: 'outer join' is not supported: use 'left outer join', 'right outer join' or 'full outer join'"},
		{"from A#window.length(1)[x > 1] join B select * insert into C", "f:1:24: a side of a join cannot filter or process events after its window; move this before #window"},
		{"from A unidirectional join B unidirectional select * insert into C", "f:1:30: only one side of a join can be unidirectional"},
		{"from A join B within 1 select * insert into C", "f:1:24: expected 'per', found 'select'"},
		{"from A -> B, C select * insert into D", "f:1:12: cannot mix '->' (pattern) and ',' (sequence) in one query"},
		{"from e1=A+ -> e2=B select * insert into D", "f:1:10: '*', '+' and '?' are only allowed in sequences (states joined by ','); use <n:m> in patterns"},
		{"from e1=A<5:2> -> e2=B select * insert into D", "f:1:6: count <5:2> has a maximum below its minimum"},
		{"from e1=A#window.length(1) -> e2=B select * insert into D", "f:1:10: a window is not allowed here"},
		{"from A#window.length(1) -> B select * insert into D", "f:1:7: a window is not allowed in a pattern or sequence"},
		{"from A as a select * insert into D", "f:1:13: expected 'join', found 'select'"},
		{"from A#window.length(1)#window.time(1 sec) select * insert into D", "f:1:24: only one window is allowed per stream"},
		{"from A within 5 select * insert into D", "f:1:8: expected 'insert', 'delete', 'update' or 'return', found 'within'"},
		{"from every e1=A within 5 select * insert into D", "f:1:24: expected time value (such as 10 sec) after 'within', found int literal 5"},
		{"from A output every 5 select * insert into D", "f:1:21: expected '<n> events' or a time value (such as 10 sec) after 'every', found int literal 5"},
		{"from A update T set x = 1 insert into D", "f:1:27: expected 'on', found 'insert'"},
		{"define window W (a int) output all events;", "f:1:32: expected '(', found 'all'"},
		{"define trigger T at 5;", "f:1:21: expected 'every <time>', 'start' or a cron expression, found int literal 5"},
		{"@info(name='x') define trigger T at 'start';", "f:1:1: annotations are not allowed on a trigger definition"},
		{"define aggregation A from S select * aggregate every millisec;", "f:1:54: expected aggregation duration (sec, min, hour, day, week, month or year), found 'millisec'"},
		{"define aggregation A from S select * aggregate every day...sec;", "f:1:60: aggregation range day...sec runs backwards"},
		{"define function f[js] return int;", "f:1:33: expected function body in braces, found ';'"},
		{"define function f[js] return int { x", "f:1:34: function body not terminated: missing '}'"},
		{"partition with (a of S) begin end;", "f:1:1: a partition needs at least one query"},
		{"partition with (a of S) begin from S select * insert into T;", "f:1:61: expected 'end', found end of input"},
		{"partition with (a S) begin from S select * insert into T; end;", "f:1:19: expected 'of', found 'S'"},
		{"partition with (a < 1 as 'x' or a > 2 of S) begin from S insert into T; end;", "f:1:39: expected 'as', found 'of'"},
		{"from S select * insert into T; define stream U (a int);", "f:1:32: definitions must come before queries and partitions"},
	}
	for _, tt := range tests {
		_, err := Parse("f", []byte(tt.src))
		list, _ := err.(ast.ErrorList)
		if len(list) == 0 {
			t.Errorf("Parse(%q): no error, want %s", tt.src, tt.want)
			continue
		}
		if got := list[0].Error(); got != tt.want {
			t.Errorf("Parse(%q)\n got  %s\n want %s", tt.src, got, tt.want)
		}
	}
}

func TestPartitionRecovery(t *testing.T) {
	src := "partition with (a of S)\nbegin\n  from S[a >] insert into T;\n  from S select a insert into U;\n  from S select insert into V;\nend;\nfrom S select b insert into W;"
	app, err := Parse("f", []byte(src))
	list, _ := err.(ast.ErrorList)
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	want := []string{"f:3:13: expected expression, found ']'", "f:5:24: expected 'insert', 'delete', 'update' or 'return', found 'into'"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
	if len(app.Partitions) != 1 || len(app.Partitions[0].Queries) != 1 || len(app.Queries) != 1 {
		t.Errorf("recovered %d partitions, %d top-level queries", len(app.Partitions), len(app.Queries))
	}
}
