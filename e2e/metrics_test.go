package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// scrapeMetrics GETs a service's /metrics and parses it as a Prometheus
// scraper would.
func scrapeMetrics(t *testing.T, service string) metrics.Families {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sys.URL(service)+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s /metrics: %v", service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s /metrics: %s", service, resp.Status)
	}
	f, err := metrics.Parse(resp.Body)
	if err != nil {
		t.Fatalf("%s /metrics is not Prometheus text: %v", service, err)
	}
	return f
}

// Every service serves the standard series a dashboard reads; the workers
// add the pool's, and its counters follow the jobs.
func TestMetricsOfEveryService(t *testing.T) {
	standard := []string{
		"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "target_info",
	}
	for _, svc := range []string{stack.Producer, stack.Workers, stack.VendorMock, stack.Consumer} {
		f := scrapeMetrics(t, svc)
		for _, name := range standard {
			if _, ok := f[name]; !ok {
				t.Errorf("%s /metrics: no %s", svc, name)
			}
		}
		if _, ok := f.Value("target_info", "service_name", svc); !ok {
			t.Errorf("%s /metrics: target_info has no service_name=%s", svc, svc)
		}
	}

	before := scrapeMetrics(t, stack.Workers)
	res := checkout(t)
	after := scrapeMetrics(t, stack.Workers)
	for _, name := range []string{
		"pool_workers", "pool_workers_busy", "pool_workers_blocked", "pool_queue_depth", "pool_queue_capacity",
		"pool_results_length", "pool_results_capacity", "pool_jobs_submitted_total", "pool_jobs_rejected_total",
		"pool_jobs_completed_total", "pool_results_delivered_total", "pool_results_blocked_sends_total",
		"pool_results_blocked_time_seconds_total",
	} {
		if _, ok := after[name]; !ok {
			t.Errorf("workers /metrics: no %s", name)
		}
	}
	if got := after.Sum("pool_jobs_completed_total") - before.Sum("pool_jobs_completed_total"); got < float64(res.Total) {
		t.Errorf("pool_jobs_completed_total grew by %v over a %d-job burst", got, res.Total)
	}
	if w, _ := after.Value("pool_workers"); w < 1 {
		t.Errorf("pool_workers = %v", w)
	}
}
