package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-stream/tandem/chaos"
)

// listFlag collects a repeatable flag; commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func cmdChaos(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names listFlag
	fs.Var(&names, "scenario", "scenario to run (repeatable, or comma-separated; default all; see --list)")
	list := fs.Bool("list", false, "list the scenarios and exit")
	repeat := fs.Int("repeat", 1, "faults per scenario (kill9-active at 100 gives 100 random kills)")
	report := fs.String("report", "", "also write a markdown report to this file")
	asJSON := fs.Bool("json", false, "end with the reports as one JSON array on the last line")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	binary := fs.String("binary", "", "tandem executable to run the nodes with (default: this one)")
	dir := fs.String("dir", "", "working directory (default: a new temporary one); failed scenarios keep theirs")
	keep := fs.Bool("keep", false, "keep the working directories of passing scenarios too")
	rate := fs.Int("rate", 2000, "load in events per second")
	before := fs.Duration("before", 2*time.Second, "load before the first fault")
	gap := fs.Duration("gap", time.Second, "mean load between faults (each gap is random, from half to 1.5 times this)")
	after := fs.Duration("after", 2*time.Second, "load after the last fault")
	outage := fs.Duration("outage", 3*time.Second, "how long the store, the link or the sink stays down")
	heartbeat := fs.Duration("heartbeat", 0, "coordination.heartbeat of the nodes (default: the node's, 500ms)")
	lease := fs.Duration("lease", 0, "coordination.lease of the nodes (default: the node's, 2s)")
	coordType := fs.String("coord", "sqlite", "coordination store of every scenario: sqlite, or postgres (needs --postgres); coord-down always uses PostgreSQL")
	mode := fs.String("mode", "", "replication.mode of the nodes: warm or hot (default: the node's, warm)")
	checkpoint := fs.Duration("checkpoint-interval", time.Second, "checkpoint.interval (kill9-active always uses 250ms)")
	postgres := fs.String("postgres", os.Getenv("TANDEM_TEST_POSTGRES"),
		"PostgreSQL URL for coord-down, e.g. postgres://user@127.0.0.1:5432/db?sslmode=disable (default $TANDEM_TEST_POSTGRES; without it coord-down is skipped)")
	seed := fs.Uint64("seed", 0, "seed of the random fault moments (default: from the clock; reports give it)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: tandem chaos [--scenario NAME]... [--repeat N] [--report FILE] [--json] [flags]

Runs fault-injection scenarios against real tandem processes: for each, a
fresh local pair under a steady load, faults injected (kill -9, SIGSTOP,
coordination store or replication link cut, sink down, handover, ...), and a
check of what the sink received against a single-node reference run of the
same input: lost (must be 0), duplicates, wrong, stale (outputs of an old
epoch after a newer one), and the time to the first output after each fault
with p50/p99. Exits 1 if a scenario failed.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tandem chaos: unexpected argument %q (scenarios are given with --scenario)\n", fs.Arg(0))
		return 2
	}
	if *list {
		for _, s := range chaos.Scenarios() {
			pg := ""
			if s.Postgres {
				pg = " [needs PostgreSQL]"
			}
			fmt.Fprintf(stdout, "%-24s %s%s\n", s.Name, s.Summary, pg)
		}
		return 0
	}
	for _, n := range names {
		if _, ok := chaos.Lookup(n); !ok {
			fmt.Fprintf(stderr, "tandem chaos: unknown scenario %q; see tandem chaos --list\n", n)
			return 2
		}
	}
	if *repeat < 1 || *rate < 1 {
		fmt.Fprintln(stderr, "tandem chaos: --repeat and --rate must be at least 1")
		return 2
	}
	for _, d := range []*time.Duration{before, gap, after, outage, checkpoint} {
		if *d <= 0 {
			fmt.Fprintln(stderr, "tandem chaos: --before, --gap, --after, --outage and --checkpoint-interval must be positive")
			return 2
		}
	}
	if *heartbeat < 0 || *lease < 0 {
		fmt.Fprintln(stderr, "tandem chaos: --heartbeat and --lease must not be negative")
		return 2
	}
	if *mode != "" && *mode != "warm" && *mode != "hot" {
		fmt.Fprintf(stderr, "tandem chaos: --mode %q: want warm or hot\n", *mode)
		return 2
	}
	if *coordType != "sqlite" && *coordType != "postgres" {
		fmt.Fprintf(stderr, "tandem chaos: --coord %q: want sqlite or postgres\n", *coordType)
		return 2
	}
	if *coordType == "postgres" && *postgres == "" {
		fmt.Fprintln(stderr, "tandem chaos: --coord postgres needs --postgres DSN")
		return 2
	}
	if *binary == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "tandem chaos:", err)
			return 1
		}
		*binary = exe
	}
	opt := chaos.Options{Binary: *binary, Dir: *dir, Keep: *keep, Repeat: *repeat, Rate: *rate, Before: *before,
		Gap: *gap, After: *after, Outage: *outage, Heartbeat: *heartbeat, Lease: *lease,
		CheckpointInterval: *checkpoint, Mode: *mode, Postgres: *postgres,
		CoordPostgres: *coordType == "postgres", Seed: *seed}
	if !*quiet {
		opt.Progress = stderr
	}
	opt.Done = func(r chaos.Report) { chaos.WriteText(stdout, r) }

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reps, err := chaos.Run(ctx, opt, names...)
	if err != nil && len(reps) == 0 {
		fmt.Fprintln(stderr, "tandem chaos:", err)
		return 1
	}
	fmt.Fprintln(stdout)
	chaos.WriteSummary(stdout, reps)
	code := 0
	if err != nil {
		fmt.Fprintln(stderr, "tandem chaos: stopped early:", err)
		code = 1
	}
	for _, r := range reps {
		if r.Failed() {
			code = 1
		}
	}
	if *report != "" {
		var b bytes.Buffer
		chaos.WriteMarkdown(&b, reps, opt)
		if err := os.WriteFile(*report, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "tandem chaos: report:", err)
			code = 1
		}
	}
	if *asJSON {
		b, err := json.Marshal(reps)
		if err != nil {
			fmt.Fprintln(stderr, "tandem chaos:", err)
			return 1
		}
		fmt.Fprintln(stdout, string(b))
	}
	return code
}
