// Package persist stores app checkpoints: an app's full state at one LSN plus a
// manifest. The manifest is written only after the state is durable, so a
// manifest always names a complete checkpoint.
package persist

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when an app has no (matching) checkpoint.
var ErrNotFound = errors.New("persist: no checkpoint")

// ErrCorrupt is returned when a checkpoint's state does not match its checksum.
var ErrCorrupt = errors.New("persist: checkpoint corrupt")

// ErrStale is returned by Save for a checkpoint older than what the store
// holds: one from an older epoch than a stored checkpoint (a deposed active
// still writing), or a revision not above the newest of its own epoch.
var ErrStale = errors.New("persist: checkpoint is stale")

// Manifest describes one checkpoint.
type Manifest struct {
	App      string    `json:"app"`
	AppHash  string    `json:"app_hash"` // content hash of the app text
	Epoch    uint64    `json:"epoch"`
	LSN      uint64    `json:"lsn"`      // the state contains every entry up to and including LSN
	Revision uint64    `json:"revision"` // per app, increasing; assigned by the active
	Checksum string    `json:"checksum"` // hex sha256 of the state bytes
	Size     int64     `json:"size"`
	Created  time.Time `json:"created"`
}

// Store is implemented by every checkpoint backend. Every method must be safe
// for concurrent use and must honour ctx.
type Store interface {
	// Save writes state durably, then its manifest (m.Checksum and m.Size are
	// filled in by Save), then prunes the app's checkpoints to the newest Keep.
	//
	// Revisions: m.Revision 0 asks the store for the next one (newest + 1).
	// A given revision must be above the newest stored one, else ErrStale;
	// but a checkpoint of a newer epoch than the stored ones replaces those
	// at the same or higher revisions (written by a deposed active that the
	// new one never heard of). Saving a checkpoint the store already holds
	// (same revision, epoch and checksum) is a no-op returning the stored
	// manifest, so a passive may store a re-shipped checkpoint again. A zero
	// m.Created is set to the current time; Created is returned in UTC.
	Save(ctx context.Context, m Manifest, state []byte) (Manifest, error)
	// Latest returns the newest checkpoint of app, verified against its
	// checksum. Corrupt revisions are skipped: it returns the newest intact one,
	// and ErrCorrupt only when every stored revision is corrupt.
	Latest(ctx context.Context, app string) (Manifest, []byte, error)
	// Load returns one revision of app, verified against its checksum.
	Load(ctx context.Context, app string, revision uint64) (Manifest, []byte, error)
	// List returns app's manifests, oldest first.
	List(ctx context.Context, app string) ([]Manifest, error)
	// Clear deletes every checkpoint of app.
	Clear(ctx context.Context, app string) error
}

// Lister is implemented by stores that can tell which apps they hold
// checkpoints for.
type Lister interface {
	// Apps returns the names of the apps with at least one checkpoint, sorted.
	Apps(ctx context.Context) ([]string, error)
}
