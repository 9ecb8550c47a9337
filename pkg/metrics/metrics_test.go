package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
)

func scrape(t *testing.T, h http.Handler) metrics.Families {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want Prometheus text", ct)
	}
	f, err := metrics.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRuntimeProcessAndOwnInstruments(t *testing.T) {
	p, err := metrics.New(context.Background(), "svc-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	depth := 7
	_, err = p.Meter("test").Int64ObservableGauge("pool.queue.depth",
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(depth))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Meter("test").Int64Counter("pool.jobs.completed")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3)

	f := scrape(t, p.Handler())
	for _, name := range []string{
		"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
		"process_cpu_seconds_total", "process_resident_memory_bytes",
		"target_info", "pool_queue_depth", "pool_jobs_completed_total",
	} {
		if _, ok := f[name]; !ok {
			t.Errorf("series %s missing; have %v", name, f.Names())
		}
	}
	if v, ok := f.Value("pool_queue_depth"); !ok || v != 7 {
		t.Errorf("pool_queue_depth = %v, %v; want 7", v, ok)
	}
	depth = 2
	if v, _ := scrape(t, p.Handler()).Value("pool_queue_depth"); v != 2 {
		t.Errorf("pool_queue_depth after a change = %v; want 2 (observed at scrape time)", v)
	}
	if v, _ := f.Value("pool_jobs_completed_total"); v != 3 {
		t.Errorf("pool_jobs_completed_total = %v; want 3", v)
	}
	if _, ok := f.Value("target_info", "service_name", "svc-test"); !ok {
		t.Error("target_info has no service_name=svc-test")
	}
	if v, _ := f.Value("process_resident_memory_bytes"); v <= 0 {
		t.Errorf("process_resident_memory_bytes = %v; want > 0", v)
	}
}

func TestMountKeepsTheServiceMux(t *testing.T) {
	p, err := metrics.New(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	inner := http.NewServeMux()
	inner.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "stats") })
	srv := httptest.NewServer(p.Mount(inner))
	defer srv.Close()

	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(http.MethodGet, "/stats"); code != 200 || body != "stats" {
		t.Errorf("GET /stats = %d %q", code, body)
	}
	if code, body := get(http.MethodGet, "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics = %d, body without go_goroutines", code)
	}
	if code, body := get(http.MethodPost, "/metrics"); code != http.StatusMethodNotAllowed || !strings.Contains(body, `"error"`) {
		t.Errorf("POST /metrics = %d %q; want 405 with a JSON error", code, body)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := metrics.Parse(strings.NewReader("this is { not prometheus\n")); err == nil {
		t.Error("Parse accepted garbage")
	}
}
