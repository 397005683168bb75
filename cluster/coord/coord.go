// Package coord is the coordination store of a Tandem group: node heartbeats
// and the leader lease with its ever-increasing epoch. Backends (SQLite,
// PostgreSQL, ...) implement Coordinator; the role logic in cluster/node only
// talks to this interface.
//
// Liveness is always judged on one clock, the store's own (the SQL server's
// now(), or the local clock for an embedded SQLite file shared by processes on
// one machine), never by comparing two machines' wall clocks.
package coord

import (
	"context"
	"errors"
	"time"
)

// ErrGroupFull is returned by Heartbeat when a third node tries to join a group
// whose two members are both alive.
var ErrGroupFull = errors.New("coord: group already has two live nodes")

// NodeInfo is what a node publishes about itself with every heartbeat.
type NodeInfo struct {
	ID         string // stable node id from config
	APIAddr    string // host:port of the admin/status HTTP API
	ReplAddr   string // host:port of the replication listener (used while active)
	DataAddr   string // host:port of data sources, for clients; may be ""
	StartedAt  time.Time
	AppsDigest string // hash of the deployed apps' contents
}

// Member is a node as the store sees it.
type Member struct {
	NodeInfo
	LastSeen time.Time // store clock
	Alive    bool      // LastSeen within the liveness window on the store clock
}

// Lease is the leader lease of the group.
type Lease struct {
	Holder string    // node id, "" if never held; kept after expiry and Release
	Epoch  uint64    // incremented on every change of holder
	Expiry time.Time // on the store clock
	Valid  bool      // not expired by the store clock at the time of reading
}

// Coordinator is implemented by every coordination backend. Every method must be
// safe for concurrent use and must honour ctx.
type Coordinator interface {
	// Heartbeat records node as alive now (store clock). It fails with
	// ErrGroupFull when two other live nodes are already members.
	Heartbeat(ctx context.Context, node NodeInfo, liveFor time.Duration) error
	// Members lists the group's nodes with their liveness.
	Members(ctx context.Context) ([]Member, error)
	// Acquire takes the lease for node if it is free, expired, or already held by
	// node, for ttl on the store clock. A change of holder increments the epoch.
	// It returns the lease as it stands after the attempt and whether node holds it.
	//
	// The epoch changes only with the holder: a node that takes back its own
	// expired or released lease keeps the epoch, as nobody held it in between.
	// Epochs never decrease, across restarts of nodes and of the store.
	Acquire(ctx context.Context, node string, ttl time.Duration) (Lease, bool, error)
	// Renew extends a lease node holds at epoch; false means it no longer does.
	// An expired lease cannot be renewed, even if nobody took it: the node must
	// Acquire again, which tells it whether the epoch moved on.
	Renew(ctx context.Context, node string, epoch uint64, ttl time.Duration) (bool, error)
	// Release gives up a lease node holds at epoch, so a successor need not wait
	// for it to expire (graceful shutdown and handover). It ends the lease now
	// on the store clock; releasing a lease node does not hold at epoch is a
	// no-op, so a stale holder cannot end its successor's lease.
	Release(ctx context.Context, node string, epoch uint64) error
	// Lease reads the current lease.
	Lease(ctx context.Context) (Lease, error)
	Close() error
}
