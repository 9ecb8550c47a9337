package analysis_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis/analysistest"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Loads of the scenario matrix, scaled like the end-to-end one.
var (
	cacheOnly = [3]float64{100, 0, 0}
	healthy   = [2]float64{100, 300}
	slowCalls = [2]float64{500, 2000}
)

func steadyAtConsumer(seed uint64) analysistest.Load {
	return analysistest.Load{Rate: 100, Seconds: 8, Mix: cacheOnly, ConsumerMS: 50, RTTMS: 1, Seed: seed}
}

func withCfg(change func(*analysis.SimConfig)) analysis.SimConfig {
	c := analysistest.IncidentConfig()
	change(&c)
	return c
}

// forEachContract runs f on the analysistest.Run drawn as v1 and as v2 traces.
func forEachContract(t *testing.T, r analysistest.Run, f func(t *testing.T, a analysis.Analysis)) {
	t.Helper()
	for _, contract := range []int{1, 2} {
		t.Run("v"+strconv.Itoa(contract), func(t *testing.T) {
			a := analysis.Analyze(r.Traces(contract), r.Options())
			if want := "v" + strconv.Itoa(contract); a.Contract != want {
				t.Errorf("contract %q, want %q", a.Contract, want)
			}
			f(t, a)
		})
	}
}

func fixFor(a analysis.Analysis, setting string) *analysis.Fix {
	for i := range a.Verdict.Fixes {
		for _, c := range a.Verdict.Fixes[i].Changes {
			if c.Setting == setting {
				return &a.Verdict.Fixes[i]
			}
		}
	}
	return nil
}

func settings(a analysis.Analysis) []string {
	var out []string
	for _, f := range a.Verdict.Fixes {
		for _, c := range f.Changes {
			out = append(out, c.Setting+"="+c.Value)
		}
	}
	return out
}

func wantVerdict(t *testing.T, a analysis.Analysis, stage, kind string) {
	t.Helper()
	if a.Verdict.Stage != stage || a.Verdict.Kind != kind {
		t.Fatalf("verdict %s/%s, want %s/%s: %s", a.Verdict.Stage, a.Verdict.Kind, stage, kind, a.Verdict.Summary)
	}
}

func TestSteadyOverloadNamesTheConsumer(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), steadyAtConsumer(1))
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
		v := a.Verdict
		if !near(v.OfferedPerS, 100, 0.02) || !near(v.ThroughputPerS, 20, 0.05) || !near(v.CapacityPerS, 1000/51.0, 0.03) {
			t.Errorf("offered %.1f, throughput %.1f, capacity %.1f; want 100, ~20, ~19.6", v.OfferedPerS, v.ThroughputPerS, v.CapacityPerS)
		}
		want := "The bottleneck is the consumer: it handles 19.6 results/s (50.0ms each, "
		if !strings.HasPrefix(v.Summary, want) || !strings.Contains(v.Summary, "while 100 jobs/s arrive") {
			t.Errorf("summary %q, want it to start %q and name the arrivals", v.Summary, want)
		}
		// The shed submissions are load shed, not failures.
		if a.Jobs.Rejected == 0 || a.Jobs.Failed != 0 || a.Jobs.Rejected+a.Jobs.Delivered+a.Jobs.InFlight != a.Jobs.Total {
			t.Errorf("jobs %+v: want shed ones counted as rejected, none failed", a.Jobs)
		}
		if got := settings(a); !slices.Equal(got, []string{"CONCURRENCY=7", "FORWARDERS=7"}) {
			t.Errorf("fixes %v, want CONCURRENCY=7 with FORWARDERS=7", got)
		}
		fx := a.Verdict.Fixes[0]
		if fx.Service != analysis.ServiceConsumer || len(fx.Changes) != 2 || fx.Changes[1].Service != analysis.ServiceWorkers {
			t.Errorf("fix %+v: want the consumer's setting first, the workers' second", fx)
		}
		if !strings.Contains(fx.Changes[0].Curl, "localhost:8083/admin/config") || !strings.Contains(fx.Changes[0].Curl, `-d '{"concurrency":7}'`) ||
			!strings.Contains(fx.Changes[1].Curl, "localhost:8081/admin/config") || !strings.Contains(fx.Changes[1].Curl, `-d '{"forwarders":7}'`) {
			t.Errorf("curls %q, %q", fx.Changes[0].Curl, fx.Changes[1].Curl)
		}
		if p := fx.Predicted; !near(p.ThroughputPerS, 100, 0.01) || p.FastP99MS <= 0 || p.FastP99MS > 200 {
			t.Errorf("predicted %+v: want all 100 jobs/s and a fast p99 of tens of ms", p)
		}
		if fixFor(a, "RESULTS_BUFFER") != nil {
			t.Error("a bigger buffer recommended for a sustained surplus")
		}
		if !slices.ContainsFunc(v.Notes, func(n string) bool { return strings.Contains(n, "would only delay the blocking") }) {
			t.Errorf("notes %q: want the buffer's lifetime explained", v.Notes)
		}
		if !slices.ContainsFunc(v.Symptoms, func(s string) bool { return strings.HasPrefix(s, "workers: ") }) {
			t.Errorf("symptoms %q: want the blocked workers named as a symptom", v.Symptoms)
		}
	})
}

func TestSteadyOverloadWithTheBufferFixAlreadyInForce(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), steadyAtConsumer(2))
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
		if a.Config.ResultsBufferCap != 400 {
			t.Errorf("results buffer %d, want 400 from the spans", a.Config.ResultsBufferCap)
		}
		if fixFor(a, "RESULTS_BUFFER") != nil || fixFor(a, "RESULT_SEND") != nil {
			t.Errorf("fixes %v: the buffer is not the remedy", settings(a))
		}
		if fixFor(a, "CONCURRENCY") == nil {
			t.Errorf("fixes %v, want CONCURRENCY", settings(a))
		}
		// 400 slots at a surplus of ~80/s last ~5 s.
		if !near(a.Verdict.BufferLastsS, 5, 0.1) {
			t.Errorf("buffer lasts %.2f s, want ~5", a.Verdict.BufferLastsS)
		}
	})
}

func TestConsumerFixAlreadyInForceIsNotRecommendedAgain(t *testing.T) {
	// The consumer already has the slots and the workers the forwarders
	// the load needs, and more load arrives than even that handles:
	// capacity at the consumer, but nothing left to raise but the limits.
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 64, 64 }),
		analysistest.Load{Rate: 100, Seconds: 8, Mix: cacheOnly, ConsumerMS: 800, RTTMS: 1, Seed: 3})
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
	if len(a.Verdict.Fixes) != 0 {
		t.Errorf("fixes %v, want none: both settings are at their maximum", settings(a))
	}
	if !slices.ContainsFunc(a.Verdict.Notes, func(n string) bool { return strings.Contains(n, "already cover") }) {
		t.Errorf("notes %q, want the reason no fix is offered", a.Verdict.Notes)
	}
}

func TestForwardersCapTheConsumer(t *testing.T) {
	// DESIGN.md's measurement: CONCURRENCY 16 with one forwarder still
	// delivers ~20/s. v2 spans carry consumer.concurrency, so the model
	// sees that the forwarders, not the consumer's slots, are the limit.
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency = 16 }), steadyAtConsumer(4))
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageDelivery, analysis.KindCapacity)
	if got := settings(a); !slices.Equal(got, []string{"FORWARDERS=7"}) {
		t.Errorf("fixes %v, want FORWARDERS=7 alone (16 consumer slots are plenty)", got)
	}
	if !strings.HasPrefix(a.Verdict.Summary, "The bottleneck is the delivery to the consumer: 1 forwarder delivers") {
		t.Errorf("summary %q", a.Verdict.Summary)
	}
}

func TestCheckoutBurstOverflowsTheResultsChannel(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Burst: analysistest.CheckoutBurst, VendorMS: healthy, Degraded: 0.25, SlowMS: slowCalls, ConsumerMS: 50, RTTMS: 1, Seed: 2})
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageResults, analysis.KindBurst)
		v := a.Verdict
		if v.LimitStage != analysis.StageDelivery && v.LimitStage != analysis.StageConsumer {
			t.Errorf("limit stage %s, want the delivery or the consumer", v.LimitStage)
		}
		if v.PeakBacklog <= 4 || v.PeakBacklog > 20 {
			t.Errorf("peak backlog %d, want more than the 4 slots, at most the 20 jobs", v.PeakBacklog)
		}
		buf := fixFor(a, "RESULTS_BUFFER")
		if buf == nil {
			t.Fatalf("fixes %v, want RESULTS_BUFFER", settings(a))
		}
		if n, _ := strconv.Atoi(buf.Value); n < v.PeakBacklog || n <= 4 {
			t.Errorf("RESULTS_BUFFER=%s for a peak backlog of %d", buf.Value, v.PeakBacklog)
		}
		if buf.Predicted.BlockedShare != 0 {
			t.Errorf("the recommended buffer still blocks %.2f of the workers' time in the simulation", buf.Predicted.BlockedShare)
		}
		if alt := fixFor(a, "RESULT_SEND"); alt == nil || !alt.Alternative {
			t.Errorf("fixes %+v, want RESULT_SEND=nonblocking as the alternative", a.Verdict.Fixes)
		}
		if !strings.HasPrefix(v.Summary, "A burst overflowed the results channel: 20 jobs arrived within") {
			t.Errorf("summary %q", v.Summary)
		}
	})
}

func TestBurstIntoABigEnoughBufferIsNoBurstVerdict(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }),
		analysistest.Load{Burst: analysistest.CheckoutBurst, VendorMS: healthy, Degraded: 0.25, SlowMS: slowCalls, ConsumerMS: 50, RTTMS: 1, Seed: 2})
	a := analysis.Analyze(r.Traces(2), r.Options())
	if a.Verdict.Kind == analysis.KindBurst || fixFor(a, "RESULTS_BUFFER") != nil {
		t.Errorf("verdict %s/%s, fixes %v: a 400-slot channel absorbs a 20-job burst", a.Verdict.Stage, a.Verdict.Kind, settings(a))
	}
}

func TestBurstOverflowsTheJobQueue(t *testing.T) {
	// 60 database jobs at once into a 10-slot queue with no submit wait:
	// the workers can't take them fast enough, the queue sheds the rest.
	burst := make([]string, 60)
	for i := range burst {
		burst[i] = analysis.TypeDatabase
	}
	cfg := withCfg(func(c *analysis.SimConfig) { c.QueueSize, c.SubmitWaitMS, c.Concurrency, c.Forwarders = 10, 0, 8, 8 })
	r := analysistest.Simulate(cfg, analysistest.Load{Burst: burst, ConsumerMS: 1, RTTMS: 1, Seed: 15})
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageQueue, analysis.KindBurst)
		if a.Jobs.Rejected == 0 || a.Jobs.Failed != 0 {
			t.Errorf("jobs %+v: want shed submissions, no failures", a.Jobs)
		}
		q := fixFor(a, "QUEUE_SIZE")
		if q == nil {
			t.Fatalf("fixes %v, want QUEUE_SIZE", settings(a))
		}
		if n, _ := strconv.Atoi(q.Value); n < a.Verdict.PeakBacklog || n <= 10 {
			t.Errorf("QUEUE_SIZE=%s for a peak backlog of %d", q.Value, a.Verdict.PeakBacklog)
		}
		if q.Predicted.RejectedPerS != 0 {
			t.Errorf("the recommended queue still sheds %.1f jobs/s in the simulation", q.Predicted.RejectedPerS)
		}
	})
}

func TestSlowVendorHoldsTheWorkers(t *testing.T) {
	// preset slow: every call takes ~2 s, none "degraded": a timeout at the
	// healthy p99 would cut nothing, so the work needs more workers.
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 16, 16 }),
		analysistest.Load{Rate: 10, Seconds: 10, Mix: [3]float64{50, 0, 50}, VendorMS: [2]float64{1900, 2100}, ConsumerMS: 1, RTTMS: 1, Seed: 3})
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageWorkers, analysis.KindCapacity)
		if a.Verdict.HeldBy != analysis.StageVendor || !strings.Contains(a.Verdict.Summary, "the workers, held by the vendor") {
			t.Errorf("held by %q: %s", a.Verdict.HeldBy, a.Verdict.Summary)
		}
		if fixFor(a, "VENDOR_TIMEOUT") != nil {
			t.Errorf("fixes %v: a timeout at the healthy p99 helps nothing when every call is slow", settings(a))
		}
		w := fixFor(a, "WORKERS")
		if w == nil {
			t.Fatalf("fixes %v, want WORKERS", settings(a))
		}
		// 10 jobs/s × ~1 s of work / 0.8 ≈ 13 workers.
		if n, _ := strconv.Atoi(w.Value); n < 12 || n > 15 {
			t.Errorf("WORKERS=%s, want ~13", w.Value)
		}
		if !near(w.Predicted.ThroughputPerS, 10, 0.02) {
			t.Errorf("predicted %.1f jobs/s, want all 10 offered", w.Predicted.ThroughputPerS)
		}
	})
}

func TestDegradedVendorGetsATimeout(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 16, 16 }),
		analysistest.Load{Rate: 20, Seconds: 10, Mix: [3]float64{50, 0, 50}, VendorMS: healthy, Degraded: 0.3, SlowMS: slowCalls, ConsumerMS: 1, RTTMS: 1, Seed: 3})
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageWorkers, analysis.KindCapacity)
	to := fixFor(a, "VENDOR_TIMEOUT")
	if to == nil {
		t.Fatalf("fixes %v, want VENDOR_TIMEOUT", settings(a))
	}
	if to.Value != "300ms" {
		t.Errorf("VENDOR_TIMEOUT=%s, want 300ms: the healthy calls' p99 (≤ 300ms) rounded up", to.Value)
	}
	p := to.Predicted
	if p.ThroughputPerS <= a.Verdict.ThroughputPerS*1.2 {
		t.Errorf("predicted %.1f jobs/s, want well above the %.1f measured", p.ThroughputPerS, a.Verdict.ThroughputPerS)
	}
	// The calls the timeout cuts fail: the prediction says how many of
	// the jobs it counts (half are vendor jobs, 30% of those degraded).
	if share := p.FailedPerS / p.ThroughputPerS; share < 0.1 || share > 0.2 {
		t.Errorf("predicted %.1f failed of %.1f jobs/s: want ~15%% (the degraded vendor calls)", p.FailedPerS, p.ThroughputPerS)
	}
	// Already in force: not again.
	r2 := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders, c.VendorTimeoutMS = 16, 16, 300 }),
		analysistest.Load{Rate: 20, Seconds: 10, Mix: [3]float64{50, 0, 50}, VendorMS: healthy, Degraded: 0.3, SlowMS: slowCalls, ConsumerMS: 1, RTTMS: 1, Seed: 3})
	a2 := analysis.Analyze(r2.Traces(2), r2.Options())
	if a2.Config.VendorTimeoutMS != 300 || fixFor(a2, "VENDOR_TIMEOUT") != nil {
		t.Errorf("timeout %v in force, fixes %v: want no VENDOR_TIMEOUT fix", a2.Config.VendorTimeoutMS, settings(a2))
	}
}

func holLoad(seed uint64) analysistest.Load {
	return analysistest.Load{Rate: 20, Seconds: 10, Mix: [3]float64{82, 0, 18}, VendorMS: [2]float64{550, 650}, ConsumerMS: 1, RTTMS: 1, Seed: seed}
}

func TestFastJobsBehindVendorJobsAreHeadOfLine(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), holLoad(4))
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageQueue, analysis.KindHeadOfLine)
		if a.HeadOfLine.StuckShare < 0.05 {
			t.Errorf("stuck share %.2f", a.HeadOfLine.StuckShare)
		}
		if got := settings(a); len(got) == 0 || got[0] != "PRIORITY_LANES=on" {
			t.Fatalf("fixes %v, want PRIORITY_LANES=on first", got)
		}
		if p := a.Verdict.Fixes[0].Predicted; p.FastP99MS >= a.Fast.P99MS/4 {
			t.Errorf("lanes predicted to bring fast p99 from %.0f to %.0f ms; want far lower", a.Fast.P99MS, p.FastP99MS)
		}
	})
	// With lanes on, the same load leaves nothing to recommend lanes for.
	r = analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer, c.Lanes = 400, true }), holLoad(4))
	a := analysis.Analyze(r.Traces(2), r.Options())
	if a.Config.PriorityLanes != "on" || fixFor(a, "PRIORITY_LANES") != nil {
		t.Errorf("lanes %q, fixes %v", a.Config.PriorityLanes, settings(a))
	}
	// Vendor jobs may hold 3 of the 4 workers: those are the vendor's
	// servers, for its utilization as for its capacity.
	if v := a.Stage(analysis.StageVendor); v.Servers != 3 || !near(v.Utilization, v.ArrivalsPerS*v.ServiceMSAvg/1e3/3, 1e-9) {
		t.Errorf("vendor %+v: want 3 servers, ρ = λS/3", v)
	}
	if a.Verdict.Kind == analysis.KindHeadOfLine {
		t.Errorf("lanes on: still head-of-line: %s", a.Verdict.Summary)
	}
}

func TestModerateLoadIsHealthy(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Rate: 15, Seconds: 10, Mix: [3]float64{60, 20, 20}, VendorMS: healthy, ConsumerMS: 1, RTTMS: 1, Seed: 5})
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		wantVerdict(t, a, analysis.StageNone, analysis.KindNone)
		if !a.Verdict.Healthy || a.Verdict.Bottleneck || len(a.Verdict.Fixes) != 0 {
			t.Errorf("verdict %+v", a.Verdict)
		}
		if !strings.HasPrefix(a.Verdict.Summary, "No bottleneck: 15.0 jobs/s arrive") {
			t.Errorf("summary %q", a.Verdict.Summary)
		}
	})
}

// TestAppliedFixMovesTheVerdictOn closes the loop the end-to-end test
// closes on the real stack: apply the recommended fix, analysistest.Run the same load
// again, and the verdict moves on with throughput near the prediction.
func TestAppliedFixMovesTheVerdictOn(t *testing.T) {
	cfg := analysistest.IncidentConfig()
	r := analysistest.Simulate(cfg, steadyAtConsumer(6))
	a := analysis.Analyze(r.Traces(2), r.Options())
	fx := a.Verdict.Fixes[0]
	for _, c := range fx.Changes {
		n, _ := strconv.Atoi(c.Value)
		switch c.Setting {
		case "CONCURRENCY":
			cfg.Concurrency = n
		case "FORWARDERS":
			cfg.Forwarders = n
		}
	}
	after := analysistest.Simulate(cfg, steadyAtConsumer(7))
	b := analysis.Analyze(after.Traces(2), after.Options())
	if b.Verdict.Kind == analysis.KindCapacity && b.Verdict.Stage == a.Verdict.Stage {
		t.Errorf("after %v the verdict is still %s/%s", settings(a), b.Verdict.Stage, b.Verdict.Kind)
	}
	if got, want := b.Verdict.ThroughputPerS, fx.Predicted.ThroughputPerS; !near(got, want, 0.25) {
		t.Errorf("throughput %.1f/s after the fix, predicted %.1f/s", got, want)
	}
}

func TestModelFitReproducesTheMeasurement(t *testing.T) {
	for name, r := range map[string]analysistest.Run{
		"steady": analysistest.Simulate(analysistest.IncidentConfig(), steadyAtConsumer(8)),
		"burst":  analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Burst: analysistest.CheckoutBurst, VendorMS: healthy, ConsumerMS: 50, RTTMS: 1, Seed: 8}),
	} {
		a := analysis.Analyze(r.Traces(2), r.Options())
		f := a.ModelFit
		if f == nil {
			t.Fatalf("%s: no model fit", name)
		}
		if f.ThroughputError < -0.1 || f.ThroughputError > 0.1 {
			t.Errorf("%s: simulated %.1f jobs/s vs measured %.1f", name, f.SimulatedThroughputPerS, f.MeasuredThroughputPerS)
		}
		if f.FastP99Error < -0.25 || f.FastP99Error > 0.25 {
			t.Errorf("%s: simulated fast p99 %.0f vs measured %.0f", name, f.SimulatedFastP99MS, f.MeasuredFastP99MS)
		}
	}
}

func TestTruncatedWindowRatesAreOverThePartRead(t *testing.T) {
	// 20 s at 10/s, healthy; the search returned only the newest half.
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Rate: 10, Seconds: 20, Mix: cacheOnly, ConsumerMS: 1, RTTMS: 1, Seed: 9})
	all := r.Traces(2)
	newest := all[len(all)/2:]
	o := r.Options()
	o.Limit = len(newest)
	a := analysis.Analyze(newest, o)
	if !a.Period.Truncated {
		t.Fatal("a search that returned its limit must be marked truncated")
	}
	if !near(a.Period.Seconds, 10, 0.1) {
		t.Errorf("period %.1f s, want the ~10 s the newest half covers", a.Period.Seconds)
	}
	if adm := a.Stage(analysis.StageAdmission); !near(adm.ArrivalsPerS, 10, 0.1) {
		t.Errorf("arrivals %.2f/s, want 10 (not 5: the rate is over the part read)", adm.ArrivalsPerS)
	}
	if !slices.ContainsFunc(a.Verdict.Notes, func(n string) bool { return strings.Contains(n, "Only the newest") }) {
		t.Errorf("notes %q, want the truncation said", a.Verdict.Notes)
	}
}

func TestLoadStillArrivingEndsThePeriodAtTheWindow(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), steadyAtConsumer(10))
	r.ReadAtMS = 6000 // read while the load runs
	a := analysis.Analyze(r.Traces(2), r.Options())
	if a.Period.EndsAt != "window" {
		t.Errorf("period ends at %q, want window", a.Period.EndsAt)
	}
	wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
	if !near(a.Verdict.ThroughputPerS, 19.6, 0.08) {
		t.Errorf("throughput %.1f/s, want the consumer's ~19.6", a.Verdict.ThroughputPerS)
	}
	if a.Jobs.InFlight == 0 {
		t.Errorf("jobs %+v: want jobs in flight at the read", a.Jobs)
	}
}

func TestAConsumerThatStoppedIsNamed(t *testing.T) {
	// The consumer never answers: nothing is handled, and the capacity of
	// nothing can be measured. The report must not call that healthy.
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Rate: 20, Seconds: 6, Mix: cacheOnly, ConsumerMS: 1e9, RTTMS: 1, Seed: 16})
	r.ReadAtMS = 6000
	forEachContract(t, r, func(t *testing.T, a analysis.Analysis) {
		// v2's results.channel.wait shows a forwarder took a result; in v1
		// a delivery in progress leaves no span: the delivery is named.
		want := analysis.StageConsumer
		if a.Contract == "v1" {
			want = analysis.StageDelivery
		}
		wantVerdict(t, a, want, analysis.KindCapacity)
		if !strings.HasPrefix(a.Verdict.Summary, "Nothing was handled") || a.Verdict.Healthy {
			t.Errorf("verdict %+v", a.Verdict)
		}
	})
	// A vendor outage: every vendor call hangs, the workers hold them.
	r = analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 8, 8 }),
		analysistest.Load{Rate: 20, Seconds: 6, Mix: [3]float64{0, 0, 100}, VendorMS: [2]float64{10000, 10000}, ConsumerMS: 1, RTTMS: 1, Seed: 17})
	r.ReadAtMS = 6000
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageWorkers, analysis.KindCapacity)
}

func TestConfigFromAttributesOrInferred(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 3, 2 }), steadyAtConsumer(11))
	v1 := analysis.Analyze(r.Traces(1), r.Options())
	for _, name := range []string{"workers", "forwarders", "consumer_concurrency", "queue_capacity", "submit_wait_ms"} {
		if !v1.Config.IsInferred(name) {
			t.Errorf("v1: %s not marked inferred (%v)", name, v1.Config.Inferred)
		}
	}
	v2 := analysis.Analyze(r.Traces(2), r.Options())
	c := v2.Config
	if c.Workers != 4 || c.QueueCapacity != 40 || c.Forwarders != 2 || c.ConsumerConcurrency != 3 || c.ResultsBufferCap != 4 {
		t.Errorf("v2 config %+v", c)
	}
	for _, name := range []string{"workers", "forwarders", "consumer_concurrency", "queue_capacity"} {
		if c.IsInferred(name) {
			t.Errorf("v2: %s marked inferred though the spans carry it", name)
		}
	}
	if !near(c.SubmitWaitMS, 1000, 0.01) {
		t.Errorf("submit wait %.0f ms, want the ~1 s refused Submits took", c.SubmitWaitMS)
	}
	// Saturated, v1's inference finds the real values too.
	if v1.Config.Forwarders != 2 || v1.Config.ConsumerConcurrency != 2 || v1.Config.QueueCapacity != 40 {
		t.Errorf("v1 inferred %+v; want 2 forwarders, 2 at once at the consumer (the forwarders cap it), 40 queue slots", v1.Config)
	}
}

func TestEveryJobHasAType(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Burst: analysistest.CheckoutBurst, VendorMS: healthy, ConsumerMS: 5, RTTMS: 1, Seed: 12})
	traces := r.Traces(1)
	// Strip job.type from every span: the type must come from the work.
	for i := range traces {
		for k := range traces[i].Spans {
			s := &traces[i].Spans[k]
			s.Tags = slices.DeleteFunc(s.Tags, func(kv jaegerapi.KeyValue) bool { return kv.Key == spans.JobType })
		}
	}
	// And a trace that is no job's at all.
	traces = append(traces, jaegerapi.Trace{TraceID: "ffff", Spans: []jaegerapi.Span{{TraceID: "ffff", SpanID: "1", OperationName: "GET /healthz", ProcessID: "p1"}},
		Processes: map[string]jaegerapi.Process{"p1": {ServiceName: "producer"}}})
	a := analysis.Analyze(traces, r.Options())
	if a.Ignored != 1 || a.Jobs.Total != 20 {
		t.Errorf("ignored %d, jobs %d; want the stray trace ignored and the 20 jobs counted", a.Ignored, a.Jobs.Total)
	}
	want := map[string]int{analysis.TypeCacheRead: 12, analysis.TypeDatabase: 4, analysis.TypeVendorAPI: 4}
	for typ, n := range want {
		if a.Jobs.ByType[typ] != n {
			t.Errorf("by type %v, want %v", a.Jobs.ByType, want)
			break
		}
	}
	if _, ok := a.Jobs.ByType[""]; ok || len(a.Jobs.ByType) != 3 {
		t.Errorf("by type %v: a job without a type", a.Jobs.ByType)
	}
}

func TestV2RootNameGivesTheTypeOfAShedJob(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), steadyAtConsumer(13))
	traces := r.Traces(2)
	shed := 0
	for i := range traces {
		for k := range traces[i].Spans {
			s := &traces[i].Spans[k]
			if s.OperationName == spans.JobSubmit && s.TagString(spans.SubmitOutcome) == spans.SubmitRejected {
				shed++
			}
			// Only the root's name says the type.
			s.Tags = slices.DeleteFunc(s.Tags, func(kv jaegerapi.KeyValue) bool { return kv.Key == spans.JobType })
		}
	}
	a := analysis.Analyze(traces, r.Options())
	if a.Jobs.Rejected != shed || a.Jobs.ByType[analysis.TypeCacheRead] != a.Jobs.Total {
		t.Errorf("jobs %+v, want %d shed and every job a cache-read", a.Jobs, shed)
	}
}

func TestWorkerTime(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Burst: analysistest.CheckoutBurst, VendorMS: healthy, Degraded: 0.25, SlowMS: slowCalls, ConsumerMS: 50, RTTMS: 1, Seed: 2})
	a := analysis.Analyze(r.Traces(2), r.Options())
	wt := a.WorkerTime
	if len(wt.PerWorker) != 4 {
		t.Fatalf("%d workers, want 4", len(wt.PerWorker))
	}
	jobs := 0
	for _, w := range wt.PerWorker {
		jobs += w.Jobs
	}
	if jobs != 20 {
		t.Errorf("%d jobs on the workers, want 20", jobs)
	}
	if sum := wt.WorkingShare + wt.BlockedShare + wt.IdleShare; !near(sum, 1, 1e-9) || wt.BlockedShare == 0 {
		t.Errorf("worker time %+v: shares must add up to 1, with some blocked", wt)
	}
	// One burst: the pipeline is busy for all of it.
	if wt.BlockedOfActive < wt.BlockedShare || wt.BlockedOfActive > 1.2*wt.BlockedShare {
		t.Errorf("blocked of active %.3f vs blocked share %.3f: one burst, the same time", wt.BlockedOfActive, wt.BlockedShare)
	}
}

func TestAnalysisJSONNames(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), steadyAtConsumer(14))
	a := analysis.Analyze(r.Traces(2), r.Options())
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	stage := doc["stages"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "arrivals_per_s", "completions_per_s", "service_ms_avg", "service_ms_p99", "servers", "utilization", "wait_ms_avg", "queue_len_avg"} {
		if _, ok := stage[k]; !ok {
			t.Errorf("stage lacks %q", k)
		}
	}
	v := doc["verdict"].(map[string]any)
	for _, k := range []string{"bottleneck_stage", "kind", "throughput_per_s", "fixes"} {
		if _, ok := v[k]; !ok {
			t.Errorf("verdict lacks %q", k)
		}
	}
	fix := v["fixes"].([]any)[0].(map[string]any)["predicted"].(map[string]any)
	for _, k := range []string{"throughput_per_s", "fast_p99_ms"} {
		if _, ok := fix[k]; !ok {
			t.Errorf("predicted lacks %q", k)
		}
	}
	if _, ok := doc["jobs"].(map[string]any)["rejected"]; !ok {
		t.Error("jobs lacks rejected")
	}
	var names []string
	for _, s := range doc["stages"].([]any) {
		names = append(names, s.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, analysis.StageNames) {
		t.Errorf("stages %v, want %v in pipeline order", names, analysis.StageNames)
	}
}

func TestNoTracesNoVerdict(t *testing.T) {
	a := analysis.Analyze(nil, analysis.Options{})
	if a.Verdict.Kind != analysis.KindNone || a.Verdict.Stage != analysis.StageNone || len(a.Verdict.Fixes) != 0 {
		t.Errorf("verdict %+v", a.Verdict)
	}
}

// BenchmarkAnalyze is the console's call: about once a second on ~1,000
// traces of a saturated pipeline (every stage busy, every fix simulated).
func BenchmarkAnalyze(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  analysis.SimConfig
		l    analysistest.Load
	}{
		{"consumer", analysistest.IncidentConfig(), analysistest.Load{Rate: 100, Seconds: 10, Mix: cacheOnly, ConsumerMS: 50, RTTMS: 1, Seed: 1}},
		{"burst", analysistest.IncidentConfig(), analysistest.Load{Burst: analysistest.CheckoutBurst, Every: 0, Times: 1, VendorMS: healthy, Degraded: 0.2, SlowMS: slowCalls, ConsumerMS: 50, RTTMS: 1, Seed: 1}},
		{"mixed", withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), analysistest.Load{Rate: 100, Seconds: 10, Mix: [3]float64{60, 20, 20}, VendorMS: healthy, Degraded: 0.2, SlowMS: slowCalls, ConsumerMS: 5, RTTMS: 1, Seed: 1}},
	} {
		r := analysistest.Simulate(tc.cfg, tc.l)
		traces := r.Traces(2)
		o := r.Options()
		b.Run(fmt.Sprintf("%s/%d-traces", tc.name, len(traces)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				analysis.Analyze(traces, o)
			}
		})
	}
}

type jaegerapiTrace = jaegerapi.Trace

// arrivedAfter is what a search by the producer over a window starting at
// from returns: the traces with a producer span starting in it.
func arrivedAfter(traces []jaegerapi.Trace, from time.Time) []jaegerapi.Trace {
	var out []jaegerapi.Trace
	for _, tr := range traces {
		for _, s := range tr.Spans {
			if tr.Service(&s) == "producer" && s.StartTime >= from.UnixMicro() {
				out = append(out, tr)
				break
			}
		}
	}
	return out
}

// completedAfter is what a search by the consumer's result.process over a
// window starting at from returns.
func completedAfter(traces []jaegerapi.Trace, from time.Time) []jaegerapi.Trace {
	var out []jaegerapi.Trace
	for _, tr := range traces {
		for _, s := range tr.Spans {
			if s.OperationName == spans.ResultProcess && s.StartTime >= from.UnixMicro() {
				out = append(out, tr)
				break
			}
		}
	}
	return out
}

// checkoutEvery is the producer's default scenario, scaled: the incident's
// burst, n times, every apart.
func checkoutEvery(every time.Duration, n int, seed uint64) analysistest.Load {
	return analysistest.Load{Burst: analysistest.CheckoutBurst, Every: every, Times: n, VendorMS: healthy, Degraded: 0.25, SlowMS: slowCalls, ConsumerMS: 50, RTTMS: 1, Seed: seed}
}

// TestPeriodicBurstsAreBursts: the default scenario is a checkout burst
// every 20 s. However many of them a window holds, they are bursts the
// results channel could not absorb (the review's 2-minute and 40-second
// windows were called head-of-line, the console flipped between the two):
// each drains long before the next, so the idle time between them must
// dilute neither the arrival rate nor the blocking.
func TestPeriodicBurstsAreBursts(t *testing.T) {
	for _, n := range []int{1, 2, 3, 6} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r := analysistest.Simulate(analysistest.IncidentConfig(), checkoutEvery(20*time.Second, n, 2))
			a := analysis.Analyze(r.Traces(2), r.Options())
			wantVerdict(t, a, analysis.StageResults, analysis.KindBurst)
			if a.Verdict.Sustained || a.Period.BusyPeriods != n || a.Period.SustainedSeconds != 0 {
				t.Errorf("sustained %v, %d busy periods (%.1f s sustained); want %d bursts", a.Verdict.Sustained, a.Period.BusyPeriods, a.Period.SustainedSeconds, n)
			}
			if fixFor(a, "RESULTS_BUFFER") == nil || fixFor(a, "PRIORITY_LANES") != nil && a.Verdict.Fixes[0].Setting == "PRIORITY_LANES" {
				t.Errorf("fixes %v, want RESULTS_BUFFER first", settings(a))
			}
			// Blocking over the time the pipeline had work: the same for
			// one burst and six.
			wt := a.WorkerTime
			if wt.BlockedOfActive < 0.1 {
				t.Errorf("blocked %.3f of the workers' active time, want the burst's share (> 10%%)", wt.BlockedOfActive)
			}
			if n == 6 && wt.BlockedShare >= 0.05 {
				t.Errorf("blocked %.3f of all the workers' time: want it diluted by the idle gaps (the case this test is about)", wt.BlockedShare)
			}
			if n > 1 && !strings.HasPrefix(a.Verdict.Summary, "Bursts overflowed the results channel: "+strconv.Itoa(n)+" of them") {
				t.Errorf("summary %q", a.Verdict.Summary)
			}
		})
	}
	// With the buffer fix in force, the same bursts are no burst verdict.
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), checkoutEvery(20*time.Second, 3, 2))
	a := analysis.Analyze(r.Traces(2), r.Options())
	if a.Verdict.Kind == analysis.KindBurst || fixFor(a, "RESULTS_BUFFER") != nil {
		t.Errorf("buffer 400: verdict %s/%s, fixes %v", a.Verdict.Stage, a.Verdict.Kind, settings(a))
	}
}

// TestBurstsThatOverlapAreSustained: bursts that come before the pipeline
// emptied are one busy period: sustained load, judged by capacity.
func TestBurstsThatOverlapAreSustained(t *testing.T) {
	burst := make([]string, 20)
	for i := range burst {
		burst[i] = analysis.TypeVendorAPI
	}
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders, c.QueueSize = 8, 8, 400 }),
		analysistest.Load{Burst: burst, Every: 3 * time.Second, Times: 8, VendorMS: [2]float64{1800, 2200}, ConsumerMS: 1, RTTMS: 1, Seed: 3})
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageWorkers, analysis.KindCapacity)
	if !a.Verdict.Sustained || a.Period.BusyPeriods != 1 {
		t.Errorf("sustained %v, %d busy periods: 20 two-second jobs every 3 s on 4 workers never drain", a.Verdict.Sustained, a.Period.BusyPeriods)
	}
}

// shortWindow is the review's case: a 400-slot results channel full under
// 100 jobs/s, so jobs take ~25 s end to end, read over the last 10 s.
func shortWindow(t *testing.T) (arrived, completed []jaegerapi.Trace, o analysis.Options) {
	t.Helper()
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), analysistest.Load{Rate: 100, Seconds: 40, Mix: cacheOnly, ConsumerMS: 50, RTTMS: 1, Seed: 1})
	r.ReadAtMS = 40000
	all := r.Traces(2)
	o = r.Options()
	o.WindowStart = time.UnixMicro(analysistest.Base + 30_000_000)
	return arrivedAfter(all, o.WindowStart), completedAfter(all, o.WindowStart), o
}

func TestWindowShorterThanEndToEndMeasuresCompletions(t *testing.T) {
	arrived, completed, o := shortWindow(t)
	// Read by arrival alone, nothing the window holds was handled yet.
	a := analysis.Analyze(arrived, o)
	if a.Jobs.Delivered != 0 || a.Jobs.InFlight == 0 {
		t.Fatalf("jobs %+v: the case needs jobs still in flight, none handled", a.Jobs)
	}
	// With what the consumer handled in the window, whenever it arrived.
	o.Completions = completed
	a = analysis.Analyze(arrived, o)
	wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
	if !near(a.Verdict.ThroughputPerS, 19.6, 0.05) || !near(a.Verdict.OfferedPerS, 100, 0.03) {
		t.Errorf("throughput %.1f, offered %.1f; want the consumer's ~19.6 of 100", a.Verdict.ThroughputPerS, a.Verdict.OfferedPerS)
	}
	if a.Jobs.HandledEarlier < 150 || a.Jobs.Total != len(arrived) || a.Jobs.Delivered != 0 {
		t.Errorf("jobs %+v: want the arrivals counted as before, ~196 handled earlier apart", a.Jobs)
	}
	if c := a.Stage(analysis.StageConsumer); c.Samples < 150 || !near(c.ServiceMSAvg, 50, 0.01) {
		t.Errorf("consumer %+v: want its handling measured on the completions", c)
	}
	if res := a.Stage(analysis.StageResults); res.Utilization < 0.95 || res.Utilization > 1 {
		t.Errorf("results %.2f full, want full (every send blocked)", res.Utilization)
	}
	if !slices.ContainsFunc(a.Verdict.Notes, func(n string) bool { return strings.HasPrefix(n, "Jobs take longer end to end than the period read") }) {
		t.Errorf("notes %q", a.Verdict.Notes)
	}
	if fixFor(a, "CONCURRENCY") == nil {
		t.Errorf("fixes %v, want CONCURRENCY", settings(a))
	}
	// Only the newest half of the arrivals read (the search's limit): the
	// jobs handled earlier are those handled in the part read, not in the
	// whole window the second search covers.
	half := o
	half.Limit = len(arrived) / 2
	h := analysis.Analyze(arrived[len(arrived)-half.Limit:], half)
	if handled := h.Verdict.ThroughputPerS * h.Period.Seconds; !h.Period.Truncated || !near(float64(h.Jobs.HandledEarlier+h.Jobs.Delivered+h.Jobs.Failed), handled, 0.1) {
		t.Errorf("truncated: %d handled earlier, %d delivered in %.1f s at %.1f/s; want them to add up to the ~%.0f handled in the period",
			h.Jobs.HandledEarlier, h.Jobs.Delivered, h.Period.Seconds, h.Verdict.ThroughputPerS, handled)
	}
	// The completions read count once, whether or not the first search
	// returned them too.
	o.Completions = append(append([]jaegerapi.Trace{}, completed...), arrived...)
	b := analysis.Analyze(arrived, o)
	if !reflect.DeepEqual(b.Jobs, a.Jobs) || b.Verdict.ThroughputPerS != a.Verdict.ThroughputPerS {
		t.Errorf("jobs %+v, %.2f/s with duplicates; want %+v, %.2f/s", b.Jobs, b.Verdict.ThroughputPerS, a.Jobs, a.Verdict.ThroughputPerS)
	}
}

// TestTruncatedCompletionsAreCountedOverThePartRead: a backlog draining
// after the load dropped, so more completions than arrivals, and the
// search for completions hit its limit: the completion rate is over the
// part it read, not over the whole period.
func TestTruncatedCompletionsAreCountedOverThePartRead(t *testing.T) {
	backlog := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), analysistest.Load{Rate: 100, Seconds: 30, Mix: cacheOnly, ConsumerMS: 50, RTTMS: 1, Seed: 21})
	trickle := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Rate: 2, Seconds: 13, Mix: cacheOnly, ConsumerMS: 50, RTTMS: 1, Seed: 22})
	from, to := time.UnixMicro(analysistest.Base+32_000_000), time.UnixMicro(analysistest.Base+45_000_000)
	arrived := shifted(trickle.Traces(2), 32_000_000, "t")
	completed := completedAfter(backlog.Traces(2), from)
	completed = slices.DeleteFunc(completed, func(tr jaegerapi.Trace) bool { return lastEnd(tr) > to.UnixMicro() })
	if len(completed) < 200 {
		t.Fatalf("%d completions in the window: the case needs the backlog draining", len(completed))
	}
	slices.SortFunc(completed, func(x, y jaegerapi.Trace) int { return cmp.Compare(lastEnd(y), lastEnd(x)) })
	o := analysis.Options{WindowStart: from, WindowEnd: to, Limit: 100, Completions: completed[:100]}
	a := analysis.Analyze(arrived, o)
	if a.Period.Truncated {
		t.Fatalf("%d arrivals read with a limit of 100: not truncated", len(arrived))
	}
	// The backlog's ~19.6/s, and the trickle's own 2/s (the synthetic
	// runs don't share a consumer).
	if c := a.Stage(analysis.StageConsumer); !near(c.CompletionsPerS, 21.6, 0.1) {
		t.Errorf("consumer %.1f/s over the newest 100 completions, want ~21.6 (not ~10: 100 and the trickle's over the whole %.0f s)", c.CompletionsPerS, a.Period.Seconds)
	}
}

func lastEnd(tr jaegerapi.Trace) int64 {
	var end int64
	for _, s := range tr.Spans {
		end = max(end, s.End())
	}
	return end
}

// TestBufferLastsAtWhatTheWorkersHandOver: under a sustained surplus the
// results channel fills at what the workers hand over, at most their
// capacity, minus what the consumer takes: not at the offered load minus
// it. The default mix with a degraded vendor caps the workers near 43/s.
func TestBufferLastsAtWhatTheWorkersHandOver(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }),
		analysistest.Load{Rate: 100, Seconds: 8, Mix: [3]float64{60, 20, 20}, VendorMS: healthy, Degraded: 0.25, SlowMS: slowCalls, ConsumerMS: 50, RTTMS: 1, Seed: 5})
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
	w, d := a.Stage(analysis.StageWorkers).CapacityPerS, a.Stage(analysis.StageDelivery).CapacityPerS
	if w >= 60 || w <= d {
		t.Fatalf("workers' capacity %.1f/s: the case needs it between the consumer's %.1f and the 100 offered", w, d)
	}
	if want := 400 / (w - d); !near(a.Verdict.BufferLastsS, want, 0.01) {
		t.Errorf("buffer lasts %.1f s, want 400 / (%.1f - %.1f) = %.1f s (not 400/80 = 5 s)", a.Verdict.BufferLastsS, w, d, want)
	}
}

// TestPeriodStartsAtTheWindow: a job submitted again inside the window
// has spans there, but arrived before it; it must not stretch the period.
func TestPeriodStartsAtTheWindow(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 8, 8 }),
		analysistest.Load{Rate: 100, Seconds: 20, Mix: cacheOnly, ConsumerMS: 1, RTTMS: 1, Seed: 18})
	all := r.Traces(2)
	o := r.Options()
	o.WindowStart = time.UnixMicro(analysistest.Base + 10_000_000)
	in := arrivedAfter(all, o.WindowStart)
	// Three jobs from 5 s earlier, as a re-submission inside the window
	// would bring them.
	in = append(in, all[500], all[501], all[502])
	a := analysis.Analyze(in, o)
	if a.Period.Start.Before(o.WindowStart) || a.Period.Arrivals != len(in)-3 {
		t.Errorf("period from %s (window from %s), %d arrivals; want it to start in the window, with the %d that arrived there",
			a.Period.Start, o.WindowStart, a.Period.Arrivals, len(in)-3)
	}
	if adm := a.Stage(analysis.StageAdmission); !near(adm.ArrivalsPerS, 100, 0.03) || !near(a.Verdict.OfferedPerS, 100, 0.03) {
		t.Errorf("arrivals %.1f/s, offered %.1f/s; want 100", adm.ArrivalsPerS, a.Verdict.OfferedPerS)
	}
}

// TestSettingsChangedInTheWindowAreFlagged: a window across a change of
// RESULTS_BUFFER from 400 to 4 measures waits under the big buffer: the
// small one must not show as 1000% full.
func TestSettingsChangedInTheWindowAreFlagged(t *testing.T) {
	big := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), steadyAtConsumer(19))
	small := analysistest.Simulate(analysistest.IncidentConfig(), steadyAtConsumer(20))
	traces := append(big.Traces(2), shifted(small.Traces(2), 30_000_000, "b")...)
	o := big.Options()
	_, end := small.Window()
	o.WindowEnd = end.Add(30 * time.Second)
	a := analysis.Analyze(traces, o)
	if !slices.Contains(a.Config.Changed, "results_buffer_cap") || a.Config.ResultsBufferCap != 4 {
		t.Errorf("config %+v: want results_buffer_cap changed, 4 the latest", a.Config)
	}
	for _, s := range a.Stages {
		if s.Kind == analysis.KindBuffer && s.Utilization > 1 {
			t.Errorf("%s %.0f%% full", s.Name, 100*s.Utilization)
		}
	}
	if !slices.ContainsFunc(a.Verdict.Notes, func(n string) bool {
		return strings.HasPrefix(n, "RESULTS_BUFFER changed while these traces were written")
	}) {
		t.Errorf("notes %q", a.Verdict.Notes)
	}
	// One setting throughout: nothing flagged.
	if b := analysis.Analyze(big.Traces(2), big.Options()); len(b.Config.Changed) != 0 {
		t.Errorf("changed %v in a window of one setting", b.Config.Changed)
	}
}

// shifted moves traces dt µs later, with new trace IDs.
func shifted(traces []jaegerapi.Trace, dt int64, suffix string) []jaegerapi.Trace {
	out := make([]jaegerapi.Trace, len(traces))
	for i, tr := range traces {
		tr.TraceID += suffix
		tr.Spans = slices.Clone(tr.Spans)
		for k := range tr.Spans {
			tr.Spans[k].TraceID = tr.TraceID
			tr.Spans[k].StartTime += dt
		}
		out[i] = tr
	}
	return out
}

// TestFixesAreCheckedAgainstTheBaseline: with the buffer fix in force and
// a checkout burst, fast jobs still wait behind vendor jobs for a worker
// (head-of-line); but with lanes they would wait as long for the one
// consumer. The simulation, which reproduces the burst, says so: lanes are
// not recommended, and a note says why.
func TestFixesAreCheckedAgainstTheBaseline(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }), checkoutEvery(0, 1, 3))
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageQueue, analysis.KindHeadOfLine)
	if f := a.ModelFit; f == nil || f.FastP99Error < -0.1 || f.FastP99Error > 0.1 {
		t.Fatalf("model fit %+v: the case needs a simulation that reproduces the burst", f)
	}
	if fixFor(a, "PRIORITY_LANES") != nil {
		t.Errorf("fixes %v: lanes recommended though they don't help", settings(a))
	}
	if !slices.ContainsFunc(a.Verdict.Notes, func(n string) bool { return strings.HasPrefix(n, "Won't help: workers PRIORITY_LANES=on — ") }) {
		t.Errorf("notes %q, want why lanes are not recommended", a.Verdict.Notes)
	}

	// The buffer fix for a burst: what it changes is the blocking and the
	// fast jobs' wait for a worker, next to the baseline.
	r = analysistest.Simulate(analysistest.IncidentConfig(), checkoutEvery(0, 1, 2))
	a = analysis.Analyze(r.Traces(2), r.Options())
	f, buf := a.ModelFit, fixFor(a, "RESULTS_BUFFER")
	if f == nil || buf == nil {
		t.Fatalf("model fit %+v, fixes %v", f, settings(a))
	}
	if f.MeasuredBlockedShare < 0.1 || !near(f.SimulatedBlockedShare, f.MeasuredBlockedShare, 0.1) || f.MeasuredFastWaitP99MS < 100 {
		t.Errorf("model fit %+v: want the blocking and the fast jobs' wait measured and simulated", f)
	}
	if p := buf.Predicted; p.BlockedShare != 0 || p.FastWaitP99MS > f.SimulatedFastWaitP99MS/2 {
		t.Errorf("predicted %+v: want no blocking and the fast jobs' wait for a worker cut (now %.0f ms)", p, f.SimulatedFastWaitP99MS)
	}
}

// TestCompletionsLagBehindArrivals: read while load runs, the consumer's
// spans reach Jaeger a second or so after the producer's. The completions
// Jaeger has end earlier than the arrivals: counted up to the last of
// them, the rate is the consumer's, not 10% less. Both searches hit their
// limit here (the newest 500 of each), so the completions read include
// jobs that arrived before the period.
func TestCompletionsLagBehindArrivals(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 8, 8 }),
		analysistest.Load{Rate: 100, Seconds: 20, Mix: cacheOnly, ConsumerMS: 50, RTTMS: 1, Seed: 23})
	end := analysistest.Base + 15_000_000
	// What Jaeger has at end: the producer's spans up to it, the others'
	// up to 1.2 s before.
	var all []jaegerapi.Trace
	for _, tr := range r.Traces(2) {
		tr.Spans = slices.DeleteFunc(slices.Clone(tr.Spans), func(s jaegerapi.Span) bool {
			at := end
			if tr.Service(&s) != "producer" {
				at -= 1_200_000
			}
			return s.End() > at
		})
		if len(tr.Spans) > 0 {
			all = append(all, tr)
		}
	}
	from := time.UnixMicro(analysistest.Base + 5_000_000)
	newest := func(trs []jaegerapi.Trace) []jaegerapi.Trace {
		slices.SortFunc(trs, func(x, y jaegerapi.Trace) int { return cmp.Compare(lastEnd(y), lastEnd(x)) })
		return trs[:500]
	}
	o := analysis.Options{WindowStart: from, WindowEnd: time.UnixMicro(end), Limit: 500, Completions: newest(completedAfter(all, from))}
	a := analysis.Analyze(newest(arrivedAfter(all, from)), o)
	if a.Period.EndsAt != "window" || a.Jobs.HandledEarlier == 0 {
		t.Fatalf("period %+v, jobs %+v: the case needs load still arriving and completions of jobs from before the period", a.Period, a.Jobs)
	}
	if !near(a.Verdict.ThroughputPerS, 100, 0.03) {
		t.Errorf("throughput %.1f/s; want the 100/s handled", a.Verdict.ThroughputPerS)
	}
}

// TestCompletionsReadAfterTheArrivals: the report searches by arrival,
// then by completion, a second or two later. By then Jaeger has jobs the
// first search did not see: they arrived after its newest arrival. They
// are completions of the window, not arrivals of the period: counted
// neither as arrivals nor in the replay (where, bunched onto the pattern's
// end, they once made the simulation block 70% of the time), and the
// period ends where the first search's data did.
func TestCompletionsReadAfterTheArrivals(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.Concurrency, c.Forwarders = 7, 7 }),
		analysistest.Load{Rate: 100, Seconds: 20, Mix: cacheOnly, ConsumerMS: 54, RTTMS: 1, Seed: 24})
	all := r.Traces(2)
	readAt := func(at int64) []jaegerapi.Trace {
		var out []jaegerapi.Trace
		for _, tr := range all {
			tr.Spans = slices.DeleteFunc(slices.Clone(tr.Spans), func(s jaegerapi.Span) bool { return s.End() > at })
			if len(tr.Spans) > 0 {
				out = append(out, tr)
			}
		}
		return out
	}
	from, end := analysistest.Base+5_000_000, analysistest.Base+15_000_000
	o := analysis.Options{WindowStart: time.UnixMicro(from), WindowEnd: time.UnixMicro(end), Limit: 100000}
	// The first search sees what was exported by 0.9 s before the
	// window's end; the second, 1.5 s later, everything handled in it.
	o.Completions = slices.DeleteFunc(completedAfter(readAt(end+600_000), time.UnixMicro(from)), func(tr jaegerapi.Trace) bool {
		for _, s := range tr.Spans {
			if s.OperationName == spans.ResultProcess && s.StartTime > end {
				return true
			}
		}
		return false
	})
	a := analysis.Analyze(arrivedAfter(readAt(end-900_000), time.UnixMicro(from)), o)
	if a.Jobs.HandledEarlier != 0 || a.Period.End.UnixMicro() > end-900_000 {
		t.Errorf("jobs %+v, period to %s: the later jobs must not count, the period end where the first search's data did", a.Jobs, a.Period.End)
	}
	f := a.ModelFit
	if !near(a.Verdict.ThroughputPerS, 100, 0.03) || f == nil || !near(f.SimulatedThroughputPerS, 100, 0.03) || f.SimulatedBlockedShare > 0.1 {
		t.Errorf("throughput %.1f, model fit %+v: want ~100/s measured and simulated, no blocking", a.Verdict.ThroughputPerS, f)
	}
}

// TestLanesComeWithTheWorkersTheVendorJobsNeed: the e2e head-of-line
// scenario. Vendor calls keep ~3 of the 4 workers busy; lanes alone leave
// them 3, so they would trade the fast jobs' wait for a vendor backlog
// (and the check of the fix rejected them). The fix raises WORKERS with
// the lanes.
func TestLanesComeWithTheWorkersTheVendorJobsNeed(t *testing.T) {
	r := analysistest.Simulate(withCfg(func(c *analysis.SimConfig) { c.ResultsBuffer = 400 }),
		analysistest.Load{Rate: 15, Seconds: 15, Mix: [3]float64{73, 0, 27}, VendorMS: [2]float64{740, 780}, ConsumerMS: 1, RTTMS: 1, Seed: 25})
	a := analysis.Analyze(r.Traces(2), r.Options())
	wantVerdict(t, a, analysis.StageQueue, analysis.KindHeadOfLine)
	if got := settings(a); len(got) < 2 || got[0] != "PRIORITY_LANES=on" || got[1] != "WORKERS=5" {
		t.Fatalf("fixes %v, want PRIORITY_LANES=on with WORKERS=5 (2.9 workers of vendor calls / 80%% + 1)", got)
	}
	fx := a.Verdict.Fixes[0]
	if len(fx.Changes) != 2 || fx.Predicted.FastP99MS > a.ModelFit.SimulatedFastP99MS/4 || fx.Predicted.ThroughputPerS < 0.97*a.Verdict.OfferedPerS {
		t.Errorf("fix %+v: want both settings in one fix, all the load handled, fast jobs' p99 far below the %.0f ms simulated now", fx, a.ModelFit.SimulatedFastP99MS)
	}
}

// TestDeepQueueMeasuresWorkOnTheJobsHandled is the experiment's queue-x10
// row: a 400-job queue full behind a slow consumer, so the jobs that
// arrived in a 10 s window are still queued when it ends and none reached
// a worker. The workers' service time then comes from the jobs handled in
// the window (worked on shortly before it), not from nowhere: without it
// the consumer's fix was predicted to carry the whole offered load past
// four workers busy with vendor calls.
func TestDeepQueueMeasuresWorkOnTheJobsHandled(t *testing.T) {
	cfg := withCfg(func(c *analysis.SimConfig) { c.QueueSize = 400 })
	r := analysistest.Simulate(cfg, analysistest.Load{Rate: 100, Seconds: 40, Mix: [3]float64{60, 20, 20}, VendorMS: healthy, ConsumerMS: 50, RTTMS: 1, Seed: 4})
	r.ReadAtMS = 40000
	all := r.Traces(2)
	o := r.Options()
	o.WindowStart = time.UnixMicro(analysistest.Base + 30_000_000)
	arrived := arrivedAfter(all, o.WindowStart)
	o.Completions = completedAfter(all, o.WindowStart)
	a := analysis.Analyze(arrived, o)
	wantVerdict(t, a, analysis.StageConsumer, analysis.KindCapacity)
	w := a.Stage(analysis.StageWorkers)
	// 4 workers at ~48 ms a job on average (a fifth of them 100-300 ms
	// vendor calls): about 80 jobs/s.
	if w.Samples < 50 || w.CapacityPerS < 60 || w.CapacityPerS > 110 {
		t.Fatalf("workers %+v: want their work measured on the jobs handled, ~80 jobs/s", w)
	}
	fx := fixFor(a, "CONCURRENCY")
	if fx == nil {
		t.Fatalf("fixes %v, want CONCURRENCY", settings(a))
	}
	if p := fx.Predicted; p.ThroughputPerS > 1.05*w.CapacityPerS || p.BottleneckStage != analysis.StageWorkers {
		t.Errorf("the consumer's fix predicts %.1f jobs/s limited by %q; want at most the workers' %.1f, and the workers next",
			p.ThroughputPerS, p.BottleneckStage, w.CapacityPerS)
	}
}
