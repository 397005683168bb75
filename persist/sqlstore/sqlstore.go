// Package sqlstore is the checkpoint store over database/sql for SQLite,
// PostgreSQL and MySQL/MariaDB. A store both nodes reach (PostgreSQL, MySQL)
// makes a checkpoint restorable by the passive as soon as it is saved.
//
// States and manifests live in two tables; Save inserts the state, then its
// manifest, then prunes, all in one transaction that first locks the app's
// row in a third table, so concurrent savers of one app (even in different
// processes) take turns.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/tandem-stream/tandem/internal/sqldb"
	"github.com/tandem-stream/tandem/persist"
	"github.com/tandem-stream/tandem/persist/internal/plan"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// TablePrefix is prepended to the table names (ckpt_states,
	// ckpt_manifests, ckpt_apps). It must be a plain identifier; the
	// default is "tandem_".
	TablePrefix string
	// Keep is how many revisions per app to keep; 0 means 3.
	Keep int
	// Logger receives corrupt checkpoints and similar; nil discards.
	Logger *slog.Logger
	// BusyTimeout is how long an SQLite call waits for another process's
	// write transaction; default 5s. Ignored by the other backends.
	BusyTimeout time.Duration
}

// DefaultTablePrefix is used when Options.TablePrefix is empty.
const DefaultTablePrefix = "tandem_"

// Store is an SQL checkpoint store. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	d      *dialect
	prefix string
	keep   int
	log    *slog.Logger

	qLockApp, qManifests, qInsertState, qInsertManifest string
	qDeleteManifest, qDeleteState, qRevisionsDesc       string
	qLoad, qApps                                        string
	qClearManifests, qClearStates, qClearApp            string
}

var (
	_ persist.Store  = (*Store)(nil)
	_ persist.Lister = (*Store)(nil)
)

// OpenSQLite opens (creating if needed) the SQLite database at path.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	return open(ctx, sqliteDialect, opts, func() (*sql.DB, error) { return sqldb.OpenSQLite(ctx, path, opts.BusyTimeout) })
}

// OpenPostgres connects to PostgreSQL with dsn (a URL or key=value string as
// accepted by pgx).
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	return open(ctx, postgresDialect, opts, func() (*sql.DB, error) { return sqldb.OpenPostgres(ctx, dsn) })
}

// OpenMySQL connects to MySQL or MariaDB with dsn (go-sql-driver/mysql
// syntax, e.g. "root@tcp(127.0.0.1:3306)/test"). States larger than the
// server's max_allowed_packet cannot be saved.
func OpenMySQL(ctx context.Context, dsn string, opts Options) (*Store, error) {
	return open(ctx, mysqlDialect, opts, func() (*sql.DB, error) { return sqldb.OpenMySQL(ctx, dsn) })
}

func open(ctx context.Context, d *dialect, opts Options, connect func() (*sql.DB, error)) (*Store, error) {
	prefix := opts.TablePrefix
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if err := sqldb.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if opts.Keep < 0 {
		return nil, fmt.Errorf("sqlstore: keep %d: must not be negative", opts.Keep)
	}
	keep := opts.Keep
	if keep == 0 {
		keep = plan.DefaultKeep
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := connect()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", d.Name, err)
	}
	s := &Store{db: db, d: d, prefix: prefix, keep: keep, log: log.With("store", d.Name)}
	s.prepareQueries()
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: create %s tables %sckpt_*: %w", d.Name, prefix, err)
	}
	return s, nil
}

func (s *Store) prepareQueries() {
	q := func(text string) string { return s.d.query(s.prefix, text) }
	s.qLockApp = q(s.d.lockApp)
	s.qManifests = q(`SELECT revision, epoch, lsn, app_hash, checksum, size, created_ns
		FROM {p}ckpt_manifests WHERE app = ? ORDER BY revision`)
	s.qRevisionsDesc = q(`SELECT revision FROM {p}ckpt_manifests WHERE app = ? ORDER BY revision DESC`)
	s.qInsertState = q(`INSERT INTO {p}ckpt_states (app, revision, state) VALUES (?, ?, ?)`)
	s.qInsertManifest = q(`INSERT INTO {p}ckpt_manifests
		(app, revision, epoch, lsn, app_hash, checksum, size, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	s.qDeleteManifest = q(`DELETE FROM {p}ckpt_manifests WHERE app = ? AND revision = ?`)
	s.qDeleteState = q(`DELETE FROM {p}ckpt_states WHERE app = ? AND revision = ?`)
	// The join reads manifest and state in one statement, so one snapshot:
	// a concurrent prune makes the row vanish rather than the state alone.
	s.qLoad = q(`SELECT m.epoch, m.lsn, m.app_hash, m.checksum, m.size, m.created_ns, s.revision, s.state
		FROM {p}ckpt_manifests m LEFT JOIN {p}ckpt_states s ON s.app = m.app AND s.revision = m.revision
		WHERE m.app = ? AND m.revision = ?`)
	s.qApps = q(`SELECT DISTINCT app FROM {p}ckpt_manifests`)
	s.qClearManifests = q(`DELETE FROM {p}ckpt_manifests WHERE app = ?`)
	s.qClearStates = q(`DELETE FROM {p}ckpt_states WHERE app = ?`)
	s.qClearApp = q(`DELETE FROM {p}ckpt_apps WHERE app = ?`)
}

func (s *Store) init(ctx context.Context) error {
	ddl := []string{
		`CREATE TABLE IF NOT EXISTS {p}ckpt_apps (app {key} NOT NULL PRIMARY KEY){tableopts}`,
		`CREATE TABLE IF NOT EXISTS {p}ckpt_states (
			app {key} NOT NULL,
			revision BIGINT NOT NULL,
			state {blob} NOT NULL,
			PRIMARY KEY (app, revision)){tableopts}`,
		`CREATE TABLE IF NOT EXISTS {p}ckpt_manifests (
			app {key} NOT NULL,
			revision BIGINT NOT NULL,
			epoch BIGINT NOT NULL,
			lsn BIGINT NOT NULL,
			app_hash {text} NOT NULL,
			checksum {text} NOT NULL,
			size BIGINT NOT NULL,
			created_ns BIGINT NOT NULL,
			PRIMARY KEY (app, revision)){tableopts}`,
	}
	return s.d.CreateTables(ctx, s.db, s.prefix, 8246117002, ddl)
}

func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	return s.d.InTx(ctx, s.db, f)
}

// Save implements persist.Store.
func (s *Store) Save(ctx context.Context, m persist.Manifest, state []byte) (persist.Manifest, error) {
	m, err := plan.Prepare(m, state, time.Now())
	if err != nil {
		return persist.Manifest{}, fmt.Errorf("sqlstore: save: %w", err)
	}
	if state == nil {
		state = []byte{} // nil would be NULL
	}
	var saved persist.Manifest
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.qLockApp, m.App); err != nil {
			return fmt.Errorf("lock app: %w", err)
		}
		stored, err := s.manifests(ctx, tx, m.App)
		if err != nil {
			return err
		}
		d, err := plan.Save(stored, m)
		if err != nil {
			return err
		}
		saved = d.Manifest
		if d.Existing {
			return nil
		}
		if len(d.Drop) > 0 {
			s.log.Info("dropping checkpoints superseded by a newer epoch", "app", m.App, "revisions", d.Drop, "epoch", m.Epoch)
		}
		if err := s.delete(ctx, tx, m.App, d.Drop); err != nil {
			return err
		}
		nm := d.Manifest
		if _, err := tx.ExecContext(ctx, s.qInsertState, nm.App, int64(nm.Revision), state); err != nil {
			return fmt.Errorf("insert state: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.qInsertManifest, nm.App, int64(nm.Revision), int64(nm.Epoch),
			int64(nm.LSN), nm.AppHash, nm.Checksum, nm.Size, nm.Created.UnixNano()); err != nil {
			return fmt.Errorf("insert manifest: %w", err)
		}
		var revs []uint64
		for _, sm := range stored {
			if !slices.Contains(d.Drop, sm.Revision) {
				revs = append(revs, sm.Revision)
			}
		}
		return s.delete(ctx, tx, m.App, plan.Prune(append(revs, nm.Revision), s.keep))
	})
	if err != nil {
		return persist.Manifest{}, fmt.Errorf("sqlstore: save %q revision %d: %w", m.App, m.Revision, err)
	}
	return saved, nil
}

func (s *Store) delete(ctx context.Context, tx *sql.Tx, app string, revs []uint64) error {
	for _, r := range revs {
		if _, err := tx.ExecContext(ctx, s.qDeleteManifest, app, int64(r)); err != nil {
			return fmt.Errorf("delete manifest %d: %w", r, err)
		}
		if _, err := tx.ExecContext(ctx, s.qDeleteState, app, int64(r)); err != nil {
			return fmt.Errorf("delete state %d: %w", r, err)
		}
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// manifests returns app's manifests, oldest first.
func (s *Store) manifests(ctx context.Context, q querier, app string) ([]persist.Manifest, error) {
	rows, err := q.QueryContext(ctx, s.qManifests, app)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	defer rows.Close()
	var ms []persist.Manifest
	for rows.Next() {
		var rev, epoch, lsn, created int64
		m := persist.Manifest{App: app}
		if err := rows.Scan(&rev, &epoch, &lsn, &m.AppHash, &m.Checksum, &m.Size, &created); err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		if err := fill(&m, rev, epoch, lsn, created); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	return ms, nil
}

func fill(m *persist.Manifest, rev, epoch, lsn, created int64) error {
	if rev <= 0 || epoch < 0 || lsn < 0 {
		return fmt.Errorf("manifest of %q with revision %d, epoch %d, LSN %d: %w", m.App, rev, epoch, lsn, persist.ErrCorrupt)
	}
	m.Revision, m.Epoch, m.LSN = uint64(rev), uint64(epoch), uint64(lsn)
	m.Created = time.Unix(0, created).UTC()
	return nil
}

// Latest implements persist.Store.
func (s *Store) Latest(ctx context.Context, app string) (persist.Manifest, []byte, error) {
	if err := plan.CheckApp(app); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.qRevisionsDesc, app)
	if err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest of %q: %w", app, err)
	}
	var revs []int64
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest of %q: %w", app, err)
		}
		revs = append(revs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest of %q: %w", app, err)
	}
	var firstErr error
	for _, r := range revs {
		m, state, err := s.load(ctx, app, r)
		if err == nil {
			return m, state, nil
		}
		if errors.Is(err, persist.ErrNotFound) {
			continue // pruned since we listed it
		}
		if !errors.Is(err, persist.ErrCorrupt) {
			return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest of %q: %w", app, err)
		}
		s.log.Warn("skipping corrupt checkpoint", "app", app, "revision", r, "err", err)
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest of %q: no intact revision: %w", app, firstErr)
	}
	return persist.Manifest{}, nil, fmt.Errorf("sqlstore: latest of %q: %w", app, persist.ErrNotFound)
}

// Load implements persist.Store.
func (s *Store) Load(ctx context.Context, app string, revision uint64) (persist.Manifest, []byte, error) {
	if err := plan.CheckApp(app); err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: load: %w", err)
	}
	if revision == 0 || revision > 1<<63-1 {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: load %q revision %d: %w", app, revision, persist.ErrNotFound)
	}
	m, state, err := s.load(ctx, app, int64(revision))
	if err != nil {
		return persist.Manifest{}, nil, fmt.Errorf("sqlstore: load %q revision %d: %w", app, revision, err)
	}
	return m, state, nil
}

func (s *Store) load(ctx context.Context, app string, rev int64) (persist.Manifest, []byte, error) {
	m := persist.Manifest{App: app}
	var epoch, lsn, created int64
	var stateRev sql.NullInt64
	var state []byte
	err := s.db.QueryRowContext(ctx, s.qLoad, app, rev).Scan(&epoch, &lsn, &m.AppHash, &m.Checksum, &m.Size, &created, &stateRev, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return persist.Manifest{}, nil, persist.ErrNotFound
	}
	if err != nil {
		return persist.Manifest{}, nil, err
	}
	if err := fill(&m, rev, epoch, lsn, created); err != nil {
		return persist.Manifest{}, nil, err
	}
	if !stateRev.Valid {
		return persist.Manifest{}, nil, fmt.Errorf("app %q revision %d: state missing: %w", app, rev, persist.ErrCorrupt)
	}
	if state == nil {
		state = []byte{}
	}
	if err := plan.Verify(m, state); err != nil {
		return persist.Manifest{}, nil, err
	}
	return m, state, nil
}

// List implements persist.Store.
func (s *Store) List(ctx context.Context, app string) ([]persist.Manifest, error) {
	if err := plan.CheckApp(app); err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	ms, err := s.manifests(ctx, s.db, app)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %q: %w", app, err)
	}
	return ms, nil
}

// Clear implements persist.Store.
func (s *Store) Clear(ctx context.Context, app string) error {
	if err := plan.CheckApp(app); err != nil {
		return fmt.Errorf("sqlstore: clear: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{s.qClearManifests, s.qClearStates, s.qClearApp} {
			if _, err := tx.ExecContext(ctx, q, app); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: clear %q: %w", app, err)
	}
	return nil
}

// Apps implements persist.Lister.
func (s *Store) Apps(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.qApps)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: apps: %w", err)
	}
	defer rows.Close()
	var apps []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlstore: apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: apps: %w", err)
	}
	// Byte order, whatever the database's collation.
	slices.Sort(apps)
	return apps, nil
}

// Close closes the database handle.
func (s *Store) Close() error {
	return s.db.Close()
}
