package tracing

import (
	"errors"
	"fmt"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/trace"
)

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
