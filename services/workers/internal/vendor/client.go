// Package vendor is the workers' client of the vendor API (vendor-mock):
// one HTTP call per vendor-api job, traced through the provider's transport
// and bounded by VENDOR_TIMEOUT.
package vendor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds how much of a vendor answer is read (and thrown away) so
// the connection can be reused.
const maxBody = 64 << 10

// Client calls the vendor API.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the vendor at baseURL ("http://localhost:8082").
// rt carries the calls (the tracing provider's transport); nil means
// http.DefaultTransport.
func New(baseURL string, rt http.RoundTripper) *Client {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/"),
		http: &http.Client{
			Transport: rt,
			// A redirect is not an answer the worker understands; report it
			// as the status it is instead of following it somewhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// TimeoutError says the vendor did not answer within VENDOR_TIMEOUT.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("vendor timeout after %s", e.After) }

// StatusError is a non-2xx answer.
type StatusError struct{ Status int }

func (e *StatusError) Error() string { return fmt.Sprintf("vendor answered %d", e.Status) }

var errTimeout = errors.New("vendor timeout")

// Call POSTs {"job_id": jobID} to the vendor path (which starts with /v1/).
// timeout > 0 bounds the whole call. It returns the HTTP status when there
// was an answer (0 otherwise), and an error for a timeout (*TimeoutError),
// a non-2xx answer (*StatusError) or a failed call.
func (c *Client) Call(ctx context.Context, path, jobID string, timeout time.Duration) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errTimeout)
		defer cancel()
	}
	body, err := json.Marshal(struct {
		JobID string `json:"job_id"`
	}{jobID})
	if err != nil {
		return 0, fmt.Errorf("vendor call %s: encode body: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("vendor call %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, c.callError(ctx, path, timeout, err)
	}
	// Draining the body is part of the call: a vendor that sends headers and
	// then stalls must still be cut by the timeout.
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, c.callError(ctx, path, timeout, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &StatusError{Status: resp.StatusCode}
	}
	return resp.StatusCode, nil
}

func (c *Client) callError(ctx context.Context, path string, timeout time.Duration, err error) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return &TimeoutError{After: timeout}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("vendor call %s abandoned: %w", path, context.Cause(ctx))
	}
	return fmt.Errorf("vendor call %s failed: %w", path, err)
}
