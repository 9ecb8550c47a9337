package tracing

import (
	"strconv"
	"strings"
	"time"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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
//
// A tracez span arrives finished, with its IDs and times already decided,
// so the bridge builds the finished OTel span directly (a ReadOnlySpan, the
// form span processors and exporters take) instead of re-running it through
// Tracer.Start and End with a context-aware IDGenerator and back-dated
// timestamps. Same result, by construction the same IDs and times, at about
// half the cost: no recording span, no start options, no sampler call per
// span (the trace's decision is computed from its ID, see sampled).
type bridge struct {
	next    sdktrace.SpanProcessor
	res     *resource.Resource
	scope   instrumentation.Scope
	sampled func(trace.TraceID) bool
	stats   *counters
}

// onSpanComplete is registered with tracez.Tracer.OnSpanComplete. It runs in
// the goroutine that finished the span, so it must stay cheap and never
// block: the span goes into a bounded, non-blocking queue.
func (b *bridge) onSpanComplete(s tracez.Span) {
	tid, sid, pid, err := parseIDs(&s)
	if err != nil {
		b.stats.malformed.Add(1)
		return
	}
	if !b.sampled(tid) {
		return
	}
	stub := tracetest.SpanStub{
		Name: s.Name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
		}),
		StartTime:            s.StartTime,
		EndTime:              s.EndTime,
		Resource:             b.res,
		InstrumentationScope: b.scope,
	}
	if s.ParentID != "" {
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: pid, TraceFlags: trace.FlagsSampled,
		})
	}
	var (
		code  codes.Code
		extra extraTags
	)
	stub.SpanKind, code, stub.Status.Description, stub.Attributes, extra = mapTags(s.Tags)
	stub.Status.Code = code
	if extra.links != "" {
		for _, l := range parseLinks(extra.links) {
			stub.Links = append(stub.Links, sdktrace.Link{SpanContext: l.SpanContext})
		}
	}
	if end, ok := parseEndTime(extra.end); ok {
		stub.EndTime = maxTime(end, s.StartTime)
	}
	// tracetest's Snapshot is the SDK's public way to make a ReadOnlySpan
	// from data (the interface has an unexported method).
	b.next.OnEnd(stub.Snapshot())
	b.stats.bridged.Add(1)
}

// extraTags are the reserved tags that carry OTel fields beyond kind and
// status (see extend.go).
type extraTags struct{ links, end string }

// mapTags splits tracez tags into OTel kind, status, attributes and the
// other reserved tags.
func mapTags(tags map[string]string) (trace.SpanKind, codes.Code, string, []attribute.KeyValue, extraTags) {
	var extra extraTags
	kind := trace.SpanKindInternal
	status, desc := codes.Unset, ""
	attrs := make([]attribute.KeyValue, 0, len(tags))
	for k, v := range tags {
		switch k {
		case TagSpanKind:
			kind = parseKind(v)
		case TagLinks:
			extra.links = v
		case TagEndTime:
			extra.end = v
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
	return kind, status, desc, attrs, extra
}

func maxTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
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
