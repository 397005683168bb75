package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scenario is one kind of fault, injected Options.Repeat times into a pair
// under load.
type Scenario struct {
	Name    string
	Summary string
	// Recovery says what the scenario's recovery time measures.
	Recovery string
	// Postgres: the scenario coordinates through PostgreSQL and is skipped
	// without it.
	Postgres bool

	setup func(*ClusterConfig)                           // scenario settings of the pair
	solo  bool                                           // start one node; the scenario starts the other
	fault func(ctx context.Context, r *run, i int) error // inject fault i and bring the pair back
	// verify ends the scenario with a kill -9 of the active, so that the
	// state a rejoined node took is what the outputs come from.
	verify bool
	// strict: any duplicate fails the scenario.
	strict bool
}

// Scenarios returns every scenario, in the order `tandem chaos` runs them.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "kill9-active", fault: kill9Active,
			Summary:  "SIGKILL of the active at random moments (every other one right after a checkpoint); the killed node restarts and rejoins",
			Recovery: "from the SIGKILL to the new active's first output of an input sent after it",
			setup:    func(c *ClusterConfig) { c.CheckpointInterval = 250 * time.Millisecond }},
		{Name: "kill9-passive", fault: kill9Passive, verify: true,
			Summary:  "SIGKILL of the passive: the active goes on alone; the passive restarts and rejoins (then a final kill of the active uses its state)",
			Recovery: "from the SIGKILL to the first output of an input sent after it (the active alone)"},
		{Name: "sigstop-active", fault: sigstopActive,
			Summary:  "SIGSTOP of the active for 1.5 leases, then SIGCONT: the old active must publish nothing after the new one started and must come back as passive",
			Recovery: "from the SIGSTOP to the new active's first output of an input sent after it"},
		{Name: "restart-node", fault: restartNode,
			Summary:  "graceful restart (SIGTERM, start) of the active, then of the passive, alternately",
			Recovery: "from the SIGTERM to the first output of an input sent after it"},
		{Name: "coord-down", fault: coordDown, Postgres: true,
			Summary:  "PostgreSQL coordination through a proxy that is cut for the outage, then restored: the pair loses nothing and resumes",
			Recovery: "from the restore to the first output of an input sent after it",
			setup:    func(c *ClusterConfig) { c.CoordProxy = true }},
		{Name: "repl-cut", fault: replCut, verify: true,
			Summary:  "the replication link (a proxy the passive dials) is cut for the outage, then restored: the active goes on alone, the passive reconnects and catches up (then a final kill of the active uses its state)",
			Recovery: "from the cut to the first output of an input sent after it (the active alone)",
			setup:    func(c *ClusterConfig) { c.ReplProxy = true }},
		{Name: "repl-stall", fault: replStall, verify: true,
			Summary:  "the replication link stalls for the outage (connections stay open, nothing flows, as in a network partition), then flows again: the active must notice, go on alone, and the passive catch up (then a final kill of the active uses its state)",
			Recovery: "from the stall to the first output of an input sent after it (the active must detect the dead link)",
			setup:    func(c *ClusterConfig) { c.ReplProxy = true }},
		{Name: "sink-down", fault: sinkDown,
			Summary:  "the downstream system answers 503 for the outage: every output arrives after it comes back",
			Recovery: "from the sink's return to the first output of an input sent after it (the backlog comes first)"},
		{Name: "kill9-active-sink-down", fault: kill9SinkDown,
			Summary:  "the downstream system answers 503 while the active checkpoints and is then killed: the new active must publish every output the old one never could",
			Recovery: "from the sink's return to the new active's first output of an input sent after the kill"},
		{Name: "handover", fault: handover, strict: true,
			Summary:  "POST /api/v1/ha/handover on the active: the roles switch with no loss and no duplicates",
			Recovery: "from the handover request to the new active's first output of an input sent after it"},
		{Name: "passive-join-under-load", fault: passiveJoin, solo: true, verify: true,
			Summary:  "one node runs alone under load; the other starts, takes the live state and joins as passive (then a final kill of the active uses its state)",
			Recovery: "from the second node's start to the first output of an input sent after it (the active must not stall)"},
	}
}

// Lookup returns the scenario with the given name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

func scenarioNames() string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// kill9Active kills the active; every other kill waits for a checkpoint to
// become durable on the active and strikes while it is being shipped.
func kill9Active(ctx context.Context, r *run, i int) error {
	c := r.c
	active, _, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	what := fmt.Sprintf("kill -9 %s (active, epoch %d)", active.ID, epoch)
	if i%2 == 1 {
		if err := r.awaitCheckpoint(ctx, active); err != nil {
			return err
		}
		what += " right after a checkpoint"
	}
	f := r.begin(false, "%s", what)
	if err := active.Kill(); err != nil {
		return err
	}
	if err := r.recovered(ctx, f, epoch+1); err != nil {
		return err
	}
	if err := active.Start(); err != nil {
		return err
	}
	start := time.Now()
	if _, _, _, err := c.WaitPair(ctx, pairLimit); err != nil {
		return fmt.Errorf("after %s: %w", what, err)
	}
	r.note("%s restarted and rejoined as passive in %d ms", active.ID, time.Since(start).Milliseconds())
	return nil
}

// awaitCheckpoint returns as soon as the active reports a newer checkpoint
// than when it was called.
func (r *run) awaitCheckpoint(ctx context.Context, n *Node) error {
	rev := func() (uint64, error) {
		st, err := r.c.Status(ctx, n)
		if err != nil {
			return 0, err
		}
		var newest uint64
		for _, a := range st.Apps {
			if a.LastCheckpoint != nil {
				newest = max(newest, a.LastCheckpoint.Revision)
			}
		}
		return newest, nil
	}
	first, err := rev()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if now, err := rev(); err == nil && now > first {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s made no checkpoint within 10s; see %s", n.ID, n.Log)
}

// kill9Passive kills the passive; the active must keep its role and go on
// alone, and the passive must rejoin when it restarts.
func kill9Passive(ctx context.Context, r *run, _ int) error {
	c := r.c
	active, passive, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	f := r.begin(false, "kill -9 %s (passive of %s, epoch %d)", passive.ID, active.ID, epoch)
	if err := passive.Kill(); err != nil {
		return err
	}
	if err := r.recovered(ctx, f, epoch); err != nil {
		return err
	}
	if err := r.sameActive(ctx, active, epoch, "the passive died"); err != nil {
		return err
	}
	r.gap(ctx)
	r.c.Event("restarting %s", passive.ID)
	if err := passive.Start(); err != nil {
		return err
	}
	start := time.Now()
	if _, _, _, err := c.WaitPair(ctx, pairLimit); err != nil {
		return fmt.Errorf("%s did not rejoin: %w", passive.ID, err)
	}
	r.note("%s restarted and rejoined as passive in %d ms", passive.ID, time.Since(start).Milliseconds())
	return r.sameActive(ctx, active, epoch, "the passive rejoined")
}

// sameActive checks that n is still the unfenced active at epoch.
func (r *run) sameActive(ctx context.Context, n *Node, epoch uint64, after string) error {
	st, err := r.c.Status(ctx, n)
	if err != nil {
		return fmt.Errorf("after %s: %w", after, err)
	}
	if !st.Active() || st.Epoch != epoch {
		return fmt.Errorf("after %s, %s should still be the active at epoch %d, but is %s; see %s",
			after, n.ID, epoch, describe(st, nil), n.Log)
	}
	return nil
}

// sigstopActive freezes the active past its lease. Its successor must take
// over, and after SIGCONT the old active must publish nothing (Check counts
// outputs of an old epoch after a newer one as stale) and become passive.
func sigstopActive(ctx context.Context, r *run, _ int) error {
	c := r.c
	active, passive, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	hold := r.opt.lease() * 3 / 2
	f := r.begin(false, "SIGSTOP %s (active, epoch %d) for at least %v", active.ID, epoch, hold)
	if err := active.Pause(); err != nil {
		return err
	}
	recErr := r.recovered(ctx, f, epoch+1)
	if left := hold - time.Since(r.rep.Faults[f].at); left > 0 {
		select {
		case <-time.After(left):
		case <-ctx.Done():
		}
	}
	stopped := time.Since(r.rep.Faults[f].at)
	if err := active.Resume(); err != nil {
		return err
	}
	r.note("SIGCONT %s after %d ms", active.ID, stopped.Milliseconds())
	if recErr != nil {
		return recErr
	}
	if _, _, err := c.WaitActive(ctx, passive, 5*time.Second); err != nil {
		return fmt.Errorf("%s published at epoch > %d but is not the active: %w", passive.ID, epoch, err)
	}
	start := time.Now()
	if _, err := c.WaitRole(ctx, active, "passive", 15*time.Second); err != nil {
		return fmt.Errorf("the old active did not step down after SIGCONT: %w", err)
	}
	r.note("%s reported passive %d ms after SIGCONT", active.ID, time.Since(start).Milliseconds())
	a, _, _, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return fmt.Errorf("after SIGCONT: %w", err)
	}
	if a != passive {
		return fmt.Errorf("after SIGCONT %s is the active again; %s should be", a.ID, passive.ID)
	}
	r.note("%s rejoined as passive %d ms after SIGCONT", active.ID, time.Since(start).Milliseconds())
	return nil
}

// restartNode stops a node gracefully and starts it again: the active on
// even faults, the passive on odd ones.
func restartNode(ctx context.Context, r *run, i int) error {
	c := r.c
	active, passive, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	target, role, minEpoch := active, "active", epoch+1
	if i%2 == 1 {
		target, role, minEpoch = passive, "passive", epoch
	}
	f := r.begin(false, "restart %s (%s, epoch %d): SIGTERM, wait for exit, start", target.ID, role, epoch)
	stopAt := time.Now()
	if err := target.Terminate(15 * time.Second); err != nil {
		return err
	}
	r.note("%s stopped %d ms after SIGTERM", target.ID, time.Since(stopAt).Milliseconds())
	if err := r.recovered(ctx, f, minEpoch); err != nil {
		return err
	}
	if err := target.Start(); err != nil {
		return err
	}
	start := time.Now()
	if _, _, _, err := c.WaitPair(ctx, pairLimit); err != nil {
		return fmt.Errorf("%s did not rejoin: %w", target.ID, err)
	}
	r.note("%s rejoined as passive in %d ms", target.ID, time.Since(start).Milliseconds())
	return nil
}

// coordDown takes the coordination store away from both nodes for the
// outage. The active cannot renew its lease and fences; when the store
// returns, one of them holds the lease and the outputs resume.
func coordDown(ctx context.Context, r *run, _ int) error {
	c := r.c
	active, _, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	c.Event("cutting the coordination store for %v (active %s, epoch %d)", r.opt.Outage, active.ID, epoch)
	c.CoordProxy.Cut()
	fenced := r.watchFence(ctx, active, r.opt.Outage)
	f := r.begin(false, "restore the coordination store after %v", r.opt.Outage)
	c.CoordProxy.Restore()
	if fenced {
		r.note("%s fenced itself during the outage", active.ID)
	} else {
		r.note("%s did not fence during the outage", active.ID)
	}
	if err := r.recovered(ctx, f, epoch); err != nil {
		return err
	}
	a, _, e, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return fmt.Errorf("after the store came back: %w", err)
	}
	r.note("pair healthy again: %s active at epoch %d", a.ID, e)
	return nil
}

// watchFence waits d, polling n's status, and reports whether n fenced.
func (r *run) watchFence(ctx context.Context, n *Node, d time.Duration) bool {
	end := time.Now().Add(d)
	fenced := false
	for time.Now().Before(end) && ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, time.Until(end))
		st, err := r.c.Status(sctx, n)
		cancel()
		if err == nil && st.Fenced {
			fenced = true
		}
		select {
		case <-time.After(min(50*time.Millisecond, max(time.Until(end), 0))):
		case <-ctx.Done():
		}
	}
	return fenced
}

// replCut cuts the link between the pair for the outage. The active must go
// on alone; after the restore the passive reconnects and catches up.
func replCut(ctx context.Context, r *run, _ int) error { return replFault(ctx, r, false) }

// replStall stalls the link: no reset, no bytes, as in a partition. With
// sync acknowledgements the active must time the passive out to go on.
func replStall(ctx context.Context, r *run, _ int) error { return replFault(ctx, r, true) }

func replFault(ctx context.Context, r *run, stall bool) error {
	c := r.c
	active, passive, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	verb := "cut"
	if stall {
		verb = "stall"
	}
	f := r.begin(false, "%s the replication link %s -> %s for %v", verb, passive.ID, active.ID, r.opt.Outage)
	cutAt := time.Now()
	if stall {
		active.ReplProxy.Stall()
	} else {
		active.ReplProxy.Cut()
	}
	err = r.recovered(ctx, f, epoch)
	if left := r.opt.Outage - time.Since(cutAt); left > 0 && err == nil {
		r.pause(ctx, left)
	}
	active.ReplProxy.Restore()
	c.Event("the replication link works again")
	if err != nil {
		return err
	}
	if err := r.sameActive(ctx, active, epoch, "the replication link was cut"); err != nil {
		return err
	}
	start := time.Now()
	if _, _, _, err := c.WaitPair(ctx, pairLimit); err != nil {
		return fmt.Errorf("%s did not catch up after the link came back: %w", passive.ID, err)
	}
	r.note("%s reconnected and caught up %d ms after the restore", passive.ID, time.Since(start).Milliseconds())
	return r.sameActive(ctx, active, epoch, "the passive reconnected")
}

// sinkDown makes the downstream system refuse outputs for the outage.
func sinkDown(ctx context.Context, r *run, _ int) error {
	c := r.c
	_, _, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	refused := c.Collector.Refused()
	c.Event("the collector answers 503 for %v", r.opt.Outage)
	c.Collector.SetDown(true)
	r.pause(ctx, r.opt.Outage)
	f := r.begin(false, "the collector accepts outputs again after %v down", r.opt.Outage)
	c.Collector.SetDown(false)
	r.note("%d requests refused while down", c.Collector.Refused()-refused)
	return r.recovered(ctx, f, epoch)
}

// kill9SinkDown kills the active while its outputs cannot be delivered and
// after it checkpointed state that produced them.
func kill9SinkDown(ctx context.Context, r *run, _ int) error {
	c := r.c
	active, passive, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	c.Event("the collector answers 503 until the active has checkpointed and has been killed")
	c.Collector.SetDown(true)
	defer c.Collector.SetDown(false)
	if err := r.awaitCheckpoint(ctx, active); err != nil {
		return err
	}
	killSeq := r.load.Sent()
	c.Event("kill -9 %s (active, epoch %d) right after a checkpoint, with its outputs undelivered", active.ID, epoch)
	if err := active.Kill(); err != nil {
		return err
	}
	if _, _, err := c.WaitActive(ctx, passive, recoverLimit); err != nil {
		return err
	}
	r.pause(ctx, r.opt.Gap/2)
	f := r.begin(false, "the collector accepts outputs again (%s was killed at seq %d)", active.ID, killSeq)
	r.rep.Faults[f].Seq = killSeq
	c.Collector.SetDown(false)
	if err := r.recovered(ctx, f, epoch+1); err != nil {
		return err
	}
	if err := active.Start(); err != nil {
		return err
	}
	if _, _, _, err := c.WaitPair(ctx, pairLimit); err != nil {
		return fmt.Errorf("%s did not rejoin: %w", active.ID, err)
	}
	return nil
}

// handover asks the active to hand its role over.
func handover(ctx context.Context, r *run, _ int) error {
	c := r.c
	active, passive, epoch, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	f := r.begin(false, "POST /api/v1/ha/handover to %s (active, epoch %d)", active.ID, epoch)
	asked := time.Now()
	if err := c.Handover(ctx, active); err != nil {
		if errors.Is(err, ErrNoHandover) {
			return skipError{err.Error()}
		}
		return err
	}
	r.note("the handover request returned after %d ms", time.Since(asked).Milliseconds())
	if err := r.recovered(ctx, f, epoch+1); err != nil {
		return err
	}
	a, _, _, err := c.WaitPair(ctx, pairLimit)
	if err != nil {
		return fmt.Errorf("after the handover: %w", err)
	}
	if a != passive {
		return fmt.Errorf("after the handover %s is the active; %s should be", a.ID, passive.ID)
	}
	return nil
}

// passiveJoin starts the second node while the first runs alone under load;
// from the second fault on it first kills the passive that joined last.
func passiveJoin(ctx context.Context, r *run, i int) error {
	c := r.c
	if i > 0 {
		_, passive, epoch, err := c.WaitPair(ctx, pairLimit)
		if err != nil {
			return err
		}
		c.Event("kill -9 %s (passive, epoch %d), so that it can join again", passive.ID, epoch)
		if err := passive.Kill(); err != nil {
			return err
		}
		r.gap(ctx)
	}
	active, epoch, err := c.WaitActive(ctx, nil, pairLimit)
	if err != nil {
		return err
	}
	joiner := c.Other(active)
	r.gap(ctx)
	f := r.begin(false, "start %s while %s runs alone (epoch %d)", joiner.ID, active.ID, epoch)
	if err := joiner.Start(); err != nil {
		return err
	}
	start := time.Now()
	if err := r.recovered(ctx, f, epoch); err != nil {
		return err
	}
	if _, _, _, err := c.WaitPair(ctx, pairLimit); err != nil {
		return fmt.Errorf("%s did not join: %w", joiner.ID, err)
	}
	r.note("%s joined and holds the state %d ms after its start", joiner.ID, time.Since(start).Milliseconds())
	return r.sameActive(ctx, active, epoch, "the passive joined")
}

// verifyFailover kills the active once more, so that the outputs after it
// come from the state that a rejoined passive took.
func verifyFailover(ctx context.Context, r *run) error {
	active, passive, epoch, err := r.c.WaitPair(ctx, pairLimit)
	if err != nil {
		return err
	}
	r.gap(ctx)
	f := r.begin(true, "verify: kill -9 %s (active, epoch %d), so that %s's state is put to use", active.ID, epoch, passive.ID)
	if err := active.Kill(); err != nil {
		return err
	}
	return r.recovered(ctx, f, epoch+1)
}
