package report

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// The fixtures are /api/traces answers recorded from the project's own
// run (see testdata/README.md): one checkout burst with the defaults, and
// one after PUT /admin/config {"results_buffer":400}.

func loadFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureTraces(t *testing.T, name string) []jaegerapi.Trace {
	t.Helper()
	var env struct {
		Data []jaegerapi.Trace `json:"data"`
	}
	if err := json.Unmarshal(loadFixture(t, name), &env); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(env.Data) == 0 {
		t.Fatalf("%s holds no traces", name)
	}
	return env.Data
}

func TestRecordedDefaultsShowTheBottleneck(t *testing.T) {
	f := Analyze(fixtureTraces(t, "blocked.json"), testMeta())
	if f.Blocking.Blocked == 0 {
		t.Errorf("blocked sends = 0, want > 0 with the defaults")
	}
	if f.VendorCacheRatio <= 10 {
		t.Errorf("vendor/cache ratio = %.1f, want > 10", f.VendorCacheRatio)
	}
	if f.Config.ResultsBufferCap != 4 || f.Config.Workers != 4 {
		t.Errorf("config = %+v, want 4 workers and a 4-slot buffer", f.Config)
	}
	if f.Jobs.Total != 20 || f.Jobs.ByType[analysis.TypeCacheRead] != 12 || f.Jobs.ByType[analysis.TypeDatabase] != 4 || f.Jobs.ByType[analysis.TypeVendorAPI] != 4 {
		t.Errorf("jobs = %+v, want the 20-job checkout burst", f.Jobs)
	}
	if f.Blocking.Longest == nil || f.Blocking.Longest.WorkerID == "" || f.Blocking.Longest.JobID == "" {
		t.Errorf("longest blocked send = %+v, want it joined to its worker and job", f.Blocking.Longest)
	}
	if f.HeadOfLine.Stuck == 0 {
		t.Errorf("head of line = %+v, want fast jobs stuck", f.HeadOfLine)
	}
	// One burst of 20 into a 4-slot channel in front of a 20/s consumer:
	// the burst verdict, with the channel sized for the backlog.
	v := f.Verdict
	if v.Kind != analysis.KindBurst || v.Stage != analysis.StageResults || !v.Bottleneck {
		t.Fatalf("verdict %s/%s: %s", v.Stage, v.Kind, v.Summary)
	}
	if v.PeakBacklog <= 4 || v.PeakBacklog > 20 {
		t.Errorf("peak backlog %d, want between the 4 slots and the 20 jobs", v.PeakBacklog)
	}
	// Twice the peak, for slower bursts, but no more than the whole burst
	// of 20 results.
	want := min(2*v.PeakBacklog, 20)
	if len(v.Fixes) < 2 || v.Fixes[0].Setting != "RESULTS_BUFFER" || v.Fixes[0].Value != strconv.Itoa(want) ||
		v.Fixes[1].Setting != "RESULT_SEND" || !v.Fixes[1].Alternative {
		t.Errorf("fixes = %+v, want RESULTS_BUFFER=%d, or RESULT_SEND=nonblocking", v.Fixes, want)
	}
	// The simulation of the defaults reproduces the recorded burst.
	if mf := f.ModelFit; mf == nil || math.Abs(mf.ThroughputError) > 0.1 || math.Abs(mf.FastP99Error) > 0.15 {
		t.Errorf("model fit %+v", f.ModelFit)
	}
}

func TestRecordedFixIsHealthy(t *testing.T) {
	f := Analyze(fixtureTraces(t, "fixed.json"), testMeta())
	if f.Blocking.Blocked != 0 || f.Blocking.Sends == 0 {
		t.Errorf("blocked %d of %d sends, want 0 of > 0 after the fix", f.Blocking.Blocked, f.Blocking.Sends)
	}
	if f.Config.ResultsBufferCap != 400 {
		t.Errorf("results buffer cap = %d, want 400", f.Config.ResultsBufferCap)
	}
	if hasSetting(f, "RESULTS_BUFFER") || hasFix(f, "RESULT_SEND", "nonblocking") {
		t.Errorf("fixes = %+v: the buffer is already fixed", f.Verdict.Fixes)
	}
	// What is left is fast jobs queued behind the vendor jobs holding
	// workers: head-of-line blocking. But the lanes fix would not help
	// here: with it (in the simulation, which reproduces this burst) fast
	// jobs skip the vendor jobs only to wait for the one consumer instead,
	// and their p99 barely moves. The report says so instead of
	// recommending it.
	if v := f.Verdict; v.Kind != analysis.KindHeadOfLine || hasFix(f, "PRIORITY_LANES", "on") {
		t.Errorf("verdict %s/%s, fixes %+v: want head-of-line without PRIORITY_LANES=on", v.Stage, v.Kind, v.Fixes)
	}
	if !slices.ContainsFunc(f.Verdict.Notes, func(n string) bool {
		return strings.HasPrefix(n, "Won't help: workers PRIORITY_LANES=on") && strings.Contains(n, "for the delivery to the consumer")
	}) {
		t.Errorf("notes %q: want why lanes won't help", f.Verdict.Notes)
	}
	if !strings.HasPrefix(f.Verdict.Summary, "Head-of-line blocking in the job queue: capacity suffices") {
		t.Errorf("summary = %q", f.Verdict.Summary)
	}
}

func hasSetting(f Findings, setting string) bool {
	for _, fx := range f.Verdict.Fixes {
		if fx.Setting == setting {
			return true
		}
	}
	return false
}

func hasFix(f Findings, setting, value string) bool {
	for _, fx := range f.Verdict.Fixes {
		if fx.Setting == setting && fx.Value == value {
			return true
		}
	}
	return false
}

func TestRecordedReportText(t *testing.T) {
	body := loadFixture(t, "blocked.json")
	j := newFakeJaeger(t, func(url.Values) (int, []byte) { return http.StatusOK, body })
	code, out, errOut := runReport(t, false, "--jaeger", j.URL)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Found ", " blocked result sends (of ",
		"Workers spent ",
		"Vendor APIs are ",
		"fast jobs (cache-read, database) waited 10x their own work",
		"Small results buffer: the results channel holds 4 results for 4 workers",
		"Slow consumer: result.process takes",
		"Capacity",
		"▶ results",
		"→ A burst overflowed the results channel: 20 jobs arrived within",
		"workers RESULTS_BUFFER=",
		"or workers RESULT_SEND=nonblocking",
		`curl -X PUT localhost:8081/admin/config -H 'Content-Type: application/json' -d '{"results_buffer":`,
		"Predicted effect (simulation of this window's arrivals: replay, 20 jobs):",
		"now, measured", "now, simulated", "fix 1.",
		"Worst traces",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestRecordedFixText(t *testing.T) {
	body := loadFixture(t, "fixed.json")
	j := newFakeJaeger(t, func(url.Values) (int, []byte) { return http.StatusOK, body })
	code, out, errOut := runReport(t, false, "--jaeger", j.URL, "--since", "1m")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Found 0 blocked result sends (of 20).",
		"results buffer 400",
		"Results buffer: the results channel holds 400 results for 4 workers.",
		"Workers: none of 20 result sends blocked.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "RESULTS_BUFFER=") {
		t.Errorf("report suggests the buffer fix after it was applied:\n%s", out)
	}
}

func TestRecordedCompare(t *testing.T) {
	before, after := loadFixture(t, "blocked.json"), loadFixture(t, "fixed.json")
	split := strconv.FormatInt(testNow.Add(-5*1e9).UnixMicro(), 10)
	j := newFakeJaeger(t, func(q url.Values) (int, []byte) {
		if q.Get("end") == split {
			return http.StatusOK, before
		}
		return http.StatusOK, after
	})
	code, out, errOut := runReport(t, false, "--jaeger", j.URL, "--compare", "10s..5s", "5s..now", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var c Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.A.Blocking.Blocked == 0 || c.B.Blocking.Blocked != 0 {
		t.Errorf("blocked sends A %d, B %d; want > 0, 0", c.A.Blocking.Blocked, c.B.Blocking.Blocked)
	}

	_, text, _ := runReport(t, false, "--jaeger", j.URL, "--compare", "10s..5s", "5s..now")
	want := "blocked result sends " + strconv.Itoa(c.A.Blocking.Blocked) + " 0 −" + strconv.Itoa(c.A.Blocking.Blocked) + " (−100%)"
	found := false
	for _, l := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(l), " ") == want {
			found = true
		}
	}
	if !found {
		t.Errorf("compare lacks the row %q:\n%s", want, text)
	}
}
