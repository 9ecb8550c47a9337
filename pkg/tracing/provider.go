package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/grpcclient"
	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName and TracezVersion are the instrumentation scope of every
// bridged tracez span.
const (
	ScopeName     = "github.com/zoobzio/tracez"
	TracezVersion = "v0.0.13"
)

// Defaults chosen so traces show up in Jaeger about a second after a job ends.
const (
	DefaultBatchTimeout = time.Second
	DefaultQueueSize    = 8192
	// remoteDecisions bounds the remembered sampling decisions of traces
	// that arrived from other processes (about 2 MB).
	remoteDecisions = 1 << 16
	// ShutdownBudget is the time Shutdown should get to flush, apart from
	// the time a service spends draining its work.
	ShutdownBudget  = 5 * time.Second
	defaultEndpoint = "http://localhost:4317"
)

// Options configure Setup. Everything else comes from the standard OTEL_*
// environment variables.
type Options struct {
	// ServiceName is used when OTEL_SERVICE_NAME (or service.name in
	// OTEL_RESOURCE_ATTRIBUTES) is not set.
	ServiceName string
	// Exporter replaces the OTLP/gRPC exporter (tests use in-memory ones).
	Exporter sdktrace.SpanExporter
	// BatchTimeout is the longest a finished span waits before export.
	// Zero means DefaultBatchTimeout.
	BatchTimeout time.Duration
	// QueueSize bounds the spans waiting for export; more are dropped and
	// counted. Zero means DefaultQueueSize.
	QueueSize int
	// Disabled turns tracing off (also OTEL_SDK_DISABLED=true): tracez spans
	// become no-ops and nothing is exported. Used to measure tracing's cost.
	Disabled bool
}

// Provider owns one process's tracing: the tracez tracer that application
// code uses, and the OTel pipeline that exports it.
type Provider struct {
	tz      *tracez.Tracer
	tp      *sdktrace.TracerProvider
	bridge  *bridge
	otelTP  trace.TracerProvider
	prop    propagation.TextMapPropagator
	sampled func(trace.TraceID) bool
	remote  *decisions // per-trace decisions of remote parents; nil unless the sampler is parent-based
	stats   *counters
	service string
}

// Setup builds the provider from the environment: OTEL_EXPORTER_OTLP_ENDPOINT
// (default http://localhost:4317), OTEL_EXPORTER_OTLP_INSECURE,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG) and
// OTEL_SDK_DISABLED. Call Shutdown to flush.
func Setup(ctx context.Context, opts Options) (*Provider, error) {
	p := &Provider{
		prop:    propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		stats:   &counters{},
		sampled: func(trace.TraceID) bool { return true },
	}
	if opts.Disabled || strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		// No handler registered: tracez hands out no-op spans, as cheap as
		// tracing can get.
		p.tz = tracez.New()
		p.otelTP = noop.NewTracerProvider()
		p.service = opts.ServiceName
		return p, nil
	}

	root, sampler, parentBased, err := samplerFromEnv()
	if err != nil {
		return nil, err
	}
	rootSampled := func(tid trace.TraceID) bool {
		return root.ShouldSample(sdktrace.SamplingParameters{TraceID: tid}).Decision == sdktrace.RecordAndSample
	}
	p.sampled = rootSampled
	if parentBased {
		// A trace that came in from another process follows the caller's
		// decision (StartSpan records it); only true roots ask the root
		// sampler.
		p.remote = newDecisions(remoteDecisions)
		p.sampled = func(tid trace.TraceID) bool {
			if sampled, ok := p.remote.get(tid); ok {
				return sampled
			}
			return rootSampled(tid)
		}
	}

	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(opts.ServiceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: build resource: %w", err)
	}
	if v, ok := res.Set().Value(semconv.ServiceNameKey); ok {
		p.service = v.AsString()
	}

	exp := opts.Exporter
	if exp == nil {
		// A restarted Jaeger is used again within seconds, not after gRPC's
		// default reconnect backoff of up to two minutes.
		eopts := []otlptracegrpc.Option{otlptracegrpc.WithDialOption(grpcclient.ReconnectWithin(5 * time.Second))}
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			// The SDK's default is TLS to localhost:4317, which no local
			// Jaeger speaks; plain gRPC is what a newcomer's setup needs.
			eopts = append(eopts, otlptracegrpc.WithEndpointURL(defaultEndpoint))
		}
		exp, err = otlptracegrpc.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: create OTLP exporter: %w", err)
		}
	}

	batch := opts.BatchTimeout
	if batch <= 0 {
		batch = DefaultBatchTimeout
	}
	qsize := opts.QueueSize
	if qsize <= 0 {
		qsize = DefaultQueueSize
	}
	bsp := sdktrace.NewBatchSpanProcessor(countingExporter{SpanExporter: exp, stats: p.stats},
		sdktrace.WithBatchTimeout(batch),
		sdktrace.WithMaxQueueSize(qsize),
		// Blocking here only ever blocks the queue's hand-over goroutine.
		sdktrace.WithBlocking(),
	)
	queue := newQueueProcessor(bsp, qsize, p.stats)
	// The provider makes the transport spans (otelhttp, otelgrpc); bridged
	// tracez spans go into the same queue directly.
	p.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithSpanProcessor(queue),
	)
	p.otelTP = p.tp

	p.tz = tracez.New()
	p.bridge = &bridge{
		next:    queue,
		res:     res,
		scope:   instrumentation.Scope{Name: ScopeName, Version: TracezVersion},
		sampled: p.sampled,
		stats:   p.stats,
	}
	p.tz.OnSpanComplete(p.bridge.onSpanComplete)
	return p, nil
}

// Tracez is the tracer application code starts spans with. Prefer
// Provider.StartSpan at a server entry so the span joins the caller's trace.
func (p *Provider) Tracez() *tracez.Tracer { return p.tz }

// TracerProvider is the OTel provider behind the bridge (a no-op one when
// tracing is disabled).
func (p *Provider) TracerProvider() trace.TracerProvider { return p.otelTP }

// Propagator is W3C TraceContext + Baggage.
func (p *Provider) Propagator() propagation.TextMapPropagator { return p.prop }

// ServiceName is the resolved service.name.
func (p *Provider) ServiceName() string { return p.service }

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p.tp != nil }

// Stats returns the span counters.
func (p *Provider) Stats() Stats {
	return Stats{
		Bridged:      p.stats.bridged.Load(),
		Malformed:    p.stats.malformed.Load(),
		Dropped:      p.stats.dropped.Load(),
		Exported:     p.stats.exported.Load(),
		ExportFailed: p.stats.failed.Load(),
	}
}

// ForceFlush exports every span finished so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p.tp == nil {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// Shutdown stops taking spans, exports what is queued and releases
// resources. Spans finished after Shutdown are not exported.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.tz.Close()
	if p.tp == nil {
		return nil
	}
	if err := p.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// samplerFromEnv mirrors the SDK's reading of OTEL_TRACES_SAMPLER but also
// returns the root sampler and whether the sampler follows parents, so that
// bridged spans, whose parents exist only as IDs, get their trace's
// decision: the caller's for a trace from another process, else the root
// sampler's (deterministic per trace ID).
func samplerFromEnv() (root, full sdktrace.Sampler, parentBased bool, err error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.AlwaysSample(), nil
		}
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER_ARG=%q: want a ratio in [0,1]", arg)
		}
		return sdktrace.TraceIDRatioBased(v), nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.AlwaysSample(), sdktrace.ParentBased(sdktrace.AlwaysSample()), true, nil
	case "always_on":
		return sdktrace.AlwaysSample(), sdktrace.AlwaysSample(), false, nil
	case "always_off":
		return sdktrace.NeverSample(), sdktrace.NeverSample(), false, nil
	case "parentbased_always_off":
		return sdktrace.NeverSample(), sdktrace.ParentBased(sdktrace.NeverSample()), true, nil
	case "traceidratio":
		r, err := ratio()
		return r, r, false, err
	case "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, nil, false, err
		}
		return r, sdktrace.ParentBased(r), true, nil
	default:
		return nil, nil, false, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER=%q is not supported (use always_on, always_off, traceidratio or their parentbased_ forms)", name)
	}
}
