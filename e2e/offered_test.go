package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// producerSteady is the part of the producer's /stats this test reads.
type producerSteady struct {
	Steady struct {
		Generated      uint64 `json:"generated"`
		InFlight       int    `json:"in_flight"`
		MaxInFlight    int    `json:"max_in_flight"`
		SkippedBacklog uint64 `json:"skipped_backlog"`
		SkippedBehind  uint64 `json:"skipped_behind"`
	} `json:"steady"`
	Rejected map[string]uint64 `json:"rejected"`
}

func producerSteadyStats(t *testing.T) producerSteady {
	t.Helper()
	var p producerSteady
	if status, body := call(t, http.MethodGet, sys.URL(stack.Producer)+"/stats", nil, &p); status != http.StatusOK {
		t.Fatalf("producer /stats: %d %s", status, body)
	}
	return p
}

// An offered load far above what the pool takes, and above what the
// producer can have in flight: 600 jobs/s with SUBMIT_WAIT=5s would need
// 3,000 Submits waiting on the pool, more than the producer's 2,048, so
// it skips some. The capacity model's arrival rate must still be the
// offered rate: the producer traces every job it generates, the ones it
// skips too (the old 256-submission cap made the model see ~250 jobs/s of
// any higher load).
func TestModelSeesTheWholeOfferedLoad(t *testing.T) {
	const rate, seconds = 600.0, 6
	quiesce(t)
	setWorkersConfig(t, map[string]any{"submit_wait": "5s"})
	before := producerSteadyStats(t)
	w := window{from: time.Now()}
	// Stopped by hand, not with steady_duration: that would stay in the
	// producer's load and cut the next test's steady load short.
	setLoad(t, map[string]any{"scenario": "steady", "rate": rate, "mix": cacheReads})
	time.Sleep(seconds * time.Second)
	stopLoad(t)
	w.to = time.Now()
	// Every Submit answered (up to SUBMIT_WAIT after the last job), so
	// every job's root has ended; then its spans reach Jaeger.
	waitUntil(t, 30*time.Second, "the producer's submissions to be answered", func() bool {
		return producerSteadyStats(t).Steady.InFlight == 0
	})
	time.Sleep(exportLag)
	after := producerSteadyStats(t)

	generated := after.Steady.Generated - before.Steady.Generated
	offered := float64(generated+after.Steady.SkippedBehind-before.Steady.SkippedBehind) / w.to.Sub(w.from).Seconds()
	skipped := after.Steady.SkippedBacklog - before.Steady.SkippedBacklog
	refused := after.Rejected["cache-read"] - before.Rejected["cache-read"]
	t.Logf("producer: %d generated (%.0f/s offered), %d skipped (cap %d), %d refused by the pool",
		generated, offered, skipped, after.Steady.MaxInFlight, refused)
	if offered < 0.8*rate {
		t.Fatalf("the producer offered %.0f of %.0f jobs/s: the machine could not generate the load, nothing to check", offered, rate)
	}
	if skipped == 0 {
		t.Errorf("no job skipped at %.0f/s with a 5 s SUBMIT_WAIT: the traced skips were not exercised", rate)
	}
	if refused < 1000 {
		t.Errorf("the pool refused %d jobs; want most of them, above 256/s", refused)
	}

	p := sys.Ports()
	out, errOut, code := runReport(t, "--json", "--jaeger", sys.JaegerURL(), "--window", w.String(), "--limit", "20000",
		"--workers-admin", stack.Addr(p.WorkersHTTP), "--consumer-admin", stack.Addr(p.ConsumerHTTP))
	if code != 0 {
		t.Fatalf("report exited %d\nstderr: %s\nstdout: %s", code, errOut, out)
	}
	var r modelReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	t.Logf("model: %d jobs, %d rejected, %.1f jobs/s arrive, %.1f handled — %s", r.Jobs.Total, r.Jobs.Rejected, r.Verdict.OfferedPerS, r.Verdict.ThroughputPerS, r.Verdict.Summary)
	if math.Abs(r.Verdict.OfferedPerS-offered) > 0.1*offered {
		t.Errorf("the model's arrivals %.1f jobs/s, the producer offered %.1f: want within 10%%", r.Verdict.OfferedPerS, offered)
	}
	if math.Abs(float64(r.Jobs.Total)-float64(generated)) > 0.1*float64(generated) {
		t.Errorf("the model read %d jobs, the producer generated %d: want within 10%%", r.Jobs.Total, generated)
	}
	if shed := uint64(r.Jobs.Rejected); shed+shed/10 < skipped+refused {
		t.Errorf("the model counts %d jobs shed; the producer skipped %d and the pool refused %d", shed, skipped, refused)
	}
}
