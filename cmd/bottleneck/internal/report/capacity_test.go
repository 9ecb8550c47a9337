package report

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis/analysistest"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// The case: the defaults, steady load at 100 jobs/s of cache
// reads, a consumer that handles ~20/s.
func steadyOverload(t *testing.T, cfg analysis.SimConfig) []jaegerapi.Trace {
	t.Helper()
	r := analysistest.Simulate(cfg, analysistest.Load{Rate: 100, Seconds: 8, Mix: [3]float64{100, 0, 0}, ConsumerMS: 50, RTTMS: 1, Seed: 1})
	return r.Traces(2)
}

// serveAt serves traces for windows ending at the synthetic run's clock.
func serveAt(t *testing.T, traces []jaegerapi.Trace) (*fakeJaeger, time.Time) {
	t.Helper()
	var last int64
	for _, tr := range traces {
		for _, s := range tr.Spans {
			last = max(last, s.End())
		}
	}
	return serveTraces(t, traces), time.UnixMicro(last).Add(time.Second)
}

func runAt(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := run(t.Context(), args, &out, &errOut, now, false)
	return code, out.String(), errOut.String()
}

func TestReportNamesTheConsumerUnderSteadyOverload(t *testing.T) {
	j, now := serveAt(t, steadyOverload(t, analysistest.IncidentConfig()))
	code, out, errOut := runAt(t, now, "--jaeger", j.URL, "--since", "1m")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Capacity",
		"▶ consumer",
		"→ The bottleneck is the consumer: it handles 19.6 results/s (50.0ms each, 1 at a time)",
		"jobs/s arrive; 71.9 jobs/s are shed at admission",
		"Upstream, these are its symptoms, not causes:",
		"Note: A bigger RESULTS_BUFFER would only delay the blocking",
		"1. consumer CONCURRENCY=7 + workers FORWARDERS=7",
		"Predicted effect (capacity model + simulation of this window's arrivals: steady, 4000 jobs):",
		`curl -X PUT localhost:8083/admin/config -H 'Content-Type: application/json' -d '{"concurrency":7}'`,
		`curl -X PUT localhost:8081/admin/config -H 'Content-Type: application/json' -d '{"forwarders":7}'`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Shed submissions are shed, not failed; every job has its type.
	if !strings.Contains(out, "· 0 failed · ") || !strings.Contains(out, " shed") || strings.Contains(out, "unknown") {
		t.Errorf("jobs line: want shed jobs counted apart from failures, no unknown type:\n%s", out)
	}
	if strings.Contains(out, "RESULTS_BUFFER=") {
		t.Error("the report recommends a bigger buffer for a sustained surplus")
	}
	// The prediction is read against what was measured and what the model
	// gives for the current settings: all 100 jobs/s with the fix.
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, label := range []string{"now, measured", "now, simulated", "fix 1."} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), label); ok {
				rows[label] = strings.Fields(rest)
			}
		}
	}
	if len(rows) != 3 || rows["fix 1."][0] != "100" || rows["now, measured"][0] != "19.6" || rows["now, simulated"][0] != "19.6" {
		t.Errorf("prediction rows %q: want measured and simulated 19.6 handled/s, 100 with the fix", rows)
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestReportJSONContract(t *testing.T) {
	j, now := serveAt(t, steadyOverload(t, analysistest.IncidentConfig()))
	code, out, errOut := runAt(t, now, "--jaeger", j.URL, "--since", "1m", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The names, read the way another tool would.
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Stages        []struct {
			Name            string   `json:"name"`
			ArrivalsPerS    *float64 `json:"arrivals_per_s"`
			CompletionsPerS *float64 `json:"completions_per_s"`
			ServiceMSAvg    *float64 `json:"service_ms_avg"`
			ServiceMSP99    *float64 `json:"service_ms_p99"`
			Servers         *int     `json:"servers"`
			Utilization     *float64 `json:"utilization"`
			WaitMSAvg       *float64 `json:"wait_ms_avg"`
			QueueLenAvg     *float64 `json:"queue_len_avg"`
		} `json:"stages"`
		Verdict struct {
			BottleneckStage string  `json:"bottleneck_stage"`
			Kind            string  `json:"kind"`
			ThroughputPerS  float64 `json:"throughput_per_s"`
			Fixes           []struct {
				Setting   string `json:"setting"`
				Predicted struct {
					ThroughputPerS *float64 `json:"throughput_per_s"`
					FastP99MS      *float64 `json:"fast_p99_ms"`
				} `json:"predicted"`
			} `json:"fixes"`
		} `json:"verdict"`
		Jobs struct {
			Rejected int `json:"rejected"`
			Failed   int `json:"failed"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 2 {
		t.Errorf("schema_version %d, want 2", doc.SchemaVersion)
	}
	var names []string
	for _, s := range doc.Stages {
		names = append(names, s.Name)
		if s.ArrivalsPerS == nil || s.CompletionsPerS == nil || s.ServiceMSAvg == nil || s.ServiceMSP99 == nil || s.Servers == nil ||
			s.Utilization == nil || s.WaitMSAvg == nil || s.QueueLenAvg == nil {
			t.Errorf("stage %s lacks a field: %+v", s.Name, s)
		}
	}
	if want := []string{"admission", "queue", "workers", "vendor", "results", "delivery", "consumer"}; !slices.Equal(names, want) {
		t.Errorf("stages %v, want %v", names, want)
	}
	v := doc.Verdict
	if v.BottleneckStage != "consumer" || v.Kind != "capacity" || v.ThroughputPerS < 18 || v.ThroughputPerS > 21 {
		t.Errorf("verdict %+v", v)
	}
	if len(v.Fixes) == 0 || v.Fixes[0].Predicted.ThroughputPerS == nil || v.Fixes[0].Predicted.FastP99MS == nil {
		t.Errorf("fixes %+v, want predictions", v.Fixes)
	}
	if doc.Jobs.Rejected == 0 || doc.Jobs.Failed != 0 {
		t.Errorf("jobs %+v: shed ones are rejected, not failed", doc.Jobs)
	}
}

func TestReportAdminAddressesInCurls(t *testing.T) {
	j, now := serveAt(t, steadyOverload(t, analysistest.IncidentConfig()))
	_, out, _ := runAt(t, now, "--jaeger", j.URL, "--since", "1m", "--workers-admin", "127.0.0.1:20007", "--consumer-admin", "127.0.0.1:20010")
	for _, want := range []string{"curl -X PUT 127.0.0.1:20010/admin/config", "curl -X PUT 127.0.0.1:20007/admin/config"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestCompareShowsTheVerdictMoveOn(t *testing.T) {
	before := steadyOverload(t, analysistest.IncidentConfig())
	fixed := analysistest.IncidentConfig()
	fixed.Concurrency, fixed.Forwarders = 7, 7
	after := steadyOverload(t, fixed)
	_, now := serveAt(t, before)
	split := strconv.FormatInt(now.Add(-time.Minute).UnixMicro(), 10)
	bodyA, bodyB := tracesBody(t, before), tracesBody(t, after)
	j := newFakeJaeger(t, func(q url.Values) (int, []byte) {
		if q.Get("end") == split {
			return http.StatusOK, bodyA
		}
		return http.StatusOK, bodyB
	})
	code, out, errOut := runAt(t, now, "--jaeger", j.URL, "--compare", "2m..1m", "1m..now")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"A: [consumer, capacity] The bottleneck is the consumer", "B: [none] No bottleneck", "handled jobs/s", "shed jobs/s", "fast-job p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("compare lacks %q:\n%s", want, out)
		}
	}
}

// TestReportReadsCompletionsOfAShortWindow: the review's case. A full
// 400-slot results channel under 100 jobs/s makes jobs take ~25 s end to
// end; a report over the last 10 s reads no job that was handled, while
// the consumer handles ~20/s. The second search, by the consumer's
// result.process, measures them.
func TestReportReadsCompletionsOfAShortWindow(t *testing.T) {
	r := analysistest.Simulate(func() analysis.SimConfig { c := analysistest.IncidentConfig(); c.ResultsBuffer = 400; return c }(),
		analysistest.Load{Rate: 100, Seconds: 40, Mix: [3]float64{100, 0, 0}, ConsumerMS: 50, RTTMS: 1, Seed: 1})
	r.ReadAtMS = 40000
	all := r.Traces(2)
	now := time.UnixMicro(analysistest.Base + 40_000_000)
	from := now.Add(-10 * time.Second).UnixMicro()
	var arrived, handled []jaegerapi.Trace
	for _, tr := range all {
		for _, s := range tr.Spans {
			if tr.Service(&s) == "producer" && s.StartTime >= from {
				arrived = append(arrived, tr)
				break
			}
		}
		for _, s := range tr.Spans {
			if s.OperationName == "result.process" && s.StartTime >= from {
				handled = append(handled, tr)
				break
			}
		}
	}
	bodyA, bodyC := tracesBody(t, arrived), tracesBody(t, handled)
	j := newFakeJaeger(t, func(q url.Values) (int, []byte) {
		if q.Get("service") == "consumer" {
			return http.StatusOK, bodyC
		}
		return http.StatusOK, bodyA
	})
	code, out, errOut := runAt(t, now, "--jaeger", j.URL, "--since", "10s")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"· 0 delivered · 0 failed · ",
		"handled that arrived earlier",
		"→ The bottleneck is the consumer: it handles 19.",
		"Note: Jobs take longer end to end than the period read",
		"1. consumer CONCURRENCY=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "Nothing was handled") {
		t.Error("the report says nothing was handled while the consumer handled ~20/s")
	}
	// No fast job both arrived and was handled in the window: its p99 is
	// unknown, not 0.
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[0] == "now," && f[1] == "measured" && f[4] != "—" {
			t.Errorf("measured row %q: want the fast p99 unknown", line)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "% full"); i > 0 {
			f := strings.Fields(line[:i])
			if n, err := strconv.Atoi(f[len(f)-1]); err != nil || n > 100 {
				t.Errorf("buffer fill %q", line)
			}
		}
	}
	// The second search: the consumer's result.process, same window and
	// limit.
	if len(j.queries) != 2 {
		t.Fatalf("%d searches, want 2", len(j.queries))
	}
	a, c := j.queries[0], j.queries[1]
	if c.Get("service") != "consumer" || c.Get("operation") != "result.process" ||
		c.Get("start") != a.Get("start") || c.Get("end") != a.Get("end") || c.Get("limit") != a.Get("limit") {
		t.Errorf("completions search %v, first search %v", c, a)
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestConsumerIsSlowOnlyWhenItLimits: the chain calls the consumer slow
// only when it is the limit (or busy), not for a 1 ms consumer.
func TestConsumerIsSlowOnlyWhenItLimits(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Rate: 15, Seconds: 10, Mix: [3]float64{60, 20, 20}, VendorMS: [2]float64{100, 300}, ConsumerMS: 1, RTTMS: 1, Seed: 5})
	j, now := serveAt(t, r.Traces(2))
	_, out, _ := runAt(t, now, "--jaeger", j.URL, "--since", "1m")
	if !strings.Contains(out, "Consumer: result.process takes 1.00ms per result") || strings.Contains(out, "Slow consumer") {
		t.Errorf("want a neutral label for a 1 ms consumer:\n%s", out)
	}
	j, now = serveAt(t, steadyOverload(t, analysistest.IncidentConfig()))
	if _, out, _ = runAt(t, now, "--jaeger", j.URL, "--since", "1m"); !strings.Contains(out, "Slow consumer: result.process takes 50.0ms") {
		t.Errorf("want the consumer that limits called slow:\n%s", out)
	}
}

// TestPredictionsShowFailures: a vendor timeout fails the calls it cuts;
// the predictions table says how many of the jobs it counts.
func TestPredictionsShowFailures(t *testing.T) {
	c := analysistest.IncidentConfig()
	c.Concurrency, c.Forwarders = 16, 16
	r := analysistest.Simulate(c, analysistest.Load{Rate: 20, Seconds: 10, Mix: [3]float64{50, 0, 50}, VendorMS: [2]float64{100, 300}, Degraded: 0.3, SlowMS: [2]float64{500, 2000}, ConsumerMS: 1, RTTMS: 1, Seed: 3})
	j, now := serveAt(t, r.Traces(2))
	_, out, _ := runAt(t, now, "--jaeger", j.URL, "--since", "1m")
	var header, fix []string
	for _, line := range strings.Split(out, "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 1 && f[0] == "handled/s" && header == nil:
			header = f
		case len(f) > 2 && f[0] == "fix" && f[1] == "1.":
			fix = f[2:]
		}
	}
	if len(header) < 2 || header[1] != "failed/s" || len(fix) < 2 {
		t.Fatalf("header %q, fix row %q: want a failed/s column\n%s", header, fix, out)
	}
	handled, _ := strconv.ParseFloat(fix[0], 64)
	failed, _ := strconv.ParseFloat(fix[1], 64)
	if failed <= 0 || failed >= handled/4 {
		t.Errorf("fix 1: %v handled/s, %v failed/s: want some of them failed", handled, failed)
	}
}
