// Package app wires the consumer together: tracing, logging, the gRPC and
// HTTP servers, and their orderly shutdown.
package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/lifecycle"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/ledger"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/server"
)

// Run serves until ctx ends (SIGTERM), then stops taking results, lets the
// in-flight Delivers finish and flushes spans last.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	log, err := logging.New(logOut, logging.Options{Service: "consumer", Level: cfg.LogLevel, Format: cfg.LogFormat})
	if err != nil {
		return err
	}
	tp, err := tracing.Setup(ctx, tracing.Options{ServiceName: "consumer"})
	if err != nil {
		return fmt.Errorf("set up tracing: %w", err)
	}
	flush := lifecycle.Unit{Name: "tracing", Stop: tp.Shutdown, Budget: tracing.ShutdownBudget}
	mp, err := metrics.New(ctx, "consumer")
	if err != nil {
		_ = tp.Shutdown(ctx)
		return err
	}

	// A ledger that cannot be opened stops the start: running without it
	// would forget every handled job.
	led, err := ledger.Open(ledger.Options{Dir: cfg.DataDir, Capacity: cfg.DedupCapacity})
	if err != nil {
		_ = tp.Shutdown(ctx)
		return err
	}
	// Closed after the gRPC server has drained: the last Delivers record
	// their outcomes first.
	book := lifecycle.Unit{Name: "ledger", Stop: func(context.Context) error { return led.Close() }}

	srv := server.New(server.Options{
		Tracing:  tp,
		Log:      log,
		Settings: server.Settings{ProcessDelay: cfg.ProcessDelay, Concurrency: cfg.Concurrency},
		Ledger:   led,
	})

	gl, err := lifecycle.Listen(cfg.GRPCAddr, "GRPC_ADDR")
	if err != nil {
		_ = led.Close()
		_ = tp.Shutdown(ctx)
		return err
	}
	hl, err := lifecycle.Listen(cfg.HTTPAddr, "HTTP_ADDR")
	if err != nil {
		_ = gl.Close()
		_ = led.Close()
		_ = tp.Shutdown(ctx)
		return err
	}
	httpSrv := &http.Server{Handler: mp.Mount(srv.Handler()), ReadHeaderTimeout: 5 * time.Second}

	log.Info("consumer started", "grpc", gl.Addr().String(), "http", hl.Addr().String(),
		"process_delay", cfg.ProcessDelay, "concurrency", cfg.Concurrency, "dedup_capacity", cfg.DedupCapacity,
		"ledger", led.Path(), "remembered", led.Len(), "handled", led.Counts().Handled, "tracing", tp.Enabled())
	// Stopped in reverse: HTTP, then gRPC (drains in-flight Delivers), then
	// the ledger, then spans.
	return lifecycle.Run(ctx, log, cfg.ShutdownTimeout,
		flush,
		book,
		lifecycle.Pprof(cfg.PprofAddr),
		lifecycle.GRPC("grpc", srv.GRPCServer(), gl),
		lifecycle.HTTP("http", httpSrv, hl),
	)
}
