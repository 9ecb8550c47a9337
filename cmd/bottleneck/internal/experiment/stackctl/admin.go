// Package stackctl is the experiment's hold on the system under test:
// its own native stack (pkg/stack on free ports, the services restarted
// with each row's settings so that no row inherits another's backlog) or a
// running stack (--target), changed through the services' admin APIs and
// drained between rows.
package stackctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
)

// admin talks to the services' admin APIs.
type admin struct {
	http     *http.Client
	producer string // base URLs
	workers  string
	vendor   string
	consumer string
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }

// do sends a JSON body (nil for none) and decodes a JSON answer into out
// (nil to ignore it). A non-2xx answer is an error quoting the service.
func (a *admin) do(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, message(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, url, err)
		}
	}
	return nil
}

// message is the "error" of the services' JSON errors, or the body.
func message(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := string(bytes.TrimSpace(data))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// loadBody is the producer's PUT /admin/load for a workload.
func loadBody(w plan.Workload) map[string]any {
	switch {
	case w.Steady != nil:
		return map[string]any{"scenario": "steady", "rate": w.Steady.Rate, "mix": w.Steady.Mix, "steady_duration": "0"}
	case w.Checkout != nil:
		return map[string]any{"scenario": "checkout", "checkout_every": w.Checkout.Every.String(), "checkout_timeout": w.Checkout.Timeout.String()}
	}
	return map[string]any{"scenario": "idle"}
}

func (a *admin) startLoad(ctx context.Context, w plan.Workload) error {
	if err := a.do(ctx, http.MethodPut, a.producer+"/admin/load", loadBody(w), nil); err != nil {
		return fmt.Errorf("starting the load: %w", err)
	}
	return nil
}

func (a *admin) stopLoad(ctx context.Context) error {
	if err := a.do(ctx, http.MethodPut, a.producer+"/admin/load", map[string]any{"scenario": "idle"}, nil); err != nil {
		return fmt.Errorf("stopping the load: %w", err)
	}
	return nil
}
