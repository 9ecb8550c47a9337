package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// remoteParent is the context an otelgrpc/otelhttp server span leaves for a
// handler: a caller's span, sampled or not.
func remoteParent(sampled bool) context.Context {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	var flags trace.TraceFlags
	if sampled {
		flags = trace.FlagsSampled
	}
	return trace.ContextWithRemoteSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true}))
}

// TestRemoteParentDecidesSampling: with a parent-based sampler (the
// default), a trace that arrives unsampled stays unsampled in this process
// too, down to the traceparent it sends on; with a sampler that ignores
// parents, the local decision stands.
func TestRemoteParentDecidesSampling(t *testing.T) {
	tests := []struct {
		sampler       string
		remoteSampled bool
		wantExported  bool
	}{
		{"", false, false},
		{"", true, true},
		{"parentbased_always_off", true, true},
		{"parentbased_always_off", false, false},
		{"always_on", false, true},
		{"always_off", true, false},
	}
	for _, tt := range tests {
		name := tt.sampler
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", tt.sampler)
			p, exp := newTestProvider(t, "sampling")
			ctx, entry := p.StartSpan(remoteParent(tt.remoteSampled), "server.entry")
			cctx, child := p.StartSpan(ctx, "child")
			out := trace.SpanContextFromContext(p.ContextWithTracez(cctx))
			child.Finish()
			entry.Finish()

			got := len(flush(t, p, exp))
			want := 0
			if tt.wantExported {
				want = 2
			}
			if got != want {
				t.Errorf("remote sampled=%v: exported %d spans, want %d", tt.remoteSampled, got, want)
			}
			if out.IsSampled() != tt.wantExported {
				t.Errorf("outgoing traceparent sampled=%v, want %v", out.IsSampled(), tt.wantExported)
			}
		})
	}
}

func TestDecisionsAreBounded(t *testing.T) {
	d := newDecisions(3)
	id := func(b byte) trace.TraceID { return trace.TraceID{15: b} }
	for i := byte(1); i <= 5; i++ {
		d.put(id(i), i%2 == 0)
	}
	if len(d.m) != 3 {
		t.Fatalf("%d decisions kept, want 3", len(d.m))
	}
	for i := byte(1); i <= 2; i++ {
		if _, ok := d.get(id(i)); ok {
			t.Errorf("decision %d survived eviction", i)
		}
	}
	if s, ok := d.get(id(4)); !ok || !s {
		t.Errorf("decision 4 = %v, %v; want sampled", s, ok)
	}
	d.put(id(5), true) // an update, not a new entry
	if s, _ := d.get(id(5)); !s || len(d.m) != 3 {
		t.Errorf("update of 5: sampled=%v, %d entries", s, len(d.m))
	}
}
