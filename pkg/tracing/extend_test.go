package tracing

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

func TestStartSpanAtAndFinishAtSetTheTimes(t *testing.T) {
	p, exp := newTestProvider(t, "extend-test")
	start := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	end := start.Add(250 * time.Millisecond)

	_, span := p.StartSpanAt(context.Background(), "results.channel.wait", start)
	FinishAt(span, end)
	_, early := p.StartSpan(context.Background(), "ends-before-it-starts")
	FinishAt(early, time.Now().Add(-time.Hour))

	got := byName(flush(t, p, exp))
	s := got["results.channel.wait"]
	if !s.StartTime.Equal(start) || !s.EndTime.Equal(end) {
		t.Errorf("span times = %v..%v, want %v..%v", s.StartTime, s.EndTime, start, end)
	}
	for _, a := range s.Attributes {
		if a.Key == TagEndTime {
			t.Errorf("reserved tag %s exported as an attribute", TagEndTime)
		}
	}
	if e := got["ends-before-it-starts"]; !e.EndTime.Equal(e.StartTime) {
		t.Errorf("an end before the start: span %v..%v, want it clamped to its start", e.StartTime, e.EndTime)
	}
}

func TestAddLinkBecomesOTelLinks(t *testing.T) {
	p, exp := newTestProvider(t, "extend-test")
	_, first := p.StartSpan(context.Background(), "job.submit")
	first.Finish()
	_, second := p.StartSpan(context.Background(), "job.submit.2")
	AddLink(second, first.TraceID(), first.SpanID())
	AddLink(second, "not-hex", first.SpanID()) // ignored
	for range maxLinks + 3 {
		AddLink(second, first.TraceID(), first.SpanID())
	}
	second.Finish()

	s := byName(flush(t, p, exp))["job.submit.2"]
	if len(s.Links) != maxLinks {
		t.Fatalf("%d links, want the last %d", len(s.Links), maxLinks)
	}
	l := s.Links[0].SpanContext
	if l.TraceID().String() != first.TraceID() || l.SpanID().String() != first.SpanID() {
		t.Errorf("link = %s/%s, want %s/%s", l.TraceID(), l.SpanID(), first.TraceID(), first.SpanID())
	}
	for _, a := range s.Attributes {
		if a.Key == TagLinks {
			t.Errorf("reserved tag %s exported as an attribute", TagLinks)
		}
	}
}

func TestInjectExtractCarriesTheParentThroughAMessage(t *testing.T) {
	producer, pexp := newTestProvider(t, "producer")
	workers, wexp := newTestProvider(t, "workers")

	rctx, root := producer.StartSpan(context.Background(), "checkout cache-read")
	carrier := producer.Inject(rctx)
	if carrier["traceparent"] == "" {
		t.Fatalf("Inject = %v, want a traceparent", carrier)
	}

	// The receiving side: a server entry whose own parent (the short RPC
	// span) is replaced by the message's.
	rpc := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	_, job := workers.StartSpan(workers.Extract(rpc, carrier), "pool.job")
	job.Finish()
	_, fallback := workers.StartSpan(workers.Extract(rpc, map[string]string{"traceparent": "garbage"}), "fallback")
	fallback.Finish()
	root.Finish()

	r := byName(flush(t, producer, pexp))["checkout cache-read"]
	got := byName(flush(t, workers, wexp))
	j := got["pool.job"]
	if j.SpanContext.TraceID() != r.SpanContext.TraceID() || j.Parent.SpanID() != r.SpanContext.SpanID() {
		t.Errorf("pool.job: trace %s parent %s, want trace %s parent %s",
			j.SpanContext.TraceID(), j.Parent.SpanID(), r.SpanContext.TraceID(), r.SpanContext.SpanID())
	}
	if f := got["fallback"]; f.Parent.SpanID() != (trace.SpanID{2}) {
		t.Errorf("with a bad carrier the parent = %s, want the RPC span %s", f.Parent.SpanID(), trace.SpanID{2})
	}
	if c := producer.Inject(context.Background()); c != nil {
		t.Errorf("Inject without a span = %v, want nil", c)
	}
}
