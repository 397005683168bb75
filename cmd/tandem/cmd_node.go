package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/tandem-stream/tandem/cluster/node"
	"github.com/tandem-stream/tandem/io/registry"
	"github.com/tandem-stream/tandem/io/source/httpsource"
)

func cmdNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "node config file (YAML); see docs/configuration.md")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file until the node stops")
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
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "tandem node:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "tandem node: cpu profile:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
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

	co, err := node.OpenCoordinator(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 1
	}
	defer co.Close()
	store, closeStore, err := node.OpenStore(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 1
	}
	defer closeStore.Close()
	n, err := node.New(cfg, node.Deps{Coord: co, Store: store, Plans: plans, Logger: log, Connectors: conns})
	if err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 1
	}
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "tandem node:", err)
		return 1
	}
	return 0
}
