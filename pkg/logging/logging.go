// Package logging builds the services' slog loggers: one line per event,
// tagged with the service name and, when the context holds a span, the
// trace and span IDs, so a log line leads straight to its trace in Jaeger.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// Options select the output.
type Options struct {
	Service string
	// Level: debug, info, warn, error (default info).
	Level string
	// Format: text or json (default text).
	Format string
}

// New returns a logger writing to w.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(orDefault(o.Level, "info"))); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", o.Level)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(orDefault(o.Format, "text")) {
	case "text":
		h = slog.NewTextHandler(w, hopts)
	case "json":
		h = slog.NewJSONHandler(w, hopts)
	default:
		return nil, fmt.Errorf("LOG_FORMAT=%q: want text or json", o.Format)
	}
	l := slog.New(traceHandler{h})
	if o.Service != "" {
		l = l.With("service", o.Service)
	}
	return l, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// traceHandler adds trace_id and span_id from the record's context.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if tid, sid := tracing.SpanContext(ctx); tid != "" {
		r.AddAttrs(slog.String("trace_id", tid), slog.String("span_id", sid))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
