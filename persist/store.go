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

// Store is implemented by every checkpoint backend.
type Store interface {
	// Save writes state durably, then its manifest (m.Checksum and m.Size are
	// filled in by Save), then prunes the app's checkpoints to the newest Keep.
	Save(ctx context.Context, m Manifest, state []byte) (Manifest, error)
	// Latest returns the newest checkpoint of app, verified against its checksum.
	Latest(ctx context.Context, app string) (Manifest, []byte, error)
	// Load returns one revision of app, verified against its checksum.
	Load(ctx context.Context, app string, revision uint64) (Manifest, []byte, error)
	// List returns app's manifests, oldest first.
	List(ctx context.Context, app string) ([]Manifest, error)
	// Clear deletes every checkpoint of app.
	Clear(ctx context.Context, app string) error
}
