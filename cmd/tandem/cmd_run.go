package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tandem-stream/tandem/deploy"
	"github.com/tandem-stream/tandem/host"
	"github.com/tandem-stream/tandem/io/registry"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
	"github.com/tandem-stream/tandem/io/source/httpsource"
	"github.com/tandem-stream/tandem/persist/fsstore"
)

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// closeServers shuts down the HTTP source listeners left after the sources stopped.
func closeServers(s *httpsource.Servers) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Close(ctx)
}

// loadPlans loads every app file, reporting all their errors.
func loadPlans(files []string, conns deploy.Connectors) ([]*deploy.Plan, error) {
	var plans []*deploy.Plan
	var errs []error
	names := map[string]string{}
	for _, f := range files {
		p, err := deploy.LoadFile(f, conns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := names[p.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: app name %q is already used by %s", f, p.Name, other))
			continue
		}
		names[p.Name] = f
		plans = append(plans, p)
	}
	return plans, errors.Join(errs...)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "tandem-data", "directory for checkpoints")
	interval := fs.Duration("checkpoint-interval", 30*time.Second, "how often to checkpoint each app (0: never)")
	httpListen := fs.String("http-listen", "", "serve every HTTP source on this host:port instead of its receiver.url's")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tandem run [flags] APP.siddhi...\n\nRuns apps on this machine alone; state is checkpointed to --data and restored at start.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "tandem run:", err)
		return 2
	}
	servers := httpsource.NewServers(log)
	defer closeServers(servers)
	conns := registry.Default(servers)
	plans, err := loadPlans(fs.Args(), conns)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	store, err := fsstore.Open(filepath.Join(*dataDir, "checkpoints"), 3)
	if err != nil {
		fmt.Fprintln(stderr, "tandem run:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	type running struct {
		app     *host.App
		sources []source.Source
	}
	var apps []running
	shutdown := func() {
		for _, r := range apps {
			for _, s := range r.sources {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				s.Stop(sctx)
				cancel()
			}
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if m, err := r.app.Checkpoint(cctx); err != nil {
				log.Error("final checkpoint", "app", r.app.Name(), "err", err)
			} else {
				log.Info("final checkpoint", "app", r.app.Name(), "revision", m.Revision, "lsn", m.LSN)
			}
			cancel()
			r.app.Stop()
		}
	}
	for _, p := range plans {
		app := p.NewApp(host.Config{Store: store, Logger: log, CheckpointEvery: *interval}, sink.Env{Logger: log})
		if err := app.Promote(ctx, 0); err != nil {
			fmt.Fprintln(stderr, "tandem run:", err)
			shutdown()
			return 1
		}
		r := running{app: app}
		apps = append(apps, r)
		srcs, err := p.Sources(app, source.Env{Logger: log, HTTPListen: *httpListen})
		if err == nil {
			for _, s := range srcs {
				if err = s.Start(ctx); err != nil {
					break
				}
				apps[len(apps)-1].sources = append(apps[len(apps)-1].sources, s)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "tandem run:", err)
			shutdown()
			return 1
		}
		log.Info("app running", "app", p.Name, "file", p.File)
	}
	<-ctx.Done()
	log.Info("shutting down")
	shutdown()
	return 0
}
