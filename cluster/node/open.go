package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/sqlcoord"
	"github.com/tandem-stream/tandem/cluster/coord/zkcoord"
	"github.com/tandem-stream/tandem/persist"
	"github.com/tandem-stream/tandem/persist/fsstore"
	"github.com/tandem-stream/tandem/persist/sqlstore"
)

// OpenCoordinator opens the coordination store the config names.
func OpenCoordinator(ctx context.Context, cfg *Config, log *slog.Logger) (coord.Coordinator, error) {
	c := cfg.Coordination
	opts := sqlcoord.Options{TablePrefix: c.Table, Logger: log}
	var co coord.Coordinator
	var err error
	switch c.Type {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
			return nil, fmt.Errorf("coordination store: %w", err)
		}
		co, err = sqlcoord.OpenSQLite(ctx, c.Path, cfg.Node.Group, opts)
	case "postgres":
		co, err = sqlcoord.OpenPostgres(ctx, c.DSN, cfg.Node.Group, opts)
	case "mysql":
		co, err = sqlcoord.OpenMySQL(ctx, c.DSN, cfg.Node.Group, opts)
	case "zookeeper":
		co, err = zkcoord.Open(ctx, c.Servers, cfg.Node.Group,
			zkcoord.Options{Root: c.Root, SessionTimeout: c.SessionTimeout, Logger: log})
	default:
		return nil, fmt.Errorf("coordination store: unknown type %q", c.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("coordination store (%s): %w", c.Type, err)
	}
	return co, nil
}

// OpenStore opens the checkpoint store the config names. The closer releases
// it (a no-op for the file system).
func OpenStore(ctx context.Context, cfg *Config, log *slog.Logger) (persist.Store, io.Closer, error) {
	ck := cfg.Checkpoint
	opts := sqlstore.Options{TablePrefix: ck.TablePrefix, Keep: ck.Keep, Logger: log}
	var st *sqlstore.Store
	var err error
	switch ck.Store {
	case "fs":
		fs, err := fsstore.Open(filepath.Join(cfg.DataDir, "checkpoints"), ck.Keep, fsstore.WithLogger(log))
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint store: %w", err)
		}
		return fs, nopCloser{}, nil
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(ck.Path), 0o755); err != nil {
			return nil, nil, fmt.Errorf("checkpoint store: %w", err)
		}
		st, err = sqlstore.OpenSQLite(ctx, ck.Path, opts)
	case "postgres":
		st, err = sqlstore.OpenPostgres(ctx, ck.DSN, opts)
	case "mysql":
		st, err = sqlstore.OpenMySQL(ctx, ck.DSN, opts)
	default:
		return nil, nil, fmt.Errorf("checkpoint store: unknown type %q", ck.Store)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint store (%s): %w", ck.Store, err)
	}
	return st, st, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
