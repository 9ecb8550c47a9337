package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// clock is a fake clock: Sleep advances it.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.t = c.t.Add(d)
	return nil
}

// rates are what the fake system does per second under one configuration.
type rates struct {
	offered, delivered, refused, shed, behind, failed float64
	fastShare                                         float64 // of delivered
	blockedShare                                      float64 // of worker time
	workers                                           int
	workersCPU                                        float64 // cores
	workersWait                                       float64 // cores' worth of waiting for a CPU
	machineBusy                                       float64 // share of all CPUs
	spansLost                                         float64
}

// fakeSystem turns a configuration into counters that grow at its rates
// while load runs, and records every call.
type fakeSystem struct {
	clock    *clock
	model    func(env settings.Env) rates
	calls    []string
	envs     []settings.Env
	failOn   map[string]error // call name → error
	onCall   func(name string)
	cur      rates
	loadOn   bool
	since    time.Time
	counters measure.Counters
	cpu      time.Duration
	wait     time.Duration
	busy     time.Duration
	total    time.Duration
	lost     float64
}

func (f *fakeSystem) call(name string) error {
	f.calls = append(f.calls, name)
	if f.onCall != nil {
		f.onCall(name)
	}
	return f.failOn[name]
}

// advance adds the counters' growth since the last call.
func (f *fakeSystem) advance() {
	now := f.clock.Now()
	secs := now.Sub(f.since).Seconds()
	f.since = now
	if !f.loadOn || secs <= 0 {
		f.total += time.Duration(secs * 2 * float64(time.Second))
		return
	}
	r := f.cur
	c := &f.counters
	add := func(m *map[string]uint64, k string, v float64) {
		if *m == nil {
			*m = map[string]uint64{}
		}
		(*m)[k] += uint64(v*secs + 0.5)
	}
	add(&c.Producer.Submitted, "cache-read", r.offered-r.refused-r.shed-r.behind)
	add(&c.Producer.Rejected, "cache-read", r.refused)
	c.Producer.Steady.SkippedBacklog += uint64(r.shed*secs + 0.5)
	c.Producer.Steady.MaxInFlight = 2048
	c.Producer.Steady.SkippedBehind += uint64(r.behind*secs + 0.5)
	c.Producer.Steady.Generated += uint64((r.offered-r.behind)*secs + 0.5)
	c.Consumer.Handled += uint64(r.delivered*secs + 0.5)
	if c.Consumer.ByType == nil {
		c.Consumer.ByType = map[string]struct {
			Handled uint64 `json:"handled"`
			Failed  uint64 `json:"failed"`
		}{}
	}
	ct := c.Consumer.ByType["cache-read"]
	ct.Handled += uint64(r.delivered*r.fastShare*secs + 0.5)
	ct.Failed += uint64(r.failed*secs + 0.5)
	c.Consumer.ByType["cache-read"] = ct
	c.Workers.Counters.Completed += uint64(r.delivered*secs + 0.5)
	c.Workers.Counters.BlockedSends += uint64(r.delivered*r.blockedShare*secs + 0.5)
	c.Workers.Counters.BlockedMSTotal += int64(r.blockedShare*float64(r.workers)*secs*1000 + 0.5)
	c.Workers.Config.Workers = r.workers
	f.lost += r.spansLost * secs
	c.Producer.Tracing.Dropped = uint64(f.lost + 0.5)
	f.cpu += time.Duration(r.workersCPU * secs * float64(time.Second))
	f.wait += time.Duration(r.workersWait * secs * float64(time.Second))
	f.busy += time.Duration(r.machineBusy * 2 * secs * float64(time.Second))
	f.total += time.Duration(2 * secs * float64(time.Second))
}

func (f *fakeSystem) Prepare(_ context.Context, env settings.Env) error {
	f.envs = append(f.envs, env)
	f.advance()
	f.cur = f.model(env)
	return f.call("prepare")
}

func (f *fakeSystem) StartLoad(_ context.Context, w plan.Workload) error {
	f.advance()
	f.loadOn = true
	return f.call("start-load " + w.String())
}

func (f *fakeSystem) StopLoad(context.Context) error {
	f.advance()
	f.loadOn = false
	return f.call("stop-load")
}

func (f *fakeSystem) Settle(context.Context) error { return f.call("settle") }

func (f *fakeSystem) Snapshot(context.Context) (measure.Snapshot, error) {
	f.advance()
	self := 100 * time.Millisecond
	s := measure.Snapshot{
		At:       f.clock.Now(),
		Counters: f.counters,
		Procs:    map[string]measure.ProcSample{"workers": {CPU: f.cpu, HasCPU: true, Wait: f.wait, HasWait: true, RSS: 50 << 20, PeakRSS: 60 << 20}},
		Machine:  &measure.MachineSample{Busy: f.busy, Total: f.total},
		Self:     &self,
	}
	// Deep-copy the maps: later growth must not change this snapshot.
	s.Counters.Producer.Submitted = clone(f.counters.Producer.Submitted)
	s.Counters.Producer.Rejected = clone(f.counters.Producer.Rejected)
	byType := map[string]struct {
		Handled uint64 `json:"handled"`
		Failed  uint64 `json:"failed"`
	}{}
	for k, v := range f.counters.Consumer.ByType {
		byType[k] = v
	}
	s.Counters.Consumer.ByType = byType
	return s, f.call("snapshot")
}

func clone(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

type fakeSampler struct {
	windows [][2]time.Time
	sample  measure.TraceSample
	err     error
}

func (s *fakeSampler) Sample(_ context.Context, start, end time.Time) (measure.TraceSample, error) {
	s.windows = append(s.windows, [2]time.Time{start, end})
	return s.sample, s.err
}

// fakeAnalyzer recommends the consumer capacity fix for a row whose
// consumer runs with CONCURRENCY 1, and nothing otherwise.
type fakeAnalyzer struct{ traces []int }

func (fakeAnalyzer) Name() string { return "fake" }

func (a *fakeAnalyzer) Diagnose(s measure.TraceSample) diagnose.Diagnosis {
	a.traces = append(a.traces, len(s.Analysis))
	d := diagnose.Diagnosis{Bottleneck: result.Bottleneck{Available: true, Stage: "consumer", Kind: "capacity", Fixes: []result.Fix{}}}
	if len(s.Analysis) == 1 {
		d.Fixes = []diagnose.Fix{
			{Summary: "consumer capacity", Settings: []settings.Setting{
				{Service: "consumer", Name: "CONCURRENCY", Value: "16"}, {Service: "workers", Name: "FORWARDERS", Value: "16"}}},
			{Summary: "a bigger buffer", Settings: []settings.Setting{{Service: "workers", Name: "RESULTS_BUFFER", Value: "400"}}},
		}
	}
	return d
}

const testPlan = `
warmup: 2s
duration: 10s
workload: {steady: {rate: 100}}
profile: {LOG_LEVEL: error}
rows:
  - name: production
  - name: more-workers
    profile: {WORKERS: 8}
  - name: fixed
    profile_from: {recommended_by: production}
    profile: {PRIORITY_LANES: "on"}
  - name: burst
    workload: {checkout: {every: 2s}}
    duration: 4s
`

func newRunner(t *testing.T, planText string) (*Runner, *plan.Plan, *fakeSystem, *fakeSampler, *clock) {
	t.Helper()
	p, err := plan.Parse([]byte(planText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	sys := &fakeSystem{clock: clk, since: clk.t, failOn: map[string]error{}, model: func(env settings.Env) rates {
		r := rates{offered: 100, delivered: 20, refused: 30, shed: 50, fastShare: 0.8, blockedShare: 0.9, workers: 4, workersCPU: 0.05, machineBusy: 0.1}
		if env["consumer"]["CONCURRENCY"] == "16" {
			r.delivered, r.refused, r.shed, r.blockedShare = 45, 20, 35, 0.1
		}
		if env["workers"]["WORKERS"] == "8" {
			r.workers, r.delivered = 8, 21
		}
		return r
	}}
	smp := &fakeSampler{sample: measure.TraceSample{
		Fast:     []measure.Latency{{TraceID: "t1", JobID: "j1", Type: "cache-read", EndToEndMS: 900}, {TraceID: "t2", JobID: "j2", Type: "database", EndToEndMS: 2500}, {TraceID: "t3", Type: "cache-read", EndToEndMS: 40}},
		Analysis: make([]jaegerapi.Trace, 1),
	}}
	base := settings.Env{}
	base.Apply(settings.Setting{Name: "SHUTDOWN_TIMEOUT", Value: "1s"})
	r := &Runner{
		System: sys, Sampler: smp, Analyzer: &fakeAnalyzer{}, Base: base, UI: "http://jaeger.test", CPUs: 2,
		Now: clk.Now, Sleep: clk.Sleep,
	}
	return r, p, sys, smp, clk
}

func TestRunnerMeasuresEveryRowInOrder(t *testing.T) {
	r, p, sys, smp, clk := newRunner(t, testPlan)
	start := clk.Now()
	rows, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	perRow := []string{"prepare", "start-load steady 100/s (cache-read 60, database 20, vendor-api 20)", "snapshot", "snapshot", "stop-load", "settle"}
	if got := strings.Join(sys.calls[:6], " | "); got != strings.Join(perRow, " | ") {
		t.Errorf("first row's calls:\n%s\nwant\n%s", got, strings.Join(perRow, " | "))
	}
	if len(sys.calls) != 24 {
		t.Errorf("%d calls, want 6 per row: %v", len(sys.calls), sys.calls)
	}
	// Warm-up, then the window, back to back: 2s + 10s per steady row.
	if len(smp.windows) != 4 || !smp.windows[0][0].Equal(start.Add(2*time.Second)) || smp.windows[0][1].Sub(smp.windows[0][0]) != 10*time.Second {
		t.Errorf("sampled windows %v", smp.windows)
	}

	prod := rows[0]
	if prod.Status != result.StatusMeasured || prod.Error != "" {
		t.Fatalf("production: %s %s", prod.Status, prod.Error)
	}
	check := func(what string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", what, deref(got), want)
		}
	}
	check("offered", prod.OfferedPerS, 100)
	check("delivered", prod.DeliveredPerS, 20)
	check("refused", prod.RefusedPerS, 30)
	check("shed", prod.ShedPerS, 50)
	check("rejected", prod.RejectedPerS, 80)
	check("blocked share", prod.Blocked.Share, 0.9)
	check("workers CPU", prod.Processes["workers"].CPUPercent, 5)
	check("workers RSS", prod.Processes["workers"].RSSMB, 50)
	check("fast p50", prod.Fast.P50MS, 900)
	check("fast p99", prod.Fast.P99MS, 2500)
	check("machine busy", prod.Harness.MachineBusyPercent, 10)
	check("stack CPU wait", prod.Harness.StackCPUWaitPercent, 0)
	if prod.MeasuredSeconds != 10 || prod.WarmupSeconds != 2 || prod.Fast.Samples != 3 || prod.Fast.Handled == nil || *prod.Fast.Handled != 160 {
		t.Errorf("measured %gs after %gs, %d samples of %v handled", prod.MeasuredSeconds, prod.WarmupSeconds, prod.Fast.Samples, prod.Fast.Handled)
	}
	if w := prod.Fast.Worst; w == nil || w.TraceID != "t2" || w.URL != "http://jaeger.test/trace/t2" || w.Type != "database" || w.EndToEndMS != 2500 {
		t.Errorf("worst fast job %+v", w)
	}
	if !prod.Bottleneck.Available || prod.Bottleneck.Stage != "consumer" || prod.Harness.Limited {
		t.Errorf("production bottleneck %+v harness %+v", prod.Bottleneck, prod.Harness)
	}
	// The producer skipped half the load: flagged, and said apart from
	// what the pool refused, but not the machine's limit.
	skipped := "the producer skipped 50.0 jobs/s without submitting them: 50.0/s because its 2048 submissions in flight were waiting on the pool (skipped_backlog). " +
		"The pool saw 50.0 of the 100.0 jobs/s offered"
	if h := prod.Harness; !h.Skipped || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], skipped) {
		t.Errorf("production harness %+v, want one warning: %q", h, skipped)
	}
	if got := strings.Join(prod.Settings, " "); got != "producer:LOG_LEVEL=error workers:LOG_LEVEL=error vendor-mock:LOG_LEVEL=error consumer:LOG_LEVEL=error" {
		t.Errorf("production settings %q", got)
	}
	// The experiment's own settings go to the system, not into the row.
	if sys.envs[0]["workers"]["SHUTDOWN_TIMEOUT"] != "1s" || sys.envs[0]["consumer"]["LOG_LEVEL"] != "error" {
		t.Errorf("production env %v", sys.envs[0])
	}

	// more-workers: its own setting, nothing inherited from production.
	if sys.envs[1]["workers"]["WORKERS"] != "8" || sys.envs[2]["workers"]["WORKERS"] != "" {
		t.Errorf("WORKERS per row: %q, %q", sys.envs[1]["workers"]["WORKERS"], sys.envs[2]["workers"]["WORKERS"])
	}
	check("more-workers delivered", rows[1].DeliveredPerS, 21)

	// fixed: production's settings, its analysis's first fix, then its own.
	fixed := rows[2]
	if fixed.RecommendedBy != "production" || fixed.AppliedFix != "consumer capacity" {
		t.Errorf("fixed applied %q from %q", fixed.AppliedFix, fixed.RecommendedBy)
	}
	env := sys.envs[2]
	if env["consumer"]["CONCURRENCY"] != "16" || env["workers"]["FORWARDERS"] != "16" || env["workers"]["PRIORITY_LANES"] != "on" || env["workers"]["RESULTS_BUFFER"] != "" {
		t.Errorf("fixed env %v: want the first fix and the row's own setting, not the alternative", env)
	}
	for _, want := range []string{"consumer:CONCURRENCY=16", "workers:FORWARDERS=16", "workers:PRIORITY_LANES=on"} {
		if !strings.Contains(strings.Join(fixed.Settings, " "), want) {
			t.Errorf("fixed settings %v lack %s", fixed.Settings, want)
		}
	}
	check("fixed delivered", fixed.DeliveredPerS, 45)

	burst := rows[3]
	if burst.Workload.Kind != "checkout" || burst.Workload.Every != "2s" || burst.MeasuredSeconds != 4 {
		t.Errorf("burst workload %+v measured %g", burst.Workload, burst.MeasuredSeconds)
	}
	if Summary(rows) != "4 measured" {
		t.Errorf("summary %q", Summary(rows))
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestRunnerSavesTheSlowestTrace(t *testing.T) {
	r, p, _, smp, _ := newRunner(t, testPlan)
	if err := p.Select([]string{"production"}); err != nil {
		t.Fatal(err)
	}
	smp.sample.Worst = &jaegerapi.Trace{TraceID: "t2"}
	var saved []string
	r.SaveTrace = func(row string, tr jaegerapi.Trace) (string, error) {
		saved = append(saved, row+":"+tr.TraceID)
		return "/tmp/" + row + ".json", nil
	}
	rows, _ := r.Run(context.Background(), p)
	if strings.Join(saved, ",") != "production:t2" || rows[0].Fast.Worst.File != "/tmp/production.json" {
		t.Errorf("saved %v, file %q", saved, rows[0].Fast.Worst.File)
	}
	r.SaveTrace = func(string, jaegerapi.Trace) (string, error) { return "", errors.New("disk full") }
	rows, _ = r.Run(context.Background(), p)
	if w := rows[0].Harness.Warnings; len(w) != 2 || !strings.Contains(w[1], "disk full") || rows[0].Status != result.StatusMeasured {
		t.Errorf("a trace that could not be saved: %s %v", rows[0].Status, w)
	}
}

func TestRunnerSkipsARowWhoseRecommendationIsMissing(t *testing.T) {
	r, p, sys, smp, _ := newRunner(t, testPlan)
	smp.sample.Analysis = nil // the fake analyzer then recommends nothing
	rows, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if rows[2].Status != result.StatusSkipped || !strings.Contains(rows[2].Error, `the analysis of row "production" recommended no fix`) {
		t.Errorf("fixed: %s %q", rows[2].Status, rows[2].Error)
	}
	if rows[3].Status != result.StatusMeasured || len(sys.envs) != 3 {
		t.Errorf("the row after the skipped one: %s; %d rows prepared, want 3", rows[3].Status, len(sys.envs))
	}
	if Summary(rows) != "3 measured, 1 skipped" {
		t.Errorf("summary %q", Summary(rows))
	}
}

func TestRunnerGoesOnAfterAFailedRow(t *testing.T) {
	r, p, sys, _, _ := newRunner(t, testPlan)
	sys.failOn["prepare"] = errors.New("workers: results_buffer: 0 is out of range")
	calls := 0
	sys.onCall = func(name string) {
		if name == "prepare" {
			if calls++; calls > 1 {
				delete(sys.failOn, "prepare")
			}
		}
	}
	rows, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Status != result.StatusFailed || !strings.Contains(rows[0].Error, "results_buffer") {
		t.Errorf("production: %s %q", rows[0].Status, rows[0].Error)
	}
	if rows[1].Status != result.StatusMeasured {
		t.Errorf("more-workers after a failed row: %s %q", rows[1].Status, rows[1].Error)
	}
	if rows[2].Status != result.StatusSkipped || !strings.Contains(rows[2].Error, `row "production", whose recommended fix this row applies, was not measured`) {
		t.Errorf("fixed after its row failed: %s %q", rows[2].Status, rows[2].Error)
	}
	// The failed row never started its load, so it never stopped it.
	if sys.calls[1] != "prepare" {
		t.Errorf("calls %v: the failed prepare should be followed by the next row's", sys.calls[:3])
	}
}

func TestRunnerStopsTheLoadWhenAMeasurementFails(t *testing.T) {
	r, p, sys, _, _ := newRunner(t, testPlan)
	snaps := 0
	sys.onCall = func(name string) {
		if name == "snapshot" {
			if snaps++; snaps == 2 {
				sys.failOn["snapshot"] = &FatalError{Err: errors.New("workers exited unexpectedly")}
			}
		}
	}
	rows, err := r.Run(context.Background(), p)
	var fatal *FatalError
	if !errors.As(err, &fatal) {
		t.Fatalf("Run = %v, want the fatal error", err)
	}
	if rows[0].Status != result.StatusFailed || !strings.Contains(rows[0].Error, "window's end: workers exited unexpectedly") {
		t.Errorf("production: %s %q", rows[0].Status, rows[0].Error)
	}
	if sys.calls[len(sys.calls)-1] != "stop-load" {
		t.Errorf("last call %q: the load must be stopped", sys.calls[len(sys.calls)-1])
	}
	for _, row := range rows[1:] {
		if row.Status != result.StatusSkipped || !strings.Contains(row.Error, "not run: workers exited unexpectedly") {
			t.Errorf("%s after a fatal error: %s %q", row.Name, row.Status, row.Error)
		}
	}
}

func TestRunnerStopsWhenInterrupted(t *testing.T) {
	r, p, sys, _, clk := newRunner(t, testPlan)
	ctx, cancel := context.WithCancel(context.Background())
	start := clk.Now()
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		if clk.Now().Sub(start) > 13*time.Second {
			cancel()
		}
		return clk.Sleep(ctx, d)
	}
	rows, err := r.Run(ctx, p)
	if err == nil || err.Error() != "interrupted" {
		t.Fatalf("Run = %v, want interrupted", err)
	}
	if rows[0].Status != result.StatusMeasured || rows[1].Status != result.StatusSkipped || rows[1].Error != "interrupted" || rows[3].Error != "not run: interrupted" {
		t.Errorf("statuses: %s, %s %q, %s %q", rows[0].Status, rows[1].Status, rows[1].Error, rows[3].Status, rows[3].Error)
	}
	if sys.calls[len(sys.calls)-1] != "stop-load" {
		t.Errorf("calls end %v: the interrupted row's load must be stopped", sys.calls[len(sys.calls)-3:])
	}
}

func TestRunnerRefusesBadRecommendedSettings(t *testing.T) {
	r, p, _, _, _ := newRunner(t, testPlan)
	r.Analyzer = badFix{}
	rows, _ := r.Run(context.Background(), p)
	if rows[2].Status != result.StatusFailed || !strings.Contains(rows[2].Error, `consumer: CONCURRENCY="500": want an integer from 1 to 64`) {
		t.Errorf("fixed with an out-of-range fix: %s %q", rows[2].Status, rows[2].Error)
	}
}

type badFix struct{}

func (badFix) Name() string { return "bad" }
func (badFix) Diagnose(measure.TraceSample) diagnose.Diagnosis {
	return diagnose.Diagnosis{Fixes: []diagnose.Fix{{Summary: "too much", Settings: []settings.Setting{{Service: "consumer", Name: "CONCURRENCY", Value: "500"}}}}}
}

func TestRunnerTellsABusyMachineFromALimitingOne(t *testing.T) {
	r, p, sys, _, _ := newRunner(t, testPlan)
	if err := p.Select([]string{"production"}); err != nil {
		t.Fatal(err)
	}
	model := sys.model
	sys.model = func(env settings.Env) rates {
		m := model(env)
		m.machineBusy = 0.6 // others use most of it, but CPU was left
		m.refused, m.shed = m.refused+m.shed, 0
		return m
	}
	rows, _ := r.Run(context.Background(), p)
	h := rows[0].Harness
	if h.Limited || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "other processes used 58% of the machine's CPUs") {
		t.Errorf("a busy machine with CPU to spare: %+v", h)
	}
}

func TestRunnerSaysWhenTheHarnessLimitedARow(t *testing.T) {
	r, p, sys, _, _ := newRunner(t, testPlan)
	if err := p.Select([]string{"production"}); err != nil {
		t.Fatal(err)
	}
	model := sys.model
	sys.model = func(env settings.Env) rates {
		m := model(env)
		m.behind, m.machineBusy, m.spansLost, m.workersWait = 10, 0.95, 3, 0.05
		m.refused, m.shed = m.refused+m.shed, 0
		return m
	}
	rows, _ := r.Run(context.Background(), p)
	h := rows[0].Harness
	want := []string{
		"the producer generated 90 of the planned 100 jobs/s",
		"30 spans were lost",
		"the machine's CPUs were 95% busy (the stack 2%, other processes 92%); the stack's threads waited for a CPU 50% of the time they were ready to run: the machine, not the configuration, may have limited this row",
	}
	if !h.Limited || len(h.Warnings) != len(want) {
		t.Fatalf("harness %+v", h)
	}
	for i, w := range want {
		if !strings.Contains(h.Warnings[i], w) {
			t.Errorf("warning %d %q lacks %q", i, h.Warnings[i], w)
		}
	}
}

type recorder struct{ lines []string }

func (r *recorder) RowStarted(i, n int, row plan.Row) {
	r.lines = append(r.lines, fmt.Sprintf("start %d/%d %s", i+1, n, row.Name))
}
func (r *recorder) Phase(i int, phase string, elapsed, total time.Duration, live string) {
	r.lines = append(r.lines, fmt.Sprintf("%d %s %s/%s %s", i+1, phase, elapsed, total, live))
}
func (r *recorder) RowDone(i int, row result.Row) {
	r.lines = append(r.lines, fmt.Sprintf("done %d %s", i+1, row.Status))
}

func TestRunnerReportsProgress(t *testing.T) {
	r, p, _, _, _ := newRunner(t, testPlan)
	if err := p.Select([]string{"production"}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	r.Observer, r.Tick = rec, 4*time.Second
	if _, err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"start 1/1 production",
		"1 starting 0s/0s ",
		"1 warming up 0s/2s ",
		"1 warming up 2s/2s ",
		"1 measuring 0s/10s ",
		"1 measuring 4s/10s delivered 20.0/s",
		"1 measuring 8s/10s delivered 20.0/s",
		"1 measuring 10s/10s ",
		"1 reading traces 0s/0s ",
		"done 1 measured",
	}
	if got := strings.Join(rec.lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
