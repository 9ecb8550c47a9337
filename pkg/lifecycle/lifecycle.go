// Package lifecycle runs a service's servers and background loops until a
// signal or a failure, then stops them in reverse order within a deadline:
// servers stop taking work, in-flight work drains, spans are flushed last.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"syscall"
	"time"

	"google.golang.org/grpc"
)

// Unit is one long-running part of a service.
type Unit struct {
	Name string
	// Run blocks until the unit stops. It may be nil for stop-only units
	// (like flushing spans).
	Run func() error
	// Stop asks the unit to finish its work and return, within ctx.
	Stop func(ctx context.Context) error
	// Budget, when set, gives Stop its own deadline instead of what is left
	// of the shared one. Flushing spans uses it: a drain that runs out the
	// shared deadline must not also cost the spans that explain it.
	Budget time.Duration
}

// Run starts every unit, waits for ctx to end or a unit to fail, then stops
// the units in reverse order, sharing one timeout. It returns the first
// failure and any stop errors.
func Run(ctx context.Context, log *slog.Logger, timeout time.Duration, units ...Unit) error {
	errc := make(chan error, len(units))
	running := 0
	for _, u := range units {
		if u.Run == nil {
			continue
		}
		running++
		go func() {
			err := u.Run()
			if err != nil {
				err = fmt.Errorf("%s: %w", u.Name, err)
			}
			errc <- err
		}()
	}

	var first error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", context.Cause(ctx), "timeout", timeout)
	case err := <-errc:
		running--
		first = err
		if err != nil {
			log.Error("stopping after failure", "err", err)
		}
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	var errs []error
	for i := len(units) - 1; i >= 0; i-- {
		u := units[i]
		if u.Stop == nil {
			continue
		}
		start := time.Now()
		uctx, ucancel := sctx, context.CancelFunc(func() {})
		if u.Budget > 0 {
			uctx, ucancel = context.WithTimeout(context.WithoutCancel(ctx), u.Budget)
		}
		err := u.Stop(uctx)
		ucancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", u.Name, err))
			log.Warn("stop failed", "unit", u.Name, "err", err)
			continue
		}
		log.Debug("stopped", "unit", u.Name, "took", time.Since(start))
	}
	for ; running > 0; running-- {
		select {
		case err := <-errc:
			if err != nil && first == nil {
				first = err
			}
		case <-sctx.Done():
			errs = append(errs, errors.New("units still running at the shutdown deadline"))
			running = 0
		}
	}
	return errors.Join(append([]error{first}, errs...)...)
}

// Listen opens a TCP listener with an error that says what to do when the
// address is taken.
func Listen(addr, envName string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: address already in use; stop whatever holds it or set %s to another address", addr, envName)
		}
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, envName, err)
	}
	return l, nil
}

// HTTP serves srv on l; Stop shuts it down gracefully. Shutting down
// cancels the context of every request in flight (it sets srv.BaseContext),
// so a long request, like a checkout burst an admin asked for, ends early
// and answers with what it has instead of holding the shutdown, and with
// it the drain of the units stopped after it, until the deadline.
// Handlers that do not watch their context are waited for as before.
func HTTP(name string, srv *http.Server, l net.Listener) Unit {
	requests, cancel := context.WithCancel(context.Background())
	base := srv.BaseContext
	srv.BaseContext = func(l net.Listener) context.Context {
		if base == nil {
			return requests
		}
		ctx, stop := context.WithCancel(base(l))
		context.AfterFunc(requests, stop)
		return ctx
	}
	srv.RegisterOnShutdown(cancel)
	return Unit{
		Name: name,
		Run: func() error {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
		Stop: srv.Shutdown,
	}
}

// GRPC serves srv on l; Stop drains in-flight RPCs, or cuts them at the deadline.
func GRPC(name string, srv *grpc.Server, l net.Listener) Unit {
	return Unit{
		Name: name,
		Run:  func() error { return srv.Serve(l) },
		Stop: func(ctx context.Context) error {
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				srv.Stop()
				return fmt.Errorf("in-flight RPCs cut at deadline: %w", ctx.Err())
			}
		},
	}
}

// Pprof serves Go's profiles (PprofHandler) on addr, on a listener of its
// own so they never appear on a service's public port. An empty addr (the
// default) serves nothing. The unit binds its address when it runs, so a
// taken port fails the service through Run, which stops and releases
// everything else, instead of before the other units exist.
func Pprof(addr string) Unit {
	if addr == "" {
		return Unit{Name: "pprof"}
	}
	srv := &http.Server{Handler: PprofHandler(), ReadHeaderTimeout: 5 * time.Second}
	return Unit{
		Name: "pprof",
		Run: func() error {
			l, err := Listen(addr, "PPROF_ADDR")
			if err != nil {
				return err
			}
			return HTTP("pprof", srv, l).Run()
		},
		Stop: srv.Shutdown,
	}
}

// PprofHandler serves net/http/pprof under /debug/pprof/ without touching
// http.DefaultServeMux.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
