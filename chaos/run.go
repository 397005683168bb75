package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

// Options configure a run of scenarios. Zero values take the defaults.
type Options struct {
	Binary string // the tandem executable (required)
	// Dir is where each scenario gets its working directory (configs, node
	// logs, data); default a new temporary directory. The directories of
	// failed scenarios are kept; the others only with Keep.
	Dir  string
	Keep bool

	Repeat int           // faults per scenario (default 1)
	Rate   int           // events per second (default 2000)
	Batch  int           // events per request (default 20)
	Before time.Duration // load before the first fault (default 2s)
	// Gap is the load between two faults: a random wait in [Gap/2, 3Gap/2)
	// (default 1s), so faults land at random moments.
	Gap    time.Duration
	After  time.Duration // load after the last fault (default 2s)
	Outage time.Duration // how long the store, the link or the sink stays down (default 3s)
	// Heartbeat and Lease set coordination.heartbeat and coordination.lease;
	// zero: the node's defaults (500ms and 2s).
	Heartbeat, Lease time.Duration
	// CheckpointInterval sets checkpoint.interval for every scenario but
	// kill9-active, which checkpoints every 250ms to be killed during
	// checkpoints too (default 1s).
	CheckpointInterval time.Duration
	// Mode is replication.mode: warm (the node's default) or hot.
	Mode string
	// Postgres is the DSN (a postgres:// URL) of the PostgreSQL that
	// coord-down coordinates through; empty or unreachable skips it.
	Postgres string
	// CoordPostgres makes every scenario coordinate through Postgres instead
	// of an SQLite file; without a reachable Postgres they are all skipped.
	CoordPostgres bool
	// Seed makes the random moments repeatable; 0 takes one from the clock.
	// Reports give the seed used.
	Seed uint64
	// Progress receives a line per step; nil for none.
	Progress io.Writer
	// Done, if set, is called with each scenario's report as Run finishes it.
	Done func(Report)
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Repeat <= 0 {
		o.Repeat = 1
	}
	if o.Rate <= 0 {
		o.Rate = 2000
	}
	if o.Batch <= 0 {
		o.Batch = 20
	}
	def(&o.Before, 2*time.Second)
	def(&o.Gap, time.Second)
	def(&o.After, 2*time.Second)
	def(&o.Outage, 3*time.Second)
	def(&o.CheckpointInterval, time.Second)
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	return o
}

// lease is the lease the nodes run with.
func (o Options) lease() time.Duration {
	if o.Lease > 0 {
		return o.Lease
	}
	return 2 * time.Second
}

// Limits on waits, so that a hang fails a scenario instead of the run.
const (
	pairLimit    = 30 * time.Second // a pair forms, a node rejoins and takes the state
	recoverLimit = 30 * time.Second // first output after a fault
	settleLimit  = 15 * time.Second // the last outputs arrive after the load stopped
)

// Report is the outcome of one scenario.
type Report struct {
	Scenario string `json:"scenario"`
	Summary  string `json:"summary"`
	// Skipped says why the scenario did not run (no PostgreSQL, say).
	Skipped string `json:"skipped,omitempty"`
	Sent    int64  `json:"sent"` // events acknowledged to the load
	Result
	// RecoveryMs are the times from each fault to the first output of an
	// input sent after it (see Scenario.Recovery for what "after" means), in
	// milliseconds; P50, P99 and Max summarise them.
	RecoveryMs []float64 `json:"recovery_ms"`
	P50Ms      float64   `json:"p50_ms"`
	P99Ms      float64   `json:"p99_ms"`
	MaxMs      float64   `json:"max_ms"`
	// MaxStallMs is the longest the load waited for an acknowledgement.
	MaxStallMs float64 `json:"max_stall_ms"`
	// Faults is the timeline of the injected faults.
	Faults []Fault `json:"faults"`
	// Failures are the reasons the scenario failed: the check's problems,
	// hangs, crashes, wrong roles. Empty means it passed.
	Failures  []string `json:"failures,omitempty"`
	Dir       string   `json:"dir,omitempty"` // kept working directory
	Seed      uint64   `json:"seed"`
	DurationS float64  `json:"duration_s"`
}

// Fault is one injected fault in a Report's timeline.
type Fault struct {
	What       string   `json:"what"`
	AtS        float64  `json:"at_s"`        // seconds since the cluster started
	Seq        int64    `json:"seq"`         // events acknowledged when it began
	RecoveryMs float64  `json:"recovery_ms"` // -1: no output followed it
	Verify     bool     `json:"verify,omitempty"`
	Notes      []string `json:"notes,omitempty"`

	at  time.Time
	idx int // collector length when it began
}

// Failed reports whether the scenario ran and failed.
func (r Report) Failed() bool { return len(r.Failures) > 0 }

// Run runs the named scenarios (all for none) one after another and returns
// their reports. Unknown names are an error before anything runs.
func Run(ctx context.Context, opt Options, names ...string) ([]Report, error) {
	if opt.Binary == "" {
		return nil, errors.New("chaos: no tandem binary given")
	}
	var list []Scenario
	if len(names) == 0 {
		list = Scenarios()
	}
	for _, name := range names {
		s, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("chaos: unknown scenario %q (known: %s)", name, scenarioNames())
		}
		list = append(list, s)
	}
	opt = opt.withDefaults()
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "tandem-chaos-")
		if err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		opt.Dir = d
		// Kept directories of failed scenarios live inside it.
		defer removeIfEmpty(d)
	}
	var reps []Report
	for i, s := range list {
		if ctx.Err() != nil {
			return reps, ctx.Err()
		}
		o := opt
		o.Seed = opt.Seed + uint64(i)
		rep := RunScenario(ctx, o, s)
		reps = append(reps, rep)
		if opt.Done != nil {
			opt.Done(rep)
		}
	}
	return reps, nil
}

func removeIfEmpty(dir string) {
	if es, err := os.ReadDir(dir); err == nil && len(es) == 0 {
		os.Remove(dir)
	}
}

// run is one scenario in progress.
type run struct {
	opt  Options
	s    Scenario
	c    *Cluster
	load *Load
	rng  *rand.Rand
	rep  *Report
}

// skipError ends a scenario as skipped rather than failed.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

// RunScenario runs one scenario and reports on it. Problems with the
// scenario itself (a node that does not start, a hang) are failures in the
// report, never a panic or an early return without one.
func RunScenario(ctx context.Context, opt Options, s Scenario) (rep Report) {
	opt = opt.withDefaults()
	rep = Report{Scenario: s.Name, Summary: s.Summary, Seed: opt.Seed}
	start := time.Now()
	defer func() { rep.DurationS = time.Since(start).Seconds() }()
	logf := func(format string, args ...any) {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "[%s %6.1fs] %s\n", s.Name, time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	pg := s.Postgres || opt.CoordPostgres
	if pg {
		if opt.Postgres == "" {
			rep.Skipped = "needs PostgreSQL: no DSN given"
			return rep
		}
		if err := PingPostgres(ctx, opt.Postgres); err != nil {
			rep.Skipped = fmt.Sprintf("needs PostgreSQL, unreachable: %v", err)
			return rep
		}
	}
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "tandem-chaos-")
		if err != nil {
			rep.Failures = append(rep.Failures, err.Error())
			return rep
		}
		opt.Dir = d
		defer removeIfEmpty(d)
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		rep.Failures = append(rep.Failures, err.Error())
		return rep
	}
	dir, err := os.MkdirTemp(opt.Dir, s.Name+"-")
	if err != nil {
		rep.Failures = append(rep.Failures, err.Error())
		return rep
	}
	defer func() {
		if rep.Failed() || opt.Keep {
			rep.Dir = dir
		} else {
			os.RemoveAll(dir)
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(opt.Repeat)*time.Minute)
	defer cancel()
	cfg := ClusterConfig{Binary: opt.Binary, Dir: dir, Heartbeat: opt.Heartbeat, Lease: opt.Lease,
		CheckpointInterval: opt.CheckpointInterval, Mode: opt.Mode, Logf: logf}
	if pg {
		cfg.Postgres = opt.Postgres
	}
	if s.setup != nil {
		s.setup(&cfg)
	}
	c, err := NewCluster(ctx, cfg)
	if err != nil {
		rep.Failures = append(rep.Failures, err.Error())
		return rep
	}
	defer func() {
		if err := c.Close(); err != nil {
			rep.Failures = append(rep.Failures, err.Error())
		}
	}()
	r := &run{opt: opt, s: s, c: c, rep: &rep, rng: rand.New(rand.NewPCG(opt.Seed, 0x7a4d))}
	if err := r.execute(ctx); err != nil {
		var skip skipError
		if errors.As(err, &skip) {
			rep.Skipped = skip.reason
			rep.Failures = nil
			return rep
		}
		rep.Failures = append(rep.Failures, err.Error())
	}
	return rep
}

// execute starts the pair and the load, injects the faults, and checks.
func (r *run) execute(ctx context.Context) error {
	c := r.c
	if r.s.solo {
		if err := c.Nodes[0].Start(); err != nil {
			return err
		}
		if _, _, err := c.WaitActive(ctx, c.Nodes[0], pairLimit); err != nil {
			return err
		}
		c.Event("%s is active alone", c.Nodes[0].ID)
	} else {
		if err := c.Start(); err != nil {
			return err
		}
		a, p, epoch, err := c.WaitPair(ctx, pairLimit)
		if err != nil {
			return err
		}
		c.Event("%s is active (epoch %d), %s is its passive", a.ID, epoch, p.ID)
	}
	r.load = c.StartLoad(ctx, LoadConfig{Rate: r.opt.Rate, Batch: r.opt.Batch})
	defer r.load.Stop()

	var faultErr error
	r.pause(ctx, r.opt.Before)
	for i := range r.opt.Repeat {
		if faultErr = r.s.fault(ctx, r, i); faultErr != nil {
			break
		}
		if err := r.load.Err(); err != nil {
			faultErr = fmt.Errorf("load: %w", err)
			break
		}
	}
	if faultErr == nil && r.s.verify {
		faultErr = verifyFailover(ctx, r)
	}
	var skip skipError
	if errors.As(faultErr, &skip) {
		return faultErr
	}
	if faultErr == nil {
		r.pause(ctx, r.opt.After)
	} else {
		r.rep.Failures = append(r.rep.Failures, faultErr.Error())
	}
	if err := r.load.Stop(); err != nil {
		r.rep.Failures = append(r.rep.Failures, fmt.Sprintf("load: %v", err))
	}
	r.check(ctx)
	return nil
}

// check compares the outputs with the reference run and fills in the report.
func (r *run) check(ctx context.Context) {
	rep, c := r.rep, r.c
	rep.Sent = r.load.Sent()
	rep.MaxStallMs = ms(r.load.MaxStall())
	expected, err := Reference(int(rep.Sent))
	if err != nil {
		rep.Failures = append(rep.Failures, err.Error())
		return
	}
	settle, cancel := context.WithTimeout(ctx, settleLimit)
	defer cancel()
	for c.Collector.Distinct() < len(expected) && settle.Err() == nil {
		select {
		case <-settle.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	res := Check(c.Collector.Outputs(), expected)
	if n, example := c.Collector.Malformed(); n > 0 {
		res.Wrong += n
		res.Problems = append(res.Problems, fmt.Sprintf("wrong: %d requests to the collector were not outputs of the app, e.g.: %s", n, example))
	}
	rep.Result = res
	rep.Failures = append(rep.Failures, res.Problems...)
	if res.Received < res.Expected && res.Lost == 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("received %d outputs, expected %d", res.Received, res.Expected))
	}
	if r.s.strict && res.Duplicates > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d duplicates; this scenario must have none", res.Duplicates))
	}
	if err := c.crashCheck(); err != nil {
		rep.Failures = append(rep.Failures, err.Error())
	}
	var rec []time.Duration
	for _, f := range rep.Faults {
		if !f.Verify && f.RecoveryMs >= 0 {
			rep.RecoveryMs = append(rep.RecoveryMs, f.RecoveryMs)
			rec = append(rec, time.Duration(f.RecoveryMs*float64(time.Millisecond)))
		}
	}
	rep.P50Ms, rep.P99Ms, rep.MaxMs = ms(Percentile(rec, 50)), ms(Percentile(rec, 99)), ms(Percentile(rec, 100))
	c.Event("sent %d events; %d outputs expected, %d received, %d lost, %d duplicates, %d wrong, %d stale",
		rep.Sent, res.Expected, res.Received, res.Lost, res.Duplicates, res.Wrong, res.Stale)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pause lets the load run for d, reporting progress every second.
func (r *run) pause(ctx context.Context, d time.Duration) {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.load.Done():
			return
		case <-time.After(min(left, time.Second)):
		}
		if time.Until(end) > 100*time.Millisecond {
			r.c.cfg.Logf("sent %d events, received %d outputs", r.load.Sent(), r.c.Collector.Len())
		}
	}
}

// gap lets the load run for a random time around Options.Gap, so that
// faults land at random moments.
func (r *run) gap(ctx context.Context) {
	g := r.opt.Gap
	r.pause(ctx, g/2+time.Duration(r.rng.Int64N(int64(g))))
}

// begin records the start of a fault and returns its index in the timeline.
func (r *run) begin(verify bool, format string, args ...any) int {
	what := fmt.Sprintf(format, args...)
	r.c.Event("fault #%d: %s", len(r.rep.Faults)+1, what)
	r.rep.Faults = append(r.rep.Faults, Fault{What: what, AtS: r.c.Elapsed().Seconds(), Seq: r.load.Sent(),
		RecoveryMs: -1, Verify: verify, at: time.Now(), idx: r.c.Collector.Len()})
	return len(r.rep.Faults) - 1
}

// note adds a remark to the newest fault.
func (r *run) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.c.Event("%s", msg)
	if n := len(r.rep.Faults); n > 0 {
		r.rep.Faults[n-1].Notes = append(r.rep.Faults[n-1].Notes, msg)
	}
}

// recovered waits for the first output, after the fault began, of an input
// sent after it, published with at least minEpoch, and records the time.
func (r *run) recovered(ctx context.Context, i int, minEpoch uint64) error {
	f := &r.rep.Faults[i]
	wctx, cancel := context.WithTimeout(ctx, recoverLimit)
	defer cancel()
	o, err := r.c.Collector.Wait(wctx, f.idx, func(o Output) bool {
		return o.Seq >= f.Seq && o.Epoch >= minEpoch && !o.At.Before(f.at)
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("after %q: no output of an input sent after it (seq >= %d, epoch >= %d) within %v; node logs in %s",
			f.What, f.Seq, minEpoch, recoverLimit, r.c.Dir())
	}
	d := o.At.Sub(f.at)
	f.RecoveryMs = ms(d)
	r.c.Event("first new output %s (epoch %d) %d ms after the fault began", o.ID, o.Epoch, d.Milliseconds())
	return nil
}
