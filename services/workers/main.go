// Command workers is the worker pool of hidden-bottleneck: it takes jobs
// over gRPC, runs them on WORKERS goroutines and forwards their results to
// the consumer through the results channel that is the incident's hidden
// bottleneck. See the README's configuration table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/app"
)

func main() {
	probe := flag.Bool("healthcheck", false, "probe this service's /healthz and exit 0 (healthy) or 1")
	flag.Parse()
	if err := run(*probe); err != nil {
		fmt.Fprintln(os.Stderr, "workers:", err)
		os.Exit(1)
	}
}

func run(probe bool) error {
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if probe {
		url, err := healthcheck.URL(cfg.HTTPAddr)
		if err != nil {
			return err
		}
		return healthcheck.Probe(ctx, url, 2*time.Second)
	}
	log, err := logging.New(os.Stderr, logging.Options{Service: "workers", Level: cfg.LogLevel, Format: cfg.LogFormat})
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg, log, app.Options{})
}
