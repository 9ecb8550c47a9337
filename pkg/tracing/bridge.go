package tracing

import (
	"context"
	"strconv"
	"strings"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Reserved tracez tags. They become the OTel span kind and status instead of
// attributes, because Jaeger and every OTel backend read those fields, not
// tags, to draw client/server edges and error markers.
const (
	TagSpanKind = "span.kind"
	TagError    = "error"
)

// bridge turns finished tracez spans into OTel spans.
type bridge struct {
	tracer  trace.Tracer
	sampled func(trace.TraceID) bool
	stats   *counters
}

// onSpanComplete is registered with tracez.Tracer.OnSpanComplete. It runs in
// the goroutine that finished the span, so it must stay cheap and never block:
// the SDK span it ends goes into a bounded, non-blocking queue.
func (b *bridge) onSpanComplete(s tracez.Span) {
	tid, sid, pid, err := parseIDs(&s)
	if err != nil {
		b.stats.malformed.Add(1)
		return
	}
	// Built from Background, never from a context that already holds a span:
	// the only parent the SDK may see is the one tracez recorded.
	ctx := context.WithValue(context.Background(), idsKey{}, &spanIDs{traceID: tid, spanID: sid})
	if s.ParentID != "" {
		flags := trace.TraceFlags(0)
		if b.sampled(tid) {
			flags = trace.FlagsSampled
		}
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    tid,
			SpanID:     pid,
			TraceFlags: flags,
		}))
	}

	kind, status, desc, attrs := mapTags(s.Tags)
	_, span := b.tracer.Start(ctx, s.Name,
		trace.WithTimestamp(s.StartTime),
		trace.WithSpanKind(kind),
		trace.WithAttributes(attrs...),
	)
	if status != codes.Unset {
		span.SetStatus(status, desc)
	}
	span.End(trace.WithTimestamp(s.EndTime))
	b.stats.bridged.Add(1)
}

// mapTags splits tracez tags into OTel kind, status and attributes.
func mapTags(tags map[string]string) (trace.SpanKind, codes.Code, string, []attribute.KeyValue) {
	kind := trace.SpanKindInternal
	status, desc := codes.Unset, ""
	attrs := make([]attribute.KeyValue, 0, len(tags))
	for k, v := range tags {
		switch k {
		case TagSpanKind:
			kind = parseKind(v)
		case TagError:
			switch strings.ToLower(v) {
			case "", "false", "0":
			case "true", "1":
				status = codes.Error
			default:
				status, desc = codes.Error, v
			}
		default:
			attrs = append(attrs, typedAttribute(k, v))
		}
	}
	return kind, status, desc, attrs
}

func parseKind(v string) trace.SpanKind {
	switch strings.ToLower(v) {
	case "server":
		return trace.SpanKindServer
	case "client":
		return trace.SpanKindClient
	case "producer":
		return trace.SpanKindProducer
	case "consumer":
		return trace.SpanKindConsumer
	default:
		return trace.SpanKindInternal
	}
}

// typedAttribute undoes tracez's stringification: SetBoolTag and SetIntTag
// store "true" and "42", which Jaeger should show and filter as a bool and
// a number. Only canonical forms are converted, so "007" or "1e3" stay the
// strings they were, and every value still reads back as the same text.
func typedAttribute(k, v string) attribute.KeyValue {
	switch v {
	case "true":
		return attribute.Bool(k, true)
	case "false":
		return attribute.Bool(k, false)
	}
	if len(v) > 0 && len(v) <= 18 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
			return attribute.Int64(k, n)
		}
	}
	return attribute.String(k, v)
}
