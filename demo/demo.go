// Package demo runs Tandem's failover demonstration: a local pair of real
// tandem processes on the embedded defaults, a steady load through the HTTP
// source, a SIGKILL of the active mid-stream, and a verdict that compares what
// the sink received with a single-node reference run of the same input.
// `tandem demo` and the end-to-end tests both use it. The pair, the load and
// the check are package chaos's; the demo is its simplest scenario, told step
// by step.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tandem-stream/tandem/chaos"
)

// Options configure a demo run. Zero values take the defaults.
type Options struct {
	Binary   string        // the tandem executable to start (required)
	Dir      string        // working directory; default a temporary one, removed afterwards
	Keep     bool          // keep Dir (logs, configs, checkpoints) after the run
	Before   time.Duration // load before the kill (default 3s)
	After    time.Duration // load after the new active's first output (default 3s)
	Rate     int           // events per second (default 2000)
	Batch    int           // events per HTTP request (default 20)
	Rounds   int           // how many times the active is killed (default 1); the killed node is restarted between rounds
	Progress io.Writer     // progress lines; nil for none
	// PostgresDSN, when set, coordinates through PostgreSQL instead of the
	// embedded SQLite file.
	PostgresDSN string
	TablePrefix string // coordination table prefix (PostgreSQL isolation)
}

// Verdict is the outcome of a run.
type Verdict struct {
	Sent       int     `json:"sent"`
	Expected   int     `json:"expected"`
	Received   int     `json:"received"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	Mismatched int     `json:"mismatched"`
	Stale      int     `json:"stale"`        // outputs of an old epoch that arrived after a newer one
	FailoverMs int64   `json:"failover_ms"`  // the slowest of Failovers
	Failovers  []int64 `json:"failovers_ms"` // one per kill, in order
	Killed     string  `json:"killed"`
	NewActive  string  `json:"new_active"`
	OldEpoch   uint64  `json:"old_epoch"`
	NewEpoch   uint64  `json:"new_epoch"`
}

// OK reports whether nothing was lost or wrong.
func (v Verdict) OK() bool { return v.Lost == 0 && v.Mismatched == 0 && v.Stale == 0 && v.Received > 0 }

// App is the demo's SiddhiQL app. The receiver and publisher addresses are
// placeholders the demo fills in.
const App = chaos.App

// Reference runs the demo app on the engine alone over the first n inputs and
// returns the expected outputs, in order, as seq|symbol|total keys.
func Reference(n int) ([]string, error) { return chaos.Reference(n) }

// Run runs the demo and returns its verdict.
func Run(ctx context.Context, opt Options) (v Verdict, err error) {
	if opt.Binary == "" {
		return v, errors.New("demo: no tandem binary given")
	}
	if opt.Before == 0 {
		opt.Before = 3 * time.Second
	}
	if opt.After == 0 {
		opt.After = 3 * time.Second
	}
	if opt.Rate == 0 {
		opt.Rate = 2000
	}
	if opt.Batch == 0 {
		opt.Batch = 20
	}
	if opt.Rounds == 0 {
		opt.Rounds = 1
	}
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "tandem-demo-")
		if err != nil {
			return v, err
		}
		opt.Dir = d
		if !opt.Keep {
			defer os.RemoveAll(d)
		}
	}
	start := time.Now()
	progress := func(format string, args ...any) {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	c, err := chaos.NewCluster(ctx, chaos.ClusterConfig{Binary: opt.Binary, Dir: opt.Dir, Postgres: opt.PostgresDSN,
		TablePrefix: opt.TablePrefix, CheckpointInterval: time.Second})
	if err != nil {
		return v, err
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		return v, err
	}
	progress("started node-a and node-b (logs in %s)", opt.Dir)
	active, passive, epoch, err := c.WaitPair(ctx, 20*time.Second)
	if err != nil {
		return v, err
	}
	progress("%s is active (epoch %d), %s is its passive", active.ID, epoch, passive.ID)
	v.OldEpoch = epoch

	// One request at a time, so the input order is defined; a request that
	// fails goes to the other node, with the same idempotency key, until one
	// accepts it.
	load := c.StartLoad(ctx, chaos.LoadConfig{Rate: opt.Rate, Batch: opt.Batch, GiveUp: 30 * time.Second})
	defer load.Stop()
	for round := 1; round <= opt.Rounds; round++ {
		wait(ctx, opt.Before, c, load, progress)
		killAt, seen := time.Now(), c.Collector.Len()
		if err := active.Kill(); err != nil {
			return v, err
		}
		progress("killed %s with SIGKILL after %d events; load continues", active.ID, load.Sent())

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		first, err := c.Collector.Wait(wctx, seen, func(o chaos.Output) bool { return o.Epoch > epoch })
		cancel()
		if err != nil {
			return v, fmt.Errorf("no output from a new active within 30s of the kill (see %s)", passive.Log)
		}
		v.NewEpoch = first.Epoch
		ms := first.At.Sub(killAt).Milliseconds()
		v.Failovers = append(v.Failovers, ms)
		v.FailoverMs = max(v.FailoverMs, ms)
		v.Killed, v.NewActive = active.ID, passive.ID
		progress("%s is active (epoch %d): first output %d ms after the kill", passive.ID, v.NewEpoch, ms)
		if round == opt.Rounds {
			break
		}
		// The killed node comes back, rejoins as passive and takes the state.
		if err := active.Start(); err != nil {
			return v, err
		}
		progress("restarted %s; waiting for it to rejoin as passive", active.ID)
		if active, passive, epoch, err = c.WaitPair(ctx, 20*time.Second); err != nil {
			return v, err
		}
		progress("%s is active (epoch %d), %s is its passive again", active.ID, epoch, passive.ID)
	}

	wait(ctx, opt.After, c, load, progress)
	if err := load.Stop(); err != nil {
		return v, err
	}
	v.Sent = int(load.Sent())
	expected, err := Reference(v.Sent)
	if err != nil {
		return v, fmt.Errorf("reference run: %w", err)
	}
	v.Expected = len(expected)

	// Let the last outputs arrive.
	settle := time.Now().Add(15 * time.Second)
	for time.Now().Before(settle) && ctx.Err() == nil && c.Collector.Distinct() < len(expected) {
		time.Sleep(20 * time.Millisecond)
	}
	res := chaos.Check(c.Collector.Outputs(), expected)
	v.Received, v.Lost, v.Duplicates, v.Mismatched, v.Stale = res.Received, res.Lost, res.Duplicates, res.Wrong, res.Stale
	progress("sent %d events; %d outputs expected, %d received", v.Sent, v.Expected, v.Received)
	return v, nil
}

// wait lets the load run for d, reporting progress every second.
func wait(ctx context.Context, d time.Duration, c *chaos.Cluster, load *chaos.Load, progress func(string, ...any)) {
	end := time.Now().Add(d)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return
		case <-load.Done():
			return
		case <-time.After(time.Until(end)):
		case <-tick.C:
			progress("sent %d events, received %d outputs", load.Sent(), c.Collector.Len())
		}
	}
}
