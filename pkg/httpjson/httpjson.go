// Package httpjson reads and writes the JSON bodies of the admin APIs.
// Reading is strict: unknown fields, trailing data and oversized bodies are
// errors with a status code and a message a person can act on.
package httpjson

import (
	"bytes"
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
	// First the syntax, the size and "one value only", then the value's
	// shape: a JSON null decodes into a struct as a silent no-op, and an
	// admin API must not answer "changed" to a body that said nothing.
	var raw json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err, limit)
		}
		return BadRequest("body must hold a single JSON object")
	}
	if kind := jsonKind(raw); kind != "object" {
		if kind == "null" {
			return BadRequest("body: want a JSON object, got null (send {} to change nothing)")
		}
		return BadRequest("body: want a JSON object, got %s", kind)
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	return nil
}

// jsonKind names the kind of a valid JSON value by its first byte.
func jsonKind(raw []byte) string {
	switch raw = bytes.TrimSpace(raw); {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '{':
		return "object"
	case raw[0] == '[':
		return "array"
	case raw[0] == '"':
		return "string"
	case raw[0] == 'n':
		return "null"
	case raw[0] == 't' || raw[0] == 'f':
		return "boolean"
	default:
		return "number"
	}
}

// DecodeOptional is Decode for endpoints whose body may be left out (a
// POST that works as it is): a body of nothing but whitespace, whatever its
// Content-Type, leaves v alone and reports present=false. Anything else
// must pass Decode.
func DecodeOptional(w http.ResponseWriter, r *http.Request, v any, limit int64) (present bool, err error) {
	if limit <= 0 {
		limit = MaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return false, decodeError(err, limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true, Decode(w, r, v, limit)
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

// ErrorBody is the one shape of every 4xx answer of every service:
// {"error": "what was wrong and, where it helps, what to send instead"}.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteError sends an ErrorBody with err's status (400 when err is not an *Error).
func WriteError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	var e *Error
	if errors.As(err, &e) {
		status = e.Status
	}
	Write(w, status, ErrorBody{Error: err.Error()})
}

// NotFound answers 404 in the ErrorBody shape.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no such path: %s", r.URL.Path)})
}

// MethodNotAllowed answers 405 with the Allow header, in the ErrorBody shape.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) {
	list := strings.Join(allow, ", ")
	w.Header().Set("Allow", list)
	WriteError(w, &Error{Status: http.StatusMethodNotAllowed,
		Message: fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, list)})
}

// Routes serves mux, but answers what mux has no route for — an unknown
// path (404) or a known path with another method (405, with Allow) — in the
// ErrorBody shape instead of net/http's plain text, so every 4xx of a
// service reads the same way.
func Routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			// mux.ServeHTTP, not h: it sets the request's pattern and path
			// values on the way.
			mux.ServeHTTP(w, r)
			return
		}
		// No route: run net/http's answer on the side to learn which it is
		// (404, or 405 and what Allow says), then say it in JSON.
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			MethodNotAllowed(w, r, strings.Split(rec.header.Get("Allow"), ", ")...)
		case http.StatusNotFound, 0:
			NotFound(w, r)
		default:
			h.ServeHTTP(w, r) // a redirect or anything else: as net/http says it
		}
	})
}

// headerRecorder keeps a handler's status and headers and drops its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }

func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *headerRecorder) Write(p []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(p), nil
}
