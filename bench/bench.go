// Package bench runs Tandem's standard engine workload, defined in
// BENCHMARKS.md so that Tandem's figures can be set beside Siddhi's: queries
// Q1 to Q5 over pools of pre-built events, one sender calling the engine's
// Send once per event, a callback counting the outputs, a warm-up and then a
// measured window on the same runtime, several runs and the median quoted.
//
// The package uses only the engine's public API (engine.New, InputID, Send,
// OnOutput), as an embedding program would, so its figures are what such a
// program gets.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tandem-stream/tandem/engine"
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Config says how long and how often to run each query.
type Config struct {
	Warmup   time.Duration // sending before the measured window, on the same runtime; may be 0
	Measure  time.Duration // the measured window
	Runs     int           // runs per query, each on a fresh runtime
	PoolSize int           // pre-built events per input stream, cycled

	// Progress, if set, is called as each run moves from phase to phase,
	// from the goroutine that called Run.
	Progress func(Progress)
}

// DefaultConfig is the standard workload's: 10 s warm-up, 15 s measured,
// three runs, pools of 2^20 events.
func DefaultConfig() Config {
	return Config{Warmup: 10 * time.Second, Measure: 15 * time.Second, Runs: 3, PoolSize: DefaultPoolSize}
}

func (c Config) validate() error {
	switch {
	case c.Warmup < 0:
		return fmt.Errorf("bench: warm-up %v: must not be negative", c.Warmup)
	case c.Measure <= 0:
		return fmt.Errorf("bench: measured window %v: must be positive", c.Measure)
	case c.Runs < 1:
		return fmt.Errorf("bench: %d runs: need at least one", c.Runs)
	case c.PoolSize < 1:
		return fmt.Errorf("bench: pool size %d: must be positive", c.PoolSize)
	}
	return nil
}

// Phase is where a run is.
type Phase int

const (
	BuildingPool Phase = iota + 1 // drawing the pre-built events (once per stream shape)
	WarmingUp
	Measuring
	Done // the run is over; Progress.Result holds its figures
)

func (p Phase) String() string {
	switch p {
	case BuildingPool:
		return "building pool"
	case WarmingUp:
		return "warming up"
	case Measuring:
		return "measuring"
	case Done:
		return "done"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Progress reports a run entering a phase.
type Progress struct {
	Query    string
	Run      int // 1-based
	Runs     int // of the query
	Phase    Phase
	Duration time.Duration // planned length of WarmingUp and Measuring
	Events   int           // pool size, for BuildingPool
	Result   RunResult     // for Done
}

// RunResult holds the figures of one run's measured window.
type RunResult struct {
	Events  int64         // events sent
	Outputs int64         // events the callback on O received
	Elapsed time.Duration // the window's actual length
	Mallocs uint64        // heap allocations in the process
	Bytes   uint64        // heap bytes allocated in the process
	GCs     uint32        // garbage collections completed
	GCPause time.Duration // stop-the-world pause time of those collections

	// CPU is the process's CPU time, user and system, over the window: the
	// sender and the garbage collector. On a shared machine it tells time
	// spent working from time spent waiting for a core. It is 0 where the
	// platform cannot report it.
	CPU time.Duration
}

// EventsPerSec is the run's throughput.
func (r RunResult) EventsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// AllocsPerEvent is the heap allocations per event sent.
func (r RunResult) AllocsPerEvent() float64 { return perEvent(float64(r.Mallocs), r.Events) }

// BytesPerEvent is the heap bytes allocated per event sent.
func (r RunResult) BytesPerEvent() float64 { return perEvent(float64(r.Bytes), r.Events) }

// CPUNsPerEvent is the process CPU time per event sent in nanoseconds, 0
// if unknown.
func (r RunResult) CPUNsPerEvent() float64 { return perEvent(float64(r.CPU), r.Events) }

// Cores is the CPU time over the window's length: how many cores the run
// had on average. The sender is one goroutine, so about 1 means it never
// waited; the collector can add to it.
func (r RunResult) Cores() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return r.CPU.Seconds() / r.Elapsed.Seconds()
}

func perEvent(x float64, events int64) float64 {
	if events <= 0 {
		return 0
	}
	return x / float64(events)
}

// Result is one query's outcome.
type Result struct {
	Query  string
	Runs   []RunResult // in the order they ran
	Median RunResult   // the run with the median throughput
}

// median returns the run with the median throughput; of an even number of
// runs, the slower of the middle two, so the figure quoted is one that a run
// actually reached.
func median(runs []RunResult) RunResult {
	if len(runs) == 0 {
		return RunResult{}
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b RunResult) int {
		x, y := a.EventsPerSec(), b.EventsPerSec()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}

// UnsupportedError reports a query the engine refused to plan.
type UnsupportedError struct {
	Query string
	Err   error // the engine's error
}

func (e *UnsupportedError) Error() string { return "not supported yet: " + e.Err.Error() }
func (e *UnsupportedError) Unwrap() error { return e.Err }

// Runner runs queries with one Config, sharing the event pools between
// queries and runs. It is not safe for concurrent use: the workload has one
// sender, and a second one would share its cores.
type Runner struct {
	cfg   Config
	pools *pools
}

// NewRunner checks cfg and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, pools: newPools(cfg.PoolSize)}, nil
}

// Run runs q cfg.Runs times, each on a fresh runtime: a warm-up, then the
// measured window. A query the engine cannot plan gives an
// *UnsupportedError; errors the engine logs while running fail the query,
// since its figures would not be the workload's.
func (r *Runner) Run(ctx context.Context, q Query) (Result, error) {
	res := Result{Query: q.Name}
	for run := 1; run <= r.cfg.Runs; run++ {
		rr, err := r.runOnce(ctx, q, run)
		if err != nil {
			return res, err
		}
		res.Runs = append(res.Runs, rr)
	}
	res.Median = median(res.Runs)
	return res, nil
}

func (r *Runner) runOnce(ctx context.Context, q Query, run int) (RunResult, error) {
	progress := func(p Progress) {
		if r.cfg.Progress != nil {
			p.Query, p.Run, p.Runs = q.Name, run, r.cfg.Runs
			r.cfg.Progress(p)
		}
	}
	d, err := r.newDriver(q, progress)
	if err != nil {
		return RunResult{}, err
	}
	// Collect the setup's garbage, and the previous run's runtime, before
	// the clock starts.
	runtime.GC()

	progress(Progress{Phase: WarmingUp, Duration: r.cfg.Warmup})
	if _, _, err := d.sendFor(ctx, r.cfg.Warmup); err != nil {
		return RunResult{}, fmt.Errorf("bench: %s: warm-up: %w", q.Name, err)
	}

	progress(Progress{Phase: Measuring, Duration: r.cfg.Measure})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, cpuOK := processCPU()
	d.outputs = 0
	events, elapsed, err := d.sendFor(ctx, r.cfg.Measure)
	cpu1, _ := processCPU()
	runtime.ReadMemStats(&after)
	if err != nil {
		return RunResult{}, fmt.Errorf("bench: %s: measuring: %w", q.Name, err)
	}
	if n, first := d.errs.count(); n > 0 {
		return RunResult{}, fmt.Errorf("bench: %s: run %d: the engine reported %d errors, the first: %s", q.Name, run, n, first)
	}
	rr := RunResult{
		Events:  events,
		Outputs: d.outputs,
		Elapsed: elapsed,
		Mallocs: after.Mallocs - before.Mallocs,
		Bytes:   after.TotalAlloc - before.TotalAlloc,
		GCs:     after.NumGC - before.NumGC,
		GCPause: time.Duration(after.PauseTotalNs - before.PauseTotalNs),
	}
	if cpuOK {
		rr.CPU = cpu1 - cpu0
	}
	progress(Progress{Phase: Done, Result: rr})
	return rr, nil
}

// driver is the sender: it owns one runtime and feeds it from the pools.
type driver struct {
	rt       *engine.Runtime
	inputs   []input
	next     int // index into inputs of the next event's stream
	playback bool
	base     int64 // first playback timestamp
	sent     int64
	outputs  int64
	errs     *errorCounter
}

type input struct {
	id   int
	pool [][]event.Value
	i    int // next row
}

// newDriver parses and plans q's app and looks up its inputs and pools.
func (r *Runner) newDriver(q Query, progress func(Progress)) (*driver, error) {
	if len(q.Inputs) == 0 {
		return nil, fmt.Errorf("bench: %s: no input streams", q.Name)
	}
	app, err := parser.Parse(q.Name+".siddhi", []byte(q.App))
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", q.Name, err)
	}
	rt, err := engine.New(app)
	if err != nil {
		return nil, &UnsupportedError{Query: q.Name, Err: err}
	}
	if _, ok := rt.Schema("O"); !ok {
		return nil, fmt.Errorf("bench: %s: the app has no stream O to count outputs on", q.Name)
	}
	d := &driver{rt: rt, playback: q.Playback, base: time.Now().UnixMilli(), errs: &errorCounter{}}
	rt.SetLogger(slog.New(d.errs))
	rt.OnOutput("O", func(evs []event.Event) { d.outputs += int64(len(evs)) })
	for _, name := range q.Inputs {
		id, ok := rt.InputID(name)
		if !ok {
			return nil, fmt.Errorf("bench: %s: no input stream %s", q.Name, name)
		}
		schema, _ := rt.Schema(name)
		if !r.pools.has(schema) {
			progress(Progress{Phase: BuildingPool, Events: r.pools.size})
		}
		pool, err := r.pools.get(schema)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", q.Name, err)
		}
		d.inputs = append(d.inputs, input{id: id, pool: pool})
	}
	return d, nil
}

// chunk is how many events are sent between looks at the clock and the
// context: few enough to end a window within a fraction of a millisecond
// at the workload's rates, many enough that the looks cost nothing.
const chunk = 256

// sendFor sends events until dur has passed, and returns how many it sent
// and the time that took.
func (d *driver) sendFor(ctx context.Context, dur time.Duration) (int64, time.Duration, error) {
	if dur <= 0 {
		return 0, 0, ctx.Err()
	}
	start := time.Now()
	sent := d.sent
	for {
		if err := ctx.Err(); err != nil {
			return d.sent - sent, time.Since(start), err
		}
		d.send(chunk)
		if el := time.Since(start); el >= dur {
			return d.sent - sent, el, nil
		}
	}
}

// send sends n events, one Send call each, taking the inputs in turn.
func (d *driver) send(n int) {
	// The wall clock is read once per chunk: a chunk takes microseconds, so
	// every event still gets the current millisecond, as Siddhi's input
	// handler stamps it, without paying a clock read (50 ns on this kind of
	// VM) per event. Playback timestamps advance per event.
	wall := int64(0)
	if !d.playback {
		wall = time.Now().UnixMilli()
		if len(d.inputs) == 1 {
			// The common case, kept in locals so that the loop costs the
			// sender as little as it can beside the engine's Send.
			in := &d.inputs[0]
			rt, id, pool, i := d.rt, in.id, in.pool, in.i
			for range n {
				rt.Send(id, wall, pool[i])
				if i++; i == len(pool) {
					i = 0
				}
			}
			in.i = i
			d.sent += int64(n)
			return
		}
	}
	ts := func() int64 {
		if d.playback {
			return d.base + d.sent/1000
		}
		return wall
	}
	if len(d.inputs) == 1 {
		in := &d.inputs[0]
		for range n {
			d.rt.Send(in.id, ts(), in.pool[in.i])
			if in.i++; in.i == len(in.pool) {
				in.i = 0
			}
			d.sent++
		}
		return
	}
	for range n {
		in := &d.inputs[d.next]
		if d.next++; d.next == len(d.inputs) {
			d.next = 0
		}
		d.rt.Send(in.id, ts(), in.pool[in.i])
		if in.i++; in.i == len(in.pool) {
			in.i = 0
		}
		d.sent++
	}
}

// errorCounter is a slog.Handler that counts the engine's error records and
// keeps the first, so that a run in which the engine failed is not reported
// as a figure.
type errorCounter struct {
	mu    sync.Mutex
	n     int
	first string
}

func (c *errorCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (c *errorCounter) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level < slog.LevelError {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.n == 1 {
		msg := rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				msg += ": " + a.Value.String()
			}
			return true
		})
		c.first = msg
	}
	return nil
}

func (c *errorCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *errorCounter) WithGroup(string) slog.Handler      { return c }

func (c *errorCounter) count() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.first
}

// IsUnsupported reports whether err says the engine cannot run a query.
func IsUnsupported(err error) bool {
	var u *UnsupportedError
	return errors.As(err, &u)
}
