// Package plan holds the decisions every checkpoint store makes the same
// way: validating a manifest, numbering revisions, refusing stale
// checkpoints, choosing what to prune and verifying state against its
// checksum. The stores only carry them out.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/persist"
)

// Limits on manifest strings, in bytes, so every backend can store them.
const (
	MaxAppLen  = 200
	MaxTextLen = 255
)

// DefaultKeep is how many revisions per app a store keeps by default.
const DefaultKeep = 3

// CheckApp rejects app names no store can hold.
func CheckApp(app string) error {
	if app == "" {
		return fmt.Errorf("empty app name")
	}
	return checkText("app name", app, MaxAppLen)
}

func checkText(what, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s %.20q...: longer than %d bytes", what, v, max)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s %q: not valid UTF-8", what, v)
	}
	if strings.ContainsRune(v, 0) {
		return fmt.Errorf("%s %q: contains a NUL byte", what, v)
	}
	return nil
}

// Checksum is the hex sha256 of state.
func Checksum(state []byte) string {
	sum := sha256.Sum256(state)
	return hex.EncodeToString(sum[:])
}

// Prepare validates m and fills in its checksum, size and (if zero) creation
// time. A checksum or size the caller already set must match state: a
// checkpoint shipped from the active is checked on arrival.
func Prepare(m persist.Manifest, state []byte, now time.Time) (persist.Manifest, error) {
	if err := CheckApp(m.App); err != nil {
		return m, err
	}
	if err := checkText("app hash", m.AppHash, MaxTextLen); err != nil {
		return m, fmt.Errorf("app %q: %w", m.App, err)
	}
	for _, f := range []struct {
		what string
		v    uint64
	}{{"epoch", m.Epoch}, {"LSN", m.LSN}, {"revision", m.Revision}} {
		if f.v > math.MaxInt64 {
			return m, fmt.Errorf("app %q: %s %d out of range", m.App, f.what, f.v)
		}
	}
	sum := Checksum(state)
	if m.Checksum != "" && m.Checksum != sum {
		return m, fmt.Errorf("app %q revision %d: state has checksum %s, manifest says %s: %w",
			m.App, m.Revision, sum, m.Checksum, persist.ErrCorrupt)
	}
	if m.Size != 0 && m.Size != int64(len(state)) {
		return m, fmt.Errorf("app %q revision %d: state has %d bytes, manifest says %d: %w",
			m.App, m.Revision, len(state), m.Size, persist.ErrCorrupt)
	}
	m.Checksum = sum
	m.Size = int64(len(state))
	if m.Created.IsZero() {
		m.Created = now
	}
	m.Created = m.Created.UTC()
	// Stores keep Created as Unix nanoseconds.
	if !time.Unix(0, m.Created.UnixNano()).Equal(m.Created) {
		return m, fmt.Errorf("app %q: created time %v out of range", m.App, m.Created)
	}
	return m, nil
}

// Decision is what a store must do to save a checkpoint.
type Decision struct {
	Manifest persist.Manifest // the manifest to write, revision assigned
	Existing bool             // the store already holds it: write nothing
	Drop     []uint64         // revisions of older epochs it supersedes: delete them first
}

// Save decides how to save m (prepared) given the app's stored manifests.
func Save(stored []persist.Manifest, m persist.Manifest) (Decision, error) {
	var newest, maxEpoch uint64
	for _, s := range stored {
		newest = max(newest, s.Revision)
		maxEpoch = max(maxEpoch, s.Epoch)
	}
	if m.Epoch < maxEpoch {
		return Decision{}, fmt.Errorf("app %q: checkpoint of epoch %d, store holds epoch %d: %w",
			m.App, m.Epoch, maxEpoch, persist.ErrStale)
	}
	if m.Revision == 0 {
		if newest >= math.MaxInt64 {
			return Decision{}, fmt.Errorf("app %q: revisions exhausted", m.App)
		}
		m.Revision = newest + 1
		return Decision{Manifest: m}, nil
	}
	for _, s := range stored {
		if s.Revision == m.Revision && s.Epoch == m.Epoch && s.Checksum == m.Checksum {
			return Decision{Manifest: s, Existing: true}, nil
		}
	}
	var drop []uint64
	for _, s := range stored {
		if s.Revision < m.Revision {
			continue
		}
		if s.Epoch == m.Epoch {
			return Decision{}, fmt.Errorf("app %q: revision %d is not above stored revision %d of epoch %d: %w",
				m.App, m.Revision, s.Revision, s.Epoch, persist.ErrStale)
		}
		drop = append(drop, s.Revision)
	}
	slices.Sort(drop)
	return Decision{Manifest: m, Drop: drop}, nil
}

// Prune returns the revisions beyond the newest keep, oldest first.
func Prune(revisions []uint64, keep int) []uint64 {
	if len(revisions) <= keep {
		return nil
	}
	r := slices.Clone(revisions)
	slices.Sort(r)
	r = slices.Compact(r)
	if len(r) <= keep {
		return nil
	}
	return r[:len(r)-keep]
}

// Verify checks state against m's size and checksum.
func Verify(m persist.Manifest, state []byte) error {
	if int64(len(state)) != m.Size {
		return fmt.Errorf("app %q revision %d: state has %d bytes, manifest says %d: %w",
			m.App, m.Revision, len(state), m.Size, persist.ErrCorrupt)
	}
	if sum := Checksum(state); sum != m.Checksum {
		return fmt.Errorf("app %q revision %d: state checksum %s, manifest says %s: %w",
			m.App, m.Revision, sum, m.Checksum, persist.ErrCorrupt)
	}
	return nil
}
