// Package jaegerapi is a small typed client for Jaeger's HTTP query API
// (/api/services, /api/traces, /api/traces/{id}), as served by Jaeger v2
// (2.13.0) on port 16686. Every call has a timeout and a cap on the size of
// the answer, so a wrong URL or a huge window can't hang or exhaust the
// caller.
package jaegerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of a Client.
const (
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBodyBytes bounds one answer. A trace of this project is
	// about 20 KB of JSON, so this leaves room for a few thousand while
	// keeping the decoded traces well inside a small container's memory.
	DefaultMaxBodyBytes = 64 << 20
)

// Client queries one Jaeger.
type Client struct {
	base    *url.URL
	http    *http.Client
	maxBody int64
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (its Timeout is the per-call timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout sets the time one call may take, body included.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		hc := *c.http
		hc.Timeout = d
		c.http = &hc
	}
}

// WithMaxBodyBytes caps the size of one answer.
func WithMaxBodyBytes(n int64) Option { return func(c *Client) { c.maxBody = n } }

// New returns a client for the Jaeger query service at baseURL, e.g.
// http://localhost:16686 (a path prefix such as /jaeger is kept).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("jaeger URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jaeger URL %q: want http(s)://host:port", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: DefaultTimeout}, maxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL returns the base URL the client talks to.
func (c *Client) URL() string { return c.base.String() }

// Query selects traces, as Jaeger's search form does.
type Query struct {
	Service   string // required
	Operation string
	Start     time.Time // spans starting at or after
	End       time.Time // spans starting at or before
	Limit     int       // at most this many traces, newest first; 0 = Jaeger's default (100)
	Tags      map[string]string
}

// FindTraces returns the traces with a span of q.Service matching q, each
// complete: Jaeger's search answers with whole traces (every service's
// spans), not just the matching spans.
func (c *Client) FindTraces(ctx context.Context, q Query) ([]Trace, error) {
	if q.Service == "" {
		return nil, errors.New("find traces: service is required")
	}
	v := url.Values{"service": {q.Service}}
	if q.Operation != "" {
		v.Set("operation", q.Operation)
	}
	if !q.Start.IsZero() {
		v.Set("start", strconv.FormatInt(q.Start.UnixMicro(), 10))
	}
	if !q.End.IsZero() {
		v.Set("end", strconv.FormatInt(q.End.UnixMicro(), 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if len(q.Tags) > 0 {
		tags, err := json.Marshal(q.Tags)
		if err != nil {
			return nil, fmt.Errorf("find traces: tags: %w", err)
		}
		v.Set("tags", string(tags))
	}
	var env envelope[[]Trace]
	if err := c.get(ctx, "/api/traces", v, &env); err != nil {
		return nil, err
	}
	return env.Data, nil
}

// ErrTraceNotFound is returned by Trace for an unknown trace ID.
var ErrTraceNotFound = errors.New("trace not found")

// Trace returns one whole trace.
func (c *Client) Trace(ctx context.Context, traceID string) (Trace, error) {
	var env envelope[[]Trace]
	err := c.get(ctx, "/api/traces/"+url.PathEscape(traceID), nil, &env)
	var se *StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
		return Trace{}, fmt.Errorf("trace %s: %w", traceID, ErrTraceNotFound)
	}
	if err != nil {
		return Trace{}, err
	}
	if len(env.Data) == 0 {
		return Trace{}, fmt.Errorf("trace %s: %w", traceID, ErrTraceNotFound)
	}
	return env.Data[0], nil
}

// Services returns the names of the services Jaeger has spans from.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	var env envelope[[]string]
	if err := c.get(ctx, "/api/services", nil, &env); err != nil {
		return nil, err
	}
	return env.Data, nil
}

// UnreachableError means no HTTP answer came back: nothing listens, the
// host is unknown, or the call timed out.
type UnreachableError struct {
	URL string // Jaeger's base URL
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Jaeger at %s: %s", e.URL, e.Reason())
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Reason says in a few words why the call failed.
func (e *UnreachableError) Reason() string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(e.Err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.Is(e.Err, context.DeadlineExceeded), errors.As(e.Err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case errors.Is(e.Err, context.Canceled):
		return "canceled"
	}
	// url.Error repeats method and URL; the innermost message is enough.
	err := e.Err
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// StatusError is a non-2xx answer; Msg is Jaeger's error message when it
// sent one.
type StatusError struct {
	URL        string // the request URL
	StatusCode int
	Msg        string
}

func (e *StatusError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("Jaeger answered %s to %s", http.StatusText(e.StatusCode), e.URL)
	}
	return fmt.Sprintf("Jaeger answered %d %s to %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.URL, e.Msg)
}

// TooLargeError means an answer exceeded the client's size cap.
type TooLargeError struct {
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("Jaeger's answer to %s is larger than %d MiB; ask for fewer traces (a shorter window or a lower limit)", e.URL, e.Limit>>20)
}

// DecodeError means the answer was not the JSON Jaeger's query API sends,
// e.g. the URL points at some other server.
type DecodeError struct {
	URL string
	Err error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s did not answer like Jaeger's query API: %v", e.URL, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

func (c *Client) get(ctx context.Context, path string, query url.Values, into any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("request %s: %w", u.String(), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &UnreachableError{URL: c.URL(), Err: err}
	}
	defer resp.Body.Close()

	// Read one byte past the cap to tell "exactly at the cap" from "over".
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return &UnreachableError{URL: c.URL(), Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if int64(len(body)) > c.maxBody {
		return &TooLargeError{URL: u.String(), Limit: c.maxBody}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{URL: u.String(), StatusCode: resp.StatusCode, Msg: errorMessage(body)}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return &DecodeError{URL: u.String(), Err: err}
	}
	return nil
}

// errorMessage pulls Jaeger's message out of an error answer, or returns a
// short excerpt of whatever else came back.
func errorMessage(body []byte) string {
	var env envelope[json.RawMessage]
	if json.Unmarshal(body, &env) == nil && len(env.Errors) > 0 {
		msgs := make([]string, 0, len(env.Errors))
		for _, e := range env.Errors {
			msgs = append(msgs, e.Msg)
		}
		return strings.Join(msgs, "; ")
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
