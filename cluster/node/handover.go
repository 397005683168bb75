package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotActive is returned for requests only the active can serve.
var ErrNotActive = errors.New("this node is not the active")

// onLoop runs fn on the Run goroutine and returns its error.
func (n *Node) onLoop(ctx context.Context, fn func(context.Context) error) error {
	done := make(chan error, 1)
	select {
	case n.exec <- func(c context.Context) { done <- fn(c) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handover switches roles with the passive without losing or repeating
// anything: the active stops its sources, waits until the passive holds every
// entry and knows every published position, then releases the lease and
// rejoins as passive; the peer takes the lease at once and replays nothing
// that was published.
func (n *Node) Handover(ctx context.Context) error {
	err := n.onLoop(ctx, func(context.Context) error {
		if n.machine().Role() != Active {
			return ErrNotActive
		}
		r := n.currentRepl()
		if r == nil {
			return errors.New("no passive is connected to take over")
		}
		if st := n.Status(); st.Peer == nil || !st.Peer.Synced {
			return errors.New("the passive has not yet taken the state; try again shortly")
		}
		n.stopSources()
		return nil
	})
	if err != nil {
		return err
	}
	n.log.Info("handover: sources stopped; draining to the passive")
	drainErr := n.waitDrained(ctx, 10*time.Second)
	return n.onLoop(ctx, func(lctx context.Context) error {
		if n.machine().Role() != Active {
			return ErrNotActive
		}
		if drainErr != nil {
			n.restartSources(lctx)
			return fmt.Errorf("handover aborted, sources reopened: %w", drainErr)
		}
		epoch := n.machine().Epoch()
		n.gate.Set(false)
		n.demote("handover")
		n.mu.Lock()
		n.m.Released()
		n.mu.Unlock()
		rctx, cancel := context.WithTimeout(lctx, time.Second)
		defer cancel()
		if err := n.deps.Coord.Release(rctx, n.cfg.Node.ID, epoch); err != nil {
			n.log.Warn("handover: lease release failed; the peer takes over when it expires", "err", err)
		}
		n.holdOff = n.now() + 2*n.cfg.Coordination.Lease
		n.log.Info("handover: lease released", "epoch", epoch)
		return nil
	})
}

// waitDrained waits until every app's entries are applied, acknowledged by
// the passive, its outputs published, and the positions sent to the passive.
func (n *Node) waitDrained(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		r := n.currentRepl()
		if r == nil {
			return errors.New("the passive disconnected")
		}
		if r.drained() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the passive did not catch up within %v", limit)
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (n *Node) restartSources(ctx context.Context) {
	n.startSources(ctx)
}

// ErrUnknownApp is returned for an app this node does not run.
var ErrUnknownApp = errors.New("no such app on this node")

// ClearState deletes an app's checkpoints on this node so that it can start
// afresh, typically after its content changed and its old state no longer
// fits. On the active the app must be inactive; it is then started with empty
// state and the passive is resynchronised.
func (n *Node) ClearState(ctx context.Context, app string) error {
	return n.onLoop(ctx, func(lctx context.Context) error {
		var u *unit
		for _, x := range n.unitList() {
			if x.plan.Name == app {
				u = x
			}
		}
		if u == nil {
			return fmt.Errorf("%w: %s", ErrUnknownApp, app)
		}
		active := n.machine().Role() == Active
		if active && u.inactive == "" {
			return fmt.Errorf("app %s is running; its state can only be cleared while it is inactive", app)
		}
		if err := n.deps.Store.Clear(lctx, app); err != nil {
			return fmt.Errorf("clear state of %s: %w", app, err)
		}
		n.log.Warn("app state cleared", "app", app)
		if !active {
			return nil
		}
		n.resetApp(u)
		n.promoteUnit(lctx, u, n.machine().Epoch())
		if u.inactive != "" {
			return fmt.Errorf("app %s still cannot start: %s", app, u.inactive)
		}
		n.startUnitSources(lctx, u)
		if r := n.currentRepl(); r != nil {
			r.dropSession() // the passive reconnects and takes every app's state
		}
		return nil
	})
}
