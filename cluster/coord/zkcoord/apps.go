package zkcoord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

// appVersion is the app version of an app znode at znode version v: the
// znode's first version is 0, and every put and delete sets it once.
func appVersion(v int32) uint64 { return uint64(v) + 1 }

// PutApp creates or replaces the app znode. A replacement is set on the
// version read, so concurrent puts each move the version once and each
// get their own.
func (s *Store) PutApp(ctx context.Context, name string, text []byte) (coord.App, error) {
	if err := check.App(name, text); err != nil {
		return coord.App{}, fmt.Errorf("zkcoord: put app: %w", err)
	}
	app := coord.App{Name: name, Text: bytes.Clone(text), Hash: coord.AppHash(text)}
	if app.Text == nil {
		app.Text = []byte{}
	}
	data := encodeApp(appHeader{Hash: app.Hash}, text)
	path := s.appsPath + "/" + escape(name)
	// put returns the new znode version and mtime.
	put := func(c *zk.Conn) ([2]int64, error) {
		exists, st, err := c.Exists(path)
		if err != nil {
			return [2]int64{}, err
		}
		if !exists {
			// With a clock write in the same transaction: its mtime is
			// the creation's, which Create does not return.
			res, err := c.Multi(&zk.CreateRequest{Path: path, Data: data, Acl: s.acl},
				&zk.SetDataRequest{Path: s.clockPath, Version: -1})
			if err != nil {
				return [2]int64{}, err
			}
			if len(res) != 2 || res[1].Stat == nil {
				return [2]int64{}, fmt.Errorf("create: unexpected multi response %+v", res)
			}
			return [2]int64{0, res[1].Stat.Mtime}, nil
		}
		if st.Version == math.MaxInt32 {
			return [2]int64{}, fmt.Errorf("znode %s has reached ZooKeeper's last version; delete it by hand", path)
		}
		st, err = c.Set(path, data, st.Version)
		if err != nil {
			return [2]int64{}, err
		}
		return [2]int64{int64(st.Version), st.Mtime}, nil
	}
	err := retry(ctx, func() error {
		r, err := do(ctx, s, put)
		if err != nil {
			return err
		}
		app.Version, app.Updated = appVersion(int32(r[0])), time.UnixMilli(r[1]).UTC()
		return nil
	})
	if err != nil {
		return coord.App{}, fmt.Errorf("zkcoord: put app %q in group %q: %w", name, s.group, err)
	}
	s.log.Info("app stored", "app", name, "version", app.Version, "hash", app.Hash)
	return app, nil
}

// DeleteApp turns the app znode into a tombstone, on the version read.
func (s *Store) DeleteApp(ctx context.Context, name string) error {
	if err := check.ID("app name", name); err != nil {
		return fmt.Errorf("zkcoord: delete app: %w", err)
	}
	path := s.appsPath + "/" + escape(name)
	tombstone := encodeApp(appHeader{Deleted: true}, nil)
	// del reports whether the app was there to delete.
	del := func(c *zk.Conn) (bool, error) {
		data, st, err := c.Get(path)
		if errors.Is(err, zk.ErrNoNode) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		h, _, err := decodeApp(data)
		if err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		if h.Deleted {
			return false, nil
		}
		_, err = c.Set(path, tombstone, st.Version)
		return err == nil, err
	}
	var gone bool
	err := retry(ctx, func() error {
		found, err := do(ctx, s, del)
		gone = !found
		return err
	})
	if err != nil {
		return fmt.Errorf("zkcoord: delete app %q in group %q: %w", name, s.group, err)
	}
	if gone {
		return fmt.Errorf("zkcoord: delete app %q in group %q: %w", name, s.group, coord.ErrNoApp)
	}
	s.log.Info("app deleted", "app", name)
	return nil
}

// Apps lists the group's apps in byte order of their names. It first syncs
// the server it talks to with the leader, so it sees every app stored
// before the call, through any handle.
func (s *Store) Apps(ctx context.Context) ([]coord.App, error) {
	apps, err := do(ctx, s, func(c *zk.Conn) ([]coord.App, error) {
		if _, err := c.Sync(s.appsPath); err != nil {
			return nil, missing(s.appsPath, err)
		}
		names, _, err := c.Children(s.appsPath)
		if err != nil {
			return nil, missing(s.appsPath, err)
		}
		var apps []coord.App
		for _, n := range names {
			name, err := unescape(n)
			if err != nil {
				return nil, fmt.Errorf("app %s/%s: %w", s.appsPath, n, err)
			}
			data, st, err := c.Get(s.appsPath + "/" + n)
			if errors.Is(err, zk.ErrNoNode) {
				continue // removed by hand meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("read app %q: %w", name, err)
			}
			h, text, err := decodeApp(data)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", s.appsPath, n, err)
			}
			if h.Deleted {
				continue
			}
			apps = append(apps, coord.App{Name: name, Text: bytes.Clone(text), Hash: h.Hash,
				Version: appVersion(st.Version), Updated: time.UnixMilli(st.Mtime).UTC()})
		}
		return apps, nil
	})
	if err != nil {
		return nil, fmt.Errorf("zkcoord: apps of group %q: %w", s.group, err)
	}
	slices.SortFunc(apps, func(a, b coord.App) int { return strings.Compare(a.Name, b.Name) })
	return apps, nil
}
