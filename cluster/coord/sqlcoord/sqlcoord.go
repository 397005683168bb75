// Package sqlcoord implements coord.Coordinator over database/sql for SQLite
// (the embedded default: one file shared by the two processes of a pair on
// one machine), PostgreSQL and MySQL/MariaDB.
//
// All times are Unix milliseconds computed by the database itself: the SQL
// server's clock for PostgreSQL and MySQL, and for SQLite the local clock read
// inside the statement. Every lease and liveness decision is made inside one
// statement or one short transaction, so concurrent callers in different
// processes see a single order of events.
//
// The lease of a group is one row: holder, epoch and expiry. Acquire is a
// single conditional UPDATE that succeeds if the lease is free, expired or
// already the caller's, and increments the epoch exactly when the holder
// changes. Renew and Release match holder and epoch, so a deposed holder can
// neither extend nor drop its successor's lease.
//
// The group's apps (coord.AppStore) are rows of a third table; a deleted app
// stays as a tombstone row that keeps its version.
package sqlcoord

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
	"github.com/tandem-stream/tandem/internal/sqldb"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// TablePrefix is prepended to the table names (lease, members, apps). It must
	// be a plain identifier; the default is "tandem_coord_". Tests use a
	// unique prefix to isolate themselves.
	TablePrefix string
	// Logger receives lease changes and errors worth a look; nil discards.
	Logger *slog.Logger
	// BusyTimeout is how long an SQLite call waits for the other process's
	// write transaction; default 5s. Ignored by the other backends.
	BusyTimeout time.Duration
}

// DefaultTablePrefix is used when Options.TablePrefix is empty.
const DefaultTablePrefix = "tandem_coord_"

// Store is a coordination store for one group. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	d      *dialect
	group  string
	prefix string
	log    *slog.Logger

	qAcquire, qReadLease, qRenew, qRelease string
	qLockGroup, qLiveOthers, qUpsertMember string
	qMembers                               string
	qPutApp, qReadApp, qDeleteApp, qApps   string
}

var (
	_ coord.Coordinator = (*Store)(nil)
	_ coord.AppStore    = (*Store)(nil)
)

// OpenSQLite opens (creating if needed) the SQLite database at path for group.
// The two nodes of a pair on one machine open the same file.
func OpenSQLite(ctx context.Context, path, group string, opts Options) (*Store, error) {
	return open(ctx, sqliteDialect, group, opts, func() (*sql.DB, error) { return sqldb.OpenSQLite(ctx, path, opts.BusyTimeout) })
}

// OpenPostgres connects to PostgreSQL with dsn (a URL or key=value string as
// accepted by pgx) for group.
func OpenPostgres(ctx context.Context, dsn, group string, opts Options) (*Store, error) {
	return open(ctx, postgresDialect, group, opts, func() (*sql.DB, error) { return sqldb.OpenPostgres(ctx, dsn) })
}

// OpenMySQL connects to MySQL or MariaDB with dsn (go-sql-driver/mysql
// syntax, e.g. "root@tcp(127.0.0.1:3306)/test") for group.
func OpenMySQL(ctx context.Context, dsn, group string, opts Options) (*Store, error) {
	return open(ctx, mysqlDialect, group, opts, func() (*sql.DB, error) { return sqldb.OpenMySQL(ctx, dsn) })
}

func open(ctx context.Context, d *dialect, group string, opts Options, connect func() (*sql.DB, error)) (*Store, error) {
	if err := check.ID("group", group); err != nil {
		return nil, fmt.Errorf("sqlcoord: %w", err)
	}
	prefix := opts.TablePrefix
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if err := sqldb.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("sqlcoord: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := connect()
	if err != nil {
		return nil, fmt.Errorf("sqlcoord: open %s: %w", d.Name, err)
	}
	s := &Store{db: db, d: d, group: group, prefix: prefix, log: log.With("group", group, "store", d.Name)}
	s.prepareQueries()
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlcoord: init %s tables %slease, %smembers, %sapps: %w", d.Name, prefix, prefix, prefix, err)
	}
	return s, nil
}

func (s *Store) prepareQueries() {
	q := func(text string) string { return s.d.query(s.prefix, text) }
	// The epoch is assigned before the holder: MySQL evaluates SET left to
	// right with the new values, so the CASE must see the old holder.
	s.qAcquire = q(`UPDATE {p}lease SET
		epoch = CASE WHEN holder = ? THEN epoch ELSE epoch + 1 END,
		holder = ?,
		expiry_ms = {now} + ?
		WHERE grp = ? AND (holder = '' OR holder = ? OR expiry_ms <= {now})`)
	s.qReadLease = q(`SELECT holder, epoch, expiry_ms, {now} FROM {p}lease WHERE grp = ?`)
	s.qRenew = q(`UPDATE {p}lease SET expiry_ms = {now} + ?
		WHERE grp = ? AND holder = ? AND epoch = ? AND expiry_ms > {now}`)
	s.qRelease = q(`UPDATE {p}lease SET expiry_ms = {now}
		WHERE grp = ? AND holder = ? AND epoch = ? AND expiry_ms > {now}`)
	s.qLockGroup = q(`SELECT epoch FROM {p}lease WHERE grp = ?{forupdate}`)
	s.qLiveOthers = q(`SELECT node FROM {p}members WHERE grp = ? AND node <> ? AND live_until_ms > {now} ORDER BY node`)
	s.qUpsertMember = q(`INSERT INTO {p}members
		(grp, node, api_addr, repl_addr, data_addr, started_ms, in_sync, seen_ms, live_until_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, {now}, {now} + ?) ` + s.d.upsertMember)
	s.qMembers = q(`SELECT node, api_addr, repl_addr, data_addr, started_ms, in_sync, seen_ms, live_until_ms, {now}
		FROM {p}members WHERE grp = ? ORDER BY node`)
	s.qPutApp = q(`INSERT INTO {p}apps (grp, app, app_text, app_hash, version, deleted, updated_ms)
		VALUES (?, ?, ?, ?, 1, 0, {now}) ` + s.d.upsertApp)
	s.qReadApp = q(`SELECT version, updated_ms FROM {p}apps WHERE grp = ? AND app = ?`)
	s.qDeleteApp = q(`UPDATE {p}apps SET app_text = ?, app_hash = '', version = version + 1, deleted = 1, updated_ms = {now}
		WHERE grp = ? AND app = ? AND deleted = 0`)
	s.qApps = q(`SELECT app, app_text, app_hash, version, updated_ms FROM {p}apps WHERE grp = ? AND deleted = 0`)
}

// init creates the tables if missing and the group's lease row.
func (s *Store) init(ctx context.Context) error {
	ddl := []string{
		`CREATE TABLE IF NOT EXISTS {p}lease (
			grp {key} NOT NULL PRIMARY KEY,
			holder {key} NOT NULL,
			epoch BIGINT NOT NULL,
			expiry_ms BIGINT NOT NULL){tableopts}`,
		`CREATE TABLE IF NOT EXISTS {p}members (
			grp {key} NOT NULL,
			node {key} NOT NULL,
			api_addr {text} NOT NULL,
			repl_addr {text} NOT NULL,
			data_addr {text} NOT NULL,
			started_ms BIGINT NOT NULL,
			in_sync {text} NOT NULL,
			seen_ms BIGINT NOT NULL,
			live_until_ms BIGINT NOT NULL,
			PRIMARY KEY (grp, node)){tableopts}`,
		// deleted marks a tombstone, which keeps the version of a deleted
		// app so that deploying it again counts on from there.
		`CREATE TABLE IF NOT EXISTS {p}apps (
			grp {key} NOT NULL,
			app {key} NOT NULL,
			app_text {blob} NOT NULL,
			app_hash {text} NOT NULL,
			version BIGINT NOT NULL,
			deleted SMALLINT NOT NULL,
			updated_ms BIGINT NOT NULL,
			PRIMARY KEY (grp, app)){tableopts}`,
	}
	if err := s.d.CreateTables(ctx, s.db, s.prefix, 8246117001, ddl); err != nil {
		return err
	}
	// Outside the DDL transaction: MySQL commits DDL implicitly anyway.
	if _, err := s.db.ExecContext(ctx, s.d.query(s.prefix, s.d.insertLease), s.group); err != nil {
		return fmt.Errorf("create lease row: %w", err)
	}
	return nil
}

// inTx runs f in a transaction and commits it if f succeeds.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	return s.d.InTx(ctx, s.db, f)
}

// Heartbeat records node as alive for liveFor on the store clock. The check
// for two other live members and the upsert run in one transaction holding
// the group's lease row lock, so two newcomers racing for one free place
// cannot both get it.
func (s *Store) Heartbeat(ctx context.Context, node coord.NodeInfo, liveFor time.Duration) error {
	if err := check.Node(node); err != nil {
		return fmt.Errorf("sqlcoord: heartbeat: %w", err)
	}
	if err := check.Duration("liveness window", liveFor); err != nil {
		return fmt.Errorf("sqlcoord: heartbeat of %q: %w", node.ID, err)
	}
	var started int64
	if !node.StartedAt.IsZero() {
		started = node.StartedAt.UnixMilli()
	}
	var full []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var epoch int64
		if err := tx.QueryRowContext(ctx, s.qLockGroup, s.group).Scan(&epoch); err != nil {
			return fmt.Errorf("lock group: %w", noRow(err))
		}
		rows, err := tx.QueryContext(ctx, s.qLiveOthers, s.group, node.ID)
		if err != nil {
			return fmt.Errorf("read live members: %w", err)
		}
		live, err := scanStrings(rows)
		if err != nil {
			return fmt.Errorf("read live members: %w", err)
		}
		if len(live) >= 2 {
			full = live
			return nil
		}
		_, err = tx.ExecContext(ctx, s.qUpsertMember, s.group, node.ID, node.APIAddr, node.ReplAddr,
			node.DataAddr, started, node.InSync, liveFor.Milliseconds())
		if err != nil {
			return fmt.Errorf("upsert member: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlcoord: heartbeat of %q in group %q: %w", node.ID, s.group, err)
	}
	if full != nil {
		s.log.Warn("node refused: group full", "node", node.ID, "live", full)
		return fmt.Errorf("sqlcoord: node %q cannot join group %q: %s are alive: %w",
			node.ID, s.group, strings.Join(full, " and "), coord.ErrGroupFull)
	}
	return nil
}

// Members lists the group's nodes in id order.
func (s *Store) Members(ctx context.Context) ([]coord.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.qMembers, s.group)
	if err != nil {
		return nil, fmt.Errorf("sqlcoord: members of %q: %w", s.group, err)
	}
	defer rows.Close()
	var ms []coord.Member
	for rows.Next() {
		var m coord.Member
		var started, seen, until, now int64
		if err := rows.Scan(&m.ID, &m.APIAddr, &m.ReplAddr, &m.DataAddr, &started, &m.InSync, &seen, &until, &now); err != nil {
			return nil, fmt.Errorf("sqlcoord: members of %q: %w", s.group, err)
		}
		if started != 0 {
			m.StartedAt = time.UnixMilli(started).UTC()
		}
		m.LastSeen = time.UnixMilli(seen).UTC()
		m.Alive = until > now
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlcoord: members of %q: %w", s.group, err)
	}
	return ms, nil
}

// Acquire takes the lease for node. A holder re-acquiring its own lease,
// even after it expired or was released, keeps the epoch: nobody else held
// it in between, or the holder would have changed.
func (s *Store) Acquire(ctx context.Context, node string, ttl time.Duration) (coord.Lease, bool, error) {
	if err := check.ID("node id", node); err != nil {
		return coord.Lease{}, false, fmt.Errorf("sqlcoord: acquire: %w", err)
	}
	if err := check.Duration("lease ttl", ttl); err != nil {
		return coord.Lease{}, false, fmt.Errorf("sqlcoord: acquire by %q: %w", node, err)
	}
	var l coord.Lease
	// One transaction, so the lease read back is the one our UPDATE wrote
	// (its row lock is held until commit) rather than a later one.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.qAcquire, node, node, ttl.Milliseconds(), s.group, node); err != nil {
			return fmt.Errorf("update lease: %w", err)
		}
		var err error
		l, err = readLease(ctx, tx, s.qReadLease, s.group)
		return err
	})
	if err != nil {
		return coord.Lease{}, false, fmt.Errorf("sqlcoord: acquire by %q in group %q: %w", node, s.group, err)
	}
	held := l.Holder == node && l.Valid
	if held {
		s.log.Debug("lease held", "node", node, "epoch", l.Epoch, "expiry", l.Expiry)
	}
	return l, held, nil
}

// Renew extends node's lease at epoch by ttl from now on the store clock. It
// fails (false) once the lease has expired, even if nobody took it: the
// holder must then Acquire again, which tells it whether the epoch changed.
func (s *Store) Renew(ctx context.Context, node string, epoch uint64, ttl time.Duration) (bool, error) {
	if err := check.ID("node id", node); err != nil {
		return false, fmt.Errorf("sqlcoord: renew: %w", err)
	}
	if err := check.Duration("lease ttl", ttl); err != nil {
		return false, fmt.Errorf("sqlcoord: renew by %q: %w", node, err)
	}
	ep, err := epochArg(epoch)
	if err != nil {
		return false, fmt.Errorf("sqlcoord: renew by %q: %w", node, err)
	}
	res, err := s.db.ExecContext(ctx, s.qRenew, ttl.Milliseconds(), s.group, node, ep)
	if err != nil {
		return false, fmt.Errorf("sqlcoord: renew by %q at epoch %d in group %q: %w", node, epoch, s.group, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlcoord: renew by %q at epoch %d in group %q: %w", node, epoch, s.group, err)
	}
	return n == 1, nil
}

// Release ends node's lease at epoch now on the store clock, keeping holder
// and epoch. Releasing a lease node does not hold (any more) is a no-op.
func (s *Store) Release(ctx context.Context, node string, epoch uint64) error {
	if err := check.ID("node id", node); err != nil {
		return fmt.Errorf("sqlcoord: release: %w", err)
	}
	ep, err := epochArg(epoch)
	if err != nil {
		return fmt.Errorf("sqlcoord: release by %q: %w", node, err)
	}
	res, err := s.db.ExecContext(ctx, s.qRelease, s.group, node, ep)
	if err != nil {
		return fmt.Errorf("sqlcoord: release by %q at epoch %d in group %q: %w", node, epoch, s.group, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		s.log.Info("lease released", "node", node, "epoch", epoch)
	}
	return nil
}

// Lease reads the current lease.
func (s *Store) Lease(ctx context.Context) (coord.Lease, error) {
	l, err := readLease(ctx, s.db, s.qReadLease, s.group)
	if err != nil {
		return coord.Lease{}, fmt.Errorf("sqlcoord: lease of group %q: %w", s.group, err)
	}
	return l, nil
}

// Close closes the database handle.
func (s *Store) Close() error {
	return s.db.Close()
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readLease(ctx context.Context, q queryRower, query, group string) (coord.Lease, error) {
	var l coord.Lease
	var epoch, expiry, now int64
	if err := q.QueryRowContext(ctx, query, group).Scan(&l.Holder, &epoch, &expiry, &now); err != nil {
		return coord.Lease{}, fmt.Errorf("read lease: %w", noRow(err))
	}
	if epoch < 0 {
		return coord.Lease{}, fmt.Errorf("read lease: negative epoch %d in store", epoch)
	}
	l.Epoch = uint64(epoch)
	l.Expiry = time.UnixMilli(expiry).UTC()
	l.Valid = l.Holder != "" && expiry > now
	return l, nil
}

// noRow explains a missing lease row: it is created by Open, so someone
// removed it behind our back.
func noRow(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lease row missing (tables dropped or emptied while open?): %w", err)
	}
	return err
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func epochArg(epoch uint64) (int64, error) {
	if err := check.Epoch(epoch); err != nil {
		return 0, err
	}
	return int64(epoch), nil
}
