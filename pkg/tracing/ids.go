package tracing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/trace"
)

// idsKey carries the IDs a bridged span must get into the SDK's IDGenerator.
type idsKey struct{}

type spanIDs struct {
	traceID trace.TraceID
	spanID  trace.SpanID
}

// idGenerator hands the SDK the IDs tracez already chose. Spans started
// without such IDs (the otelhttp/otelgrpc transport spans) get random ones.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(idsKey{}).(*spanIDs); ok {
		return ids.traceID, ids.spanID
	}
	return randomTraceID(), randomSpanID()
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if ids, ok := ctx.Value(idsKey{}).(*spanIDs); ok {
		return ids.spanID
	}
	return randomSpanID()
}

func randomTraceID() trace.TraceID {
	var t trace.TraceID
	for t == (trace.TraceID{}) {
		putUint64(t[:8], rand.Uint64())
		putUint64(t[8:], rand.Uint64())
	}
	return t
}

func randomSpanID() trace.SpanID {
	var s trace.SpanID
	for s == (trace.SpanID{}) {
		putUint64(s[:], rand.Uint64())
	}
	return s
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// errMalformed marks a tracez span whose IDs cannot be W3C IDs.
var errMalformed = errors.New("malformed span IDs")

// parseIDs checks a finished tracez span's IDs. W3C needs a 32-hex-digit
// non-zero trace ID and 16-hex-digit non-zero span IDs; anything else would
// be exported under a wrong or colliding identity, so it is rejected.
func parseIDs(s *tracez.Span) (tid trace.TraceID, sid, pid trace.SpanID, err error) {
	if tid, err = trace.TraceIDFromHex(s.TraceID); err != nil {
		return tid, sid, pid, fmt.Errorf("%w: trace ID %q: %v", errMalformed, s.TraceID, err)
	}
	if sid, err = trace.SpanIDFromHex(s.SpanID); err != nil {
		return tid, sid, pid, fmt.Errorf("%w: span ID %q: %v", errMalformed, s.SpanID, err)
	}
	if s.ParentID != "" {
		if pid, err = trace.SpanIDFromHex(s.ParentID); err != nil {
			return tid, sid, pid, fmt.Errorf("%w: parent ID %q: %v", errMalformed, s.ParentID, err)
		}
		if pid == sid {
			return tid, sid, pid, fmt.Errorf("%w: span %s is its own parent", errMalformed, s.SpanID)
		}
	}
	return tid, sid, pid, nil
}
