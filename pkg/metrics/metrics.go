// Package metrics gives a service the standard metrics a dashboard would
// show, on GET /metrics in Prometheus' text format: the Go runtime and the
// process (CPU seconds, resident memory, goroutines, GC) from client_golang's
// collectors, and the service's own OpenTelemetry instruments through the
// OTel Prometheus exporter.
//
// They are here to make the incident's point, not to diagnose it: with the
// hidden bottleneck, CPU stays low, memory stays flat and every worker
// counts as busy. Only the traces say why.
//
// Each Provider has its own registry (never the global one), so tests can
// run several services in one process.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
)

// Path is where Handler is mounted in every service.
const Path = "/metrics"

// Provider owns one service's registry and meter provider.
type Provider struct {
	reg *prometheus.Registry
	mp  *sdkmetric.MeterProvider
}

// New sets up the registry (Go runtime and process collectors) and an OTel
// MeterProvider exporting into it. service becomes service.name (and
// OTEL_RESOURCE_ATTRIBUTES are honoured), shown in target_info.
func New(ctx context.Context, service string) (*Provider, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("metrics: go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("metrics: process collector: %w", err)
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("metrics: resource: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	return &Provider{reg: reg, mp: mp}, nil
}

// Meter returns a meter for the service's own instruments.
func (p *Provider) Meter(name string) metric.Meter { return p.mp.Meter(name) }

// Handler serves the registry in Prometheus' exposition format. Only GET
// and HEAD are allowed; a collector that fails is reported in the answer's
// comments, and the other series are still served.
func (p *Provider) Handler() http.Handler {
	h := promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpjson.WriteError(w, &httpjson.Error{Status: http.StatusMethodNotAllowed,
				Message: fmt.Sprintf("method %s not allowed on %s; use GET", r.Method, Path)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Mount returns a handler that serves /metrics from p and everything else
// from next, so a service's own mux stays as it is.
func (p *Provider) Mount(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, p.Handler())
	mux.Handle("/", next)
	return mux
}

// Shutdown stops the meter provider; observable callbacks are no longer
// called after it.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.mp.Shutdown(ctx); err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
