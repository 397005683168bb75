package engine

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
)

// Tests of output rate limiting, named windows, stream functions, fault
// streams, UUID() and chunked sends, written in SiddhiQL. Siddhi's recorded
// cases (package conformance) check the same features against the reference
// engine; these pin the engine's own contract.

func TestRateLimiting(t *testing.T) {
	tests := []struct {
		name  string
		query string
		start int64 // Start time; the clock otherwise starts with the first step
		steps []step
		want  string
	}{
		{
			name:  "all every 2 events",
			query: "@info(name='q') from S select symbol output every 2 events insert into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 1}, {3, "C", 1, 1}, {4, "D", 1, 1}, {5, "E", 1, 1}},
			want:  "+ A\n+ B\n+ C\n+ D",
		},
		{
			name:  "first every 3 events",
			query: "@info(name='q') from S select symbol output first every 3 events insert into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 1}, {3, "C", 1, 1}, {4, "D", 1, 1}},
			want:  "+ A\n+ D",
		},
		{
			name:  "last every 2 events",
			query: "@info(name='q') from S select symbol output last every 2 events insert into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 1}, {3, "C", 1, 1}, {4, "D", 1, 1}, {5, "E", 1, 1}},
			want:  "+ B\n+ D",
		},
		{
			name:  "first per group every 2 events",
			query: "@info(name='q') from S select symbol, volume group by symbol output first every 2 events insert into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 2}, {3, "A", 1, 3}, {4, "A", 1, 4}, {5, "B", 1, 5}},
			want:  "+ A,1\n+ B,2\n+ A,4",
		},
		{
			name:  "last per group every 3 events",
			query: "@info(name='q') from S select symbol, volume group by symbol output last every 3 events insert into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 2}, {3, "A", 1, 3}, {4, "C", 1, 4}},
			// Groups in the order they first appeared, each with its last event.
			want: "+ A,3\n+ B,2",
		},
		{
			name:  "all every second from the start",
			query: "@info(name='q') from S select symbol output every 1 sec insert into O;",
			start: 0,
			steps: []step{{200, "A", 1, 1}, {900, "B", 1, 1}, {1000, "", 0, 0}, {2500, "C", 1, 1}, {4000, "", 0, 0}},
			// Periods end at 1000, 2000, 3000, ...: C goes out at 3000.
			want: "+ A\n+ B\n+ C",
		},
		{
			name:  "last every second",
			query: "@info(name='q') from S select symbol output last every 1 sec insert into O;",
			start: 0,
			steps: []step{{200, "A", 1, 1}, {900, "B", 1, 1}, {1100, "C", 1, 1}, {3000, "", 0, 0}},
			want:  "+ B\n+ C",
		},
		{
			name:  "first every second",
			query: "@info(name='q') from S select symbol output first every 1 sec insert into O;",
			steps: []step{{0, "A", 1, 1}, {500, "B", 1, 1}, {1000, "C", 1, 1}, {1200, "D", 1, 1}},
			want:  "+ A\n+ C",
		},
		{
			name:  "snapshot of the last event",
			query: "@info(name='q') from S select symbol output snapshot every 1 sec insert all events into O;",
			start: 0,
			steps: []step{{100, "A", 1, 1}, {300, "B", 1, 1}, {2500, "", 0, 0}},
			want:  "+ B\n+ B",
		},
		{
			name:  "snapshot of a window with an aggregate",
			query: "@info(name='q') from S#window.time(1800) select symbol, sum(volume) as v output snapshot every 1 sec insert all events into O;",
			start: 0,
			steps: []step{{100, "A", 1, 1}, {300, "B", 1, 2}, {2050, "", 0, 0}},
			// At 1000 the window holds A and B, with the latest sum; at 2000
			// A has expired.
			want: "+ A,3\n+ B,3\n+ B,2",
		},
		{
			name:  "snapshot per group",
			query: "@info(name='q') from S#window.length(10) select symbol, count() as n group by symbol output snapshot every 1 sec insert all events into O;",
			start: 0,
			steps: []step{{100, "A", 1, 1}, {200, "B", 1, 1}, {300, "A", 1, 1}, {1000, "", 0, 0}},
			want:  "+ A,2\n+ B,1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, mustParse(t, stockDef+tc.query))
			r.Start(tc.start)
			var rec recorder
			r.OnQuery("q", rec.query)
			runSteps(t, r, tc.steps, &rec)
			if got := rec.take(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestSnapshotRateNeedsAllEvents(t *testing.T) {
	_, err := New(mustParse(t, stockDef+"from S select symbol output snapshot every 1 sec insert into O;"))
	if err == nil || !strings.Contains(err.Error(), "insert all events") {
		t.Fatalf("got %v, want an error asking for 'insert all events'", err)
	}
}

func TestNamedWindow(t *testing.T) {
	app := mustParse(t, stockDef+
		"define window W (symbol string, price double, volume long) length(2) output all events;\n"+
		"from S[volume > 0] insert into W;\n"+
		"@info(name='q') from W select symbol, sum(volume) as v insert all events into O;\n"+
		"@info(name='q2') from W select symbol insert expired events into E;\n")
	r := mustNew(t, app)
	var rec, rec2 recorder
	r.OnQuery("q", rec.query)
	r.OnQuery("q2", rec2.query)
	runSteps(t, r, []step{{1, "A", 1, 1}, {2, "B", 1, 2}, {3, "C", 1, 0}, {4, "D", 1, 4}}, &rec)
	// D pushes A out: the reader's sum follows the expired event, and of
	// the chunk (A expired, D) only the last event is output, as for any
	// aggregate without group by.
	if got, want := rec.take(), "+ A,1\n+ B,3\n+ D,6"; got != want {
		t.Errorf("q: got\n%s\nwant\n%s", got, want)
	}
	if got, want := rec2.take(), "- A"; got != want {
		t.Errorf("q2: got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{
		"define window W (a int) length(2); from W#window.length(2) select a insert into O;",
		"define window W (a int) nosuch(2);",
		"define window W (a int) length('x');",
		"define stream W (a int); define window W (a int) length(2);",
	} {
		if _, err := New(mustParse(t, bad)); err == nil {
			t.Errorf("%s: planned, want an error", bad)
		}
	}
}

func TestSendBatchIsOneChunk(t *testing.T) {
	r := mustNew(t, mustParse(t, stockDef+
		"@info(name='q') from S#window.batch() select sum(volume) as v insert into O;"))
	var rec recorder
	r.OnQuery("q", rec.query)
	id, _ := r.InputID("S")
	r.SendBatch(id, []event.Event{{Timestamp: 1, Data: row("A", 1.0, int64(1))}, {Timestamp: 2, Data: row("B", 1.0, int64(2))}})
	r.SendBatch(id, []event.Event{{Timestamp: 3, Data: row("C", 1.0, int64(4))}})
	r.SendBatch(id, []event.Event{{Timestamp: 4, Data: row("C", 1.0)}}) // wrong width: refused
	// One output per chunk: the batch is the chunk.
	if got, want := rec.take(), "+ 3\n+ 4"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if r.Now() != 3 {
		t.Errorf("clock %d, want 3", r.Now())
	}
}

func TestStreamFunctions(t *testing.T) {
	var logs bytes.Buffer
	r := mustNew(t, mustParse(t, "define stream P (theta double, rho double, e double);\n"+
		"@info(name='q') from P#log('WARN', 'polar', true)#pol2Cart(theta, rho, e)[x > 0.0] select x, y, z insert into O;"))
	r.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	var rec recorder
	r.OnQuery("q", rec.query)
	id, _ := r.InputID("P")
	r.Send(id, 1, row(22.6, 13.0, 7.0))
	r.Send(id, 2, row(180.0, 1.0, 0.0)) // x < 0: filtered out after pol2Cart
	// Java's Math.toRadians and cos give 12.001732822468751 for x, the value
	// Siddhi's test records.
	if got := rec.take(); !strings.HasPrefix(got, "+ 12.001732822468751,4.99") || strings.Count(got, "\n") != 0 {
		t.Errorf("got %q", got)
	}
	if n := strings.Count(logs.String(), "msg=polar"); n != 2 || !strings.Contains(logs.String(), "level=WARN") ||
		!strings.Contains(logs.String(), "theta=22.6") {
		t.Errorf("log output:\n%s", logs.String())
	}
	for _, bad := range []string{
		"define stream S (a int); from S#log(12) select a insert into O;",
		"define stream S (a int); from S#log('message', true, 1, 'x') select a insert into O;",
		"define stream S (a int); from S#log('LOUD', 'm') select a insert into O;",
		"define stream S (a double); from S#pol2Cart(a) select x insert into O;",
		"define stream S (a int, b int); from S#pol2Cart(a, b) select x insert into O;",
		"define stream S (a double); from S#window.length(2)#pol2Cart(a, a) select x insert into O;",
		"define stream S (a double); from S#nosuch(a) select a insert into O;",
	} {
		if _, err := New(mustParse(t, bad)); err == nil {
			t.Errorf("%s: planned, want an error", bad)
		}
	}
}

func TestFaultStream(t *testing.T) {
	app := mustParse(t, "@OnError(action='STREAM') define stream S (a int, o object);\n"+
		"@info(name='q') from S[o == o] select a insert into O;\n"+
		"@info(name='f') from !S select a, _error insert into F;")
	r := mustNew(t, app)
	var out, faults recorder
	r.OnQuery("q", out.query)
	r.OnQuery("f", faults.query)
	id, _ := r.InputID("S")
	r.Send(id, 1, []event.Value{event.IntValue(1), event.ObjectValue("x")})
	// Comparing two slices panics: the event goes to the fault stream.
	r.Send(id, 2, []event.Value{event.IntValue(2), event.ObjectValue([]int{1})})
	if got := out.take(); got != "+ 1" {
		t.Errorf("outputs %q", got)
	}
	got := faults.take()
	if !regexp.MustCompile(`^\+ 2,engine: processing an event of S: .*uncomparable`).MatchString(got) {
		t.Errorf("faults %q", got)
	}
	for _, bad := range []string{
		"define stream S (a int); from !S select a insert into O;",
		"@OnError(action='retry') define stream S (a int);",
		"@OnError define stream S (a int);",
		"define stream S (a int); from S select a insert into !S;",
	} {
		if _, err := New(mustParse(t, bad)); err == nil {
			t.Errorf("%s: planned, want an error", bad)
		}
	}
	// With 'log', the failing event is only logged.
	r = mustNew(t, mustParse(t, "@OnError(action='log') define stream S (a int, o object);\n"+
		"@info(name='q') from S[o == o] select a insert into O;"))
	var logs bytes.Buffer
	r.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	r.Send(id, 2, []event.Value{event.IntValue(2), event.ObjectValue([]int{1})})
	if !strings.Contains(logs.String(), "uncomparable") {
		t.Errorf("log %q", logs.String())
	}
}

func TestUUIDDeterministic(t *testing.T) {
	app := mustParse(t, "@app:name('U') define stream S (a int); @info(name='q') from S select a, UUID() as u insert into O;")
	run := func(r *Runtime, from, to int) []string {
		var rec recorder
		r.OnQuery("q", rec.query)
		id, _ := r.InputID("S")
		for i := from; i < to; i++ {
			r.Send(id, 5, []event.Value{event.IntValue(int32(i))})
		}
		return rec.lines
	}
	a := run(mustNew(t, app), 0, 4)
	b := run(mustNew(t, app), 0, 4)
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Fatalf("two runs differ:\n%v\n%v", a, b)
	}
	re := regexp.MustCompile(`^\+ \d,[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for _, l := range a {
		if !re.MatchString(l) {
			t.Errorf("not a version 4 UUID: %q", l)
		}
		seen[l[4:]] = true
	}
	if len(seen) != len(a) {
		t.Errorf("repeated UUIDs in %v", a)
	}
	// A restored runtime continues the sequence.
	r := mustNew(t, app)
	run(r, 0, 2)
	snap, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r2 := mustRestored(t, app, snap)
	if c := run(r2, 2, 4); strings.Join(c, "|") != strings.Join(a[2:], "|") {
		t.Errorf("after restore\n%v\nwant\n%v", c, a[2:])
	}
}

func TestExpressionWindowFromAttribute(t *testing.T) {
	app := mustParse(t, "define stream S (symbol string, price double, expr string);\n"+
		"@info(name='q') from S#window.expression(expr) select symbol insert all events into O;")
	r := mustNew(t, app)
	var rec recorder
	r.OnQuery("q", rec.query)
	id, _ := r.InputID("S")
	send := func(ts int64, sym string, p float64, expr string) {
		r.Send(id, ts, []event.Value{event.StringValue(sym), event.DoubleValue(p), event.StringValue(expr)})
	}
	send(1, "A", 1, "count() <= 2")
	send(2, "B", 1, "count() <= 2")
	send(3, "C", 1, "count() <= 2")
	// A new expression replays the window through it: only one event stays.
	send(4, "D", 1, "count() <= 1")
	send(5, "E", 1, "nosuch > 1") // does not compile: dropped and logged
	want := "+ A\n+ B\n+ C\n- A\n+ D\n- B\n- C"
	if got := rec.take(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	snap, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r2 := mustRestored(t, app, snap)
	if again, _ := r2.Snapshot(); !bytes.Equal(again, snap) {
		t.Error("snapshot of the restored runtime differs")
	}
}

func TestStartAnchorsPeriods(t *testing.T) {
	app := mustParse(t, stockDef+"@info(name='q') from S select symbol output every 1 sec insert into O;")
	for _, tc := range []struct {
		start    int64
		deadline int64
	}{{0, 1000}, {300, 1300}, {-1, 1500}} {
		r := mustNew(t, app)
		if tc.start >= 0 {
			r.Start(tc.start)
		}
		id, _ := r.InputID("S")
		r.Send(id, 500, row("A", 1.0, int64(1)))
		if d, ok := r.NextDeadline(); !ok || d != tc.deadline {
			t.Errorf("start %d: deadline %d,%v, want %d", tc.start, d, ok, tc.deadline)
		}
	}
}

func TestTriggers(t *testing.T) {
	tests := []struct {
		def  string
		to   int64
		want string
	}{
		{"define trigger T at 'start';", 5000, "+ 1000"},
		{"define trigger T at every 500 millisec;", 2100, "+ 1500\n+ 2000"},
		{"define trigger T at '*/2 * * * * ?';", 5000, "+ 2000\n+ 4000"},
	}
	for _, tc := range tests {
		r := mustNew(t, mustParse(t, tc.def+" @info(name='q') from T select triggered_time as t insert into O;"))
		var rec recorder
		r.OnQuery("q", rec.query)
		r.Start(1000)
		r.Advance(tc.to)
		if got := rec.take(); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.def, got, tc.want)
		}
	}
	for _, bad := range []string{
		"define trigger T at 'nonsense';",
		"define stream T (a int); define trigger T at 'start';",
	} {
		if _, err := New(mustParse(t, bad)); err == nil {
			t.Errorf("%s: planned, want an error", bad)
		}
	}
}

func TestJoins(t *testing.T) {
	const defs = "define stream S (symbol string, price double);\ndefine stream T (company string, tweet string);\n"
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{
			name:  "inner join",
			query: "from S#window.length(2) join T#window.length(2) on S.symbol == T.company select S.symbol, T.tweet insert all events into O;",
			// T's arrivals match S's window; S's third event pushes out the
			// first, which expires its match (C itself matches nothing).
			want: "+ A,hi\n+ B,yo\n- A,hi",
		},
		{
			name:  "left outer join",
			query: "from S#window.length(1) as s left outer join T#window.length(5) as t on s.symbol == t.company select s.symbol, t.tweet insert into O;",
			// S's window holds one event: A is gone when T's A arrives, and
			// T's side is not outer.
			want: "+ A,null\n+ B,null\n+ B,yo\n+ C,null",
		},
		{
			name:  "unidirectional",
			query: "from S unidirectional join T#window.length(5) select symbol, count() as n insert into O;",
			// Only S's arrivals join; each one's matches are one chunk.
			want: "+ C,2",
		},
		{
			name:  "full outer join with a window on one side",
			query: "from S#window.length(1) full outer join T on S.symbol == T.company select S.symbol, T.company insert into O;",
			want:  "+ A,null\n+ B,null\n+ null,A\n+ B,B\n+ C,null",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, mustParse(t, defs+"@info(name='q') "+tc.query))
			var rec recorder
			r.OnQuery("q", rec.query)
			s, _ := r.InputID("S")
			tt, _ := r.InputID("T")
			send := func(id int, ts int64, a, b any) { r.Send(id, ts, row(a, b)) }
			send(s, 1, "A", 1.0)
			send(s, 2, "B", 2.0)
			send(tt, 3, "A", "hi")
			send(tt, 4, "B", "yo")
			send(s, 5, "C", 3.0)
			if got := rec.take(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestSelfJoin(t *testing.T) {
	r := mustNew(t, mustParse(t, "define stream S (symbol string, price double);\n"+
		"@info(name='q') from S#window.length(2) as a join S#window.length(2) as b on a.symbol == b.symbol "+
		"select a.price as pa, b.price as pb insert into O;"))
	var rec recorder
	r.OnQuery("q", rec.query)
	id, _ := r.InputID("S")
	r.Send(id, 1, row("A", 1.0))
	r.Send(id, 2, row("A", 2.0))
	// Each event runs through the left side, then the right: the left
	// finds the right's window without it, the right finds the left's with
	// it.
	if got, want := rec.take(), "+ 1.0,1.0\n+ 2.0,1.0\n+ 1.0,2.0\n+ 2.0,2.0"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestJoinErrors(t *testing.T) {
	const defs = "define stream S (symbol string, price double); define stream T (symbol string, n int);\n"
	for _, bad := range []string{
		"from S join T select symbol insert into O;",                          // ambiguous
		"from S join T on S.symbol == T.symbol select * insert into O;",       // duplicate output
		"from S join T on S.nosuch == T.symbol select S.price insert into O;", // no attribute
		"from S join X on S.symbol == X.symbol select S.price insert into O;", // no stream
		"from S join T on S.price select S.price insert into O;",              // not bool
		"from S join T#window.nosuch(1) on S.symbol == T.symbol select S.price insert into O;",
	} {
		if _, err := New(mustParse(t, defs+bad)); err == nil {
			t.Errorf("%s: planned, want an error", bad)
		}
	}
}
