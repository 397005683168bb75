package bench

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// tiny is a Config fast enough for unit tests. Nothing asserts timing.
func tiny() Config {
	return Config{Warmup: 5 * time.Millisecond, Measure: 20 * time.Millisecond, Runs: 1, PoolSize: 4096}
}

func TestQueriesParse(t *testing.T) {
	want := []string{"Q1", "Q1p", "Q2", "Q3", "Q4", "Q5"}
	qs := Queries()
	if len(qs) != len(want) {
		t.Fatalf("got %d queries, want %d", len(qs), len(want))
	}
	for i, q := range qs {
		if q.Name != want[i] {
			t.Errorf("query %d is %s, want %s", i, q.Name, want[i])
		}
		app, err := parser.Parse(q.Name, []byte(q.App))
		if err != nil {
			t.Errorf("%s does not parse: %v", q.Name, err)
			continue
		}
		if got := len(app.Queries); got != 1 {
			t.Errorf("%s has %d queries, want 1", q.Name, got)
		}
		if q.Playback != strings.Contains(q.App, "@app:playback") {
			t.Errorf("%s: Playback=%v disagrees with its app text", q.Name, q.Playback)
		}
	}
	// Callers may change what they get without changing the next caller's.
	qs[0].App = "changed"
	if Queries()[0].App == "changed" {
		t.Error("Queries returned shared values")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		want string
		ok   bool
	}{
		{"Q2", "Q2", true},
		{"q1p", "Q1p", true},
		{"Q1P", "Q1p", true},
		{"Q6", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		q, ok := Lookup(tt.name)
		if ok != tt.ok || q.Name != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, q.Name, ok, tt.want, tt.ok)
		}
	}
}

func TestBuildPool(t *testing.T) {
	schema := &event.Schema{Name: "S", Attrs: []event.Attribute{
		{Name: "symbol", Type: event.String}, {Name: "price", Type: event.Double}, {Name: "volume", Type: event.Long},
		{Name: "f", Type: event.Float}, {Name: "i", Type: event.Int}, {Name: "b", Type: event.Bool},
	}}
	const size = 20000
	pool, err := buildPool(schema, size, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(pool) != size {
		t.Fatalf("pool has %d events, want %d", len(pool), size)
	}
	syms := map[string]bool{}
	for i, row := range pool {
		if len(row) != len(schema.Attrs) || cap(row) != len(schema.Attrs) {
			t.Fatalf("row %d: len %d cap %d, want %d", i, len(row), cap(row), len(schema.Attrs))
		}
		for j, a := range schema.Attrs {
			if row[j].Type() != a.Type {
				t.Fatalf("row %d attribute %s: type %s, want %s", i, a.Name, row[j].Type(), a.Type)
			}
		}
		s := row[0].Str()
		if !strings.HasPrefix(s, "SYM") {
			t.Fatalf("row %d: symbol %q", i, s)
		}
		syms[s] = true
		if p := row[1].Float(); p < 0 || p >= 100 {
			t.Fatalf("row %d: price %v outside [0, 100)", i, p)
		}
		if v := row[2].Int(); v < 0 || v >= 1000 {
			t.Fatalf("row %d: volume %v outside [0, 1000)", i, v)
		}
		if f := row[3].Float(); f < 0 || f >= 100 {
			t.Fatalf("row %d: float %v outside [0, 100)", i, f)
		}
		if v := row[4].Int(); v < 0 || v >= 1000 {
			t.Fatalf("row %d: int %v outside [0, 1000)", i, v)
		}
	}
	if len(syms) != symbols {
		t.Errorf("%d distinct symbols, want %d", len(syms), symbols)
	}
	for i := range symbols {
		if !syms["SYM"+strconv.Itoa(i)] {
			t.Errorf("symbol SYM%d never drawn", i)
		}
	}
	// The same seed draws the same events.
	again, _ := buildPool(schema, size, 7)
	for i := range pool {
		for j := range pool[i] {
			if !pool[i][j].Equal(again[i][j]) {
				t.Fatalf("row %d attribute %d differs between two builds with one seed", i, j)
			}
		}
	}
}

func TestBuildPoolErrors(t *testing.T) {
	ok := &event.Schema{Name: "S", Attrs: []event.Attribute{{Name: "a", Type: event.Long}}}
	obj := &event.Schema{Name: "S", Attrs: []event.Attribute{{Name: "o", Type: event.Object}}}
	tests := []struct {
		name   string
		schema *event.Schema
		size   int
		want   string
	}{
		{"zero size", ok, 0, "must be positive"},
		{"object attribute", obj, 10, "no generator for attribute o of type object"},
	}
	for _, tt := range tests {
		_, err := buildPool(tt.schema, tt.size, 1)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestPoolsShareByShape(t *testing.T) {
	p := newPools(64)
	a := &event.Schema{Name: "A", Attrs: []event.Attribute{{Name: "x", Type: event.String}, {Name: "y", Type: event.Long}}}
	b := &event.Schema{Name: "B", Attrs: []event.Attribute{{Name: "p", Type: event.String}, {Name: "q", Type: event.Long}}}
	c := &event.Schema{Name: "C", Attrs: []event.Attribute{{Name: "x", Type: event.String}, {Name: "y", Type: event.Double}}}
	if p.has(a) {
		t.Fatal("has before any get")
	}
	pa, _ := p.get(a)
	pb, _ := p.get(b)
	pc, _ := p.get(c)
	if &pa[0] != &pb[0] {
		t.Error("streams of one shape got different pools")
	}
	if &pa[0] == &pc[0] {
		t.Error("streams of different shapes share a pool")
	}
	if !p.has(b) || !p.has(c) {
		t.Error("has is false after get")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"no warm-up", func(c *Config) { c.Warmup = 0 }, ""},
		{"negative warm-up", func(c *Config) { c.Warmup = -time.Second }, "must not be negative"},
		{"zero window", func(c *Config) { c.Measure = 0 }, "must be positive"},
		{"zero runs", func(c *Config) { c.Runs = 0 }, "need at least one"},
		{"zero pool", func(c *Config) { c.PoolSize = 0 }, "pool size 0"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.change(&cfg)
		_, err := NewRunner(cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	r := func(events int64) RunResult {
		return RunResult{Events: events, Elapsed: time.Second, Outputs: events * 10}
	}
	tests := []struct {
		name string
		runs []RunResult
		want int64
	}{
		{"none", nil, 0},
		{"one", []RunResult{r(5)}, 5},
		{"three", []RunResult{r(9), r(3), r(5)}, 5},
		{"two takes the slower", []RunResult{r(9), r(3)}, 3},
		{"four takes the slower middle", []RunResult{r(1), r(7), r(4), r(9)}, 4},
		{"five", []RunResult{r(5), r(1), r(4), r(2), r(3)}, 3},
	}
	for _, tt := range tests {
		m := median(tt.runs)
		if m.Events != tt.want || m.Outputs != tt.want*10 {
			t.Errorf("%s: median is the run with %d events, %d outputs; want %d", tt.name, m.Events, m.Outputs, tt.want)
		}
	}
}

func TestRunResultRates(t *testing.T) {
	r := RunResult{Events: 3000, Elapsed: 2 * time.Second, Mallocs: 1500, Bytes: 96000, CPU: time.Second}
	if got := r.EventsPerSec(); got != 1500 {
		t.Errorf("EventsPerSec = %v, want 1500", got)
	}
	if got := r.AllocsPerEvent(); got != 0.5 {
		t.Errorf("AllocsPerEvent = %v, want 0.5", got)
	}
	if got := r.BytesPerEvent(); got != 32 {
		t.Errorf("BytesPerEvent = %v, want 32", got)
	}
	if got := r.CPUNsPerEvent(); got != 1e9/3000.0 {
		t.Errorf("CPUNsPerEvent = %v, want %v", got, 1e9/3000.0)
	}
	if got := r.Cores(); got != 0.5 {
		t.Errorf("Cores = %v, want 0.5", got)
	}
	var zero RunResult
	if zero.EventsPerSec() != 0 || zero.AllocsPerEvent() != 0 || zero.BytesPerEvent() != 0 ||
		zero.CPUNsPerEvent() != 0 || zero.Cores() != 0 {
		t.Error("an empty run has non-zero rates")
	}
}

// newTestDriver plans q with a Runner over small pools.
func newTestDriver(t *testing.T, q Query) (*Runner, *driver) {
	t.Helper()
	r, err := NewRunner(tiny())
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.newDriver(q, func(Progress) {})
	if err != nil {
		t.Fatal(err)
	}
	return r, d
}

// The sender's counts are exact, so the queries' outputs can be checked
// against the pool without any timing.
func TestDriverOutputs(t *testing.T) {
	const n = 10000 // more than the pool, so it wraps
	for _, name := range []string{"Q1", "Q1p", "Q2", "Q3"} {
		t.Run(name, func(t *testing.T) {
			q, _ := Lookup(name)
			r, d := newTestDriver(t, q)
			d.send(n)
			if d.sent != n {
				t.Fatalf("sent %d, want %d", d.sent, n)
			}
			var want int64
			switch name {
			case "Q1", "Q1p":
				pool := r.pools.byKey["string,double,long"]
				for i := range n {
					if pool[i%len(pool)][1].Float() > 50 {
						want++
					}
				}
			case "Q2", "Q3":
				want = n // one output per arriving event
			}
			if d.outputs != want {
				t.Errorf("outputs = %d, want %d", d.outputs, want)
			}
			if cnt, first := d.errs.count(); cnt != 0 {
				t.Errorf("engine reported %d errors: %s", cnt, first)
			}
		})
	}
}

func TestDriverPlaybackClock(t *testing.T) {
	q, _ := Lookup("Q1p")
	_, d := newTestDriver(t, q)
	d.send(2500)
	// Events 2000..2499 carry base + 2 ms.
	if got, want := d.rt.Now(), d.base+2; got != want {
		t.Errorf("app clock after 2,500 events is %d, want %d (1 ms per 1,000 events)", got, want)
	}
}

func TestDriverWallClock(t *testing.T) {
	q, _ := Lookup("Q1")
	_, d := newTestDriver(t, q)
	before := time.Now().UnixMilli()
	d.send(10)
	after := time.Now().UnixMilli()
	if now := d.rt.Now(); now < before || now > after {
		t.Errorf("app clock %d outside the wall-clock interval [%d, %d] of the sends", now, before, after)
	}
}

func TestDriverAlternatesInputs(t *testing.T) {
	q := Query{
		Name: "two",
		App: "define stream S (symbol string, price double, volume long);\n" +
			"define stream S2 (symbol string, qty long);\n" +
			"from S select symbol insert into O;\nfrom S2 select symbol, qty insert into O2;\n",
		Inputs: []string{"S", "S2"},
	}
	r, d := newTestDriver(t, q)
	var s2, qtySum, wantSum int64
	d.rt.OnOutput("O2", func(evs []event.Event) {
		for _, e := range evs {
			s2++
			qtySum += e.Data[1].Int()
		}
	})
	const n = 1001
	d.send(n)
	if d.outputs != 501 || s2 != 500 {
		t.Errorf("S got %d events and S2 %d, want 501 and 500", d.outputs, s2)
	}
	pool := r.pools.byKey["string,long"]
	if len(pool) == 0 {
		t.Fatal("no pool for S2's shape")
	}
	for i := range 500 {
		wantSum += pool[i%len(pool)][1].Int()
	}
	if qtySum != wantSum {
		t.Errorf("S2 events carried qty sum %d, want %d from its own pool", qtySum, wantSum)
	}
}

func TestRun(t *testing.T) {
	r, err := NewRunner(Config{Warmup: 5 * time.Millisecond, Measure: 20 * time.Millisecond, Runs: 3, PoolSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	r.cfg.Progress = func(p Progress) {
		if p.Query != "Q3" || p.Runs != 3 {
			t.Errorf("progress for %s with %d runs", p.Query, p.Runs)
		}
		phases = append(phases, strconv.Itoa(p.Run)+" "+p.Phase.String())
	}
	q, _ := Lookup("Q3")
	res, err := r.Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1 building pool", "1 warming up", "1 measuring", "1 done",
		"2 warming up", "2 measuring", "2 done",
		"3 warming up", "3 measuring", "3 done",
	}
	if strings.Join(phases, "|") != strings.Join(want, "|") {
		t.Errorf("phases\n%v\nwant\n%v", phases, want)
	}
	if res.Query != "Q3" || len(res.Runs) != 3 {
		t.Fatalf("result for %s with %d runs", res.Query, len(res.Runs))
	}
	for i, rr := range res.Runs {
		if rr.Events <= 0 || rr.Elapsed < 20*time.Millisecond {
			t.Errorf("run %d: %d events in %v", i+1, rr.Events, rr.Elapsed)
		}
		if _, ok := processCPU(); ok && rr.CPU <= 0 {
			t.Errorf("run %d: no CPU time measured", i+1)
		}
		// Q3 emits one output per event.
		if rr.Outputs != rr.Events {
			t.Errorf("run %d: %d outputs for %d events", i+1, rr.Outputs, rr.Events)
		}
	}
	if m := median(res.Runs); m != res.Median {
		t.Errorf("Median is %+v, want %+v", res.Median, m)
	}
}

func TestRunUnsupported(t *testing.T) {
	r, _ := NewRunner(tiny())
	q := Query{
		Name:   "bad",
		App:    "define stream S (symbol string, price double, volume long);\nfrom S#window.noSuchWindow(3) select symbol insert into O;\n",
		Inputs: []string{"S"},
	}
	_, err := r.Run(context.Background(), q)
	if !IsUnsupported(err) {
		t.Fatalf("err = %v, want an UnsupportedError", err)
	}
	var u *UnsupportedError
	errors.As(err, &u)
	if u.Query != "bad" || u.Err == nil || !strings.HasPrefix(err.Error(), "not supported yet: ") ||
		!strings.HasSuffix(err.Error(), u.Err.Error()) {
		t.Errorf("error %q does not carry the engine's error %v", err, u.Err)
	}
}

// Q4 and Q5 either run or are reported as unsupported with the engine's
// error; they never fail otherwise.
func TestRunPatternAndJoin(t *testing.T) {
	r, _ := NewRunner(tiny())
	for _, name := range []string{"Q4", "Q5"} {
		q, _ := Lookup(name)
		res, err := r.Run(context.Background(), q)
		switch {
		case err == nil:
			if len(res.Runs) != 1 || res.Median.Events <= 0 {
				t.Errorf("%s ran without figures: %+v", name, res)
			}
		case IsUnsupported(err):
			t.Logf("%s: %v", name, err)
		default:
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"syntax", Query{Name: "x", App: "define stream S (a int);\nfrom S select insert into O;", Inputs: []string{"S"}}, "x.siddhi:2:"},
		{"no inputs", Query{Name: "x", App: "define stream S (a long);\nfrom S select a insert into O;"}, "no input streams"},
		{"unknown input", Query{Name: "x", App: "define stream S (a long);\nfrom S select a insert into O;", Inputs: []string{"T"}}, "no input stream T"},
		{"no O", Query{Name: "x", App: "define stream S (a long);\nfrom S select a insert into P;", Inputs: []string{"S"}}, "no stream O"},
		{"object input", Query{Name: "x", App: "define stream S (a object);\nfrom S select a insert into O;", Inputs: []string{"S"}}, "no generator"},
	}
	for _, tt := range tests {
		r, _ := NewRunner(tiny())
		_, err := r.Run(context.Background(), tt.q)
		if err == nil || IsUnsupported(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want a failure containing %q", tt.name, err, tt.want)
		}
	}
}

func TestRunCanceled(t *testing.T) {
	r, _ := NewRunner(Config{Warmup: time.Hour, Measure: time.Hour, Runs: 1, PoolSize: 64})
	ctx, cancel := context.WithCancel(context.Background())
	r.cfg.Progress = func(p Progress) {
		if p.Phase == WarmingUp {
			cancel()
		}
	}
	q, _ := Lookup("Q1")
	_, err := r.Run(ctx, q)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestErrorCounter(t *testing.T) {
	c := &errorCounter{}
	l := slog.New(c).With("app", "a")
	l.Info("not counted")
	l.Warn("not counted either")
	l.Error("send", "app", "x", "err", errors.New("boom"))
	l.Error("timer", "err", errors.New("second"))
	n, first := c.count()
	if n != 2 || first != "send: boom" {
		t.Errorf("count = %d, %q; want 2, %q", n, first, "send: boom")
	}
}

func TestPhaseString(t *testing.T) {
	for p, want := range map[Phase]string{BuildingPool: "building pool", WarmingUp: "warming up", Measuring: "measuring", Done: "done", 0: "phase(0)"} {
		if got := p.String(); got != want {
			t.Errorf("Phase(%d) = %q, want %q", int(p), got, want)
		}
	}
}
