// Command consumer is the slow end of the worker pool: it takes results over
// gRPC one at a time (by default), 50 ms each, and dedupes them by job ID.
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
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/app"
)

func main() {
	probe := flag.Bool("healthcheck", false, "probe this service's /healthz and exit 0 when healthy")
	flag.Parse()

	cfg, err := config.Load(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *probe {
		os.Exit(healthProbe(cfg.HTTPAddr))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func healthProbe(addr string) int {
	url, err := healthcheck.URL(addr)
	if err == nil {
		err = healthcheck.Probe(context.Background(), url, 2*time.Second)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
