// Package server is the producer's HTTP side: health, stats, the load it
// generates (/admin/load) and on-demand checkout bursts (/admin/checkout).
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/scenario"
)

// Server serves the producer's HTTP endpoints.
type Server struct {
	runner *scenario.Runner
	tp     *tracing.Provider
	log    *slog.Logger
}

// New returns the server for runner.
func New(runner *scenario.Runner, tp *tracing.Provider, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{runner: runner, tp: tp, log: log}
}

// Handler serves /healthz, /stats, /admin/load and /admin/checkout. None is
// traced: each job's trace starts at its own job.submit span.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthcheck.Handler("producer", nil))
	mux.HandleFunc("GET /stats", s.handleStats)
	mux.HandleFunc("GET /admin/load", s.handleGetLoad)
	mux.HandleFunc("PUT /admin/load", s.handlePutLoad)
	mux.HandleFunc("POST /admin/checkout", s.handleCheckout)
	return httpjson.Routes(mux)
}

// LoadView is the JSON of /admin/load.
type LoadView struct {
	Scenario        string       `json:"scenario"`
	Rate            float64      `json:"rate"`
	Mix             scenario.Mix `json:"mix"`
	CheckoutEvery   string       `json:"checkout_every"`
	CheckoutTimeout string       `json:"checkout_timeout"`
	SteadyDuration  string       `json:"steady_duration"`
}

func view(l scenario.Load) LoadView {
	return LoadView{
		Scenario: l.Scenario, Rate: l.Rate, Mix: l.Mix,
		CheckoutEvery: l.CheckoutEvery.String(), CheckoutTimeout: l.CheckoutTimeout.String(), SteadyDuration: l.SteadyDuration.String(),
	}
}

// Stats is the /stats document.
type Stats struct {
	scenario.Stats
	Load    LoadView      `json:"load"`
	Tracing tracing.Stats `json:"tracing"`
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	load, _ := s.runner.Control().Get()
	httpjson.Write(w, http.StatusOK, Stats{Stats: s.runner.Stats(), Load: view(load), Tracing: s.tp.Stats()})
}

func (s *Server) handleGetLoad(w http.ResponseWriter, _ *http.Request) {
	load, _ := s.runner.Control().Get()
	httpjson.Write(w, http.StatusOK, view(load))
}

// loadPatch is a PUT /admin/load body; absent fields stay as they are. A
// mix replaces the whole mix (types left out weigh 0).
type loadPatch struct {
	Scenario        *string            `json:"scenario"`
	Rate            *float64           `json:"rate"`
	Mix             map[string]float64 `json:"mix"`
	CheckoutEvery   *string            `json:"checkout_every"`
	CheckoutTimeout *string            `json:"checkout_timeout"`
	SteadyDuration  *string            `json:"steady_duration"`
}

func (s *Server) handlePutLoad(w http.ResponseWriter, r *http.Request) {
	var p loadPatch
	if err := httpjson.Decode(w, r, &p, 0); err != nil {
		httpjson.WriteError(w, err)
		return
	}
	load, err := s.runner.Control().Update(func(l *scenario.Load) error { return p.apply(l) })
	if err != nil {
		httpjson.WriteError(w, httpjson.BadRequest("%s", err.Error()))
		return
	}
	s.log.InfoContext(r.Context(), "load changed", "scenario", load.Scenario, "rate", load.Rate, "mix", load.Mix.String(),
		"checkout_every", load.CheckoutEvery, "checkout_timeout", load.CheckoutTimeout, "steady_duration", load.SteadyDuration)
	httpjson.Write(w, http.StatusOK, view(load))
}

// apply copies the patch into l; Control.Update validates the result.
func (p loadPatch) apply(l *scenario.Load) error {
	if p.Scenario != nil {
		l.Scenario = *p.Scenario
	}
	if p.Rate != nil {
		l.Rate = *p.Rate
	}
	if p.Mix != nil {
		l.Mix = scenario.Mix(p.Mix)
	}
	for _, d := range []struct {
		name string
		v    *string
		dst  *time.Duration
	}{
		{"checkout_every", p.CheckoutEvery, &l.CheckoutEvery},
		{"checkout_timeout", p.CheckoutTimeout, &l.CheckoutTimeout},
		{"steady_duration", p.SteadyDuration, &l.SteadyDuration},
	} {
		if d.v == nil {
			continue
		}
		v, err := envconfig.ParseDuration(*d.v)
		if err != nil {
			return httpjson.BadRequest("%s %q: want a duration like \"20s\"", d.name, *d.v)
		}
		*d.dst = v
	}
	return nil
}

// checkoutRequest is the optional body of POST /admin/checkout. No body (or
// {}) runs the burst as the scenario does.
type checkoutRequest struct {
	// Timeout replaces CHECKOUT_TIMEOUT for this burst only, like "30s".
	Timeout *string `json:"timeout"`
}

// maxCheckoutBody bounds the body: it holds one short field.
const maxCheckoutBody = 4 << 10

// handleCheckout runs one burst now and answers when it completed or timed
// out. It runs beside the background scenario: each burst has its own batch.
// The burst is always the incident's 20 jobs, in its order.
func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request) {
	var req checkoutRequest
	if _, err := httpjson.DecodeOptional(w, r, &req, maxCheckoutBody); err != nil {
		httpjson.WriteError(w, err)
		return
	}
	load, _ := s.runner.Control().Get()
	timeout := load.CheckoutTimeout
	if req.Timeout != nil {
		d, err := envconfig.ParseDuration(*req.Timeout)
		if err != nil || d < scenario.MinCheckoutTimeout || d > scenario.MaxCheckoutTimeout {
			httpjson.WriteError(w, httpjson.BadRequest("timeout %q: want a duration from %s to %s, like \"30s\"",
				*req.Timeout, scenario.MinCheckoutTimeout, scenario.MaxCheckoutTimeout))
			return
		}
		timeout = d
	}
	rep := s.runner.Checkout(r.Context(), timeout)
	httpjson.Write(w, http.StatusOK, rep)
}
