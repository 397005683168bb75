// Package fsstore is the file-system checkpoint store: one directory per
// app, holding for each revision a state file and a JSON manifest.
//
// Each file is written to a temporary name, synced, renamed into place, and
// the directory synced, the state before its manifest. So after a crash a
// manifest always names a complete state; a state without a manifest is an
// unfinished save, ignored and removed by the next one.
//
// A directory belongs to one process at a time: the store serialises writers
// within the process, not across processes.
package fsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandem-stream/tandem/persist"
	"github.com/tandem-stream/tandem/persist/internal/plan"
)

const (
	stateExt    = ".state"
	manifestExt = ".json"
	tmpPrefix   = ".tmp-"
	revDigits   = 20 // fixed width, so names sort by revision
)

// Store is a file-system checkpoint store. It is safe for concurrent use.
type Store struct {
	dir  string
	keep int
	log  *slog.Logger

	mu   sync.Mutex
	apps map[string]*sync.RWMutex // per app: readers never see a prune half done
}

var (
	_ persist.Store  = (*Store)(nil)
	_ persist.Lister = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger for corrupt checkpoints and cleanup failures;
// by default they are not logged (Latest still skips them).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Open opens the store rooted at dir, creating it if needed. keep is how many
// revisions per app to keep; 0 means the default, 3.
func Open(dir string, keep int, opts ...Option) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsstore: empty directory")
	}
	if keep < 0 {
		return nil, fmt.Errorf("fsstore: keep %d: must not be negative", keep)
	}
	if keep == 0 {
		keep = plan.DefaultKeep
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fsstore: %w", err)
	}
	s := &Store{dir: dir, keep: keep, log: slog.New(slog.DiscardHandler), apps: map[string]*sync.RWMutex{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func (s *Store) lock(app string) *sync.RWMutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.apps[app]
	if !ok {
		l = new(sync.RWMutex)
		s.apps[app] = l
	}
	return l
}

// Save implements persist.Store.
func (s *Store) Save(ctx context.Context, m persist.Manifest, state []byte) (persist.Manifest, error) {
	m, err := plan.Prepare(m, state, time.Now())
	if err != nil {
		return persist.Manifest{}, fmt.Errorf("fsstore: save: %w", err)
	}
	l := s.lock(m.App)
	l.Lock()
	defer l.Unlock()
	if err := ctx.Err(); err != nil {
		return persist.Manifest{}, fmt.Errorf("fsstore: save %q: %w", m.App, err)
	}
	saved, err := s.save(ctx, m, state)
	if err != nil {
		return persist.Manifest{}, fmt.Errorf("fsstore: save %q revision %d: %w", m.App, m.Revision, err)
	}
	return saved, nil
}

func (s *Store) save(ctx context.Context, m persist.Manifest, state []byte) (persist.Manifest, error) {
	dir := s.appDir(m.App)
	if err := s.ensureDir(dir); err != nil {
		return persist.Manifest{}, err
	}
	stored, err := s.manifests(dir, m.App)
	if err != nil {
		return persist.Manifest{}, err
	}
	d, err := plan.Save(stored, m)
	if err != nil {
		return persist.Manifest{}, err
	}
	if d.Existing {
		return d.Manifest, nil
	}
	m = d.Manifest
	if len(d.Drop) > 0 {
		s.log.Info("dropping checkpoints superseded by a newer epoch", "app", m.App, "revisions", d.Drop, "epoch", m.Epoch)
		if err := s.remove(dir, d.Drop); err != nil {
			return persist.Manifest{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return persist.Manifest{}, err
	}
	if err := writeFile(dir, revName(m.Revision, stateExt), state); err != nil {
		return persist.Manifest{}, fmt.Errorf("write state: %w", err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return persist.Manifest{}, fmt.Errorf("encode manifest: %w", err)
	}
	if err := writeFile(dir, revName(m.Revision, manifestExt), append(data, '\n')); err != nil {
		return persist.Manifest{}, fmt.Errorf("write manifest: %w", err)
	}
	// The checkpoint is durable; failing to prune does not undo it.
	if err := s.prune(dir); err != nil {
		s.log.Warn("pruning checkpoints failed", "app", m.App, "err", err)
	}
	return m, nil
}

// ensureDir creates dir and makes its entry in the root durable.
func (s *Store) ensureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(s.dir)
}

// remove deletes revisions, manifests first: a manifest must never name a
// missing state.
func (s *Store) remove(dir string, revs []uint64) error {
	for _, ext := range []string{manifestExt, stateExt} {
		for _, r := range revs {
			if err := os.Remove(filepath.Join(dir, revName(r, ext))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// prune keeps the newest revisions and removes unfinished saves: states
// without a manifest and temporary files.
func (s *Store) prune(dir string) error {
	l, err := s.listDir(dir)
	if err != nil {
		return err
	}
	if err := s.remove(dir, plan.Prune(l.manifests, s.keep)); err != nil {
		return err
	}
	var stray []string
	for _, r := range l.states {
		if !slices.Contains(l.manifests, r) {
			stray = append(stray, revName(r, stateExt))
		}
	}
	stray = append(stray, l.tmp...)
	for _, name := range stray {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(stray) > 0 {
		return syncDir(dir)
	}
	return nil
}

// Latest implements persist.Store.
func (s *Store) Latest(ctx context.Context, app string) (persist.Manifest, []byte, error) {
	if err := plan.CheckApp(app); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("fsstore: latest: %w", err)
	}
	l := s.lock(app)
	l.RLock()
	defer l.RUnlock()
	dir := s.appDir(app)
	ls, err := s.listDir(dir)
	if err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("fsstore: latest of %q: %w", app, err)
	}
	var firstErr error
	for _, rev := range slices.Backward(ls.manifests) {
		if err := ctx.Err(); err != nil {
			return persist.Manifest{}, nil, fmt.Errorf("fsstore: latest of %q: %w", app, err)
		}
		m, state, err := s.load(dir, app, rev)
		if err == nil {
			return m, state, nil
		}
		if errors.Is(err, persist.ErrNotFound) {
			continue // removed behind our back since the listing
		}
		if !errors.Is(err, persist.ErrCorrupt) {
			return persist.Manifest{}, nil, fmt.Errorf("fsstore: latest of %q: %w", app, err)
		}
		s.log.Warn("skipping corrupt checkpoint", "app", app, "revision", rev, "err", err)
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return persist.Manifest{}, nil, fmt.Errorf("fsstore: latest of %q: no intact revision: %w", app, firstErr)
	}
	return persist.Manifest{}, nil, fmt.Errorf("fsstore: latest of %q: %w", app, persist.ErrNotFound)
}

// Load implements persist.Store.
func (s *Store) Load(ctx context.Context, app string, revision uint64) (persist.Manifest, []byte, error) {
	if err := plan.CheckApp(app); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("fsstore: load: %w", err)
	}
	l := s.lock(app)
	l.RLock()
	defer l.RUnlock()
	if err := ctx.Err(); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("fsstore: load %q revision %d: %w", app, revision, err)
	}
	m, state, err := s.load(s.appDir(app), app, revision)
	if err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("fsstore: load %q revision %d: %w", app, revision, err)
	}
	return m, state, nil
}

// load reads and verifies one revision.
func (s *Store) load(dir, app string, rev uint64) (persist.Manifest, []byte, error) {
	m, err := readManifest(dir, app, rev)
	if err != nil {
		return persist.Manifest{}, nil, err
	}
	path := filepath.Join(dir, revName(rev, stateExt))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return persist.Manifest{}, nil, fmt.Errorf("state file %s missing: %w", path, persist.ErrCorrupt)
	}
	if err != nil {
		return persist.Manifest{}, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return persist.Manifest{}, nil, err
	}
	// Check the size before reading: a damaged manifest must not make us
	// allocate whatever it claims.
	if fi.Size() != m.Size {
		return persist.Manifest{}, nil, fmt.Errorf("state file %s has %d bytes, manifest says %d: %w",
			path, fi.Size(), m.Size, persist.ErrCorrupt)
	}
	state := make([]byte, m.Size)
	if _, err := readFull(f, state); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := plan.Verify(m, state); err != nil {
		return persist.Manifest{}, nil, err
	}
	return m, state, nil
}

// List implements persist.Store. Manifests that cannot be read are left out
// (and logged); Latest and Load report them as corrupt.
func (s *Store) List(ctx context.Context, app string) ([]persist.Manifest, error) {
	if err := plan.CheckApp(app); err != nil {
		return nil, fmt.Errorf("fsstore: list: %w", err)
	}
	l := s.lock(app)
	l.RLock()
	defer l.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fsstore: list %q: %w", app, err)
	}
	ms, err := s.manifests(s.appDir(app), app)
	if err != nil {
		return nil, fmt.Errorf("fsstore: list %q: %w", app, err)
	}
	return ms, nil
}

// Clear implements persist.Store.
func (s *Store) Clear(ctx context.Context, app string) error {
	if err := plan.CheckApp(app); err != nil {
		return fmt.Errorf("fsstore: clear: %w", err)
	}
	l := s.lock(app)
	l.Lock()
	defer l.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsstore: clear %q: %w", app, err)
	}
	dir := s.appDir(app)
	ls, err := s.listDir(dir)
	if err != nil {
		return fmt.Errorf("fsstore: clear %q: %w", app, err)
	}
	if !ls.exists {
		return nil
	}
	// Manifests first, so a crash midway leaves no checkpoint that looks
	// complete.
	if err := s.remove(dir, ls.manifests); err != nil {
		return fmt.Errorf("fsstore: clear %q: %w", app, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("fsstore: clear %q: %w", app, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("fsstore: clear %q: %w", app, err)
	}
	return nil
}

// Apps implements persist.Lister. The names come from the manifests, since
// long names are stored hashed.
func (s *Store) Apps(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: apps: %w", err)
	}
	var apps []string
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fsstore: apps: %w", err)
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if app, ok := s.appOf(filepath.Join(s.dir, e.Name())); ok && encodeName(app) == e.Name() {
			apps = append(apps, app)
		}
	}
	slices.Sort(apps)
	return apps, nil
}

// appOf reads the app name from the newest readable manifest in dir.
func (s *Store) appOf(dir string) (string, bool) {
	ls, err := s.listDir(dir)
	if err != nil {
		return "", false
	}
	for _, rev := range slices.Backward(ls.manifests) {
		data, err := os.ReadFile(filepath.Join(dir, revName(rev, manifestExt)))
		if err != nil {
			continue
		}
		var m persist.Manifest
		if json.Unmarshal(data, &m) == nil && plan.CheckApp(m.App) == nil {
			return m.App, true
		}
	}
	return "", false
}

// manifests returns the readable manifests in dir, oldest first.
func (s *Store) manifests(dir, app string) ([]persist.Manifest, error) {
	ls, err := s.listDir(dir)
	if err != nil {
		return nil, err
	}
	var ms []persist.Manifest
	for _, rev := range ls.manifests {
		m, err := readManifest(dir, app, rev)
		if err != nil {
			if errors.Is(err, persist.ErrCorrupt) {
				s.log.Warn("unreadable checkpoint manifest", "app", app, "revision", rev, "err", err)
				continue
			}
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

type listing struct {
	exists            bool
	manifests, states []uint64 // sorted
	tmp               []string
}

func (s *Store) listDir(dir string) (listing, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return listing{}, nil
	}
	if err != nil {
		return listing{}, err
	}
	l := listing{exists: true}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			l.tmp = append(l.tmp, name)
			continue
		}
		if rev, ok := parseRevName(name, manifestExt); ok {
			l.manifests = append(l.manifests, rev)
		} else if rev, ok := parseRevName(name, stateExt); ok {
			l.states = append(l.states, rev)
		}
	}
	slices.Sort(l.manifests)
	slices.Sort(l.states)
	return l, nil
}

// readManifest reads the manifest of app's revision rev. A missing file is
// ErrNotFound; anything unreadable or inconsistent is ErrCorrupt.
func readManifest(dir, app string, rev uint64) (persist.Manifest, error) {
	path := filepath.Join(dir, revName(rev, manifestExt))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return persist.Manifest{}, fmt.Errorf("revision %d: %w", rev, persist.ErrNotFound)
	}
	if err != nil {
		return persist.Manifest{}, err
	}
	m, err := decodeManifest(data, app, rev)
	if err != nil {
		return persist.Manifest{}, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

// decodeManifest parses a manifest file and checks that it belongs where it
// was found.
func decodeManifest(data []byte, app string, rev uint64) (persist.Manifest, error) {
	var m persist.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return persist.Manifest{}, fmt.Errorf("%v: %w", err, persist.ErrCorrupt)
	}
	switch {
	case m.App != app:
		return persist.Manifest{}, fmt.Errorf("names app %q, want %q: %w", m.App, app, persist.ErrCorrupt)
	case m.Revision != rev:
		return persist.Manifest{}, fmt.Errorf("names revision %d, want %d: %w", m.Revision, rev, persist.ErrCorrupt)
	case m.Size < 0:
		return persist.Manifest{}, fmt.Errorf("negative size %d: %w", m.Size, persist.ErrCorrupt)
	case !isSHA256(m.Checksum):
		return persist.Manifest{}, fmt.Errorf("checksum %q is not a hex sha256: %w", m.Checksum, persist.ErrCorrupt)
	}
	return m, nil
}

func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func revName(rev uint64, ext string) string {
	return fmt.Sprintf("%0*d%s", revDigits, rev, ext)
}

// parseRevName returns the revision of a file named by revName with ext.
func parseRevName(name, ext string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ext)
	if !ok || len(digits) != revDigits {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	rev, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || rev == 0 {
		return 0, false
	}
	return rev, true
}

func (s *Store) appDir(app string) string {
	return filepath.Join(s.dir, encodeName(app))
}

// maxPlainName bounds encoded names well below the usual 255-byte limit on a
// file name; longer ones are shortened with a hash.
const maxPlainName = 120

// encodeName maps an app name to a directory name: letters, digits, '-' and
// '_' stay, every other byte becomes %XX (so no '/', '.', or '..'), and a name
// too long for a file system keeps a readable head and gets the sha256 of the
// full name after a '~', which the plain form never contains.
func encodeName(app string) string {
	var b strings.Builder
	for i := 0; i < len(app); i++ {
		c := app[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	name := b.String()
	if len(name) <= maxPlainName {
		return name
	}
	sum := sha256.Sum256([]byte(app))
	return name[:80] + "~" + hex.EncodeToString(sum[:])
}

// writeFile durably writes data to dir/name: temporary file, sync, rename,
// sync of the directory.
func writeFile(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// readFull reads exactly len(buf) bytes from the start of f; a file that
// shrank since it was measured is corrupt.
func readFull(f *os.File, buf []byte) (int, error) {
	n, err := f.ReadAt(buf, 0)
	if n == len(buf) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return n, fmt.Errorf("short read: %d of %d bytes: %w", n, len(buf), persist.ErrCorrupt)
	}
	return n, err
}
