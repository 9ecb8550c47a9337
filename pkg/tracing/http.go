package tracing

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// HTTPHandler wraps h with otelhttp server spans named after the request's
// method and route. Requests for which skip returns true are not traced
// (health checks and polling would bury the jobs' traces).
func (p *Provider) HTTPHandler(h http.Handler, skip func(*http.Request) bool) http.Handler {
	opts := []otelhttp.Option{
		otelhttp.WithTracerProvider(p.otelTP),
		otelhttp.WithPropagators(p.prop),
		// Named "METHOD route" once the mux has routed the request (otelhttp
		// calls the formatter again then); the path until then.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			route := r.URL.Path
			if r.Pattern != "" {
				route = r.Pattern
				if _, after, ok := strings.Cut(route, " "); ok {
					route = after
				}
			}
			return r.Method + " " + route
		}),
	}
	if skip != nil {
		opts = append(opts, otelhttp.WithFilter(func(r *http.Request) bool { return !skip(r) }))
	}
	return otelhttp.NewHandler(h, "http.server", opts...)
}

// HTTPTransport wraps base (nil = http.DefaultTransport) so that each request
// gets an otelhttp client span whose parent is the current tracez span, and
// carries its traceparent.
func (p *Provider) HTTPTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	inner := otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(p.otelTP),
		otelhttp.WithPropagators(p.prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "HTTP " + r.Method + " " + r.URL.Path
		}),
	)
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if ctx := p.ContextWithTracez(r.Context()); ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		return inner.RoundTrip(r)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
