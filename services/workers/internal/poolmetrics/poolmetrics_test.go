package poolmetrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/pool"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/poolmetrics"
)

type fakePool struct {
	stats      pool.Stats
	workers    int
	idle       int
	statsCalls int
}

func (f *fakePool) Stats() pool.Stats { f.statsCalls++; return f.stats }
func (f *fakePool) Workers() int      { return f.workers }
func (f *fakePool) IdleWorkers() int  { return f.idle }

func TestSeriesFollowTheStats(t *testing.T) {
	mp, err := metrics.New(context.Background(), "workers")
	if err != nil {
		t.Fatal(err)
	}
	src := &fakePool{workers: 4, idle: 0}
	src.stats.Queue = pool.QueueStats{Depth: 37, Capacity: 40}
	src.stats.Results = pool.ResultsStats{Len: 4, Cap: 4, BlockedNow: 3, OverflowLen: 0}
	src.stats.Counters = pool.Counters{
		Submitted: 120, Rejected: 9, Completed: 100, Failed: 2, Delivered: 96,
		BlockedSends: 70, BlockedMSTotal: 2500, DeliveryRetries: 1,
		CompletedByType: map[string]uint64{"cache-read": 60, "database": 20, "vendor-api": 20},
	}
	if _, err := poolmetrics.Register(mp.Meter("test"), src); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	mp.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	f, err := metrics.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"pool_workers":                            4,
		"pool_workers_busy":                       4, // all "busy" ...
		"pool_workers_blocked":                    3, // ... three of them only blocked sending
		"pool_queue_depth":                        37,
		"pool_queue_capacity":                     40,
		"pool_results_length":                     4,
		"pool_results_capacity":                   4,
		"pool_results_overflow_length":            0,
		"pool_jobs_submitted_total":               120,
		"pool_jobs_rejected_total":                9,
		"pool_jobs_failed_total":                  2,
		"pool_results_delivered_total":            96,
		"pool_results_blocked_sends_total":        70,
		"pool_results_blocked_time_seconds_total": 2.5,
		"pool_results_delivery_retries_total":     1,
	}
	for name, v := range want {
		got, ok := f.Value(name)
		if !ok {
			t.Errorf("%s missing; have %v", name, f.Names())
			continue
		}
		if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if got := f.Sum("pool_jobs_completed_total"); got != 100 {
		t.Errorf("pool_jobs_completed_total summed over job_type = %v, want 100", got)
	}
	if got, _ := f.Value("pool_jobs_completed_total", "job_type", "vendor-api"); got != 20 {
		t.Errorf("pool_jobs_completed_total{job_type=vendor-api} = %v, want 20", got)
	}
	if src.statsCalls != 1 {
		t.Errorf("one scrape read Stats %d times, want once", src.statsCalls)
	}
}
