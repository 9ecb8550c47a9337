package tracing

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracez spans have a name, IDs, two times and string tags; nothing else.
// What OTel spans have beyond that (kind, status, links, an end time that
// is not "now") travels in reserved tags that the bridge turns into the
// OTel fields and never exports as attributes.
const (
	// TagLinks holds the span's links: "traceid-spanid" pairs, comma
	// separated. Use AddLink.
	TagLinks = "tracing.links"
	// TagEndTime is an end time in Unix nanoseconds that replaces the
	// moment Finish was called. Use FinishAt.
	TagEndTime = "tracing.end_unix_nano"
)

// Values of TagSpanKind.
const (
	KindServer   = "server"
	KindClient   = "client"
	KindProducer = "producer"
	KindConsumer = "consumer"
	KindInternal = "internal"
)

// maxLinks bounds the links one span carries: a job re-submitted many
// times links only its latest attempts.
const maxLinks = 8

// StartSpanAt starts a span as StartSpan does, with its start moved back
// to start: for a wait whose beginning is known only once it is over (a
// result's stay in a channel, measured when a forwarder takes it). Like the
// remote-parent rewrite in StartSpan, it edits the live tracez span before
// anyone else can see it (TestTracezGetSpanIsLive pins that).
func (p *Provider) StartSpanAt(ctx context.Context, name string, start time.Time) (context.Context, *tracez.ActiveSpan) {
	ctx, span := p.StartSpan(ctx, name)
	if s := tracez.GetSpan(ctx); s != nil && s.SpanID == span.SpanID() && !start.IsZero() {
		s.StartTime = start
	}
	return ctx, span
}

// FinishAt finishes span with end as its end time instead of now: for a
// span whose end is known from elsewhere, such as a job's root that ends
// when the consumer handled the job, which the producer learns a poll
// later. An end before the span's start is taken as its start.
func FinishAt(span *tracez.ActiveSpan, end time.Time) {
	if !end.IsZero() {
		span.SetTag(TagEndTime, strconv.FormatInt(end.UnixNano(), 10))
	}
	span.Finish()
}

// AddLink links span to the span traceID/spanID (W3C hex IDs), e.g. a
// job's second Submit attempt to its first. Malformed IDs are ignored.
func AddLink(span *tracez.ActiveSpan, traceID, spanID string) {
	if _, err := trace.TraceIDFromHex(traceID); err != nil {
		return
	}
	if _, err := trace.SpanIDFromHex(spanID); err != nil {
		return
	}
	link := traceID + "-" + spanID
	prev, _ := span.GetTag(TagLinks)
	if prev != "" {
		links := strings.Split(prev, ",")
		if len(links) >= maxLinks {
			links = links[len(links)-maxLinks+1:]
		}
		link = strings.Join(append(links, link), ",")
	}
	span.SetTag(TagLinks, link)
}

// Inject returns the trace context of the current span in ctx (tracez
// first, then OTel) as a W3C propagation carrier (traceparent, tracestate),
// to travel inside a message: a job carries its root's context through the
// worker pool's queue. Nil when ctx holds no span or tracing is off.
func (p *Provider) Inject(ctx context.Context) map[string]string {
	carrier := propagation.MapCarrier{}
	p.prop.Inject(p.ContextWithTracez(ctx), carrier)
	if len(carrier) == 0 {
		return nil
	}
	return carrier
}

// Extract returns ctx with the span context carried in carrier as its
// remote parent, for StartSpan to hang the next span under: the receiving
// side of Inject. ctx must hold no tracez span (StartSpan prefers one);
// with an empty or invalid carrier, ctx is returned as it is, so the span
// falls back to ctx's own parent (e.g. the gRPC server span).
func (p *Provider) Extract(ctx context.Context, carrier map[string]string) context.Context {
	if len(carrier) == 0 {
		return ctx
	}
	out := p.prop.Extract(ctx, propagation.MapCarrier(carrier))
	if !trace.SpanContextFromContext(out).IsValid() || !trace.SpanContextFromContext(out).IsRemote() {
		return ctx
	}
	return out
}

// parseLinks reads TagLinks.
func parseLinks(v string) []trace.Link {
	var links []trace.Link
	for _, pair := range strings.Split(v, ",") {
		t, s, ok := strings.Cut(strings.TrimSpace(pair), "-")
		if !ok {
			continue
		}
		tid, err := trace.TraceIDFromHex(t)
		if err != nil {
			continue
		}
		sid, err := trace.SpanIDFromHex(s)
		if err != nil {
			continue
		}
		links = append(links, trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true,
		})})
	}
	return links
}

// parseEndTime reads TagEndTime; ok is false when v is not a time.
func parseEndTime(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}
