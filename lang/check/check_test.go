package check

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
)

const defs = `define stream S (sym string, price float, vol long, n int, ok bool, o object);
define stream T (sym string, qty int);
define table Tab (sym string, price float);
define window W (sym string, price float) length(5);
`

func checkSrc(t *testing.T, src string) (*Info, error) {
	t.Helper()
	app, err := parser.Parse("app.siddhi", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return Check(app, nil)
}

func TestValid(t *testing.T) {
	for _, src := range []string{
		"from S[price > 10 and ok] select sym, price * 2 as p2, n + vol as s insert into Out;",
		"from S#window.length(10) select sym, sum(price) as total, count() as c, avg(n) as a group by sym having total > 3.5 order by total desc limit 5 offset 1 insert into Out;",
		"from S#window.timeBatch(1 sec, 0, true) select * insert all events into Out;",
		"from S#window.externalTimeBatch(vol, 1 sec, vol, 2 sec) select sym insert into Out;",
		"from S#window.sort(3, price, 'asc', sym, 'desc') select sym insert into Out;",
		"from S#window.session(5 sec, sym, 1 sec) select sym insert into Out;",
		"from S#log('x', true) select * insert into Out;",
		"from S[sym == Tab.sym in Tab] select sym insert into Out;",
		"from S#window.length(1) as a join T#window.length(1) as b on a.sym == b.sym select a.sym, b.qty, price insert into Out;",
		"from S#window.length(1) join Tab on S.sym == Tab.sym select S.sym as s1, Tab.price as tp insert into Out;",
		"from S join W on S.sym == W.sym select S.sym as s, W.price as wp insert into Out;",
		"from every e1=S[price > 10] -> e2=S[price > e1.price]<2:5> -> not T for 1 sec within 1 min select e1.sym, e2[0].price as p0, e2[last].price as pl insert into Out;",
		"from every e1=S, e2=T[qty > e1.n]+, e3=S? select e1.sym as a, e2[last].qty as b insert into Out;",
		"from e1=S -> e2=T select e1.sym, e2.qty, e1 is null as gone, eventTimestamp(e1) as ts insert into Out;",
		"from S select cast(o, 'double') as d, convert(n, 'string') as s, coalesce(n, 1) as c, default(n, 0) as d2, ifThenElse(ok, 'a', 'b') as i, maximum(n, 2) as m, instanceOfString(o) as is, UUID() as u, currentTimeMillis() as t insert into Out;",
		"from S select sym insert into Out; from Out select sym insert into Out2;",
		// A query may read a stream that a later query defines.
		"from Later select sym insert into Out; from S select sym insert into Later;",
		"from S select sym, price insert into Tab;",
		"from S select sym, price insert into W;",
		"from T delete Tab on Tab.sym == sym;",
		"from S update Tab set Tab.price = price on Tab.sym == sym;",
		"from S select sym, price update or insert into Tab on Tab.sym == sym;",
		"partition with (sym of S, qty < 10 as 'low' or qty >= 10 as 'high' of T) begin from S select sym, price insert into #In; from #In select sym insert into Out; end;",
		"from (from S select sym, price return) select sym insert into Out;",
		"from S select sym, price, vol, n, ok, o insert into S2; from S output last every 5 events insert into S2; from S output snapshot every 1 sec insert into S3;",
		"from S#pol2Cart(convert(price, 'double'), convert(price, 'double')) select x, y insert into Out;",
	} {
		if _, err := checkSrc(t, defs+src); err != nil {
			t.Errorf("%s\n  -> %v", src, err)
		}
	}
}

func TestValidDefinitions(t *testing.T) {
	for _, src := range []string{
		"@app:name('x') @app:playback(idle.time='100 millisec', increment='2 sec') define stream S (a int);",
		"@source(type='http', @map(type='json')) @sink(type='log') define stream S (a int);",
		"@OnError(action='stream') define stream S (a int); from !S select a, _error insert into E;",
		"define stream S (a int); define stream S (a int);",
		"@PrimaryKey('a', 'b') @Index('a') @Index('b') define table T (a int, b string);",
		"define trigger T1 at every 5 sec; define trigger T2 at 'start'; define trigger T3 at '*/5 * * * * ?'; from T1 select triggered_time insert into O;",
		"define stream S (s string, p float, ts long); define aggregation A from S select s, sum(p) as total, avg(p) as a group by s aggregate by ts every sec...year; define stream Q (s string); from Q as q join A as a on q.s == a.s within '2020-**-** **:**:**' per 'days' select a.s, a.total, AGG_TIMESTAMP insert into O;",
		"define function f[javascript] return string { return 'x'; }; define stream S (a int); from S select f(a) as b insert into O;",
		"define window W (a int) timeBatch(1 sec) output expired events;",
	} {
		if _, err := checkSrc(t, src); err != nil {
			t.Errorf("%s\n  -> %v", src, err)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string // first error, without the file name
		hint string // its hint, if checked
	}{
		{"from X select a insert into O;", "5:6: stream X is not defined", ""},
		{"from SS select sym insert into O;", "5:6: stream SS is not defined", "did you mean 'S'?"},
		{"from S select prize insert into O;", "5:15: attribute 'prize' is not defined in stream S", "did you mean 'price'?"},
		{"from S[price] select sym insert into O;", "5:8: A filter must be a bool condition, but 'price' is a float", ""},
		{"from S[price and ok] select sym insert into O;", "5:8: 'and' needs bool operands, but 'price' is a float", ""},
		{"from S[sym > 1] select sym insert into O;", "5:12: '>' cannot compare string values: it needs numbers, but found string and int", ""},
		{"from S[n == sym] select sym insert into O;", "5:10: int cannot be compared with string", "convert one side, e.g. convert(x, 'string')"},
		{"from S[ok == 1] select sym insert into O;", "5:11: bool cannot be compared with int", ""},
		{"from S select sym + sym as x insert into O;", "5:19: '+' needs numeric operands, but found string and string", "join strings with str:concat(a, b)"},
		{"from S select not n as x insert into O;", "5:15: 'not' needs a bool operand, but 'n' is an int", ""},
		{"from S[sum(price) > 1] select sym insert into O;", "5:8: aggregate function sum() is not allowed in a filter", ""},
		{"from S select summ(price) as x insert into O;", "5:15: unknown function 'summ'", "did you mean 'sum'?"},
		{"from S select length(price) as x insert into O;", "5:15: unknown function 'length'", "length is a window: use it as #window.length(...) after the stream"},
		{"from S select sum(sym) as x insert into O;", "5:15: function 'sum' does not take (string)", "it takes (int|long|float|double arg)"},
		{"from S select count(*) as c insert into O;", "5:15: function 'count' does not take (string, float, long, int, bool, object)", "it takes () or (int|long|float|double|string|bool|object arg); f(*) passes every attribute of the input"},
		{"from S select cast(o, 'decimal') as x insert into O;", "5:15: the second argument of cast() must name a type: int, long, float, double, bool, string or object", ""},
		{"from S#window.lenght(5) select sym insert into O;", "5:7: unknown window 'lenght'", "did you mean 'length'?"},
		{"from S#window.length(n) select sym insert into O;", "5:22: window 'length' expects parameter 'window.length' (argument 1) to be a literal, but found the expression 'n'", ""},
		{"from S#window.time('1 sec') select sym insert into O;", "5:7: window 'time' does not take (string)", "it takes (int|long|time window.time)"},
		{"from S#window.sort(2, 5) select sym insert into O;", "5:23: window 'sort' expects parameter 'attribute' (argument 2) to be an attribute, but found '5'", ""},
		{"from S#foo() select sym insert into O;", "5:7: unknown stream function 'foo'", ""},
		{"from S select sym, sym insert into O;", "5:20: output attribute 'sym' is already selected at 5:15", ""},
		{"from S select sym limit -1 insert into O;", "5:25: 'limit' cannot be negative, but found -1", ""},
		{"from S select sym insert into T;", "5:19: query output (sym string) does not match stream T (sym string, qty int)", ""},
		{"from S select sym insert into O; from T select sym, qty insert into O;", "5:57: query output (sym string, qty int) does not match stream O (sym string)", "another query at 5:19 already inserts (sym string) into O"},
		{"from S select sym insert into Tab;", "5:19: query output (sym string) does not match table Tab (sym string, price float)", ""},
		{"from Tab select sym insert into O;", "5:6: 'Tab' is a table, not a stream: read a table with a join or with 'in'", ""},
		{"from W#window.length(2) select sym insert into O;", "5:7: 'W' is a named window and cannot take another window", ""},
		{"from S join T on sym == T.sym select S.sym as a insert into O;", "5:18: attribute 'sym' is ambiguous: it is in both stream S and stream T", "qualify it, e.g. S.sym"},
		{"from S join T select * insert into O;", "5:15: select * would output attribute 'sym' twice, from stream S and stream T", ""},
		{"from S join S select S.sym as a insert into O;", "5:13: both sides of the join are called 'S'", ""},
		{"from S join Tab within 1, 2 per 'days' select S.sym as a insert into O;", "5:24: 'within ... per ...' is only for joins with an aggregation", ""},
		{"from Tab join Tab as t2 select t2.sym as a insert into O;", "5:10: a join needs a stream or a named window on at least one side, but Tab is a table and Tab is a table", ""},
		{"from S[x.price > 1] select sym insert into O;", "5:8: 'x' is not an input of this query", ""},
		{"from S select S[0].price as p insert into O;", "5:15: 'S' is not a pattern or sequence event, so it cannot be indexed", ""},
		{"from e1=S -> e2=Tab select e1.sym insert into O;", "5:17: 'Tab' is a table: patterns and sequences read streams only", ""},
		{"from e1=S -> e2=T select sym insert into O;", "5:26: attribute 'sym' is ambiguous: it is in both event e1 (stream S) and event e2 (stream T)", ""},
		{"from not S select * insert into O;", "5:6: an absent state on its own needs 'for <time>'", ""},
		{"from S select sym insert into #In;", "5:19: inner stream #In can only be used inside a partition", ""},
		{"partition with (sym of X) begin from S select sym insert into O; end;", "5:17: stream X is not defined", ""},
		{"partition with (sym of Tab) begin from S select sym insert into O; end;", "5:17: 'Tab' is a table: only streams can be partitioned", ""},
		{"partition with (sym of S) begin from #Nope select sym insert into O; end;", "5:38: stream #Nope is not defined", ""},
		{"from S delete T on T.sym == sym;", "5:8: 'T' is not a table: only tables can be updated or deleted from", ""},
		{"from T select sym, qty update or insert into Tab on Tab.sym == sym;", "5:24: update or insert needs the query's output (sym string, qty int) to match table Tab (sym string, price float)", ""},
		{"from S update Tab set Tab.prize = price on Tab.sym == sym;", "5:23: attribute 'prize' is not defined in table Tab", "did you mean 'price'?"},
		{"from S[sym == Tab.sym in Tabb] select sym insert into O;", "5:8: 'Tabb' in 'in Tabb' is not defined", "did you mean 'Tab'?"},
		{"from S[sym == T.sym in T] select sym insert into O;", "5:8: 'in T' needs a table or a named window, but T is a stream", ""},
		{"from !S select sym insert into O;", "5:6: there is no fault stream !S", "add @OnError(action='stream') to the definition of S"},
		{"from S select sym insert into !S;", "5:19: there is no fault stream !S", ""},
		{"from S[price == null] select sym insert into O;", "5:17: null is not a value in SiddhiQL", "test for null with 'x is null'"},
		{"@info(name='q') from S select sym insert into O; @info(name='q') from S select sym insert into O;", "5:50: a query named 'q' already exists at 5:1", ""},
		{"from S output every 0 events insert into O;", "5:8: output rate must be at least 1 event", ""},
	}
	for _, tt := range tests {
		_, err := checkSrc(t, defs+tt.src)
		list, _ := err.(ast.ErrorList)
		if len(list) == 0 {
			t.Errorf("%s\n  no error, want %s", tt.src, tt.want)
			continue
		}
		got := strings.TrimPrefix(list[0].Error(), "app.siddhi:")
		if got != tt.want {
			t.Errorf("%s\n  got  %s\n  want %s", tt.src, got, tt.want)
		}
		if tt.hint != "" && list[0].Hint != tt.hint {
			t.Errorf("%s\n  hint %q, want %q", tt.src, list[0].Hint, tt.hint)
		}
	}
}

func TestDefinitionErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"define stream S (a int, a long);", "1:25: attribute 'a' is defined twice in stream S"},
		{"define stream S (a int); define table S (a int);", "1:26: 'S' is already defined as a stream at 1:1"},
		{"define table S (a int); define table S (b int);", "1:25: table 'S' is already defined at 1:1 with different attributes: table S (a int)"},
		{"define stream S (a int); define stream S (a long);", "1:26: stream 'S' is already defined at 1:1 with different attributes: stream S (a int)"},
		{"@source(type='kafka') define stream S (a int);", "1:9: unknown source type 'kafka'"},
		{"@source(type='htp') define stream S (a int);", "1:9: unknown source type 'htp'"},
		{"@sink(type='log', @map(type='xml')) define stream S (a int);", "1:24: unknown mapper type 'xml'"},
		{"@sink(topic='x') define stream S (a int);", "1:1: @sink needs a type, such as @sink(type='file')"},
		{"@OnError(action='retry') define stream S (a int);", "1:10: unknown @OnError action 'retry': expected 'log', 'stream' or 'store'"},
		{"@async(buffer.size='-1') define stream S (a int);", "1:8: @async buffer.size must be a positive number, but found '-1'"},
		{"@app:playback(idle.time='soon') define stream S (a int);", "1:15: invalid idle.time 'soon' in @app:playback: expected a time such as '100 millisec' or '2 sec'"},
		{"@PrimaryKey('b') define table T (a int);", "1:13: @PrimaryKey attribute 'b' is not defined in table T"},
		{"@Index('a', 'b') define table T (a int, b int);", "1:1: @Index takes one attribute, but found 2"},
		{"@store(type='rdbms') define table T (a int);", "1:8: unknown store type 'rdbms'"},
		{"define trigger T at 'every day';", "1:21: invalid cron expression 'every day' for trigger T: want 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), found 2"},
		{"define window W (a int) length(a);", "1:32: window 'length' expects parameter 'window.length' (argument 1) to be a literal, but found the expression 'a'"},
		{"define window W (a int) sum(a);", "1:25: unknown window 'sum'"},
		{"define aggregation A from X select sum(a) as s aggregate every sec;", "1:27: stream X is not defined"},
		{"define stream S (a int, t string); define aggregation A from S select stdDev(a) as s aggregate every sec;", "1:71: stdDev() cannot be used in an aggregation definition"},
		{"define stream S (a int, t string); define aggregation A from S select sum(a) as s aggregate by a every sec;", "1:96: 'aggregate by' needs a long timestamp or a string time, but 'a' is an int"},
		{"define stream S (a int); @PartitionById define aggregation A from S select sum(a) as s aggregate every sec;", "1:26: @PartitionById needs a shard id, which Tandem does not configure"},
		{"define stream S (a int); define aggregation A from S select sum(a) as s aggregate every sec; define stream Q (a int); from Q join A select Q.a insert into O;", "1:126: a join with an aggregation needs 'within <start>, <end> per <granularity>'"},
		{"define stream S (a int); define aggregation A from S select sum(a) as s aggregate every sec; define stream Q (a int); from Q join A within 1L, 2L per 'weeks' select Q.a insert into O;", "1:151: 'per' must be one of 'seconds', 'minutes', 'hours', 'days', 'months', 'years', but found 'weeks'"},
		{"define function f[js] return int {1}; define function f[js] return int {2};", "1:39: function 'f' is already defined at 1:1"},
		{"define stream S (a int); from S select a insert into A2; define aggregation A2 from S select sum(a) as s aggregate every sec;", ""},
	}
	for _, tt := range tests {
		app, err := parser.Parse("app.siddhi", []byte(tt.src))
		if err != nil {
			if tt.want == "" {
				continue // a parse error is as good: definitions come first
			}
			t.Fatalf("parse %q: %v", tt.src, err)
		}
		_, err = Check(app, nil)
		list, _ := err.(ast.ErrorList)
		if len(list) == 0 {
			t.Errorf("%s\n  no error, want %s", tt.src, tt.want)
			continue
		}
		if got := strings.TrimPrefix(list[0].Error(), "app.siddhi:"); got != tt.want {
			t.Errorf("%s\n  got  %s\n  want %s", tt.src, got, tt.want)
		}
	}
}

func TestSeveralErrors(t *testing.T) {
	src := defs + "from S[prize > 1] select sym insert into O;\nfrom X select a insert into O2;\nfrom S#window.length('a') select sym insert into O3;"
	_, err := checkSrc(t, src)
	list := err.(ast.ErrorList)
	var got []string
	for _, e := range list {
		got = append(got, strings.TrimPrefix(e.Error(), "app.siddhi:"))
	}
	want := []string{
		"5:8: attribute 'prize' is not defined in stream S",
		"6:6: stream X is not defined",
		"7:7: window 'length' does not take (string)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestInfo(t *testing.T) {
	src := defs + `@info(name='q1') from S select sym, price * 2 as p2, sum(n) as total, avg(vol) as a insert into Out;
partition with (sym of S) begin from S select sym, n insert into #In; from #In select n insert into Out2; end;
@OnError(action='log') define stream Z (a int);`
	src = strings.Replace(src, "@OnError(action='log') define stream Z (a int);", "", 1)
	info, err := checkSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Attribute{{Name: "sym", Type: event.String}, {Name: "p2", Type: event.Float},
		{Name: "total", Type: event.Long}, {Name: "a", Type: event.Double}}
	if got := info.Streams["Out"]; got == nil || !reflect.DeepEqual(got.Attrs, want) {
		t.Errorf("Streams[Out] = %+v, want %+v", got, want)
	}
	if got := info.Streams["Out2"]; got == nil || !reflect.DeepEqual(got.Attrs, []event.Attribute{{Name: "n", Type: event.Int}}) {
		t.Errorf("Streams[Out2] = %+v", got)
	}
	if info.Tables["Tab"] == nil || info.Windows["W"] == nil {
		t.Errorf("tables/windows missing: %v %v", info.Tables, info.Windows)
	}
	var q1 *ast.Query
	for q, s := range info.Outputs {
		if s.Name == "q1" {
			q1 = q
		}
	}
	if q1 == nil {
		t.Fatal("no output schema for q1")
	}
	if got := info.Types[q1.Select.Items[1].Expr]; got != event.Float {
		t.Errorf("type of price * 2 = %v, want float", got)
	}
	if len(info.Inner) != 1 {
		t.Fatalf("Inner has %d partitions", len(info.Inner))
	}
	for _, inner := range info.Inner {
		if s := inner["In"]; s == nil || len(s.Attrs) != 2 {
			t.Errorf("inner stream In = %+v", s)
		}
	}
}

func TestArithmeticTypes(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want event.Type
	}{
		{"n + n", event.Int}, {"n + vol", event.Long}, {"n * price", event.Float}, {"vol / price", event.Float},
		{"price - 1.5", event.Double}, {"n % 2L", event.Long}, {"-n", event.Int}, {"1 sec", event.Long},
		{"n > 1 and ok", event.Bool}, {"sym is null", event.Bool}, {"convert(n, 'double')", event.Double},
		{"ifThenElse(ok, n, 2)", event.Int}, {"coalesce(price, 1f)", event.Float},
	} {
		info, err := checkSrc(t, defs+"from S select "+tt.expr+" as x insert into Out;")
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if got := info.Streams["Out"].Attrs[0].Type; got != tt.want {
			t.Errorf("%s: type %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestOnDemand(t *testing.T) {
	app, err := parser.Parse("app.siddhi", []byte(defs+`define aggregation A from S select sym, sum(price) as total group by sym aggregate by vol every sec...day;`))
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{
		"from Tab on price > 1 select sym, price": "",
		"from W select *":                         "",
		"from A within '2020-**-** **:**:**' per 'hours' select sym, total": "",
		"select 'a' as sym, 1f as price insert into Tab":                    "",
		"delete Tab on Tab.sym == 'a'":                                      "",
		"update Tab set Tab.price = 2f on Tab.sym == 'a'":                   "",
		"from S select *":                               "q:1:6: 'S' is a stream: on-demand queries read tables, named windows and aggregations",
		"from Nope select *":                            "q:1:6: 'Nope' is not defined",
		"from Tab on prize > 1 select *":                "q:1:13: attribute 'prize' is not defined in table Tab",
		"from A select *":                               "q:1:6: an on-demand query on an aggregation needs 'within ... per ...'",
		"select 'a' as sym insert into Tab":             "q:1:19: query output (sym string) does not match table Tab (sym string, price float)",
		"select 'a' as sym, 1f as price insert into S2": "q:1:32: 'S2' is not a table: an on-demand query inserts into a table",
	} {
		q, err := parser.ParseOnDemand("q", []byte(src))
		if err != nil {
			t.Fatalf("parse %q: %v", src, err)
		}
		_, err = CheckOnDemand(app, "q", q, nil)
		got := ""
		if err != nil {
			got = err.(ast.ErrorList)[0].Error()
		}
		if got != want {
			t.Errorf("%s\n  got  %s\n  want %s", src, got, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	reg := DefaultRegistry()
	reg.AddFunc(&Func{Name: "str:concat", Overloads: []Overload{{{Name: "arg", Types: Any}, {Name: "arg", Types: Any, Variadic: true}}}, Returns: event.String})
	reg.AddSource("kafka")
	reg.AddStore("rdbms")
	reg.AddWindow(&Window{Name: "unique:length", Overloads: []Overload{{{Name: "attribute", Types: Any, Var: true}, {Name: "length", Types: Int, Static: true}}}})
	src := `@source(type='Kafka') define stream S (a string, b int);
@store(type='rdbms') define table T (a string);
from S#window.unique:length(a, 3) select str:concat(a, 'x', b) as c insert into O;`
	app, err := parser.Parse("f", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(app, &Config{Registry: reg}); err != nil {
		t.Errorf("with extensions: %v", err)
	}
	if _, err := Check(app, nil); err == nil {
		t.Errorf("default registry accepted unknown extensions")
	}
	if reg.Func("sum") == nil || reg.Window("time") == nil || reg.StreamFunc("log") == nil {
		t.Errorf("core entries missing")
	}
	if got := (Int | Long | Time).String(); got != "int|long|time" {
		t.Errorf("TypeSet.String() = %q", got)
	}
}

func TestRender(t *testing.T) {
	src := defs + "from S[prize > 1] select sym insert into O;"
	_, err := checkSrc(t, src)
	got := err.(ast.ErrorList)[0].Render([]byte(src))
	want := `app.siddhi:5:8: attribute 'prize' is not defined in stream S
  5 | from S[prize > 1] select sym insert into O;
    |        ^
    = hint: did you mean 'price'?
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	long := "define stream S (a int); " + strings.Repeat(" ", 200) + "from S select b insert into O;"
	_, err = checkSrc(t, long)
	got = err.(ast.ErrorList)[0].Render([]byte(long))
	if !strings.Contains(got, "...") || !strings.Contains(got, "select b") {
		t.Errorf("long line not cut around the error:\n%s", got)
	}
	lines := strings.Split(got, "\n")
	caret := strings.Index(lines[2], "^")
	if caret < 0 || lines[1][caret] != 'b' {
		t.Errorf("caret not under the error:\n%s", got)
	}
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"prize", []string{"price", "volume"}, "price"},
		{"Symbol", []string{"symbol"}, "symbol"},
		{"xyz", []string{"price"}, ""},
		{"a", []string{"a"}, ""},
	} {
		if got := suggest(tt.name, tt.cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
