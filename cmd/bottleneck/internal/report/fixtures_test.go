package report

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

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
	if f.Jobs.Total != 20 || f.Jobs.ByType[typeCacheRead] != 12 || f.Jobs.ByType[typeDatabase] != 4 || f.Jobs.ByType[typeVendorAPI] != 4 {
		t.Errorf("jobs = %+v, want the 20-job checkout burst", f.Jobs)
	}
	if f.Blocking.Longest == nil || f.Blocking.Longest.WorkerID == "" || f.Blocking.Longest.JobID == "" {
		t.Errorf("longest blocked send = %+v, want it joined to its worker and job", f.Blocking.Longest)
	}
	if f.HeadOfLine.Stuck == 0 {
		t.Errorf("head of line = %+v, want fast jobs stuck", f.HeadOfLine)
	}
	if !f.Verdict.Bottleneck || !hasFix(f, "RESULTS_BUFFER", "400") {
		t.Errorf("verdict = %+v, want the buffer fix", f.Verdict)
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
	if hasFix(f, "RESULTS_BUFFER", "400") || hasFix(f, "RESULT_SEND", "nonblocking") {
		t.Errorf("fixes = %+v: the buffer is already fixed", f.Verdict.Fixes)
	}
	// What is left is fast jobs queued behind the vendor jobs holding
	// workers: the lanes fix, not the buffer one.
	if f.HeadOfLine.Stuck > 0 && !hasFix(f, "PRIORITY_LANES", "on") {
		t.Errorf("%d fast jobs stuck in the queue but no PRIORITY_LANES fix: %+v", f.HeadOfLine.Stuck, f.Verdict.Fixes)
	}
	if !strings.HasPrefix(f.Verdict.Summary, "No ") {
		t.Errorf("summary = %q, want it to say no send blocked", f.Verdict.Summary)
	}
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
		"RESULTS_BUFFER=400",
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
