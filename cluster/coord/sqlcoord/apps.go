package sqlcoord

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

// PutApp inserts or replaces the app name of the group. The upsert counts
// the version up from the row's (or its tombstone's); it and the read-back
// run in one transaction holding the row lock, so concurrent puts of one
// app get consecutive versions and each reads its own.
func (s *Store) PutApp(ctx context.Context, name string, text []byte) (coord.App, error) {
	if err := check.App(name, text); err != nil {
		return coord.App{}, fmt.Errorf("sqlcoord: put app: %w", err)
	}
	if text == nil {
		text = []byte{} // nil would be NULL
	}
	app := coord.App{Name: name, Text: bytes.Clone(text), Hash: coord.AppHash(text)}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.qPutApp, s.group, name, text, app.Hash); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		var version, updated int64
		if err := tx.QueryRowContext(ctx, s.qReadApp, s.group, name).Scan(&version, &updated); err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		if version <= 0 {
			return fmt.Errorf("read back: version %d in store", version)
		}
		app.Version = uint64(version)
		app.Updated = time.UnixMilli(updated).UTC()
		return nil
	})
	if err != nil {
		return coord.App{}, fmt.Errorf("sqlcoord: put app %q in group %q: %w", name, s.group, err)
	}
	s.log.Info("app stored", "app", name, "version", app.Version, "hash", app.Hash)
	return app, nil
}

// DeleteApp turns the app's row into a tombstone with the next version.
func (s *Store) DeleteApp(ctx context.Context, name string) error {
	if err := check.ID("app name", name); err != nil {
		return fmt.Errorf("sqlcoord: delete app: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.qDeleteApp, []byte{}, s.group, name)
	if err != nil {
		return fmt.Errorf("sqlcoord: delete app %q in group %q: %w", name, s.group, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlcoord: delete app %q in group %q: %w", name, s.group, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlcoord: delete app %q in group %q: %w", name, s.group, coord.ErrNoApp)
	}
	s.log.Info("app deleted", "app", name)
	return nil
}

// Apps lists the group's apps in byte order of their names (the database's
// collation may order differently, so they are sorted here).
func (s *Store) Apps(ctx context.Context) ([]coord.App, error) {
	rows, err := s.db.QueryContext(ctx, s.qApps, s.group)
	if err != nil {
		return nil, fmt.Errorf("sqlcoord: apps of group %q: %w", s.group, err)
	}
	defer rows.Close()
	var apps []coord.App
	for rows.Next() {
		var a coord.App
		var version, updated int64
		if err := rows.Scan(&a.Name, &a.Text, &a.Hash, &version, &updated); err != nil {
			return nil, fmt.Errorf("sqlcoord: apps of group %q: %w", s.group, err)
		}
		if a.Text == nil {
			a.Text = []byte{}
		}
		if version <= 0 {
			return nil, fmt.Errorf("sqlcoord: app %q of group %q: version %d in store", a.Name, s.group, version)
		}
		if h := coord.AppHash(a.Text); h != a.Hash {
			return nil, fmt.Errorf("sqlcoord: app %q of group %q: stored hash %.12s does not match its text (%.12s): row altered outside Tandem?",
				a.Name, s.group, a.Hash, h)
		}
		a.Version = uint64(version)
		a.Updated = time.UnixMilli(updated).UTC()
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlcoord: apps of group %q: %w", s.group, err)
	}
	slices.SortFunc(apps, func(a, b coord.App) int { return strings.Compare(a.Name, b.Name) })
	return apps, nil
}
