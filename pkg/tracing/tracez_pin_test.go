package tracing

import (
	"context"
	"testing"

	"github.com/zoobzio/tracez"
)

// TestTracezGetSpanIsLive pins the tracez v0.0.13 behaviour that
// Provider.StartSpan relies on for remote parents: GetSpan returns the live
// *Span behind the ActiveSpan (not a copy), so rewriting its TraceID and
// ParentID right after StartSpan changes what Finish reports and what
// children inherit. If a tracez upgrade breaks this, cross-process traces
// fall apart into one trace per service.
func TestTracezGetSpanIsLive(t *testing.T) {
	tr := tracez.New()
	defer tr.Close()
	var finished []tracez.Span
	tr.OnSpanComplete(func(s tracez.Span) { finished = append(finished, s) })

	const remoteTrace, remoteParent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx, span := tr.StartSpan(context.Background(), "server.entry")
	live := tracez.GetSpan(ctx)
	if live == nil {
		t.Fatal("GetSpan returned nil right after StartSpan")
	}
	live.TraceID = remoteTrace
	live.ParentID = remoteParent

	if got := span.TraceID(); got != remoteTrace {
		t.Fatalf("ActiveSpan does not see the rewrite: TraceID = %s", got)
	}
	_, child := tr.StartSpan(ctx, "child")
	child.Finish()
	span.Finish()

	if len(finished) != 2 {
		t.Fatalf("%d spans finished", len(finished))
	}
	c, s := finished[0], finished[1]
	if s.TraceID != remoteTrace || s.ParentID != remoteParent {
		t.Errorf("finished entry span = trace %s parent %s", s.TraceID, s.ParentID)
	}
	if c.TraceID != remoteTrace || c.ParentID != s.SpanID {
		t.Errorf("child = trace %s parent %s, want trace %s parent %s", c.TraceID, c.ParentID, remoteTrace, s.SpanID)
	}
	// And the ID shapes the bridge needs: 32 and 16 lower-case hex digits.
	if len(s.SpanID) != 16 || len(c.SpanID) != 16 {
		t.Errorf("span ID lengths %d, %d", len(s.SpanID), len(c.SpanID))
	}
}

// TestTracezNoHandlerIsNoop pins the other half: without a handler tracez
// hands out no-op spans and puts nothing in the context, which is how
// OTEL_SDK_DISABLED makes tracing free.
func TestTracezNoHandlerIsNoop(t *testing.T) {
	tr := tracez.New()
	defer tr.Close()
	ctx, span := tr.StartSpan(context.Background(), "x")
	if tracez.GetSpan(ctx) != nil || span.TraceID() != "" {
		t.Error("tracez without handlers recorded a span")
	}
}
