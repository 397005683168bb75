package printer

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/internal/asttest"
	"github.com/tandem-stream/tandem/lang/parser"
)

// roundTrip parses src, prints it, parses the output and checks that both
// trees agree and that printing is idempotent.
func roundTrip(t *testing.T, src string) string {
	t.Helper()
	app, err := parser.Parse("in", []byte(src))
	if err != nil {
		t.Errorf("parse %q: %v", src, err)
		return ""
	}
	out := App(app)
	again, err := parser.Parse("out", []byte(out))
	if err != nil {
		t.Errorf("reparse of printed app failed: %v\nsource:\n%s\nprinted:\n%s", err, src, out)
		return out
	}
	if out2 := App(again); out2 != out {
		t.Errorf("printing is not idempotent:\nfirst:\n%s\nsecond:\n%s", out, out2)
	}
	asttest.ClearPos(app)
	asttest.ClearPos(again)
	again.File = app.File
	if !reflect.DeepEqual(app, again) {
		a, _ := json.Marshal(app)
		b, _ := json.Marshal(again)
		t.Errorf("round trip changed the tree\nsource:\n%s\nprinted:\n%s\nbefore: %s\nafter:  %s", src, out, a, b)
	}
	return out
}

func TestRoundTripConformance(t *testing.T) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Skip("no conformance cases (set TANDEM_CONFORMANCE)")
	}
	n := 0
	for _, c := range cases {
		if _, err := parser.Parse("in", []byte(c.App)); err != nil {
			continue // apps that must fail to parse
		}
		roundTrip(t, c.App)
		n++
		for _, in := range c.Inputs {
			if in.Query == "" {
				continue
			}
			q, err := parser.ParseOnDemand("in", []byte(in.Query))
			if err != nil {
				continue
			}
			out := OnDemand(q)
			q2, err := parser.ParseOnDemand("out", []byte(out))
			if err != nil {
				t.Errorf("reparse of %q printed as %q: %v", in.Query, out, err)
				continue
			}
			asttest.ClearPos(q)
			asttest.ClearPos(q2)
			if !reflect.DeepEqual(q, q2) {
				t.Errorf("on-demand round trip changed %q (printed %q)", in.Query, out)
			}
		}
	}
	t.Logf("%d apps round-tripped", n)
}

func TestRoundTripConstructs(t *testing.T) {
	for _, src := range []string{
		"define stream S (a int, `from` string, `two words` long);",
		"@app:name('A') @app:description(\"it's\") define stream S (a int);",
		`@source(type='http', 'odd key'='v', @map(type='json', @attributes(a='$.a', b="it's")))
		 define stream S (a string);`,
		"define stream S (a int); from S[a > -1 and not (a == 2)] select -a as n, -(5) as m, - -5 as k, a - -1 as j insert into T;",
		"define stream S (a int); from S select (a + 1) * 2 as x, a + 1 * 2 as y, a - (1 - 2) as z, not (a > 1) == true as w insert into T;",
		"define stream S (a int); from S[(a is null) == false and f(a) is null and (a + 1) is null] select * insert into T;",
		"define stream S (a int); from S select 1L as a, 2.5f as b, 2.0 as c, 1e300 as d, 'x\"y' as e, \"\"\"a'b\"c\n\"\"\" as f, 1 min 30 sec as g, 2 years as h, null as i insert into T;",
		"define table T (a int); define stream S (a int); from S[a == T.a in T] select * insert into U;",
		"define window W (a int) time(1 sec) output expired events; define window V (a int) length(2);",
		"define trigger T at every 5 sec; define trigger U at 'start'; define trigger V at '*/5 * * * * ?';",
		"define stream S (s string, p float, ts long); define aggregation A from S select s, sum(p) as t group by s aggregate by ts every sec...year; define aggregation B from S select sum(p) as t aggregate every sec, min, day;",
		"define function f[javascript] return string { return 'a{b}'; };",
		"define stream A (x int); define stream B (x int); from A#window.length(1) as a unidirectional left outer join B#window.time(1 min) as b on a.x == b.x select a.x as ax, b.x as bx insert into C;",
		"define stream A (x int); define stream B (x int); from A join B unidirectional select * insert into C; from A right outer join B select * insert into C; from A full outer join B on A.x == B.x select * insert into C;",
		"define stream A (x string, s string, e string, p string); define aggregation Ag from A select sum(x) as t aggregate every sec...day; from A as i join Ag as g on i.x == g.x within i.s, i.e per i.p select g.t insert into O;",
		"define stream A (x int); define stream B (x int); from every e1=A[x > 1] -> e2=B[x > e1.x]<2:5> -> not A for 1 sec within 10 sec select e1.x, e2[0].x as y, e2[last].x as z insert into C;",
		"define stream A (x int); define stream B (x int); from every (e1=A -> e2=B) -> e3=A and e4=B -> e5=A or not B for 2 sec select * insert into C;",
		"define stream A (x int); define stream B (x int); from e1=A, e2=B+, e3=A*, e4=B?, e5=A<3> select * insert into C;",
		"define stream A (x int); define stream B (x int); from every e1=A<2:>, not B and e2=A, e3=A<:4> within 1 min select * insert into C;",
		"define stream A (x int); define stream B (x int); from (every e1=A) and e2=B -> (e3=A -> e4=B) select * insert into C;",
		"define stream A (x int); from A select x, count() as c group by x having c > 1 order by x desc, c limit 10 offset 2 output last every 5 events insert expired events into B;",
		"define stream A (x int); from A output snapshot every 1 sec insert all events into B; from A output first every 2 sec insert into B; from A output every 3 events insert into B;",
		"define stream A (x int); define table T (x int); from A delete T for expired events on T.x == x; from A update T set T.x = x + 1 on T.x == x; from A update or insert into T for all events set T.x = x on T.x == x; from A update T on T.x == x;",
		"define stream A (x int, s string); partition with (s of A, x < 10 as 'low' or x >= 10 as 'high' of A) begin @info(name='q') from A select x insert into #B; from #B select x insert into C; end;",
		"define stream A (x int); from (from A select x return) select x insert into B; from !A select * insert into C;",
		"define stream A (x int); from A#log('a')#window.lengthBatch(2)#custom:f(x)[x > 1] select * insert into B;",
	} {
		roundTrip(t, src)
	}
}

func TestRoundTripOddText(t *testing.T) {
	for _, src := range []string{
		"define stream S (a string); from S select \"\"\"q'\\\"\xff\xfe\x01\"\"\" as b insert into T;",
		"@`odd name`(k='v') @ns:`x y` define stream S (a int);",
		"define stream `from` (`select` int); from `from` select `select` insert into `insert`;",
	} {
		roundTrip(t, src)
	}
}

func TestPrintCanonical(t *testing.T) {
	src := `@App:Name('x') DEFINE STREAM S (a INT);
@info(name='q') FROM S[a>1]#window.length(10) SELECT a, SUM(a) AS total GROUP BY a INSERT INTO T;`
	want := `@App:Name('x')

define stream S (a int);

@info(name='q')
from S[a > 1]#window.length(10)
select a, SUM(a) as total
group by a
insert into T;
`
	app, err := parser.Parse("f", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := App(app); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestTimeString(t *testing.T) {
	for ms, want := range map[int64]string{
		0: "0 sec", 1: "1 millisec", 1000: "1 sec", 90000: "1 min 30 sec", 3600000: "1 hour",
		7200500: "2 hours 500 millisec", 86400000: "1 day", 2 * 86400000: "2 days", 7 * 86400000: "1 week",
		30 * 86400000: "1 month", 365 * 86400000: "1 year", 8 * 86400000: "8 days",
	} {
		if got := TimeString(ms); got != want {
			t.Errorf("TimeString(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestQuoteAndName(t *testing.T) {
	for s, want := range map[string]string{
		"abc": "'abc'", "it's": `"it's"`, `a'b"c`: `"""a'b\"c"""`, "l1\nl2": `"""l1\nl2"""`, `back\slash`: `'back\slash'`,
	} {
		if got := Quote(s); got != want {
			t.Errorf("Quote(%q) = %s, want %s", s, got, want)
		}
	}
	for s, want := range map[string]string{"abc": "abc", "from": "`from`", "Select": "`Select`", "a b": "`a b`", "_x1": "_x1", "1x": "`1x`"} {
		if got := Name(s); got != want {
			t.Errorf("Name(%q) = %s, want %s", s, got, want)
		}
	}
	_ = ast.Pos{}
}

// FuzzRoundTrip checks that every app the parser accepts prints to text that
// parses back to the same tree.
func FuzzRoundTrip(f *testing.F) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(2))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add([]byte(c.App))
	}
	f.Add([]byte("define stream S (a int); from S[not a == -1 and a in T or (a is null)] select -(-a) as b insert into U;"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, err := parser.Parse("in", src); err != nil {
			return
		}
		roundTrip(t, string(src))
	})
}
