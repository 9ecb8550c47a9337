// Package app wires the workers service together and runs it until its
// context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/lifecycle"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/pool"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/poolmetrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/server"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/vendor"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

// Options are what tests replace; the zero value is production.
type Options struct {
	// Tracing is passed to tracing.Setup (ServiceName defaults to "workers").
	Tracing tracing.Options
	// Work replaces the runner's sleep and randomness.
	Work work.Options
	// Delivery tunes the consumer client's retries.
	Delivery consumer.Options
}

// App is the wired service.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	tr       *tracing.Provider
	pool     *pool.Pool
	consumer *consumer.Client
	grpc     *grpc.Server
	http     *http.Server
	metrics  *metrics.Provider
	grpcLis  net.Listener
	httpLis  net.Listener
}

// New sets up tracing, the clients, the pool and both listeners.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (a *App, err error) {
	if o.Tracing.ServiceName == "" {
		o.Tracing.ServiceName = "workers"
	}
	tr, err := tracing.Setup(ctx, o.Tracing)
	if err != nil {
		return nil, err
	}
	a = &App{cfg: cfg, log: log, tr: tr}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	a.consumer, err = consumer.New(cfg.ConsumerAddr, tr, log, o.Delivery)
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Every worker may be in a vendor call at once; the default of two idle
	// connections per host would make the others reconnect each time.
	// WORKERS can grow at run time, so allow for the most it may become:
	// only connections actually used are kept, and idle ones time out.
	base.MaxIdleConnsPerHost = config.MaxWorkers
	vc := vendor.New(cfg.VendorURL, tr.HTTPTransport(base))
	a.pool, err = pool.New(pool.Options{
		Live:    cfg.Live,
		Runner:  work.New(tr, vc, o.Work),
		Sink:    a.consumer,
		Tracing: tr,
		Log:     log,
	})
	if err != nil {
		return nil, err
	}
	srv := server.New(a.pool, tr, log)
	a.grpc = grpc.NewServer(tr.GRPCServerOption(nil))
	jobsv1.RegisterWorkerPoolServer(a.grpc, srv)
	mp, err := metrics.New(ctx, o.Tracing.ServiceName)
	if err != nil {
		return nil, err
	}
	a.metrics = mp
	if _, err := poolmetrics.Register(mp.Meter("hidden-bottleneck/workers"), a.pool); err != nil {
		return nil, err
	}
	a.http = &http.Server{Handler: mp.Mount(srv.HTTPHandler()), ReadHeaderTimeout: 5 * time.Second}

	if a.grpcLis, err = lifecycle.Listen(cfg.GRPCAddr, "GRPC_ADDR"); err != nil {
		return nil, err
	}
	if a.httpLis, err = lifecycle.Listen(cfg.HTTPAddr, "HTTP_ADDR"); err != nil {
		return nil, err
	}
	return a, nil
}

// close releases what New made, when New fails.
func (a *App) close() {
	for _, l := range []net.Listener{a.grpcLis, a.httpLis} {
		if l != nil {
			l.Close()
		}
	}
	if a.consumer != nil {
		a.consumer.Close()
	}
	_ = a.tr.Shutdown(context.Background())
}

// GRPCAddr and HTTPAddr are the bound addresses (tests listen on port 0).
func (a *App) GRPCAddr() string { return a.grpcLis.Addr().String() }
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

// Pool is the worker pool (tests read its stats).
func (a *App) Pool() *pool.Pool { return a.pool }

// Tracing is the tracing provider (tests flush it).
func (a *App) Tracing() *tracing.Provider { return a.tr }

// Run serves until ctx ends, then shuts down within SHUTDOWN_TIMEOUT:
// Submit stops taking jobs, the workers finish the queued ones, the
// forwarder delivers every result, HTTP stops, and spans are flushed last.
func (a *App) Run(ctx context.Context) error {
	grpcUnit := lifecycle.GRPC("grpc", a.grpc, a.grpcLis)
	graceful := grpcUnit.Stop
	grpcUnit.Stop = func(ctx context.Context) error {
		// Submits waiting for room answer Unavailable now instead of
		// holding GracefulStop for up to SUBMIT_WAIT.
		a.pool.StopAccepting()
		return graceful(ctx)
	}
	a.log.Info("workers started", "grpc", a.GRPCAddr(), "http", a.HTTPAddr(),
		"workers", a.cfg.Live.Workers, "queue_size", a.cfg.Live.QueueSize, "results_buffer", a.cfg.Live.ResultsBuffer,
		"result_send", a.cfg.Live.ResultSend, "priority_lanes", a.cfg.Live.PriorityLanes,
		"vendor_timeout", a.cfg.Live.VendorTimeout, "forwarders", a.cfg.Live.Forwarders, "vendor_url", a.cfg.VendorURL, "consumer", a.cfg.ConsumerAddr,
		"tracing", a.tr.Enabled())
	return lifecycle.Run(ctx, a.log, a.cfg.ShutdownTimeout,
		lifecycle.Unit{Name: "tracing", Stop: a.tr.Shutdown, Budget: tracing.ShutdownBudget},
		lifecycle.Unit{Name: "metrics", Stop: a.metrics.Shutdown},
		lifecycle.Pprof(a.cfg.PprofAddr),
		lifecycle.Unit{Name: "consumer client", Stop: func(context.Context) error { return a.consumer.Close() }},
		lifecycle.HTTP("http", a.http, a.httpLis),
		lifecycle.Unit{
			Name: "pool",
			Run:  func() error { a.pool.Start(); <-a.pool.Done(); return nil },
			Stop: a.pool.Shutdown,
		},
		grpcUnit,
	)
}

// Run builds the service and runs it until ctx ends.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) error {
	a, err := New(ctx, cfg, log, o)
	if err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("workers: %w", err)
	}
	return nil
}
