package engine

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

func stockStream() *ast.StreamDef {
	return defStream("S", "symbol", event.String, "price", event.Double, "volume", event.Long)
}

func TestFilterProjection(t *testing.T) {
	app := mkApp([]*ast.StreamDef{stockStream()}, qspec{
		name:     "q",
		from:     "S",
		handlers: []*ast.Handler{filterH(bin(ast.OpGt, vr("price"), cst(50.0)))},
		items:    []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(vr("price"), "price")},
		into:     "O",
	})
	r := mustNew(t, app)
	var qr, sr recorder
	r.OnQuery("q", qr.query)
	r.OnOutput("O", sr.stream)
	id, ok := r.InputID("S")
	if !ok {
		t.Fatal("no input id for S")
	}
	r.Send(id, 1, row("A", 55.5, int64(10)))
	r.Send(id, 2, row("B", 45.0, int64(10)))
	r.Send(id, 3, row("C", nil, int64(10)))
	r.Send(id, 4, row("D", 50.5, int64(10)))
	want := "+ A,55.5\n+ D,50.5"
	if got := qr.take(); got != want {
		t.Errorf("query callback:\n%s\nwant\n%s", got, want)
	}
	if got := sr.take(); got != want {
		t.Errorf("stream callback:\n%s\nwant\n%s", got, want)
	}
	sch, ok := r.Schema("O")
	if !ok || describe(sch) != "symbol string, price double" {
		t.Errorf("inferred schema = %v", sch)
	}
	if n := len(r.Streams()); n != 2 {
		t.Errorf("Streams() has %d entries, want 2", n)
	}
	if _, ok := r.InputID("O"); ok {
		t.Error("inferred stream O must not be an input")
	}
}

func TestExpressions(t *testing.T) {
	s := defStream("T", "i", event.Int, "l", event.Long, "f", event.Float, "d", event.Double, "s", event.String, "b", event.Bool)
	tests := []struct {
		name string
		expr ast.Expr
		in   []event.Value
		want string
		typ  event.Type
	}{
		{"int+int", bin(ast.OpAdd, vr("i"), cst(2)), row(3, int64(0), float32(0), 0.0, "", false), "+ 5", event.Int},
		{"int+long", bin(ast.OpAdd, vr("i"), vr("l")), row(3, int64(4), float32(0), 0.0, "", false), "+ 7", event.Long},
		{"int overflow wraps", bin(ast.OpAdd, vr("i"), cst(1)), row(2147483647, int64(0), float32(0), 0.0, "", false), "+ -2147483648", event.Int},
		{"int+float", bin(ast.OpAdd, vr("i"), vr("f")), row(1, int64(0), float32(0.1), 0.0, "", false), "+ 1.1", event.Float},
		{"long+double", bin(ast.OpAdd, vr("l"), vr("d")), row(0, int64(2), float32(0), 0.5, "", false), "+ 2.5", event.Double},
		{"float*float", bin(ast.OpMul, vr("f"), vr("f")), row(0, int64(0), float32(1.1), 0.0, "", false), "+ 1.21", event.Float},
		{"int div truncates", bin(ast.OpDiv, cst(7), cst(2)), row(0, int64(0), float32(0), 0.0, "", false), "+ 3", event.Int},
		{"negative div truncates", bin(ast.OpDiv, cst(-7), cst(2)), row(0, int64(0), float32(0), 0.0, "", false), "+ -3", event.Int},
		{"int div zero null", bin(ast.OpDiv, vr("i"), cst(0)), row(5, int64(0), float32(0), 0.0, "", false), "+ null", event.Int},
		{"long mod zero null", bin(ast.OpMod, vr("l"), cst(int64(0))), row(0, int64(5), float32(0), 0.0, "", false), "+ null", event.Long},
		{"int mod", bin(ast.OpMod, cst(-7), cst(3)), row(0, int64(0), float32(0), 0.0, "", false), "+ -1", event.Int},
		{"double div zero", bin(ast.OpDiv, vr("d"), cst(0.0)), row(0, int64(0), float32(0), 1.0, "", false), "+ Infinity", event.Double},
		{"double mod", bin(ast.OpMod, cst(-7.5), cst(2.0)), row(0, int64(0), float32(0), 1.0, "", false), "+ -1.5", event.Double},
		{"null arithmetic", bin(ast.OpAdd, vr("i"), cst(1)), row(nil, int64(0), float32(0), 0.0, "", false), "+ null", event.Int},
		{"null compare false", bin(ast.OpNe, vr("i"), cst(1)), row(nil, int64(0), float32(0), 0.0, "", false), "+ false", event.Bool},
		{"not null compare", &ast.Unary{Op: ast.OpNot, X: bin(ast.OpEq, vr("i"), cst(1))}, row(nil, int64(0), float32(0), 0.0, "", false), "+ true", event.Bool},
		{"null == null false", bin(ast.OpEq, vr("s"), vr("s")), row(0, int64(0), float32(0), 0.0, nil, false), "+ false", event.Bool},
		{"string eq", bin(ast.OpEq, vr("s"), cst("x")), row(0, int64(0), float32(0), 0.0, "x", false), "+ true", event.Bool},
		{"bool ne", bin(ast.OpNe, vr("b"), cst(true)), row(0, int64(0), float32(0), 0.0, "", false), "+ true", event.Bool},
		{"float vs double compare", bin(ast.OpEq, vr("f"), cst(1.1)), row(0, int64(0), float32(1.1), 0.0, "", false), "+ false", event.Bool},
		{"float vs float compare", bin(ast.OpEq, vr("f"), cst(float32(1.1))), row(0, int64(0), float32(1.1), 0.0, "", false), "+ true", event.Bool},
		{"long vs int", bin(ast.OpGe, vr("l"), vr("i")), row(3, int64(3), float32(0), 0.0, "", false), "+ true", event.Bool},
		{"and or", bin(ast.OpOr, bin(ast.OpAnd, vr("b"), cst(false)), vr("b")), row(0, int64(0), float32(0), 0.0, "", true), "+ true", event.Bool},
		{"is null", &ast.IsNull{X: vr("d")}, row(0, int64(0), float32(0), nil, "", false), "+ true", event.Bool},
		{"neg", &ast.Unary{Op: ast.OpNeg, X: vr("l")}, row(0, int64(4), float32(0), 0.0, "", false), "+ -4", event.Long},
		{"bool passthrough null", vr("b"), row(0, int64(0), float32(0), 0.0, "", nil), "+ null", event.Bool},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := mkApp([]*ast.StreamDef{s}, qspec{name: "q", from: "T", items: []*ast.OutputAttr{item(tc.expr, "x")}, into: "O"})
			r := mustNew(t, app)
			var rec recorder
			r.OnQuery("q", rec.query)
			r.Send(0, 1, tc.in)
			if got := rec.take(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if sch, _ := r.Schema("O"); sch.Attrs[0].Type != tc.typ {
				t.Errorf("type %s, want %s", sch.Attrs[0].Type, tc.typ)
			}
		})
	}
}

func TestLengthWindow(t *testing.T) {
	tests := []struct {
		name        string
		items       []*ast.OutputAttr
		query, strm string
	}{
		{
			// Siddhi's chunk order is expired then current; the query callback
			// lists current first, and inserted events are all current.
			name:  "projection",
			items: []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(vr("volume"), "v")},
			query: "+ A,10\n+ B,20\n+ C,30\n- A,10",
			strm:  "+ A,10\n+ B,20\n+ A,10\n+ C,30",
		},
		{
			// Aggregates without group by: one output per chunk, the last.
			name:  "sum",
			items: []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(call("sum", vr("volume")), "total")},
			query: "+ A,10\n+ B,30\n+ C,50",
			strm:  "+ A,10\n+ B,30\n+ C,50",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := mkApp([]*ast.StreamDef{stockStream()}, qspec{
				name:     "q",
				from:     "S",
				handlers: []*ast.Handler{windowH("length", cst(2))},
				items:    tc.items,
				events:   ast.AllEvents,
				into:     "O",
			})
			r := mustNew(t, app)
			var qr, sr recorder
			r.OnQuery("q", qr.query)
			r.OnOutput("O", sr.stream)
			for i, sym := range []string{"A", "B", "C"} {
				r.Send(0, int64(i), row(sym, 1.0, int64(10*(i+1))))
			}
			if got := qr.take(); got != tc.query {
				t.Errorf("query:\n%s\nwant\n%s", got, tc.query)
			}
			if got := sr.take(); got != tc.strm {
				t.Errorf("stream:\n%s\nwant\n%s", got, tc.strm)
			}
		})
	}
}

func TestTimeWindowExpiry(t *testing.T) {
	app := mkApp([]*ast.StreamDef{stockStream()}, qspec{
		name:     "q",
		from:     "S",
		handlers: []*ast.Handler{windowH("time", &ast.Constant{Value: event.LongValue(1000), IsTime: true})},
		items:    []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(call("count"), "n")},
		events:   ast.AllEvents,
		into:     "O",
	})
	r := mustNew(t, app)
	var qr recorder
	r.OnQuery("q", qr.query)
	r.Send(0, 1000, row("A", 1.0, int64(1)))
	r.Send(0, 1500, row("B", 1.0, int64(1)))
	if d, ok := r.NextDeadline(); !ok || d != 2000 {
		t.Fatalf("NextDeadline = %d, %v; want 2000", d, ok)
	}
	r.Advance(1999)
	if got, want := qr.take(), "+ A,1\n+ B,2"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	r.Advance(2000) // A expires: ts <= now - 1000
	if got, want := qr.take(), "- A,1"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// An event after B's deadline first fires B's expiry, then arrives.
	r.Send(0, 3000, row("C", 1.0, int64(1)))
	if got, want := qr.take(), "- B,0\n+ C,1"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if r.Now() != 3000 {
		t.Errorf("Now = %d", r.Now())
	}
}

func TestGroupByHaving(t *testing.T) {
	app := mkApp([]*ast.StreamDef{stockStream()}, qspec{
		name:     "q",
		from:     "S",
		handlers: []*ast.Handler{windowH("length", cst(3))},
		items:    []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(call("avg", vr("price")), "ap")},
		groupBy:  []string{"symbol"},
		having:   bin(ast.OpGt, vr("ap"), cst(10.0)),
		into:     "O",
	})
	r := mustNew(t, app)
	var qr recorder
	r.OnQuery("q", qr.query)
	r.Send(0, 1, row("A", 20.0, int64(1)))
	r.Send(0, 2, row("B", 5.0, int64(1)))
	r.Send(0, 3, row("A", 4.0, int64(1)))
	r.Send(0, 4, row("B", 30.0, int64(1)))
	r.Send(0, 5, row("A", 1.0, int64(1)))
	// A: 20 out; B: 5 filtered by having; A: (20+4)/2 out; A@20 expires
	// (not output), B: (5+30)/2 out; B@5 expires, A: (4+1)/2 filtered.
	got := qr.take()
	want := "+ A,20.0\n+ A,12.0\n+ B,17.5"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestChainedQueries(t *testing.T) {
	app := mkApp([]*ast.StreamDef{stockStream()},
		qspec{
			name:     "q1",
			from:     "S",
			handlers: []*ast.Handler{windowH("length", cst(1))},
			items:    []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(vr("volume"), "v")},
			events:   ast.ExpiredEvents,
			into:     "T",
		},
		qspec{
			name:   "q2",
			from:   "T",
			items:  []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(call("sum", vr("v")), "total")},
			events: ast.AllEvents,
			into:   "U",
		},
	)
	r := mustNew(t, app)
	var q1, q2 recorder
	r.OnQuery("q1", q1.query)
	r.OnQuery("q2", q2.query)
	for i, sym := range []string{"A", "B", "C"} {
		r.Send(0, int64(i), row(sym, 1.0, int64(i+1)))
	}
	if got, want := q1.take(), "- A,1\n- B,2"; got != want {
		t.Errorf("q1:\n%s\nwant\n%s", got, want)
	}
	// Inserted events become current events downstream.
	if got, want := q2.take(), "+ A,1\n+ B,3"; got != want {
		t.Errorf("q2:\n%s\nwant\n%s", got, want)
	}
}

func TestMinMaxSiddhiDeque(t *testing.T) {
	app := mkApp([]*ast.StreamDef{defStream("T", "x", event.Int)}, qspec{
		name:     "q",
		from:     "T",
		handlers: []*ast.Handler{windowH("length", cst(3))},
		items:    []*ast.OutputAttr{item(call("min", vr("x")), "mn"), item(call("max", vr("x")), "mx")},
		into:     "O",
	})
	r := mustNew(t, app)
	var qr recorder
	r.OnQuery("q", qr.query)
	for i, x := range []int{5, 3, 5, 7, 8} {
		r.Send(0, int64(i), row(x))
	}
	// Siddhi's deque removes the first equal value, so when the oldest 5
	// expires it removes the younger 5: the last min is 7, not 5.
	want := "+ 5,5\n+ 3,5\n+ 3,5\n+ 3,7\n+ 7,8"
	if got := qr.take(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPlanErrors(t *testing.T) {
	s := []*ast.StreamDef{stockStream()}
	tests := []struct {
		name string
		app  *ast.App
		want string
	}{
		{"unknown stream", mkApp(s, qspec{from: "X", into: "O"}), "stream X is not defined"},
		{"unknown attribute", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(vr("nope"), "nope")}, into: "O"}), "no attribute nope"},
		{"unknown window", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{windowH("bogus", cst(1))}, into: "O"}), "unknown window bogus"},
		{"unknown function", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(call("nope", vr("price")), "x")}, into: "O"}), "unknown function nope"},
		{"filter not bool", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{filterH(vr("price"))}, into: "O"}), "filter condition must be bool"},
		{"compare string number", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{filterH(bin(ast.OpGt, vr("symbol"), cst(1)))}, into: "O"}), "cannot compare string > int"},
		{"arith on string", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(bin(ast.OpAdd, vr("symbol"), cst(1)), "x")}, into: "O"}), "needs numeric operands"},
		{"and on numbers", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{filterH(bin(ast.OpAnd, vr("price"), cst(true)))}, into: "O"}), "needs bool operands"},
		{"length arg type", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{windowH("length", cst("x"))}, into: "O"}), "must be int, found string"},
		{"length arg count", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{windowH("length")}, into: "O"}), "takes 1 argument"},
		{"aggregate in filter", mkApp(s, qspec{from: "S", handlers: []*ast.Handler{filterH(bin(ast.OpGt, call("sum", vr("price")), cst(1.0)))}, into: "O"}), "not allowed in filter"},
		{"sum of string", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(call("sum", vr("symbol")), "x")}, into: "O"}), "sum does not support string"},
		{"no name", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(bin(ast.OpAdd, vr("price"), cst(1.0)), "")}, into: "O"}), "needs a name"},
		{"duplicate output", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(vr("price"), "p"), item(vr("volume"), "p")}, into: "O"}), "selected twice"},
		{"output mismatch", mkApp(append(s, defStream("O", "x", event.Int)), qspec{from: "S", items: []*ast.OutputAttr{item(vr("price"), "x")}, into: "O"}), "does not match stream O"},
		{"duplicate stream", mkApp([]*ast.StreamDef{stockStream(), stockStream()}), "already defined"},
		{"cycle", mkApp(s, qspec{from: "S", into: "S"}), "feeds its own input"},
		{"unknown qualifier", mkApp(s, qspec{from: "S", items: []*ast.OutputAttr{item(&ast.Variable{Stream: "Z", Name: "price"}, "p")}, into: "O"}), "unknown stream Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.app)
			if err == nil {
				t.Fatalf("New succeeded, want error containing %q", tc.want)
			}
			var el ast.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("error %T is not an ast.ErrorList", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "test.siddhi:") {
				t.Errorf("error %q lacks the file:line:col prefix", err)
			}
		})
	}
}

func TestSendBadInput(t *testing.T) {
	r := mustNew(t, mkApp([]*ast.StreamDef{stockStream()}, qspec{from: "S", into: "O"}))
	var sr recorder
	r.OnOutput("O", sr.stream)
	r.Send(5, 1, row("A", 1.0, int64(1)))  // unknown id
	r.Send(-1, 1, row("A", 1.0, int64(1))) // unknown id
	r.Send(0, 1, row("A", 1.0))            // wrong width
	r.Send(0, 1, row(1.0, "A", int64(1)))  // wrong types: must not panic
	r.Send(0, 2, row(nil, nil, nil))
	if got, want := sr.take(), "+ 1.0,A,1\n+ null,null,null"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// snapshotApp has every kind of state: a length window with group by, and a
// time window with min/max.
func snapshotApp() *ast.App {
	return mkApp([]*ast.StreamDef{stockStream()},
		qspec{
			name:     "q1",
			from:     "S",
			handlers: []*ast.Handler{windowH("length", cst(4))},
			items:    []*ast.OutputAttr{item(vr("symbol"), "symbol"), item(call("sum", vr("volume")), "total"), item(call("avg", vr("price")), "ap")},
			groupBy:  []string{"symbol"},
			events:   ast.AllEvents,
			into:     "O1",
		},
		qspec{
			name:     "q2",
			from:     "S",
			handlers: []*ast.Handler{windowH("time", cst(int64(100)))},
			items:    []*ast.OutputAttr{item(call("min", vr("price")), "mn"), item(call("max", vr("volume")), "mx"), item(call("count"), "n")},
			events:   ast.AllEvents,
			into:     "O2",
		},
	)
}

func TestSnapshotRestoreContinues(t *testing.T) {
	syms := []string{"A", "B", "C"}
	feed := func(r *Runtime, from, to int) {
		for i := from; i < to; i++ {
			r.Send(0, int64(i*17), row(syms[i%3], float64(i%7)*1.5, int64(i%5)))
			if i%4 == 0 {
				r.Advance(int64(i*17 + 5))
			}
		}
	}
	a := mustNew(t, snapshotApp())
	var ra recorder
	a.OnQuery("q1", ra.query)
	a.OnQuery("q2", ra.query)
	feed(a, 0, 30)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ra.take()
	feed(a, 30, 60)
	wantOut := ra.take()

	b := mustNew(t, snapshotApp())
	var rb recorder
	b.OnQuery("q1", rb.query)
	b.OnQuery("q2", rb.query)
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if b.Now() != 29*17 {
		t.Errorf("restored clock %d", b.Now())
	}
	snap2, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap, snap2) {
		t.Error("snapshot of the restored runtime differs")
	}
	feed(b, 30, 60)
	if got := rb.take(); got != wantOut {
		t.Errorf("restored runtime diverged:\n%s\nwant\n%s", got, wantOut)
	}
}

func TestRestoreRejectsGarbage(t *testing.T) {
	a := mustNew(t, snapshotApp())
	for i := 0; i < 20; i++ {
		a.Send(0, int64(i), row("A", 1.0, int64(i)))
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, snapshotApp())
	for _, bad := range [][]byte{nil, []byte("TDE1"), snap[:len(snap)-1], append(append([]byte{}, snap...), 0)} {
		if err := b.Restore(bad); err == nil {
			t.Errorf("Restore(%d bytes) succeeded", len(bad))
		}
	}
	other := mustNew(t, mkApp([]*ast.StreamDef{stockStream()}, qspec{from: "S", into: "O"}))
	if err := other.Restore(snap); err == nil {
		t.Error("Restore of another app's snapshot succeeded")
	}
}

func FuzzRestore(f *testing.F) {
	a := mustNew(f, snapshotApp())
	for i := 0; i < 12; i++ {
		a.Send(0, int64(i*30), row([]string{"A", "B"}[i%2], float64(i), int64(i)))
	}
	snap, err := a.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add(snap[:len(snap)/2])
	f.Add([]byte("TDE1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := mustNew(t, snapshotApp())
		if err := r.Restore(data); err != nil {
			return
		}
		// A restored runtime must keep working.
		r.Send(0, r.Now()+1, row("A", 1.0, int64(1)))
		r.Advance(r.Now() + 1000)
		if _, err := r.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAdvanceExtremeTimes(t *testing.T) {
	for _, q := range []string{
		"from S#window.timeBatch(1 sec) select count() as n insert into O;",
		"from S#window.time(1 sec) select count() as n insert into O;",
	} {
		r := mustNew(t, mustParse(t, stockDef+q))
		r.Send(0, math.MaxInt64-10, row("A", 1.0, int64(1)))
		r.Advance(math.MaxInt64) // must return
		r.Send(0, -5, row("A", 1.0, int64(1)))
		r.Advance(math.MinInt64)
		if r.Now() != math.MaxInt64 {
			t.Errorf("%s: clock %d", q, r.Now())
		}
	}
}
