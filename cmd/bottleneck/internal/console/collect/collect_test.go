package collect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeWorkers serves /stats and /metrics whose counters grow by 10 jobs
// and 0.5 CPU seconds per call.
func fakeWorkers(t *testing.T) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stats":
			k := n.Add(1)
			fmt.Fprintf(w, `{"queue":{"depth":3,"capacity":40},"results":{"len":4,"cap":4,"mode":"blocking","blocked_now":3},
				"counters":{"submitted":%d,"rejected":%d,"completed":%d,"delivered":%d},
				"config":{"workers":4,"queue_size":40,"results_buffer":4,"result_send":"blocking","forwarders":1},"extra":{"ignored":true}}`,
				10*k, k, 10*k, 10*k)
		case "/metrics":
			k := n.Load()
			fmt.Fprintf(w, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 3.3e+07\n# TYPE pool_workers gauge\npool_workers 4\n# TYPE pool_workers_busy gauge\npool_workers_busy 4\n",
				0.5*float64(k))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPollComputesRatesAndReportsWhatIsDown(t *testing.T) {
	w := fakeWorkers(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there now
	c := New(Config{URLs: map[string]string{Workers: w.URL, Consumer: down.URL}})

	start := time.Now()
	var s *Snapshot
	for i := range 7 {
		s = c.Poll(context.Background(), start.Add(time.Duration(i)*time.Second))
	}
	if s.Workers == nil || s.Workers.Queue.Depth != 3 || s.Workers.Config.Workers != 4 {
		t.Fatalf("workers stats not read: %+v", s.Workers)
	}
	// 11 Submits (10 accepted, 1 refused) per poll, polls 1 s apart.
	if s.Rates.Arrivals < 10.9 || s.Rates.Arrivals > 11.1 || s.Rates.Rejected < 0.9 || s.Rates.Rejected > 1.1 {
		t.Errorf("rates %+v; want 11 arrivals/s, 1 rejected/s", s.Rates)
	}
	if cpu := s.CPU[Workers]; cpu <= 0 {
		t.Errorf("workers CPU %v%%; want > 0 from process_cpu_seconds_total", cpu)
	}
	if s.PeakBusy != 4 || s.PeakOf != 4 {
		t.Errorf("peak busy %v/%v; want 4/4", s.PeakBusy, s.PeakOf)
	}
	if s.Consumer != nil || !strings.Contains(s.Errors[Consumer], "connection refused") {
		t.Errorf("consumer down: stats %+v, error %q; want none and the dial error", s.Consumer, s.Errors[Consumer])
	}
	if _, ok := s.Errors[Workers]; ok {
		t.Errorf("workers reported as failing: %s", s.Errors[Workers])
	}
}

func TestIsPlaceholder(t *testing.T) {
	if !IsPlaceholder(`<h1>🥋: This is not the Jaeger UI you are looking for!</h1>`) {
		t.Error("the module build's placeholder page not recognised")
	}
	if IsPlaceholder(`<!doctype html><html><head><title>Jaeger UI</title></head><body><div id="jaeger-ui-root"></div>`) {
		t.Error("the real UI taken for the placeholder")
	}
}

// StreamArrived runs while the workers' queue holds jobs, and for a while
// after; not for a shallow queue, where it would read every job twice.
func TestArrivedStreamFollowsTheQueue(t *testing.T) {
	c := &Collector{}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	w := &WorkersStats{}
	w.Config.Workers = 4
	at := func(sec int, depth int) bool {
		w.Queue.Depth = depth
		return c.queueHolds(t0.Add(time.Duration(sec)*time.Second), w)
	}
	if !c.queueHolds(t0, nil) {
		t.Error("workers unknown: want the stream on")
	}
	for _, step := range []struct {
		sec, depth int
		want       bool
	}{
		{0, 3, false}, {1, 8, false}, // two per worker: a shallow queue
		{2, 9, true}, {3, 0, true}, {31, 0, true}, // on, and for 30 s after the queue last held jobs
		{32, 0, false}, {40, 40, true},
	} {
		if got := at(step.sec, step.depth); got != step.want {
			t.Errorf("at %ds with %d queued: %v, want %v", step.sec, step.depth, got, step.want)
		}
	}
}
