// Package server is the vendor mock's HTTP side: the vendor API whose calls
// are slowed, failed or hung by the fault configuration, the admin API that
// changes that configuration at run time, the control page and /stats.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/server/page"
)

// ServiceName is the service's name in logs, health answers and Jaeger.
const ServiceName = "vendor-mock"

// endpoints are the vendor API paths the incident's jobs call.
var endpoints = []string{
	"/v1/payment/authorize",
	"/v1/fraud/check",
	"/v1/shipping/calculate",
	"/v1/tax/calculate",
}

// Options are what a Server needs.
type Options struct {
	Tracing *tracing.Provider
	Log     *slog.Logger
	// Decider draws each call's fate; seed it for reproducible runs.
	Decider *faults.Decider
	// Faults is the starting configuration; it must validate.
	Faults faults.Config
}

// Server serves the vendor API, /admin/faults, the control page, /stats and
// /healthz.
type Server struct {
	tracing *tracing.Provider
	log     *slog.Logger
	decider *faults.Decider

	// faults is read on every vendor call without a lock; writers hold mu
	// so that a PATCH's read-modify-write is not lost to a concurrent one.
	// A stored Config is never modified.
	mu     sync.Mutex
	faults atomic.Pointer[faults.Config]

	stats      *counters
	requestSeq atomic.Uint64
	stopping   chan struct{}
	stopOnce   sync.Once
	handler    http.Handler
}

// New builds a server; Handler serves it.
func New(o Options) (*Server, error) {
	if o.Tracing == nil || o.Log == nil || o.Decider == nil {
		return nil, errors.New("server: Tracing, Log and Decider are required")
	}
	if err := o.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("server: starting fault configuration: %w", err)
	}
	s := &Server{
		tracing:  o.Tracing,
		log:      o.Log,
		decider:  o.Decider,
		stats:    newCounters(),
		stopping: make(chan struct{}),
	}
	cfg := o.Faults.Clone()
	s.faults.Store(&cfg)

	mux := http.NewServeMux()
	// The known endpoints get their own patterns so that their server spans
	// are named after them in Jaeger; any other /v1/ path is served too.
	for _, path := range endpoints {
		mux.HandleFunc(path, s.vendor)
	}
	mux.HandleFunc("/v1/", s.vendor)
	mux.HandleFunc("/admin/faults", s.adminFaults)
	mux.HandleFunc("/admin/faults/presets/{name}", s.adminPreset)
	mux.HandleFunc("GET /stats", s.serveStats)
	mux.Handle("GET /healthz", healthcheck.Handler(ServiceName, s.ready))
	controlPage := page.Handler()
	mux.Handle("GET /{$}", controlPage)
	mux.Handle("GET /static/", controlPage)
	// Only the vendor API is traced: the page polls /stats every second,
	// and admin and health calls would bury the jobs' traces.
	s.handler = o.Tracing.HTTPHandler(httpjson.Routes(mux), func(r *http.Request) bool {
		return !strings.HasPrefix(r.URL.Path, "/v1/")
	})
	return s, nil
}

// Handler serves every route of the server.
func (s *Server) Handler() http.Handler { return s.handler }

// Faults returns the current fault configuration.
func (s *Server) Faults() faults.Config { return s.faults.Load().Clone() }

// Stop makes vendor calls that are waiting on an injected delay or hang
// answer 503 at once, and every later call too, so that a graceful HTTP
// shutdown is not held up by fake latency. Call it before
// http.Server.Shutdown.
func (s *Server) Stop(context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	return nil
}

func (s *Server) ready() error {
	select {
	case <-s.stopping:
		return errors.New("shutting down")
	default:
		return nil
	}
}

// methodNotAllowed answers 405 with the Allow header and a JSON body.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) {
	httpjson.MethodNotAllowed(w, r, allow...)
}
