// Command producer makes the jobs: the incident's 20-job checkout burst, or
// steady load at a set rate and mix. Each job is the root of its own trace.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/app"
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
		if err := app.Probe(context.Background(), cfg.HTTPAddr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}
