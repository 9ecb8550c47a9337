// Package app wires the consumer together: tracing, logging, the gRPC and
// HTTP servers, and their orderly shutdown.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"

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
	calls := newCallers(nil)
	// Stopped in reverse: HTTP, then gRPC (serves its callers while they
	// are at work, then drains in-flight Delivers), then the ledger, the
	// metrics, then spans.
	return lifecycle.Run(ctx, log, cfg.ShutdownTimeout,
		flush,
		lifecycle.Unit{Name: "metrics", Stop: mp.Shutdown},
		book,
		lifecycle.Pprof(cfg.PprofAddr),
		lingering(lifecycle.GRPC("grpc", srv.GRPCServer(grpc.StatsHandler(calls)), gl), calls, cfg.ShutdownTimeout, log),
		lifecycle.HTTP("http", httpSrv, hl),
	)
}

// callerQuiet is how long a connected caller may go without a call before
// the consumer stops waiting for it at shutdown. While the producer waits
// for a confirmation it asks every 100 ms, and a draining worker pool
// delivers a result every 50 ms or so (one PROCESS_DELAY): two seconds
// without either means nobody is waiting for the consumer, even on a
// machine so loaded that a poller misses a beat.
const callerQuiet = 2 * time.Second

// lingering makes the gRPC unit keep serving, once asked to stop, while
// its callers are at work (see callers), for at most three quarters of the
// shutdown timeout: the rest is for the in-flight Delivers to finish.
func lingering(u lifecycle.Unit, calls *callers, timeout time.Duration, log *slog.Logger) lifecycle.Unit {
	graceful := u.Stop
	u.Stop = func(ctx context.Context) error {
		if n := calls.connected(); n > 0 {
			lctx := ctx
			if dl, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				lctx, cancel = context.WithDeadline(ctx, dl.Add(-timeout/4))
				defer cancel()
			}
			began := time.Now()
			log.Info("still taking results while callers are at work", "connections", n)
			why := calls.linger(lctx, callerQuiet)
			log.Info("no longer taking results", "why", why, "after", time.Since(began).Round(time.Millisecond))
		}
		return graceful(ctx)
	}
	return u
}
