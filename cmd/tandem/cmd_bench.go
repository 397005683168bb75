package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/tandem-stream/tandem/bench"
)

const benchUsage = `Usage: tandem bench engine [flags]

Runs Tandem's standard engine workload (docs/benchmarks.md): each query's app
runs in-process, fed by one sender from a pool of pre-built events, one Send
per event, with a callback counting the outputs on O. Each run warms up, then
measures on the same runtime; the median run of each query is printed as

  Q2 events/s=4123456 outputs=61852000 runs=3

or, with --json, as one JSON object per line. A query the engine cannot run
yet is reported as "not supported yet: <the engine's error>". Progress goes
to standard error.

Queries: Q1 (filter), Q1p (Q1 in playback), Q2 (time window, group by),
Q3 (length window, sum), Q4 (pattern), Q5 (join).

Exit status: 0 when every query the engine supports ran (at least one),
1 when one failed or was interrupted, 2 on bad usage.

Flags:
`

func cmdBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "engine" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, strings.Replace(benchUsage, "\nFlags:\n", "\nRun 'tandem bench engine -h' for the flags.\n", 1))
			return 0
		}
		fmt.Fprintf(stderr, "Usage: tandem bench engine [flags]\n")
		return 2
	}
	def := bench.DefaultConfig()
	fs := flag.NewFlagSet("bench engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	queryList := fs.String("query", "", "comma-separated queries to run, e.g. Q2 or Q1,Q1p (default all, Q1 to Q5)")
	seconds := fs.Float64("seconds", def.Measure.Seconds(), "length of the measured window in seconds")
	warmup := fs.Float64("warmup", def.Warmup.Seconds(), "warm-up in seconds before the measured window, on the same runtime")
	runs := fs.Int("runs", def.Runs, "runs per query, each on a fresh runtime; the median is printed")
	poolSize := fs.Int("pool", def.PoolSize, "pre-built events per input stream, cycled")
	asJSON := fs.Bool("json", false, "print one JSON object per query instead of a line of text")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tandem bench engine: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	queries, err := benchQueries(*queryList)
	if err != nil {
		fmt.Fprintf(stderr, "tandem bench engine: %v\n", err)
		return 2
	}
	if math.IsNaN(*seconds) || math.IsNaN(*warmup) {
		fmt.Fprintln(stderr, "tandem bench engine: --seconds and --warmup take numbers")
		return 2
	}
	cfg := bench.Config{
		Warmup:   secondsDuration(*warmup),
		Measure:  secondsDuration(*seconds),
		Runs:     *runs,
		PoolSize: *poolSize,
		Progress: func(p bench.Progress) { benchProgress(stderr, p) },
	}
	runner, err := bench.NewRunner(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tandem bench engine: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(stderr, "tandem bench engine: %s, GOMAXPROCS=%d, %d CPUs; warm-up %v, measured %v, %d runs per query\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.Warmup, cfg.Measure, cfg.Runs)
	ran, failed := 0, false
	for _, q := range queries {
		res, err := runner.Run(ctx, q)
		switch {
		case err == nil:
			ran++
			printBenchResult(stdout, res, *asJSON)
		case bench.IsUnsupported(err):
			printBenchError(stdout, q.Name, err, *asJSON)
		default:
			failed = true
			printBenchError(stdout, q.Name, fmt.Errorf("failed: %w", err), *asJSON)
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "tandem bench engine: interrupted")
				return 1
			}
		}
	}
	if failed {
		return 1
	}
	if ran == 0 {
		fmt.Fprintln(stderr, "tandem bench engine: no query could run")
		return 1
	}
	return 0
}

// benchQueries resolves the --query list; empty means the whole workload.
func benchQueries(list string) ([]bench.Query, error) {
	if strings.TrimSpace(list) == "" {
		return bench.Queries(), nil
	}
	var qs []bench.Query
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		q, ok := bench.Lookup(name)
		if !ok {
			var names []string
			for _, q := range bench.Queries() {
				names = append(names, q.Name)
			}
			return nil, fmt.Errorf("unknown query %q (the queries are %s)", name, strings.Join(names, ", "))
		}
		if !seen[q.Name] {
			seen[q.Name] = true
			qs = append(qs, q)
		}
	}
	return qs, nil
}

// secondsDuration converts a flag's seconds, saturating instead of
// overflowing; bench.Config rejects the negative ones.
func secondsDuration(s float64) time.Duration {
	ns := s * float64(time.Second)
	switch {
	case math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

func benchProgress(w io.Writer, p bench.Progress) {
	prefix := fmt.Sprintf("%s run %d/%d: ", p.Query, p.Run, p.Runs)
	switch p.Phase {
	case bench.BuildingPool:
		fmt.Fprintf(w, "%sbuilding a pool of %d events\n", prefix, p.Events)
	case bench.WarmingUp, bench.Measuring:
		fmt.Fprintf(w, "%s%s for %v\n", prefix, p.Phase, p.Duration)
	case bench.Done:
		r := p.Result
		fmt.Fprintf(w, "%s%.0f events/s, %d outputs, %.2f allocs/event, %.1f B/event, %d GCs pausing %v, %.1f CPU-ns/event on %.2f cores\n",
			prefix, r.EventsPerSec(), r.Outputs, r.AllocsPerEvent(), r.BytesPerEvent(), r.GCs, r.GCPause.Round(time.Microsecond),
			r.CPUNsPerEvent(), r.Cores())
	}
}

// benchJSON is one query's line with --json. The first four keys are the
// ones BENCHMARKS.md defines; the others are the median run's too: heap
// allocations and process CPU time per event (the CPU time tells a loaded
// machine from a slow engine; 0 where the platform cannot report it).
type benchJSON struct {
	Query          string  `json:"query"`
	EventsPerSec   int64   `json:"events_per_sec"`
	Outputs        int64   `json:"outputs"`
	Runs           int     `json:"runs"`
	AllocsPerEvent float64 `json:"allocs_per_event"`
	BytesPerEvent  float64 `json:"bytes_per_event"`
	CPUNsPerEvent  float64 `json:"cpu_ns_per_event"`
}

type benchErrorJSON struct {
	Query string `json:"query"`
	Error string `json:"error"`
}

func printBenchResult(w io.Writer, res bench.Result, asJSON bool) {
	m := res.Median
	eps := int64(math.Round(m.EventsPerSec()))
	if !asJSON {
		fmt.Fprintf(w, "%s events/s=%d outputs=%d runs=%d\n", res.Query, eps, m.Outputs, len(res.Runs))
		return
	}
	writeJSONLine(w, benchJSON{
		Query:          res.Query,
		EventsPerSec:   eps,
		Outputs:        m.Outputs,
		Runs:           len(res.Runs),
		AllocsPerEvent: round2(m.AllocsPerEvent()),
		BytesPerEvent:  round2(m.BytesPerEvent()),
		CPUNsPerEvent:  round2(m.CPUNsPerEvent()),
	})
}

func printBenchError(w io.Writer, query string, err error, asJSON bool) {
	// Engine errors may list several problems on several lines; the
	// output has one line per query.
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if !asJSON {
		fmt.Fprintf(w, "%s %s\n", query, msg)
		return
	}
	writeJSONLine(w, benchErrorJSON{Query: query, Error: msg})
}

func writeJSONLine(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain strings and numbers are marshalled; this cannot fail.
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	fmt.Fprintf(w, "%s\n", b)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
