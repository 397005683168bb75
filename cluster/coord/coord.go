// Package coord is the coordination store of a Tandem group: node heartbeats
// and the leader lease with its ever-increasing epoch, and optionally the
// group's deployed apps. Backends (SQLite, PostgreSQL, MySQL, ZooKeeper)
// implement Coordinator and AppStore; the role logic in cluster/node only
// talks to these interfaces.
//
// Liveness is always judged on one clock, the store's own (the SQL server's
// now(), the local clock for an embedded SQLite file shared by processes on
// one machine, or the ZooKeeper leader's clock as stamped on every write),
// never by comparing two machines' wall clocks.
package coord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// ErrGroupFull is returned by Heartbeat when a third node tries to join a group
// whose two members are both alive.
var ErrGroupFull = errors.New("coord: group already has two live nodes")

// NodeInfo is what a node publishes about itself with every heartbeat.
type NodeInfo struct {
	ID        string // stable node id from config
	APIAddr   string // host:port of the admin/status HTTP API
	ReplAddr  string // host:port of the replication listener (used while active)
	DataAddr  string // host:port of data sources, for clients; may be ""
	StartedAt time.Time
	// InSync is, on an active, the passive it waits for and the term:
	// "node@epoch". The active records "" here before it commits anything
	// alone, so a passive may take the lease over only while the active's
	// record names it: otherwise it may lack acknowledged input.
	InSync string
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

// ErrNoApp is returned by AppStore.DeleteApp for an app the group does not
// have.
var ErrNoApp = errors.New("coord: no such app")

// MaxAppSize is the largest app text an AppStore accepts, in bytes.
// ZooKeeper keeps a znode's data under 1 MiB; one limit for every backend
// keeps them interchangeable.
const MaxAppSize = 512 << 10

// App is an app deployed in a group, as the store keeps it.
type App struct {
	Name    string
	Text    []byte // the SiddhiQL source, byte for byte as deployed
	Hash    string // hex sha256 of Text, see AppHash
	Version uint64 // increases on every change of the app, deletion included
	Updated time.Time
}

// AppStore keeps a group's apps in the coordination store, so that both
// nodes of the pair always run the same version of each. It is optional:
// a Coordinator backend may implement it too. Every method must be safe for
// concurrent use and must honour ctx.
//
// A deleted app leaves a tombstone that keeps its version, so an app
// deleted and deployed again gets a version above every earlier one and a
// node never mistakes a new app for an old one it had.
type AppStore interface {
	// PutApp inserts or replaces the app name with text. The version goes
	// up by one on every call, even if text did not change; two concurrent
	// calls for one name get two versions.
	PutApp(ctx context.Context, name string, text []byte) (App, error)
	// DeleteApp removes the app name, or fails with ErrNoApp if the group
	// has none.
	DeleteApp(ctx context.Context, name string) error
	// Apps lists the group's apps in byte order of their names.
	Apps(ctx context.Context) ([]App, error)
}

// AppHash is the content hash of an app text: the hex sha256.
func AppHash(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}
