package jaegerapi

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// IsPlaceholderPage reports whether a Jaeger home page is the placeholder
// that a Jaeger built without its UI assets serves (the build from the Go
// module): the query API works, but there is no UI to open a trace in.
func IsPlaceholderPage(page string) bool {
	return strings.Contains(page, "not the Jaeger UI") || strings.Contains(page, "placeholder for the Jaeger UI")
}

// UIPlaceholder GETs Jaeger's home page and reports whether it is the
// placeholder instead of the UI.
func (c *Client) UIPlaceholder(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/", nil)
	if err != nil {
		return false, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, &UnreachableError{URL: c.URL(), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, &UnreachableError{URL: c.URL(), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return false, &StatusError{URL: c.URL() + "/", StatusCode: resp.StatusCode}
	}
	return IsPlaceholderPage(string(body)), nil
}
