// Command vendor-mock is the vendor API of hidden-bottleneck, with latency
// and faults that can be changed while traffic flows.
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
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/app"
)

func main() {
	probe := flag.Bool("healthcheck", false, "probe this service's /healthz on HTTP_ADDR and exit 0 when healthy (for Docker)")
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
		fmt.Fprintln(os.Stderr, "vendor-mock:", err)
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
