package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/sqlcoord"
	"github.com/tandem-stream/tandem/cluster/node"
	"github.com/tandem-stream/tandem/io/registry"
	"github.com/tandem-stream/tandem/io/source/httpsource"
	"github.com/tandem-stream/tandem/persist/fsstore"
)

func cmdNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "node config file (YAML); see docs/configuration.md")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "Usage: tandem node --config FILE")
		return 2
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 2
	}
	cfg, err := node.LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 1
	}
	servers := httpsource.NewServers(log)
	defer closeServers(servers)
	conns := registry.Default(servers)
	plans, err := loadPlans(cfg.Apps, conns)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var co coord.Coordinator
	opts := sqlcoord.Options{TablePrefix: cfg.Coordination.Table, Logger: log}
	switch cfg.Coordination.Type {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(cfg.Coordination.Path), 0o755); err != nil {
			fmt.Fprintln(stderr, "tandem node:", err)
			return 1
		}
		co, err = sqlcoord.OpenSQLite(ctx, cfg.Coordination.Path, cfg.Node.Group, opts)
	case "postgres":
		co, err = sqlcoord.OpenPostgres(ctx, cfg.Coordination.DSN, cfg.Node.Group, opts)
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem node: coordination store:", err)
		return 1
	}
	defer co.Close()
	store, err := fsstore.Open(filepath.Join(cfg.DataDir, "checkpoints"), cfg.Checkpoint.Keep)
	if err != nil {
		fmt.Fprintln(stderr, "tandem node: checkpoint store:", err)
		return 1
	}
	n := node.New(cfg, node.Deps{Coord: co, Store: store, Plans: plans, Logger: log})
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 1
	}
	return 0
}
