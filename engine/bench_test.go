package engine

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// The standard workload of /work/shared/BENCHMARKS.md: 2^20 pre-built events
// of S(symbol string, price double, volume long), cycled, one Send per event,
// a callback on O counting outputs. Timestamps advance 1 ms per 1,000 events
// (the Q1p rule), so the 1-second time window of Q2 holds 1,000,000 events.

const benchPool = 1 << 20

func benchEvents() [][]event.Value {
	rng := rand.New(rand.NewPCG(1, 2))
	syms := make([]event.Value, 100)
	for i := range syms {
		syms[i] = event.StringValue("SYM" + strconv.Itoa(i))
	}
	backing := make([]event.Value, 3*benchPool)
	pool := make([][]event.Value, benchPool)
	for i := range pool {
		row := backing[3*i : 3*i+3 : 3*i+3]
		row[0] = syms[rng.IntN(100)]
		row[1] = event.DoubleValue(rng.Float64() * 100)
		row[2] = event.LongValue(rng.Int64N(1000))
		pool[i] = row
	}
	return pool
}

var benchPoolCache [][]event.Value

func benchRun(b *testing.B, query string, warmup int) {
	if benchPoolCache == nil {
		benchPoolCache = benchEvents()
	}
	pool := benchPoolCache
	src := "define stream S (symbol string, price double, volume long);\n" + query
	app, err := parser.Parse("bench.siddhi", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(app)
	if err != nil {
		b.Fatal(err)
	}
	var outputs int
	r.OnOutput("O", func(evs []event.Event) { outputs += len(evs) })
	id, _ := r.InputID("S")
	n := 0
	send := func() {
		r.Send(id, int64(n/1000), pool[n&(benchPool-1)])
		n++
	}
	for range warmup {
		send()
	}
	outputs = 0
	// Collect the setup's garbage now, so that a collection it triggered
	// does not run (with its write barriers) during the measurement.
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		send()
	}
	cpu = processCPU() - cpu
	b.StopTimer()
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/event")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(outputs)/float64(b.N), "outputs/event")
}

func BenchmarkQ1(b *testing.B) {
	benchRun(b, "from S[price > 50.0] select symbol, price insert into O;", 0)
}

func BenchmarkQ2(b *testing.B) {
	benchRun(b, "from S#window.time(1 sec) select symbol, avg(price) as ap group by symbol insert into O;", 2_000_000)
}

func BenchmarkQ3(b *testing.B) {
	benchRun(b, "from S#window.length(1000) select sum(volume) as total insert into O;", 10_000)
}
