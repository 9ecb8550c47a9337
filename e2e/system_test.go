package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// checkoutResult is the producer's answer to POST /admin/checkout.
type checkoutResult struct {
	Batch      string        `json:"batch"`
	Jobs       []checkoutJob `json:"jobs"`
	Completed  int           `json:"completed"`
	Total      int           `json:"total"`
	DurationMS float64       `json:"duration_ms"`
	TimedOut   bool          `json:"timed_out"`
	// Resubmitted counts the jobs the pool queued again at a later attempt
	// (Requeued > 0), not those only checked on (already_held).
	Resubmitted int `json:"resubmitted"`
}

type checkoutJob struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Target   string `json:"target"`
	TraceID  string `json:"trace_id"`
	Done     bool   `json:"done"`
	OK       bool   `json:"ok"`
	Attempts int    `json:"attempts"`
	Requeued int    `json:"requeued"`
	Outcome  string `json:"outcome"`
}

// checkout runs one checkout burst and returns once the producer says it
// completed; a burst that timed out fails the test.
func checkout(t *testing.T) checkoutResult {
	t.Helper()
	res, err := runCheckout()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checkout %s: %d jobs in %.0f ms", res.Batch, res.Total, res.DurationMS)
	return res
}

// runCheckout is checkout for goroutines other than the test's.
func runCheckout() (checkoutResult, error) {
	var res checkoutResult
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sys.URL(stack.Producer)+"/admin/checkout", nil)
	if err != nil {
		return res, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("POST /admin/checkout: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return res, fmt.Errorf("POST /admin/checkout: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("POST /admin/checkout: %s %s", resp.Status, body)
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("POST /admin/checkout: decoding %s: %w", body, err)
	}
	if res.Total == 0 || len(res.Jobs) != res.Total {
		return res, fmt.Errorf("checkout answered %d jobs of %d: %s", len(res.Jobs), res.Total, body)
	}
	if res.TimedOut || res.Completed != res.Total {
		return res, fmt.Errorf("checkout burst %s: %d of %d jobs completed, timed_out=%v after %.0f ms:\n%s",
			res.Batch, res.Completed, res.Total, res.TimedOut, res.DurationMS, body)
	}
	for _, j := range res.Jobs {
		if j.TraceID == "" {
			return res, fmt.Errorf("job %s has no trace_id: %s", j.ID, body)
		}
	}
	return res, nil
}

// traceIDs returns the trace IDs of the burst's jobs of the given types
// (all types when none are given).
func (r checkoutResult) traceIDs(types ...string) []string {
	var ids []string
	for _, j := range r.Jobs {
		if len(types) == 0 || slices.Contains(types, j.Type) {
			ids = append(ids, j.TraceID)
		}
	}
	return ids
}

func (r checkoutResult) job(traceID string) checkoutJob {
	for _, j := range r.Jobs {
		if j.TraceID == traceID {
			return j
		}
	}
	return checkoutJob{}
}

// setWorkersConfig PUTs a partial config to the workers and restores the
// previous values of the same fields when the test ends.
func setWorkersConfig(t *testing.T, patch map[string]any) {
	t.Helper()
	url := sys.URL(stack.Workers) + "/admin/config"
	var before map[string]any
	if status, body := call(t, http.MethodGet, url, nil, &before); status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	restore := map[string]any{}
	for k := range patch {
		restore[k] = before[k]
	}
	if status, body := call(t, http.MethodPut, url, patch, nil); status != http.StatusOK {
		t.Fatalf("PUT %s %v: %d %s", url, patch, status, body)
	}
	t.Cleanup(func() {
		if status, body := call(t, http.MethodPut, url, restore, nil); status != http.StatusOK {
			t.Errorf("restoring workers config %v: %d %s", restore, status, body)
		}
	})
}

// setVendorPreset switches the vendor's fault preset and goes back to the
// default (degraded) when the test ends.
func setVendorPreset(t *testing.T, preset string) {
	t.Helper()
	base := sys.URL(stack.VendorMock) + "/admin/faults/presets/"
	if status, body := call(t, http.MethodPost, base+preset, nil, nil); status != http.StatusOK {
		t.Fatalf("POST %s%s: %d %s", base, preset, status, body)
	}
	t.Cleanup(func() {
		if status, body := call(t, http.MethodPost, base+"degraded", nil, nil); status != http.StatusOK {
			t.Errorf("restoring the degraded preset: %d %s", status, body)
		}
	})
}

// call sends a JSON request and decodes a JSON answer into out (if not nil).
func call(t *testing.T, method, url string, in, out any) (int, string) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, url, data, err)
		}
	}
	return resp.StatusCode, string(data)
}
