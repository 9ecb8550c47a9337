package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// The capacity model's scenario matrix on the real stack: each load, fault
// and fix the issue names, and the stage and kind the report must name for
// it. One stack for all of them: the settings change live through the
// admin APIs, each scenario reads the window of its own load, and drains
// the pipeline before the next. Written against the report's JSON so it
// holds on trace contract v1 and v2 alike.

// modelReport is the part of `bottleneck report --json` these tests read.
type modelReport struct {
	Contract string `json:"contract"`
	Period   struct {
		Seconds     float64 `json:"seconds"`
		EndsAt      string  `json:"ends_at"`
		BusyPeriods int     `json:"busy_periods"`
	} `json:"period"`
	Jobs struct {
		Total          int            `json:"total"`
		ByType         map[string]int `json:"by_type"`
		Delivered      int            `json:"delivered"`
		Failed         int            `json:"failed"`
		Rejected       int            `json:"rejected"`
		InFlight       int            `json:"in_flight"`
		HandledEarlier int            `json:"handled_earlier"`
	} `json:"jobs"`
	Config struct {
		ResultsBufferCap int `json:"results_buffer_cap"`
	} `json:"config"`
	Stages []struct {
		Name            string  `json:"name"`
		Kind            string  `json:"kind"`
		ArrivalsPerS    float64 `json:"arrivals_per_s"`
		CompletionsPerS float64 `json:"completions_per_s"`
		ServiceMSAvg    float64 `json:"service_ms_avg"`
		Servers         int     `json:"servers"`
		Utilization     float64 `json:"utilization"`
		CapacityPerS    float64 `json:"capacity_per_s"`
	} `json:"stages"`
	Verdict struct {
		Stage          string   `json:"bottleneck_stage"`
		Kind           string   `json:"kind"`
		HeldBy         string   `json:"held_by"`
		Sustained      bool     `json:"sustained"`
		ThroughputPerS float64  `json:"throughput_per_s"`
		OfferedPerS    float64  `json:"offered_per_s"`
		Summary        string   `json:"summary"`
		Chain          []string `json:"chain"`
		Notes          []string `json:"notes"`
		Fixes          []struct {
			Setting     string `json:"setting"`
			Value       string `json:"value"`
			Alternative bool   `json:"alternative"`
			Changes     []struct {
				Service     string         `json:"service"`
				Setting     string         `json:"setting"`
				Value       string         `json:"value"`
				AdminConfig map[string]any `json:"admin_config"`
				Curl        string         `json:"curl"`
			} `json:"changes"`
			Predicted struct {
				ThroughputPerS float64 `json:"throughput_per_s"`
				FastP99MS      float64 `json:"fast_p99_ms"`
			} `json:"predicted"`
		} `json:"fixes"`
	} `json:"verdict"`
	ModelFit *struct {
		MeasuredThroughputPerS  float64 `json:"measured_throughput_per_s"`
		SimulatedThroughputPerS float64 `json:"simulated_throughput_per_s"`
		MeasuredFastP99MS       float64 `json:"measured_fast_p99_ms"`
		SimulatedFastP99MS      float64 `json:"simulated_fast_p99_ms"`
	} `json:"model_fit"`
}

func (r *modelReport) settings() []string {
	var out []string
	for _, f := range r.Verdict.Fixes {
		for _, c := range f.Changes {
			out = append(out, c.Setting+"="+c.Value)
		}
	}
	return out
}

func (r *modelReport) hasSetting(setting string) bool {
	return slices.ContainsFunc(r.settings(), func(s string) bool { return strings.HasPrefix(s, setting+"=") })
}

func (r *modelReport) String() string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

// window is a stretch of time on the services' clock.
type window struct{ from, to time.Time }

func (w window) String() string {
	return w.from.UTC().Format(time.RFC3339Nano) + ".." + w.to.UTC().Format(time.RFC3339Nano)
}

// exportLag is how long spans take to reach Jaeger: the services export
// in batches about once a second.
const exportLag = 2500 * time.Millisecond

// modelReportOf runs the report on w (after the spans of its jobs had
// time to reach Jaeger) and decodes its JSON.
func modelReportOf(t *testing.T, w window) *modelReport {
	t.Helper()
	out := reportOn(t, w, "--json")
	var r modelReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	t.Logf("%s: %s/%s, %.1f jobs/s of %.1f offered — %s", w, r.Verdict.Stage, r.Verdict.Kind, r.Verdict.ThroughputPerS, r.Verdict.OfferedPerS, r.Verdict.Summary)
	return &r
}

// reportOn runs the report on w, once the spans of its jobs had time to
// reach Jaeger, and returns what it printed.
func reportOn(t *testing.T, w window, args ...string) string {
	t.Helper()
	if wait := time.Until(w.to.Add(exportLag)); wait > 0 {
		time.Sleep(wait)
	}
	p := sys.Ports()
	out, errOut, code := runReport(t, append([]string{"--jaeger", sys.JaegerURL(), "--window", w.String(),
		"--workers-admin", stack.Addr(p.WorkersHTTP), "--consumer-admin", stack.Addr(p.ConsumerHTTP), "--console", ""}, args...)...)
	if code != 0 {
		t.Fatalf("report exited %d\nstderr: %s\nstdout: %s", code, errOut, out)
	}
	return out
}

// awaitResultsFull waits until the results channel is full: its slots
// taken and a worker blocked sending.
func awaitResultsFull(t *testing.T, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "the results channel to fill", func() bool {
		var w struct {
			Results struct {
				Len        int `json:"len"`
				Cap        int `json:"cap"`
				BlockedNow int `json:"blocked_now"`
			} `json:"results"`
		}
		if status, body := call(t, http.MethodGet, sys.URL(stack.Workers)+"/stats", nil, &w); status != http.StatusOK {
			t.Fatalf("workers /stats: %d %s", status, body)
		}
		return w.Results.Cap > 0 && w.Results.Len >= w.Results.Cap && w.Results.BlockedNow > 0
	})
}

func wantModelVerdict(t *testing.T, r *modelReport, stage, kind string) {
	t.Helper()
	if r.Verdict.Stage != stage || r.Verdict.Kind != kind {
		t.Fatalf("verdict %s/%s, want %s/%s\n%s", r.Verdict.Stage, r.Verdict.Kind, stage, kind, r)
	}
}

// steadyLoad runs steady load at rate with mix, lets it settle, and
// returns the window of the next d while it still runs. The load stops
// when the test ends (or at stopLoad).
func steadyLoad(t *testing.T, rate float64, mix map[string]float64, settle, d time.Duration) window {
	t.Helper()
	setLoad(t, map[string]any{"scenario": "steady", "rate": rate, "mix": mix})
	time.Sleep(settle)
	w := window{from: time.Now()}
	time.Sleep(d)
	w.to = time.Now()
	return w
}

// setLoad PUTs the producer's load and makes it idle again when the test
// ends.
func setLoad(t *testing.T, patch map[string]any) {
	t.Helper()
	url := sys.URL(stack.Producer) + "/admin/load"
	if status, body := call(t, http.MethodPut, url, patch, nil); status != http.StatusOK {
		t.Fatalf("PUT %s %v: %d %s", url, patch, status, body)
	}
	t.Cleanup(func() { stopLoad(t) })
}

func stopLoad(t *testing.T) {
	url := sys.URL(stack.Producer) + "/admin/load"
	if status, body := call(t, http.MethodPut, url, map[string]any{"scenario": "idle"}, nil); status != http.StatusOK {
		t.Errorf("PUT %s idle: %d %s", url, status, body)
	}
}

// setConsumerConfig PUTs a partial config to the consumer and restores the
// previous values of the same fields when the test ends.
func setConsumerConfig(t *testing.T, patch map[string]any) {
	t.Helper()
	restore := putConfig(t, sys.URL(stack.Consumer)+"/admin/config", patch)
	t.Cleanup(func() { putConfig(t, sys.URL(stack.Consumer)+"/admin/config", restore) })
}

// putConfig PUTs patch to an /admin/config and returns the fields' values
// before.
func putConfig(t *testing.T, url string, patch map[string]any) map[string]any {
	t.Helper()
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
	return restore
}

// setVendorLatency makes every vendor call take about d (a custom fault
// rule: the presets' latencies scaled down) and goes back to the default
// preset when the test ends.
func setVendorLatency(t *testing.T, d time.Duration) {
	t.Helper()
	url := sys.URL(stack.VendorMock) + "/admin/faults"
	body := map[string]any{"global": map[string]any{"latency": map[string]any{"min": d.String(), "max": d.String()}}}
	if status, resp := call(t, http.MethodPut, url, body, nil); status != http.StatusOK {
		t.Fatalf("PUT %s %v: %d %s", url, body, status, resp)
	}
	t.Cleanup(func() {
		if status, resp := call(t, http.MethodPost, url+"/presets/degraded", nil, nil); status != http.StatusOK {
			t.Errorf("restoring the degraded preset: %d %s", status, resp)
		}
	})
}

// drain stops the load and empties the pipeline quickly, so the next
// scenario starts from nothing: for the moment, the vendor answers at
// once, the consumer takes everything in parallel without delay, the
// workers deliver with every forwarder; then the settings go back.
func drain(t *testing.T) {
	t.Helper()
	stopLoad(t)
	vendorURL := sys.URL(stack.VendorMock) + "/admin/faults"
	var faults map[string]any
	if status, body := call(t, http.MethodGet, vendorURL, nil, &faults); status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", vendorURL, status, body)
	}
	instant := map[string]any{"global": map[string]any{"latency": map[string]any{"min": "0s", "max": "0s"}}}
	if status, body := call(t, http.MethodPut, vendorURL, instant, nil); status != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", vendorURL, status, body)
	}
	consumer := putConfig(t, sys.URL(stack.Consumer)+"/admin/config", map[string]any{"concurrency": 64, "process_delay": "0s"})
	workers := putConfig(t, sys.URL(stack.Workers)+"/admin/config", map[string]any{"forwarders": 64})
	defer func() {
		putConfig(t, sys.URL(stack.Workers)+"/admin/config", workers)
		putConfig(t, sys.URL(stack.Consumer)+"/admin/config", consumer)
		if status, body := call(t, http.MethodPut, vendorURL, faults, nil); status != http.StatusOK {
			t.Errorf("restoring the vendor's faults: %d %s", status, body)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	quiet := 0
	for quiet < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the pipeline did not drain within 30s")
		}
		if pipelineIdle(t) {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitBacklogBelow waits until fewer than n jobs are queued in the
// workers and no worker is blocked sending, then a second more.
func awaitBacklogBelow(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var w struct {
			Queue struct {
				Depth int `json:"depth"`
			} `json:"queue"`
			Results struct {
				BlockedNow int `json:"blocked_now"`
			} `json:"results"`
		}
		if status, body := call(t, http.MethodGet, sys.URL(stack.Workers)+"/stats", nil, &w); status != http.StatusOK {
			t.Fatalf("workers /stats: %d %s", status, body)
		}
		if w.Queue.Depth < n && w.Results.BlockedNow == 0 {
			time.Sleep(time.Second)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers' backlog stayed at %d queued jobs for %s", w.Queue.Depth, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pipelineIdle reports whether no job is queued, worked on, in the results
// channel or at the consumer.
func pipelineIdle(t *testing.T) bool {
	t.Helper()
	var w struct {
		Queue struct {
			Depth int `json:"depth"`
		} `json:"queue"`
		Results struct {
			Len         int `json:"len"`
			OverflowLen int `json:"overflow_len"`
			BlockedNow  int `json:"blocked_now"`
		} `json:"results"`
		Counters struct {
			Submitted uint64 `json:"submitted"`
			Completed uint64 `json:"completed"`
		} `json:"counters"`
	}
	var c struct {
		InFlight int `json:"in_flight"`
		Waiting  int `json:"waiting"`
	}
	if status, body := call(t, http.MethodGet, sys.URL(stack.Workers)+"/stats", nil, &w); status != http.StatusOK {
		t.Fatalf("workers /stats: %d %s", status, body)
	}
	if status, body := call(t, http.MethodGet, sys.URL(stack.Consumer)+"/stats", nil, &c); status != http.StatusOK {
		t.Fatalf("consumer /stats: %d %s", status, body)
	}
	return w.Queue.Depth == 0 && w.Results.Len == 0 && w.Results.OverflowLen == 0 && w.Results.BlockedNow == 0 &&
		w.Counters.Completed >= w.Counters.Submitted && c.InFlight == 0 && c.Waiting == 0
}

// applyFix applies a fix through the admin bodies its curls carry, each on
// the service it names.
func applyFix(t *testing.T, r *modelReport, i int) {
	t.Helper()
	for _, c := range r.Verdict.Fixes[i].Changes {
		var svc string
		switch c.Service {
		case "workers":
			svc = stack.Workers
		case "consumer":
			svc = stack.Consumer
		default:
			t.Fatalf("fix change for unknown service %q", c.Service)
		}
		if !strings.Contains(c.Curl, "/admin/config") {
			t.Errorf("curl %q does not PUT /admin/config", c.Curl)
		}
		restore := putConfig(t, sys.URL(svc)+"/admin/config", c.AdminConfig)
		t.Cleanup(func() { putConfig(t, sys.URL(svc)+"/admin/config", restore) })
	}
}

var cacheReads = map[string]float64{"cache-read": 100}

func TestCapacityModelScenarioMatrix(t *testing.T) {
	began := time.Now()
	defer func() { t.Logf("scenario matrix: %s", time.Since(began).Round(time.Millisecond)) }()

	// (1) The incident: one checkout burst with the defaults. The results
	// channel has to absorb a burst the consumer can't take at once.
	t.Run("1 checkout burst with defaults", func(t *testing.T) {
		w := window{from: time.Now()}
		awaitBurst(t, checkout(t))
		w.to = time.Now()
		r := modelReportOf(t, w)
		wantModelVerdict(t, r, "results", "burst")
		if r.Jobs.Total != 20 || r.Jobs.Delivered+r.Jobs.Failed != 20 {
			t.Errorf("jobs %+v, want the 20 of the burst handled", r.Jobs)
		}
		chain := strings.Join(r.Verdict.Chain, "\n")
		for _, want := range []string{"Small results buffer", "Slow consumer", "Blocked workers"} {
			if !strings.Contains(chain, want) {
				t.Errorf("chain lacks %q:\n%s", want, chain)
			}
		}
		if len(r.Verdict.Fixes) == 0 || r.Verdict.Fixes[0].Setting != "RESULTS_BUFFER" {
			t.Fatalf("fixes %v, want RESULTS_BUFFER first", r.settings())
		}
		var size int
		fmt.Sscan(r.Verdict.Fixes[0].Value, &size)
		if size <= 4 || size > 40 {
			t.Errorf("RESULTS_BUFFER=%d: want the burst's backlog, more than the 4 slots, at most its 20 jobs rounded up", size)
		}
	})

	// (1b) The default scenario runs a burst every 20 s: a window of
	// several is still bursts, each drained before the next, not sustained
	// load (review A, item 1: they were called head-of-line). Scaled: three
	// bursts, each as soon as the one before was handled.
	t.Run("1b three checkout bursts", func(t *testing.T) {
		w := window{from: time.Now()}
		for range 3 {
			awaitBurst(t, checkout(t))
		}
		w.to = time.Now()
		r := modelReportOf(t, w)
		wantModelVerdict(t, r, "results", "burst")
		if r.Jobs.Total != 60 || r.Verdict.Sustained || r.Period.BusyPeriods != 3 {
			t.Errorf("%d jobs, sustained %v, %d busy periods: want the 60 jobs of 3 bursts, judged as bursts", r.Jobs.Total, r.Verdict.Sustained, r.Period.BusyPeriods)
		}
		if len(r.Verdict.Fixes) == 0 || r.Verdict.Fixes[0].Setting != "RESULTS_BUFFER" {
			t.Errorf("fixes %v, want RESULTS_BUFFER first", r.settings())
		}
	})

	// (2) Steady arrivals ≥ 3x the consumer's capacity: the consumer,
	// CONCURRENCY recommended; applied live through the fix's own bodies,
	// throughput comes within 25% of the prediction and the verdict moves
	// on.
	t.Run("2 steady overload then the recommended fix", func(t *testing.T) {
		w := steadyLoad(t, 100, cacheReads, time.Second, 6*time.Second)
		r := modelReportOf(t, w)
		wantModelVerdict(t, r, "consumer", "capacity")
		if r.Verdict.OfferedPerS < 80 || r.Verdict.ThroughputPerS > 25 || r.Jobs.Rejected == 0 || r.Jobs.Failed != 0 {
			t.Errorf("offered %.1f, throughput %.1f, jobs %+v: want ~100 offered, ~20 handled, the rest shed (not failed)",
				r.Verdict.OfferedPerS, r.Verdict.ThroughputPerS, r.Jobs)
		}
		if len(r.Verdict.Fixes) == 0 || !r.hasSetting("CONCURRENCY") {
			t.Fatalf("fixes %v, want CONCURRENCY", r.settings())
		}
		predicted := r.Verdict.Fixes[0].Predicted.ThroughputPerS
		applyFix(t, r, 0)
		awaitBacklogBelow(t, 5, 20*time.Second) // the overload's backlog drains first
		w = window{from: time.Now()}
		time.Sleep(6 * time.Second)
		w.to = time.Now()
		after := modelReportOf(t, w)
		drain(t)
		if after.Verdict.Kind == "capacity" && (after.Verdict.Stage == "consumer" || after.Verdict.Stage == "delivery") {
			t.Errorf("after %v the verdict is still %s/%s", r.settings(), after.Verdict.Stage, after.Verdict.Kind)
		}
		if got := after.Verdict.ThroughputPerS; got < 0.75*predicted || got > 1.25*predicted {
			t.Errorf("throughput %.1f jobs/s after %v, predicted %.1f (±25%%)", got, r.settings(), predicted)
		}
	})

	// (3) Steady arrivals far above the consumer's ~20/s with the bigger
	// buffer already in force, read once it is full: still the consumer,
	// no bigger buffer, no buffer shown more than full. Jobs then take
	// ~20 s end to end (400 results at ~20/s), longer than the window:
	// none that arrived in it is handled yet, and the report measures the
	// consumer from what it handled in the window (review A, items 2 and
	// 7; the window used to start before the buffer filled).
	t.Run("3 steady overload with the buffer fix in force", func(t *testing.T) {
		setWorkersConfig(t, map[string]any{"results_buffer": 400})
		setLoad(t, map[string]any{"scenario": "steady", "rate": 100, "mix": cacheReads})
		awaitResultsFull(t, 30*time.Second) // ~80 results/s more than the consumer takes: ~5 s
		w := window{from: time.Now()}
		time.Sleep(6 * time.Second)
		w.to = time.Now()
		r := modelReportOf(t, w)
		text := reportOn(t, w)
		drain(t)
		wantModelVerdict(t, r, "consumer", "capacity")
		if r.Config.ResultsBufferCap != 400 || r.hasSetting("RESULTS_BUFFER") || r.hasSetting("RESULT_SEND") {
			t.Errorf("buffer %d, fixes %v: want no buffer recommended", r.Config.ResultsBufferCap, r.settings())
		}
		if !r.hasSetting("CONCURRENCY") {
			t.Errorf("fixes %v, want CONCURRENCY", r.settings())
		}
		if !slices.ContainsFunc(r.Verdict.Notes, func(n string) bool { return strings.Contains(n, "would only delay the blocking") }) {
			t.Errorf("notes %q, want how long the buffer lasts", r.Verdict.Notes)
		}
		if got := r.Verdict.ThroughputPerS; got < 12 || got > 25 || r.Jobs.HandledEarlier == 0 {
			t.Errorf("throughput %.1f jobs/s, %d handled that arrived earlier: want the consumer's ~20/s measured from its completions", got, r.Jobs.HandledEarlier)
		}
		for _, s := range r.Stages {
			if s.Kind == "buffer" && s.Utilization > 1 {
				t.Errorf("%s %.0f%% full", s.Name, 100*s.Utilization)
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if i := strings.Index(line, "% full"); i > 0 {
				f := strings.Fields(line[:i])
				if n, err := strconv.Atoi(f[len(f)-1]); err != nil || n > 100 {
					t.Errorf("report text: %q", line)
				}
			}
		}
		if strings.Contains(text, "Nothing was handled") {
			t.Errorf("report text says nothing was handled:\n%s", text)
		}
	})

	// (4) The vendor slow for every call (preset slow, scaled: 400ms), a
	// vendor-heavy mix, a fast consumer: the workers, held by the vendor.
	t.Run("4 slow vendor holds the workers", func(t *testing.T) {
		setConsumerConfig(t, map[string]any{"process_delay": "1ms"})
		setVendorLatency(t, 400*time.Millisecond)
		w := steadyLoad(t, 30, map[string]float64{"cache-read": 40, "vendor-api": 60}, time.Second, 7*time.Second)
		r := modelReportOf(t, w)
		drain(t)
		wantModelVerdict(t, r, "workers", "capacity")
		if r.Verdict.HeldBy != "vendor" {
			t.Errorf("held by %q, want the vendor", r.Verdict.HeldBy)
		}
		if !r.hasSetting("VENDOR_TIMEOUT") && !r.hasSetting("WORKERS") {
			t.Errorf("fixes %v, want VENDOR_TIMEOUT or WORKERS", r.settings())
		}
	})

	// (5) A fast consumer, a healthy vendor, a moderate rate: healthy.
	t.Run("5 moderate load is healthy", func(t *testing.T) {
		setConsumerConfig(t, map[string]any{"process_delay": "1ms"})
		setVendorPreset(t, "healthy")
		w := steadyLoad(t, 15, map[string]float64{"cache-read": 60, "database": 20, "vendor-api": 20}, time.Second, 6*time.Second)
		r := modelReportOf(t, w)
		drain(t)
		wantModelVerdict(t, r, "none", "none")
		if len(r.Verdict.Fixes) != 0 {
			t.Errorf("fixes %v for a healthy pipeline", r.settings())
		}
	})

	// (6) Capacity enough, but fast jobs stuck behind vendor jobs that hold
	// every worker at times: head-of-line, priority lanes recommended.
	t.Run("6 fast jobs behind vendor jobs", func(t *testing.T) {
		setConsumerConfig(t, map[string]any{"process_delay": "1ms"})
		setWorkersConfig(t, map[string]any{"results_buffer": 400})
		setVendorLatency(t, 375*time.Millisecond)
		// Vendor calls keep the workers about 70% busy (30 jobs/s × 25% ×
		// 375 ms over 4 workers, plus the cache reads and the pipeline's own
		// overhead): all four are often held at once, so fast jobs wait,
		// while the capacity stays above the load. The mix is random per
		// job, and the verdict sits between two thresholds (fewer than 5% of
		// fast jobs stuck below, capacity at 90% busy above; at 350 ms runs
		// measured 62-74% busy with 7-18% stuck, at 400 ms 70-85% busy), so
		// the window holds enough vendor jobs (about 180 ± 12 in 24 s) to
		// keep the share of vendor work within a few percent.
		w := steadyLoad(t, 30, map[string]float64{"cache-read": 75, "vendor-api": 25}, time.Second, 24*time.Second)
		r := modelReportOf(t, w)
		drain(t)
		wantModelVerdict(t, r, "queue", "head-of-line")
		if len(r.Verdict.Fixes) == 0 || r.Verdict.Fixes[0].Setting != "PRIORITY_LANES" {
			t.Errorf("fixes %v, want PRIORITY_LANES=on first", r.settings())
		}
	})
}

// quiesce waits until the stack has nothing in flight: no job the producer
// still waits to see confirmed (it would re-submit it after RETRY_AFTER,
// into the next test's counts) and an idle pipeline. Tests that count
// deltas of the services' counters start with it.
func quiesce(t *testing.T) {
	t.Helper()
	waitUntil(t, time.Minute, "the producer to have no unconfirmed job and the pipeline to be idle", func() bool {
		var p struct {
			Delivery struct {
				Outstanding int `json:"outstanding"`
			} `json:"delivery"`
		}
		if status, body := call(t, http.MethodGet, sys.URL(stack.Producer)+"/stats", nil, &p); status != http.StatusOK {
			t.Fatalf("producer /stats: %d %s", status, body)
		}
		return p.Delivery.Outstanding == 0 && pipelineIdle(t)
	})
}
