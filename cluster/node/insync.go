package node

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/cluster/coord"
)

// The in-sync record. An active with a synced passive records "passive@epoch"
// as InSync in its member record in the coordination store; before it commits
// anything alone (its passive gone or behind) it records "" there. A passive
// takes over an expired lease only while the old holder's record names it
// for that epoch: a passive the active ran without may lack acknowledged
// input, and then the pair waits for the old active rather than lose it.

func inSyncMarker(peer string, epoch uint64) string {
	return peer + "@" + strconv.FormatUint(epoch, 10)
}

// syncMarker brings the record in line with the replication session, and
// lets solo commits through only once the store says no passive is in sync
// (Run goroutine only).
func (n *Node) syncMarker(ctx context.Context) {
	if n.machine().Role() != Active {
		return
	}
	want := ""
	if r := n.currentRepl(); r != nil {
		if peer, _, _, synced := r.peerStatus(); synced {
			want = inSyncMarker(peer, n.machine().Epoch())
		}
	}
	n.mu.Lock()
	if want != n.inSync {
		if want != "" {
			n.aloneOK.Store(false) // from now on the passive must hold every commit
		}
		n.inSync = want
	}
	written := n.inSyncWritten == n.inSync
	n.mu.Unlock()
	if !written {
		n.heartbeat(ctx) // records n.inSync; on failure, tried again next time
	}
	n.mu.Lock()
	alone := n.inSync == "" && n.inSyncWritten == ""
	n.mu.Unlock()
	if alone && !n.aloneOK.Load() {
		n.aloneOK.Store(true)
		n.log.Warn("no passive in sync: running alone (recorded in the coordination store)")
		for _, u := range n.unitList() {
			u.app.Recommit()
		}
	}
}

// mayTakeOver reports whether this node may take the expired lease l: only a
// passive the old holder recorded as in sync for that epoch may.
func (n *Node) mayTakeOver(ctx context.Context, l coord.Lease) (bool, string) {
	if l.Valid || l.Holder == "" || l.Holder == n.cfg.Node.ID {
		return true, ""
	}
	marker, known := "", false
	if ms, err := n.deps.Coord.Members(ctx); err == nil {
		for _, m := range ms {
			if m.ID == l.Holder {
				marker, known = m.InSync, true
			}
		}
	}
	n.mu.Lock()
	if known {
		n.holderInSync[l.Holder] = marker
	} else {
		marker, known = n.holderInSync[l.Holder]
	}
	n.mu.Unlock()
	if known && marker == inSyncMarker(n.cfg.Node.ID, l.Epoch) {
		return true, ""
	}
	why := fmt.Sprintf("%s's record names no in-sync passive for epoch %d", l.Holder, l.Epoch)
	if i := strings.LastIndexByte(marker, '@'); marker != "" && i > 0 {
		why = fmt.Sprintf("%s's record names %s as in sync at epoch %s, not this node at epoch %d", l.Holder, marker[:i], marker[i+1:], l.Epoch)
	}
	return false, why
}
