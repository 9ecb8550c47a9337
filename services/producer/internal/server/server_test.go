package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/scenario"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/workers"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func newServer(t *testing.T) (*httptest.Server, *scenario.Runner) {
	t.Helper()
	tp, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "producer", Exporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	pool, sink := &fakes.Pool{}, &fakes.Sink{}
	pool.OnAccept(func(j *jobsv1.Job) { sink.Complete(j.GetId()) })
	addr := fakes.Serve(t, pool, sink)
	wc, _ := workers.New(addr, tp)
	cc, _ := consumer.New(addr)
	t.Cleanup(func() { _ = wc.Close(); _ = cc.Close() })
	jobs := tracker.New(tracker.Options{Pool: wc, Consumer: cc, Tracing: tp, PollEvery: time.Millisecond})
	go func() { _ = jobs.Run() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = jobs.Stop(ctx)
	})
	mix, _ := scenario.ParseMix(scenario.DefaultMix)
	runner := scenario.NewRunner(scenario.Options{
		Jobs: jobs,
		Control: scenario.NewControl(scenario.Load{Scenario: scenario.NameIdle, Rate: 10, Mix: mix,
			CheckoutEvery: 20 * time.Second, CheckoutTimeout: 5 * time.Second}),
	})
	ts := httptest.NewServer(New(runner, tp, nil).Handler())
	t.Cleanup(ts.Close)
	return ts, runner
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminLoadValidation(t *testing.T) {
	ts, runner := newServer(t)
	before, _ := runner.Control().Get()
	for _, c := range []struct {
		body   string
		status int
		names  string
	}{
		{`{"rate": -1}`, 400, "rate"},
		{`{"rate": 5001}`, 400, "rate"},
		{`{"rate": "fast"}`, 400, "rate"},
		{`{"scenario": "chaos"}`, 400, "scenario"},
		{`{"scenario": 1}`, 400, "scenario"},
		{`{"mix": {"cache-read": 1, "blockchain": 1}}`, 400, "blockchain"},
		{`{"mix": {"cache-read": -1, "database": 2}}`, 400, "mix"},
		{`{"mix": {"cache-read": 0}}`, 400, "mix"},
		{`{"mix": {}}`, 400, "mix"},
		{`{"mix": "cache-read=1"}`, 400, "mix"},
		// Each weight is finite but the sum overflows to +Inf.
		{`{"mix": {"cache-read": 1e308, "database": 1e308}}`, 400, `mix.cache-read: weight 1e+308, want a number from 0 to 1e+06`},
		{`{"mix": {"cache-read": 1, "vendor-api": 1000001}}`, 400, "mix.vendor-api: weight"},
		{`{"mix": {"cache-read": 1, "database": -0.5}}`, 400, "mix.database: weight"},
		{`{"mix": {"cache-read": 1e309}}`, 400, "mix"},
		{`{"mix": {"cache-read": 1, "blockchain": 1}}`, 400, "mix.blockchain: unknown job type"},
		{`{"checkout_every": "soon"}`, 400, "checkout_every"},
		{`{"checkout_every": "-1s"}`, 400, "checkout_every"},
		{`{"checkout_timeout": "0"}`, 400, "checkout_timeout"},
		{`{"checkout_timeout": 10}`, 400, "checkout_timeout"},
		{`{"steady_duration": "-1m"}`, 400, "steady_duration"},
		{`{"rate": 50, "scenario": "nope"}`, 400, "scenario"},
		{`{"workers": 8}`, 400, "workers"},
		{`{"rate": 1}{}`, 400, "single JSON object"},
		{`{"mix": {"cache-read": 1, "x": "` + strings.Repeat("y", 70<<10) + `"}}`, 413, "larger"},
	} {
		code, body := do(t, http.MethodPut, ts.URL+"/admin/load", c.body)
		if code != c.status || !strings.Contains(body, c.names) || !strings.Contains(body, `"error"`) {
			t.Errorf("PUT %.60s: %d %s; want %d naming %q", c.body, code, body, c.status, c.names)
		}
		if now, _ := runner.Control().Get(); now.Rate != before.Rate || now.Scenario != before.Scenario || now.Mix.String() != before.Mix.String() {
			t.Fatalf("PUT %.60s changed the load to %+v", c.body, now)
		}
	}

	code, body := do(t, http.MethodPut, ts.URL+"/admin/load", `{"mix": {"cache-read": 1e6, "database": 1e6, "vendor-api": 1e6}}`)
	if code != 200 {
		t.Fatalf("weights at the limit: %d %s, want 200", code, body)
	}
	code, body = do(t, http.MethodPut, ts.URL+"/admin/load", `{"rate": 250, "mix": {"cache-read": 3, "vendor-api": 1}}`)
	var got LoadView
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 {
		t.Fatalf("valid PUT: %d %s", code, body)
	}
	if got.Rate != 250 || got.Mix.String() != "cache-read=3,vendor-api=1" || got.Scenario != "idle" || got.CheckoutEvery != "20s" || got.CheckoutTimeout != "5s" {
		t.Errorf("after a partial PUT: %+v (only rate and mix should change)", got)
	}
	code, body = do(t, http.MethodGet, ts.URL+"/admin/load", "")
	if code != 200 || !strings.Contains(body, `"rate": 250`) {
		t.Errorf("GET /admin/load: %d %s", code, body)
	}
}

func TestAdminCheckout(t *testing.T) {
	ts, _ := newServer(t)
	var wg sync.WaitGroup
	reports := make([]scenario.BurstReport, 2)
	for i := range reports {
		wg.Go(func() {
			code, body := do(t, http.MethodPost, ts.URL+"/admin/checkout", "")
			if code != 200 {
				t.Errorf("POST /admin/checkout: %d %s", code, body)
				return
			}
			if err := json.Unmarshal([]byte(body), &reports[i]); err != nil {
				t.Error(err)
			}
			for _, k := range []string{`"batch"`, `"jobs"`, `"id"`, `"type"`, `"target"`, `"trace_id"`, `"done"`, `"ok"`, `"completed"`, `"total"`, `"duration_ms"`, `"timed_out"`} {
				if !strings.Contains(body, k) {
					t.Errorf("report lacks %s", k)
				}
			}
		})
	}
	wg.Wait()
	for _, r := range reports {
		if r.Completed != 20 || r.Total != 20 || r.TimedOut || len(r.Jobs) != 20 || !r.Jobs[0].Done || r.Jobs[0].TraceID == "" {
			t.Errorf("report %+v", r)
		}
	}
	if reports[0].Batch == reports[1].Batch {
		t.Error("concurrent bursts share a batch")
	}

	code, body := do(t, http.MethodGet, ts.URL+"/stats", "")
	if code != 200 || !strings.Contains(body, `"completed": 2`) || !strings.Contains(body, `"tracing"`) || !strings.Contains(body, `"load"`) {
		t.Errorf("GET /stats: %d %s", code, body)
	}
	if code, _ := do(t, http.MethodGet, ts.URL+"/healthz", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

// POST /admin/checkout takes no body or a valid one; anything else is
// refused like the other admin endpoints, and no burst runs.
func TestAdminCheckoutRejectsBadBodies(t *testing.T) {
	ts, runner := newServer(t)
	post := func(body, ctype string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/checkout", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name, body, ctype string
		status            int
		says              string
	}{
		{"malformed", `{"timeout":`, "application/json", 400, "malformed JSON"},
		{"unknown field", `{"jobs": 5}`, "application/json", 400, `unknown field "jobs"`},
		{"null", `null`, "application/json", 400, "got null"},
		{"array", `[]`, "application/json", 400, "got array"},
		{"wrong type", `{"timeout": 30}`, "application/json", 400, `field "timeout"`},
		{"timeout too long", `{"timeout": "11m"}`, "application/json", 400, `timeout "11m"`},
		{"timeout not a duration", `{"timeout": "soon"}`, "application/json", 400, `timeout "soon"`},
		{"text", `run it`, "text/plain", 415, "Content-Type"},
		{"huge", `{"timeout": "` + strings.Repeat("1", 10<<20) + `s"}`, "application/json", 413, "larger than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(c.body, c.ctype)
			var e struct {
				Error string `json:"error"`
			}
			if code != c.status || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, c.says) {
				t.Errorf("POST %.40q: %d %.200s; want %d with an error saying %q", c.body, code, body, c.status, c.says)
			}
		})
	}
	if b := runner.Stats().Bursts; b.Run != 0 {
		t.Fatalf("rejected requests ran %d bursts", b.Run)
	}
	for _, body := range []string{"", "{}", `{"timeout": "30s"}`} {
		if code, resp := post(body, "application/json"); code != 200 || !strings.Contains(resp, `"completed": 20`) {
			t.Errorf("POST %q: %d %.200s; want a completed burst", body, code, resp)
		}
	}
	if code, _ := post("", ""); code != 200 {
		t.Errorf("POST with no body and no Content-Type (curl -X POST): %d", code)
	}
}

// Every 4xx of the producer, the mux's own 404 and 405 included, is JSON.
func TestUnknownPathsAndMethodsAnswerJSON(t *testing.T) {
	ts, _ := newServer(t)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/admin/checkout", 405, "POST"},
		{http.MethodDelete, "/admin/load", 405, "GET, HEAD, PUT"},
		{http.MethodPost, "/stats", 405, "GET, HEAD"},
		{http.MethodGet, "/admin/nothing", 404, ""},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("%s %s: %d Allow %q %s; want %d Allow %q and a JSON error", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), b, c.status, c.allow)
		}
	}
}
