// Package app wires the vendor mock together: logging, tracing, the fault
// configuration and the HTTP server, run until the context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/lifecycle"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/server"
)

// Run listens on cfg.HTTPAddr and serves until ctx ends (SIGTERM), then
// shuts down within cfg.ShutdownTimeout. Logs go to logOut.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	l, err := lifecycle.Listen(cfg.HTTPAddr, "HTTP_ADDR")
	if err != nil {
		return err
	}
	return Serve(ctx, cfg, l, logOut)
}

// Serve is Run on a listener the caller opened (tests use port 0). It
// closes l.
func Serve(ctx context.Context, cfg config.Config, l net.Listener, logOut io.Writer) (err error) {
	defer func() {
		if err != nil {
			_ = l.Close()
		}
	}()
	log, err := logging.New(logOut, logging.Options{Service: server.ServiceName, Level: cfg.LogLevel, Format: cfg.LogFormat})
	if err != nil {
		return err
	}
	start, err := faults.Preset(cfg.FaultPreset)
	if err != nil {
		return fmt.Errorf("FAULT_PRESET: %w", err)
	}
	tp, err := tracing.Setup(ctx, tracing.Options{ServiceName: server.ServiceName})
	if err != nil {
		return err
	}
	mp, err := metrics.New(ctx, server.ServiceName)
	if err != nil {
		return errors.Join(err, tp.Shutdown(context.WithoutCancel(ctx)))
	}
	decider := faults.NewDecider(cfg.FaultSeed)
	srv, err := server.New(server.Options{Tracing: tp, Log: log, Decider: decider, Faults: start})
	if err != nil {
		return errors.Join(err, tp.Shutdown(context.WithoutCancel(ctx)))
	}
	httpSrv := &http.Server{
		Handler:           mp.Mount(srv.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No write timeout: slow and hung answers are the point.
	}
	httpUnit := lifecycle.HTTP("http", httpSrv, l)
	httpUnit.Stop = func(ctx context.Context) error {
		// End the injected waits first, or a hung call would hold the
		// graceful shutdown until its deadline.
		_ = srv.Stop(ctx)
		return httpSrv.Shutdown(ctx)
	}

	log.InfoContext(ctx, "vendor-mock listening",
		"addr", l.Addr().String(),
		"preset", start.Preset,
		"global", start.Global.String(),
		"seed", decider.Seed(),
		"tracing", tp.Enabled(),
	)
	return lifecycle.Run(ctx, log, cfg.ShutdownTimeout,
		// Stopped last, so spans of the calls drained above are flushed.
		lifecycle.Unit{Name: "tracing", Stop: tp.Shutdown, Budget: tracing.ShutdownBudget},
		lifecycle.Unit{Name: "metrics", Stop: mp.Shutdown},
		lifecycle.Pprof(cfg.PprofAddr),
		httpUnit,
	)
}
