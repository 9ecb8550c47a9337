package tracing

import (
	"context"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/trace"
)

// StartSpan starts a tracez span. When ctx holds no tracez span but does
// hold a valid OTel span (the server span otelhttp/otelgrpc made from the
// caller's traceparent), the new span is made a child of it, so the work
// joins the caller's trace.
//
// tracez has no API for remote parents; GetSpan returns the live *Span,
// whose IDs are rewritten here, before the span is visible to anyone else.
// TestTracezGetSpanIsLive pins that behaviour of tracez v0.0.13.
func (p *Provider) StartSpan(ctx context.Context, name string) (context.Context, *tracez.ActiveSpan) {
	if tracez.GetSpan(ctx) != nil {
		return p.tz.StartSpan(ctx, tracez.Key(name))
	}
	remote := trace.SpanContextFromContext(ctx)
	ctx, span := p.tz.StartSpan(ctx, tracez.Key(name))
	if remote.IsValid() {
		if s := tracez.GetSpan(ctx); s != nil {
			s.TraceID = remote.TraceID().String()
			s.ParentID = remote.SpanID().String()
			if p.remote != nil {
				p.remote.put(remote.TraceID(), remote.IsSampled())
			}
		}
	}
	return ctx, span
}

// ContextWithTracez returns ctx with the current tracez span also set as
// the OTel span context, so that OTel instrumentation (otelhttp's transport,
// otelgrpc's client handler, slog's trace IDs) sees it as the parent.
func (p *Provider) ContextWithTracez(ctx context.Context) context.Context {
	s := tracez.GetSpan(ctx)
	if s == nil {
		return ctx
	}
	tid, err := trace.TraceIDFromHex(s.TraceID)
	if err != nil {
		return ctx
	}
	sid, err := trace.SpanIDFromHex(s.SpanID)
	if err != nil {
		return ctx
	}
	flags := trace.TraceFlags(0)
	if p.sampled(tid) {
		flags = trace.FlagsSampled
	}
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tid,
		SpanID:     sid,
		TraceFlags: flags,
	}))
}

// SpanContext returns the trace and span ID of the innermost span in ctx,
// tracez first, then OTel. Empty strings when there is none.
func SpanContext(ctx context.Context) (traceID, spanID string) {
	if s := tracez.GetSpan(ctx); s != nil {
		return s.TraceID, s.SpanID
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String(), sc.SpanID().String()
	}
	return "", ""
}
