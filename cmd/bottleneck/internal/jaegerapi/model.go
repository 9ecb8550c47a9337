package jaegerapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// The types below mirror the JSON of Jaeger's HTTP query API (the "UI
// model": github.com/jaegertracing/jaeger internal/uimodel, wrapped in
// cmd/query/app's structuredResponse). Only the fields the report reads are
// kept; unknown fields are ignored so a newer Jaeger does not break it.

// envelope is the wrapper of every /api/... answer, errors included.
type envelope[T any] struct {
	Data   T          `json:"data"`
	Total  int        `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Errors []apiError `json:"errors"`
}

type apiError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

// Trace is one trace: every span Jaeger holds for the trace ID, from every
// service, with the processes (services) they came from.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings,omitempty"`
}

// Process is the emitter of a set of spans.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags,omitempty"`
}

// Span is one span. Times are microseconds, as Jaeger sends them.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	ParentSpanID  string      `json:"parentSpanID,omitempty"` // deprecated by Jaeger; References wins
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the Unix epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []KeyValue  `json:"tags"`
	ProcessID     string      `json:"processID,omitempty"`
	Warnings      []string    `json:"warnings,omitempty"`
}

// Reference types.
const (
	ChildOf     = "CHILD_OF"
	FollowsFrom = "FOLLOWS_FROM"
)

// Reference links a span to another one.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// KeyValue is a tag. Value stays raw JSON because its type depends on
// Type, and Jaeger turns int64s beyond JavaScript's safe range into
// strings; the tracez bridge also sends every attribute as a string.
type KeyValue struct {
	Key   string          `json:"key"`
	Type  string          `json:"type,omitempty"`
	Value json.RawMessage `json:"value"`
}

// String returns the value as text: strings unquoted, anything else as
// its JSON literal.
func (kv KeyValue) String() string {
	var s string
	if json.Unmarshal(kv.Value, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(kv.Value))
}

// Float reads a number, whether sent as a JSON number or as text.
func (kv KeyValue) Float() (float64, bool) {
	f, err := strconv.ParseFloat(kv.String(), 64)
	return f, err == nil
}

// Bool reads a boolean, whether sent as JSON true/false or as text.
func (kv KeyValue) Bool() (value, ok bool) {
	b, err := strconv.ParseBool(kv.String())
	return b, err == nil
}

// Tag returns the tag named key.
func (s *Span) Tag(key string) (KeyValue, bool) {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return kv, true
		}
	}
	return KeyValue{}, false
}

// TagString returns the tag named key as text, "" when absent.
func (s *Span) TagString(key string) string {
	kv, ok := s.Tag(key)
	if !ok {
		return ""
	}
	return kv.String()
}

// TagFloat returns the tag named key as a number.
func (s *Span) TagFloat(key string) (float64, bool) {
	kv, ok := s.Tag(key)
	if !ok {
		return 0, false
	}
	return kv.Float()
}

// TagBool reports whether the tag named key is present and true.
func (s *Span) TagBool(key string) bool {
	kv, ok := s.Tag(key)
	if !ok {
		return false
	}
	b, _ := kv.Bool()
	return b
}

// ParentID returns the span's parent in its own trace: the first CHILD_OF
// reference, else the first FOLLOWS_FROM one, else the deprecated
// parentSpanID; "" for a root.
func (s *Span) ParentID() string {
	for _, want := range []string{ChildOf, FollowsFrom} {
		for _, r := range s.References {
			if r.RefType == want && (r.TraceID == "" || r.TraceID == s.TraceID) {
				return r.SpanID
			}
		}
	}
	return s.ParentSpanID
}

// Start returns the span's start time.
func (s *Span) Start() time.Time { return time.UnixMicro(s.StartTime) }

// End returns the span's start plus its duration, in µs.
func (s *Span) End() int64 { return s.StartTime + s.Duration }

// DurationMS returns the span's duration in milliseconds.
func (s *Span) DurationMS() float64 { return float64(s.Duration) / 1e3 }

// Service returns the service name of span, "" when the process is unknown.
func (t *Trace) Service(span *Span) string {
	return t.Processes[span.ProcessID].ServiceName
}
