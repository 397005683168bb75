package engine

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Tests written in SiddhiQL, through the parser.

func mustParse(t testing.TB, src string) *ast.App {
	t.Helper()
	app, err := parser.Parse("test.siddhi", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return app
}

const stockDef = "define stream S (symbol string, price double, volume long);\n"

// step is one input of a scripted run: an event on S at a time, or (sym
// empty) a timer tick.
type step struct {
	ts     int64
	sym    string
	price  float64
	volume int64
}

func runSteps(t testing.TB, r *Runtime, steps []step, rec *recorder) {
	t.Helper()
	id, ok := r.InputID("S")
	if !ok {
		t.Fatal("no stream S")
	}
	for _, s := range steps {
		if s.sym == "" {
			r.Advance(s.ts)
			continue
		}
		r.Send(id, s.ts, row(s.sym, s.price, s.volume))
	}
}

func TestSiddhiQLQueries(t *testing.T) {
	tests := []struct {
		name  string
		query string
		steps []step
		want  string
	}{
		{
			name:  "lengthBatch sum",
			query: "@info(name='q') from S#window.lengthBatch(2) select symbol, sum(volume) as v insert all events into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 2}, {3, "C", 1, 3}, {4, "D", 1, 4}},
			// One output per batch (the last event); at the second flush the
			// expired first batch and the reset come before the new batch.
			want: "+ B,3\n+ D,7",
		},
		{
			name:  "lengthBatch projection all events",
			query: "@info(name='q') from S#window.lengthBatch(2) select symbol insert all events into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 2}, {3, "C", 1, 3}, {4, "D", 1, 4}},
			want:  "+ A\n+ B\n+ C\n+ D\n- A\n- B",
		},
		{
			name:  "lengthBatch stream current",
			query: "@info(name='q') from S#window.lengthBatch(2, true) select symbol, count() as n insert into O;",
			steps: []step{{1, "A", 1, 1}, {2, "B", 1, 2}, {3, "C", 1, 3}},
			want:  "+ A,1\n+ B,2\n+ C,1",
		},
		{
			name:  "timeBatch",
			query: "@info(name='q') from S#window.timeBatch(1 sec) select symbol, sum(volume) as v insert into O;",
			steps: []step{{1000, "A", 1, 1}, {1500, "B", 1, 2}, {2000, "", 0, 0}, {2100, "C", 1, 3}, {3500, "", 0, 0}},
			want:  "+ B,3\n+ C,3",
		},
		{
			name:  "timeBatch group by",
			query: "@info(name='q') from S#window.timeBatch(1 sec) select symbol, sum(volume) as v group by symbol insert into O;",
			steps: []step{{1000, "A", 1, 1}, {1100, "B", 1, 2}, {1200, "A", 1, 3}, {2000, "", 0, 0}},
			// One output per group, in the order the groups first appear.
			want: "+ A,4\n+ B,2",
		},
		{
			name:  "timeLength",
			query: "@info(name='q') from S#window.timeLength(1 sec, 2) select symbol insert all events into O;",
			steps: []step{{0, "A", 1, 1}, {10, "B", 1, 1}, {20, "C", 1, 1}, {1500, "", 0, 0}},
			want:  "+ A\n+ B\n+ C\n- A\n- B\n- C",
		},
		{
			name:  "externalTime",
			query: "@info(name='q') from S#window.externalTime(volume, 100) select symbol, sum(price) as p insert all events into O;",
			steps: []step{{1, "A", 1, 0}, {2, "B", 2, 50}, {3, "C", 4, 100}, {4, "D", 8, 260}},
			want:  "+ A,1.0\n+ B,3.0\n+ C,6.0\n+ D,8.0",
		},
		{
			name:  "order by limit offset",
			query: "@info(name='q') from S#window.lengthBatch(4) select symbol, price order by price desc limit 2 offset 1 insert into O;",
			steps: []step{{1, "A", 3, 0}, {2, "B", 1, 0}, {3, "C", 4, 0}, {4, "D", 2, 0}},
			want:  "+ A,3.0\n+ D,2.0",
		},
		{
			name:  "functions",
			query: "@info(name='q') from S select convert(volume, 'string') as s, ifThenElse(price > 2.0, 'hi', 'lo') as l, coalesce(symbol, 'none') as c, maximum(price, 2.5) as m, cast(volume, 'long') as v insert into O;",
			steps: []step{{1, "A", 3, 7}, {2, "B", 1, 8}},
			want:  "+ 7,hi,A,3.0,7\n+ 8,lo,B,2.5,8",
		},
		{
			name:  "maximum of negatives is Siddhi's 0",
			query: "@info(name='q') from S select maximum(price, -2.0) as m, minimum(volume, 5L) as n insert into O;",
			steps: []step{{1, "A", -3, 7}},
			want:  "+ " + event.DoubleValue(math.SmallestNonzeroFloat64).String() + ",5",
		},
		{
			name:  "eventTimestamp and currentTimeMillis use event time",
			query: "@info(name='q') from S select eventTimestamp() as t, currentTimeMillis() as c insert into O;",
			steps: []step{{42, "A", 1, 1}},
			want:  "+ 42,42",
		},
		{
			name:  "having on aggregate not selected",
			query: "@info(name='q') from S#window.length(2) select symbol having sum(volume) > 5 insert into O;",
			steps: []step{{1, "A", 1, 3}, {2, "B", 1, 3}, {3, "C", 1, 1}},
			want:  "+ B",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, mustParse(t, stockDef+tc.query))
			var rec recorder
			r.OnQuery("q", rec.query)
			runSteps(t, r, tc.steps, &rec)
			if got := rec.take(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// snapshotApps cover every kind of state the engine keeps.
var snapshotApps = []string{
	"@info(name='q') from S#window.length(3) select symbol, sum(volume) as v, min(price) as mn, max(price) as mx group by symbol insert all events into O;",
	"@info(name='q') from S#window.time(100) select symbol, avg(price) as a, count() as n, stdDev(price) as sd insert all events into O;",
	"@info(name='q') from S#window.lengthBatch(3) select symbol, distinctCount(symbol) as d, sum(price) as p insert all events into O;",
	"@info(name='q') from S#window.timeBatch(50) select symbol, sum(volume) as v group by symbol insert all events into O;",
	"@info(name='q') from S#window.timeBatch(50, true) select symbol, count() as n insert all events into O;",
	"@info(name='q') from S#window.timeLength(80, 4) select symbol, minForever(price) as m, maxForever(volume) as x insert all events into O;",
	"@info(name='q') from S#window.externalTime(volume, 30) select symbol, sum(price) as p insert all events into O;",
	"@info(name='q') from S[price > 2.0]#window.length(2)[volume > 10] select symbol, price insert expired events into T;\n" +
		"@info(name='q2') from T#window.lengthBatch(2) select symbol, max(price) as m insert into O;",
	"@info(name='q') from S#window.batch() select symbol, sum(volume) as v insert all events into O;",
	"@info(name='q') from S#window.batch(2) select symbol, count() as n group by symbol insert all events into O;",
	"@info(name='q') from S#window.externalTimeBatch(volume, 30, 0, 20) select symbol, count() as n insert all events into O;",
	"@info(name='q') from S#window.externalTimeBatch(volume, 25) select symbol, sum(price) as p insert all events into O;",
	"@info(name='q') from S#window.cron('*/1 * * * * ?') select symbol, sum(price) as p insert all events into O;",
	"@info(name='q') from S#window.sort(3, price, 'desc', symbol) select symbol, price, min(volume) as m insert all events into O;",
	"@info(name='q') from S#window.frequent(2, symbol) select symbol, count() as n insert all events into O;",
	"@info(name='q') from S#window.lossyFrequent(0.3, 0.1, symbol) select symbol, price insert all events into O;",
	"@info(name='q') from S#window.delay(30) select symbol, volume insert all events into O;",
	"@info(name='q') from S#window.session(25, symbol, 10) select symbol, volume insert all events into O;",
	"@info(name='q') from S#window.session(15) select symbol, count() as n insert all events into O;",
	"@info(name='q') from S#window.expression('sum(price) < 6.0 and eventTimestamp(last) - eventTimestamp(first) < 60') select symbol, sum(price) as p insert all events into O;",
	"@info(name='q') from S#window.expressionBatch('count() <= 3') select symbol, count() as n insert all events into O;",
	"@info(name='q') from S#window.expressionBatch('last.volume - first.volume < 50', true, true) select symbol insert all events into O;",
	"define window W (symbol string, price double, volume long) length(3) output all events;\n" +
		"from S insert into W;\n@info(name='q') from W select symbol, sum(volume) as v insert all events into O;",
	"define window W (symbol string, price double, volume long) timeBatch(40) output expired events;\n" +
		"from S[price > 1.0] insert into W;\n@info(name='q') from W select symbol, count() as n insert expired events into O;",
	"@info(name='q') from S select symbol output every 3 events insert into O;",
	"@info(name='q') from S select symbol output first every 3 events insert into O;",
	"@info(name='q') from S select symbol output last every 2 events insert into O;",
	"@info(name='q') from S select symbol, volume group by symbol output first every 2 events insert into O;",
	"@info(name='q') from S select symbol, volume group by symbol output last every 3 events insert into O;",
	"@info(name='q') from S select symbol output every 50 millisec insert into O;",
	"@info(name='q') from S select symbol output last every 40 millisec insert into O;",
	"@info(name='q') from S select symbol output first every 30 millisec insert into O;",
	"@info(name='q') from S select symbol, count() as n group by symbol output first every 30 millisec insert into O;",
	"@info(name='q') from S select symbol, count() as n group by symbol output last every 40 millisec insert into O;",
	"@info(name='q') from S select symbol output snapshot every 30 millisec insert all events into O;",
	"@info(name='q') from S select symbol, sum(volume) as v group by symbol output snapshot every 30 millisec insert all events into O;",
	"@info(name='q') from S#window.length(3) select symbol, price output snapshot every 30 millisec insert all events into O;",
	"@info(name='q') from S#window.time(60) select sum(volume) as v, count() as n output snapshot every 30 millisec insert all events into O;",
	"@info(name='q') from S#window.lengthBatch(3) select symbol, sum(volume) as v output snapshot every 30 millisec insert all events into O;",
	"@info(name='q') from S#window.time(60) select sum(volume) as v group by symbol output snapshot every 30 millisec insert all events into O;",
	"@info(name='q') from S#window.time(60) select symbol, max(price) as m group by symbol output snapshot every 30 millisec insert all events into O;",
	"@app:name('U') @info(name='q') from S select symbol, UUID() as u insert into O;",
	"@info(name='q') from S#pol2Cart(price, price)#window.length(2) select x, y, sum(volume) as v insert all events into O;",
	"@info(name='q') from S#window.length(3) as a join S#window.time(50) as b on a.symbol == b.symbol select a.symbol, b.volume insert all events into O;",
	"@info(name='q') from S#window.lengthBatch(2) as a left outer join S#window.length(1) as b on a.volume > b.volume select a.symbol, b.symbol as other, count() as n insert all events into O;",
	"@info(name='q') from S[price > 1.0] as a unidirectional join S#window.timeBatch(40) as b select a.symbol, sum(b.volume) as v group by a.symbol insert into O;",
	"define window W (symbol string, price double, volume long) time(60);\nfrom S insert into W;\n" +
		"@info(name='q') from S as s full outer join W as w on s.symbol == w.symbol select s.volume, w.volume as wv insert all events into O;",
	"define trigger T at every 25 millisec;\n@info(name='q') from T select triggered_time as t insert into O;",
	"define trigger T at 'start';\n@info(name='q') from T select triggered_time as t insert into O;",
	"define trigger T at '*/1 * * * * ?';\n@info(name='q') from T select triggered_time as t insert into O;",
}

func randomSteps(rng *rand.Rand, n int) []step {
	var steps []step
	ts := int64(0)
	syms := []string{"A", "B", "C", "D"}
	for i := 0; i < n; i++ {
		ts += rng.Int64N(20)
		if rng.IntN(6) == 0 {
			steps = append(steps, step{ts: ts})
			continue
		}
		steps = append(steps, step{ts, syms[rng.IntN(len(syms))], float64(rng.IntN(8)) / 2, ts + rng.Int64N(40)})
	}
	return steps
}

// TestSnapshotEverywhere restores a fresh runtime from a snapshot taken after
// every step of a random run and checks that it continues exactly like the
// original.
func TestSnapshotEverywhere(t *testing.T) {
	for i, q := range snapshotApps {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			app := mustParse(t, stockDef+q)
			steps := randomSteps(rand.New(rand.NewPCG(uint64(i), 7)), 60)
			full := mustNew(t, app)
			var want recorder
			full.OnOutput("O", want.stream)
			runSteps(t, full, steps, &want)
			all := want.lines

			for cut := 0; cut <= len(steps); cut += 7 {
				a := mustNew(t, app)
				var ra recorder
				a.OnOutput("O", ra.stream)
				runSteps(t, a, steps[:cut], &ra)
				prefix := len(ra.lines)
				snap, err := a.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				b := mustNew(t, app)
				if err := b.Restore(snap); err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				if again, _ := b.Snapshot(); !bytes.Equal(again, snap) {
					t.Fatalf("cut %d: snapshot of the restored runtime differs", cut)
				}
				var rb recorder
				b.OnOutput("O", rb.stream)
				runSteps(t, b, steps[cut:], &rb)
				got := strings.Join(rb.lines, "\n")
				if w := strings.Join(all[prefix:], "\n"); got != w {
					t.Fatalf("cut %d: restored runtime diverged:\n%s\nwant\n%s", cut, got, w)
				}
				if d1, ok1 := a.NextDeadline(); true {
					d2, ok2 := mustRestored(t, app, snap).NextDeadline()
					if d1 != d2 || ok1 != ok2 {
						t.Fatalf("cut %d: deadline %d,%v after restore, want %d,%v", cut, d2, ok2, d1, ok1)
					}
				}
			}
		})
	}
}

func mustRestored(t *testing.T, app *ast.App, snap []byte) *Runtime {
	t.Helper()
	r := mustNew(t, app)
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDeterminism runs the same random input twice and on two runtimes
// interleaved, and requires identical outputs.
func TestDeterminism(t *testing.T) {
	for i, q := range snapshotApps {
		app := mustParse(t, stockDef+q)
		steps := randomSteps(rand.New(rand.NewPCG(uint64(i), 99)), 200)
		var outs [2]recorder
		for k := range outs {
			r := mustNew(t, app)
			r.OnOutput("O", outs[k].stream)
			runSteps(t, r, steps, &outs[k])
		}
		if a, b := outs[0].take(), outs[1].take(); a != b {
			t.Errorf("app %d: two runs differ", i)
		}
	}
}

// FuzzEngine plans arbitrary SiddhiQL and runs random events through
// whatever plans: nothing may panic out of New, Send, Advance, Snapshot or
// Restore.
func FuzzEngine(f *testing.F) {
	for _, q := range snapshotApps {
		f.Add(stockDef+q, uint64(1))
	}
	f.Add(stockDef+"from S[price / 0 > 1 or not (volume % 0 == 1)] select -price as p, volume * 2147483647 as v insert into O;", uint64(2))
	f.Add(stockDef+"from S select convert(symbol, 'int') as i, convert(symbol, 'double') as d insert into O;", uint64(3))
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		app, err := parser.Parse("fuzz.siddhi", []byte(src))
		if err != nil || app == nil {
			return
		}
		r, err := New(app)
		if err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 5))
		ts := int64(0)
		for i := 0; i < 50; i++ {
			for _, sch := range r.Streams() {
				id, ok := r.InputID(sch.Name)
				if !ok {
					continue
				}
				vals := make([]event.Value, len(sch.Attrs))
				for j, a := range sch.Attrs {
					vals[j] = randomValue(rng, a.Type)
				}
				ts += rng.Int64N(300)
				r.Send(id, ts, vals)
			}
			if d, ok := r.NextDeadline(); ok && rng.IntN(3) == 0 {
				r.Advance(d)
			}
		}
		snap, err := r.Snapshot()
		if err != nil {
			return // objects cannot be serialised
		}
		r2, _ := New(app)
		if err := r2.Restore(snap); err != nil {
			t.Fatalf("restoring a snapshot of the same app: %v", err)
		}
	})
}

func randomValue(rng *rand.Rand, t event.Type) event.Value {
	if rng.IntN(8) == 0 {
		return event.Value{}
	}
	switch t {
	case event.Int:
		return event.IntValue(int32(rng.Uint32()))
	case event.Long:
		return event.LongValue(int64(rng.Uint64()))
	case event.Float:
		return event.FloatValue(float32(rng.NormFloat64() * 1e3))
	case event.Double:
		return event.DoubleValue(rng.NormFloat64() * 1e6)
	case event.Bool:
		return event.BoolValue(rng.IntN(2) == 0)
	case event.String:
		return event.StringValue(fmt.Sprint(rng.IntN(5)))
	}
	return event.Value{}
}

// FuzzRestoreApps restores arbitrary bytes, seeded with real snapshots of
// every snapshot app, and requires a runtime that accepted them to keep
// working without an operator failing (Send and Advance would turn such a
// panic into a logged error, which the logger here catches).
func FuzzRestoreApps(f *testing.F) {
	for i, q := range snapshotApps {
		r := mustNew(f, mustParse(f, stockDef+q))
		runSteps(f, r, randomSteps(rand.New(rand.NewPCG(uint64(i), 3)), 40), nil)
		snap, err := r.Snapshot()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), snap)
	}
	f.Fuzz(func(t *testing.T, i uint8, data []byte) {
		app := mustParse(t, stockDef+snapshotApps[int(i)%len(snapshotApps)])
		r := mustNew(t, app)
		if err := r.Restore(data); err != nil {
			return
		}
		var logs bytes.Buffer
		r.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
		steps := randomSteps(rand.New(rand.NewPCG(uint64(i), 4)), 30)
		for k := range steps {
			steps[k].ts += r.Now()
		}
		runSteps(t, r, steps, nil)
		if d, ok := r.NextDeadline(); ok {
			r.Advance(d)
		}
		if _, err := r.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("operator failed after restore:\n%s", logs.String())
		}
	})
}

// Windows that only move with arrivals stay off the timed list that Send
// walks before every event; windows with deadlines, and output rates by
// time, stay on it.
func TestTimedOperators(t *testing.T) {
	const def = "define stream S (symbol string, price double, volume long);\n"
	tests := []struct {
		query string
		timed bool
	}{
		{"from S[price > 1.0] select symbol insert into O;", false},
		{"from S#window.length(10) select sum(volume) as v insert into O;", false},
		{"from S#window.lengthBatch(10) select sum(volume) as v insert into O;", false},
		{"from S#window.externalTime(volume, 1 sec) select sum(volume) as v insert into O;", false},
		{"from S#window.sort(3, price) select symbol insert into O;", false},
		{"from S#window.time(1 sec) select sum(volume) as v insert into O;", true},
		{"from S#window.timeBatch(1 sec) select sum(volume) as v insert into O;", true},
		{"from S#window.length(10) select sum(volume) as v output last every 1 sec insert into O;", true},
	}
	for _, tc := range tests {
		r, err := New(mustParse(t, def+tc.query))
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if got := len(r.timed) > 0; got != tc.timed {
			t.Errorf("%s: timed = %v, want %v", tc.query, got, tc.timed)
		}
	}
}

// The single-string group key fast path must give AppendValue's bytes:
// snapshots store the keys, so both forms must never meet in one state.
func TestGroupKeyBytes(t *testing.T) {
	r, err := New(mustParse(t, "define stream S (symbol string, price double);\n"+
		"from S#window.length(5) select symbol, avg(price) as ap group by symbol insert into O;"))
	if err != nil {
		t.Fatal(err)
	}
	sel := r.queries[0].sel
	for _, sym := range []string{"", "IBM", strings.Repeat("x", 300)} {
		sel.fr.in = []event.Value{event.StringValue(sym), event.DoubleValue(1)}
		sel.groupKey()
		want, _ := event.AppendValue(nil, event.StringValue(sym))
		if string(sel.key) != string(want) {
			t.Errorf("group key of %q = %x, want %x", sym, sel.key, want)
		}
	}
	sel.fr.in = []event.Value{event.NullValue(), event.DoubleValue(1)}
	sel.groupKey()
	if want, _ := event.AppendValue(nil, event.NullValue()); string(sel.key) != string(want) {
		t.Errorf("group key of null = %x, want %x", sel.key, want)
	}
}
