package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tandem-stream/tandem/demo"
)

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "end with the verdict as one JSON object on the last line")
	keep := fs.Bool("keep", false, "keep the working directory (node logs, configs, checkpoints)")
	dir := fs.String("dir", "", "working directory (default: a new temporary directory)")
	before := fs.Duration("before", 3*time.Second, "load before the active is killed")
	after := fs.Duration("after", 3*time.Second, "load after the new active's first output")
	rate := fs.Int("rate", 2000, "events per second")
	kills := fs.Int("kills", 1, "how many times to kill the active (the killed node is restarted and rejoins between kills)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: tandem demo [flags]

Starts a local pair of tandem nodes (two processes, SQLite coordination, nothing
to configure) running an example app, drives a steady load through its HTTP
source, kills the active with SIGKILL mid-stream, keeps the load going against
the new active, and compares what the sink received with a single-node
reference run of the same input.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "tandem demo:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := demo.Run(ctx, demo.Options{Binary: bin, Dir: *dir, Keep: *keep || *dir != "", Before: *before,
		After: *after, Rate: *rate, Rounds: *kills, Progress: stderr})
	if err != nil {
		fmt.Fprintln(stderr, "tandem demo:", err)
		return 1
	}
	verdict := "PASS: nothing lost"
	if !v.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(stdout, "events sent:        %d\n", v.Sent)
	fmt.Fprintf(stdout, "outputs expected:   %d (single-node reference run of the same input)\n", v.Expected)
	fmt.Fprintf(stdout, "outputs received:   %d\n", v.Received)
	fmt.Fprintf(stdout, "lost:               %d\n", v.Lost)
	fmt.Fprintf(stdout, "duplicates:         %d (repeated output ids; receivers drop them by Idempotency-Key)\n", v.Duplicates)
	fmt.Fprintf(stdout, "wrong:              %d\n", v.Mismatched)
	fmt.Fprintf(stdout, "stale:              %d (outputs of an old epoch after a newer one)\n", v.Stale)
	fmt.Fprintf(stdout, "failover:           %d ms from SIGKILL of %s to the first output of %s\n", v.FailoverMs, v.Killed, v.NewActive)
	if len(v.Failovers) > 1 {
		fmt.Fprintf(stdout, "all failovers (ms): %v\n", v.Failovers)
	}
	fmt.Fprintf(stdout, "verdict:            %s\n", verdict)
	if *asJSON {
		b, _ := json.Marshal(v)
		fmt.Fprintln(stdout, string(b))
	}
	if !v.OK() {
		return 1
	}
	return 0
}
