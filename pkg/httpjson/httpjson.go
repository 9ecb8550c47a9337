// Package httpjson reads and writes the JSON bodies of the admin APIs.
// Reading is strict: unknown fields, trailing data and oversized bodies are
// errors with a status code and a message a person can act on.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxBody is the default request body limit (64 KiB).
const MaxBody = 64 << 10

// Error is a request error with its HTTP status.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// BadRequest returns a 400 error.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Decode reads one JSON value from r's body into v. At most limit bytes
// (MaxBody when limit <= 0) are read; more answers 413.
func Decode(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if limit <= 0 {
		limit = MaxBody
	}
	if ct := r.Header.Get("Content-Type"); !jsonContentType(ct) {
		return &Error{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type %q: want application/json", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err, limit)
		}
		return BadRequest("body must hold a single JSON object")
	}
	return nil
}

// jsonContentType accepts JSON types, none at all, and curl's default for
// -d (application/x-www-form-urlencoded), so `curl -d '{...}'` works as
// people type it; the body is parsed as JSON either way.
func jsonContentType(ct string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(ct)), ";")
	mt = strings.TrimSpace(mt)
	return mt == "" || mt == "application/json" || mt == "application/x-www-form-urlencoded" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func decodeError(err error, limit int64) error {
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body larger than %d bytes", limit)}
	case errors.Is(err, io.EOF):
		return BadRequest("empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("malformed JSON: unexpected end of body")
	case errors.As(err, &syntax):
		return BadRequest("malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return BadRequest("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
		}
		return BadRequest("want %s, got JSON %s", typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return BadRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return BadRequest("invalid JSON: %v", err)
	}
}

// Write sends v as JSON with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError sends {"error": message} with err's status (400 when err is not an *Error).
func WriteError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	var e *Error
	if errors.As(err, &e) {
		status = e.Status
	}
	Write(w, status, map[string]string{"error": err.Error()})
}
