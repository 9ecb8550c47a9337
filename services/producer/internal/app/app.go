// Package app wires the producer together: tracing, logging, the clients of
// the worker pool and the consumer, the load generator and the HTTP server.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/lifecycle"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/scenario"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/server"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/workers"
)

// Run generates load until ctx ends (SIGTERM), then stops generating,
// finishes the submissions in flight and flushes spans last.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	log, err := logging.New(logOut, logging.Options{Service: "producer", Level: cfg.LogLevel, Format: cfg.LogFormat})
	if err != nil {
		return err
	}
	tp, err := tracing.Setup(ctx, tracing.Options{ServiceName: "producer"})
	if err != nil {
		return fmt.Errorf("set up tracing: %w", err)
	}
	flush := lifecycle.Unit{Name: "tracing", Stop: tp.Shutdown, Budget: tracing.ShutdownBudget}
	mp, err := metrics.New(ctx, "producer")
	if err != nil {
		_ = tp.Shutdown(ctx)
		return err
	}
	meters := lifecycle.Unit{Name: "metrics", Stop: mp.Shutdown}

	wc, err := workers.New(cfg.WorkersAddr, tp)
	if err != nil {
		_ = tp.Shutdown(ctx)
		return err
	}
	cc, err := consumer.New(cfg.ConsumerAddr)
	if err != nil {
		_ = wc.Close()
		_ = tp.Shutdown(ctx)
		return err
	}
	clients := lifecycle.Unit{Name: "clients", Stop: func(context.Context) error {
		return errors.Join(wc.Close(), cc.Close())
	}}

	jobs := tracker.New(tracker.Options{
		Pool: wc, Consumer: cc, Tracing: tp, Log: log, RetryAfter: cfg.RetryAfter, MaxAttempts: cfg.MaxAttempts,
	})
	delivery := lifecycle.Unit{Name: "delivery", Run: jobs.Run, Stop: jobs.Stop}
	runner := scenario.NewRunner(scenario.Options{Jobs: jobs, Log: log, Tracing: tp, Control: scenario.NewControl(cfg.Load())})
	genCtx, stopGen := context.WithCancel(context.WithoutCancel(ctx))
	generator := lifecycle.Unit{
		Name: "generator",
		Run:  func() error { return runner.Run(genCtx) },
		Stop: func(ctx context.Context) error { stopGen(); return runner.Drain(ctx) },
	}

	hl, err := lifecycle.Listen(cfg.HTTPAddr, "HTTP_ADDR")
	if err != nil {
		stopGen()
		_ = clients.Stop(ctx)
		_ = tp.Shutdown(ctx)
		return err
	}
	httpSrv := &http.Server{Handler: mp.Mount(server.New(runner, tp, log).Handler()), ReadHeaderTimeout: 5 * time.Second}

	log.Info("producer started", "http", hl.Addr().String(), "workers", cfg.WorkersAddr, "consumer", cfg.ConsumerAddr,
		"scenario", cfg.Scenario, "retry_after", cfg.RetryAfter, "max_attempts", cfg.MaxAttempts, "tracing", tp.Enabled())
	// Stopped in reverse: HTTP (admin bursts finish), generator (in-flight
	// submissions finish), delivery (the consumer confirms what it can
	// before the deadline; the rest is abandoned), connections, metrics,
	// then spans.
	return lifecycle.Run(ctx, log, cfg.ShutdownTimeout, flush, meters, lifecycle.Pprof(cfg.PprofAddr), clients, delivery, generator,
		lifecycle.HTTP("http", httpSrv, hl))
}
