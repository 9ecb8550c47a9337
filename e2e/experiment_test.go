package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// experimentRun is the part of `bottleneck experiment --json` these tests read.
type experimentRun struct {
	SchemaVersion int `json:"schema_version"`
	Stack         struct {
		Mode   string `json:"mode"`
		Jaeger string `json:"jaeger"`
	} `json:"stack"`
	WallSeconds float64         `json:"wall_seconds"`
	Rows        []experimentRow `json:"rows"`
}

type experimentRow struct {
	Name          string   `json:"name"`
	Status        string   `json:"status"`
	Error         string   `json:"error"`
	Settings      []string `json:"settings"`
	OfferedPerS   *float64 `json:"offered_per_s"`
	DeliveredPerS *float64 `json:"delivered_per_s"`
	RejectedPerS  *float64 `json:"rejected_per_s"`
	Fast          struct {
		P50MS   *float64 `json:"p50_ms"`
		P99MS   *float64 `json:"p99_ms"`
		Samples int      `json:"samples"`
		Worst   *struct {
			TraceID string `json:"trace_id"`
			URL     string `json:"url"`
			File    string `json:"file"`
		} `json:"worst"`
	} `json:"fast_jobs"`
	Blocked struct {
		Share        *float64 `json:"share"`
		Sends        *uint64  `json:"sends"`
		BlockedSends *uint64  `json:"blocked"`
	} `json:"blocked_sends"`
	Processes map[string]struct {
		CPUPercent *float64 `json:"cpu_percent"`
		RSSMB      *float64 `json:"rss_mb"`
	} `json:"processes"`
	Harness struct {
		Limited  bool     `json:"limited"`
		Warnings []string `json:"warnings"`
	} `json:"harness"`
	RecommendedBy string `json:"recommended_by"`
	AppliedFix    string `json:"applied_fix"`
	Bottleneck    struct {
		Available bool   `json:"available"`
		Stage     string `json:"stage"`
		Kind      string `json:"kind"`
		Verdict   string `json:"verdict"`
		Fixes     []struct {
			Settings []string `json:"settings"`
		} `json:"fixes"`
	} `json:"bottleneck"`
}

// runExperiment runs `bottleneck experiment` and returns stdout, stderr
// and the exit code.
func runExperiment(t *testing.T, timeout time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bottleneckBinary(t), append([]string{"experiment"}, args...)...)
	// SIGTERM on timeout, so the experiment stops its own stack.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	default:
		t.Fatalf("bottleneck experiment: %v\nstderr: %s", err, stderr.String())
		return "", "", -1
	}
}

func decodeRun(t *testing.T, out string) (experimentRun, map[string]experimentRow) {
	t.Helper()
	var run experimentRun
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("experiment --json: %v\n%s", err, out)
	}
	rows := map[string]experimentRow{}
	for _, r := range run.Rows {
		rows[r.Name] = r
	}
	return run, rows
}

func num(f *float64) float64 {
	if f == nil {
		return -1
	}
	return *f
}

// TestExperimentTellsTheIncidentsStory runs a short plan on the
// experiment's own stack (real processes, real Jaeger) and checks the
// story's claims: production delivers far less than staging at the same
// load; more workers do not help while the consumer limits; more consumer
// capacity does; a bigger results buffer ends the blocked sends of a burst.
func TestExperimentTellsTheIncidentsStory(t *testing.T) {
	htmlPath := filepath.Join(t.TempDir(), "run.html")
	tracesDir := filepath.Join(t.TempDir(), "traces")
	began := time.Now()
	out, errOut, code := runExperiment(t, 3*time.Minute, "--plan", "testdata/experiment.yaml", "--json", "--html", htmlPath, "--traces", tracesDir, "--build=false")
	t.Logf("experiment took %s", time.Since(began).Round(time.Second))
	if code != 0 {
		t.Fatalf("experiment exited %d\nstderr: %s\nstdout: %s", code, errOut, out)
	}
	run, rows := decodeRun(t, out)
	if run.SchemaVersion != 1 || run.Stack.Mode != "own" || len(run.Rows) != 7 {
		t.Fatalf("schema %d, mode %q, %d rows", run.SchemaVersion, run.Stack.Mode, len(run.Rows))
	}
	for _, r := range run.Rows {
		t.Logf("%-18s offered %6.1f delivered %6.1f rejected %6.1f fast p50 %7.1f p99 %7.1f (%d) blocked %.2f %v",
			r.Name, num(r.OfferedPerS), num(r.DeliveredPerS), num(r.RejectedPerS), num(r.Fast.P50MS), num(r.Fast.P99MS), r.Fast.Samples, num(r.Blocked.Share), r.Harness.Warnings)
		if r.Status != "measured" {
			t.Errorf("%s: %s: %s", r.Name, r.Status, r.Error)
		}
	}
	staging, production := rows["staging"], rows["production"]
	workers2, consumer := rows["workers-x2"], rows["consumer-capacity"]
	burst, buffer := rows["burst"], rows["burst-buffer"]

	// The same load, offered alike.
	if o1, o2 := num(staging.OfferedPerS), num(production.OfferedPerS); o1 < 100 || o2 < 100 {
		t.Errorf("offered %.1f and %.1f jobs/s, want ~150 each", o1, o2)
	}
	if s, p := num(staging.DeliveredPerS), num(production.DeliveredPerS); p <= 0 || s < 3*p {
		t.Errorf("staging delivered %.1f jobs/s, production %.1f: want production far below (staging ≥ 3×)", s, p)
	}
	if num(production.RejectedPerS) <= 0 {
		t.Errorf("production rejected %.1f jobs/s: at 150/s offered to a 20/s consumer, jobs must be shed", num(production.RejectedPerS))
	}
	if w, p := num(workers2.DeliveredPerS), num(production.DeliveredPerS); w > 1.2*p {
		t.Errorf("WORKERS=8 delivered %.1f jobs/s, production %.1f: more workers should gain at most 20%% while the consumer limits", w, p)
	}
	if c, p := num(consumer.DeliveredPerS), num(production.DeliveredPerS); c < 2*p {
		t.Errorf("more consumer capacity delivered %.1f jobs/s, production %.1f: want at least 2×", c, p)
	}
	if b := burst.Blocked; b.BlockedSends == nil || *b.BlockedSends == 0 {
		t.Errorf("bursts with the defaults: blocked sends %v, want some (else the next check proves nothing)", b.BlockedSends)
	}
	if b := buffer.Blocked; b.Sends == nil || *b.Sends == 0 || b.BlockedSends == nil || *b.BlockedSends != 0 || num(b.Share) != 0 {
		t.Errorf("bursts with RESULTS_BUFFER=400: %v of %v sends blocked (share %v), want 0 of some", b.BlockedSends, b.Sends, num(b.Share))
	}

	// The capacity model names the consumer's side for production, and
	// the row that applies its recommendation runs with it.
	if b := production.Bottleneck; !b.Available || (b.Stage != "consumer" && b.Stage != "delivery") || b.Kind != "capacity" || len(b.Fixes) == 0 {
		t.Errorf("production's bottleneck: %+v, want the consumer (or delivery), capacity, with a fix", b)
	}
	recommended := rows["recommended"]
	if recommended.Status != "measured" || recommended.RecommendedBy != "production" || recommended.AppliedFix == "" {
		t.Errorf("recommended: %s %q, applied %q", recommended.Status, recommended.Error, recommended.AppliedFix)
	} else if len(production.Bottleneck.Fixes) > 0 {
		for _, s := range production.Bottleneck.Fixes[0].Settings {
			if !slices.Contains(recommended.Settings, s) {
				t.Errorf("recommended runs with %v, without production's first fix %s", recommended.Settings, s)
			}
		}
		if r, p := num(recommended.DeliveredPerS), num(production.DeliveredPerS); r < 1.5*p {
			t.Errorf("the recommended fix delivered %.1f jobs/s, production %.1f", r, p)
		}
	}

	// The standard metrics and the trace link are there.
	for _, name := range []string{"producer", "workers", "vendor-mock", "consumer", "jaeger"} {
		if p := production.Processes[name]; p.CPUPercent == nil || p.RSSMB == nil || *p.RSSMB <= 0 {
			t.Errorf("production: no CPU or memory for %s: %+v", name, p)
		}
	}
	if production.Fast.Samples == 0 || production.Fast.P99MS == nil || num(production.Fast.P50MS) > num(production.Fast.P99MS) {
		t.Errorf("production's fast jobs: p50 %v p99 %v from %d samples", num(production.Fast.P50MS), num(production.Fast.P99MS), production.Fast.Samples)
	}
	if w := production.Fast.Worst; w == nil || !strings.HasPrefix(w.URL, run.Stack.Jaeger+"/trace/"+w.TraceID) {
		t.Errorf("production's worst fast job %+v: want a link into %s", w, run.Stack.Jaeger)
	} else {
		// The saved trace is Jaeger's own JSON of that trace, across the services.
		var saved struct {
			Data []jaegerTrace `json:"data"`
		}
		data, err := os.ReadFile(w.File)
		if err != nil || json.Unmarshal(data, &saved) != nil || len(saved.Data) != 1 || saved.Data[0].TraceID != w.TraceID {
			t.Errorf("saved trace %s: %v, %d traces", w.File, err, len(saved.Data))
		} else if tr := newTrace(saved.Data[0]); len(tr.services()) < 3 {
			t.Errorf("saved trace has services %v, want the job's path through the pipeline", tr.services())
		}
	}
	// The fast jobs of production wait behind the consumer: far longer
	// than staging's.
	if p, s := num(production.Fast.P99MS), num(staging.Fast.P99MS); p < 2*s {
		t.Errorf("fast p99: production %.0f ms, staging %.0f ms: want production far slower", p, s)
	}

	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{`id="delivered"`, `id="fast-p99"`} {
		i := bytes.Index(page, []byte(chart))
		end := bytes.Index(page[i:], []byte("</svg>"))
		if i < 0 || end < 0 {
			t.Fatalf("page lacks the chart %s", chart)
		}
		if n := bytes.Count(page[i:i+end], []byte(`<rect class="bar`)); n != len(run.Rows) {
			t.Errorf("chart %s has %d bars, want one per row (%d)", chart, n, len(run.Rows))
		}
	}
}

// TestExperimentDrivesARunningStackAndPutsItBack runs a burst plan against
// the shared stack through its admin APIs (--target), then checks that
// the stack's settings and load are as before.
func TestExperimentDrivesARunningStackAndPutsItBack(t *testing.T) {
	target := strings.Join([]string{
		"producer=" + sys.URL(stack.Producer), "workers=" + sys.URL(stack.Workers),
		"vendor-mock=" + sys.URL(stack.VendorMock), "consumer=" + sys.URL(stack.Consumer), "jaeger=" + sys.JaegerURL(),
	}, ",")
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(plan, []byte(`
warmup: 500ms
duration: 3s
workload: {checkout: {every: 1s}}
rows:
  - name: burst
  - name: burst-buffer
    profile: {RESULTS_BUFFER: 400, CONCURRENCY: 2, FAULT_PRESET: slow, WORKERS: 8}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	workersBefore, consumerBefore, loadBefore := adminState(t)

	out, errOut, code := runExperiment(t, 2*time.Minute, "--plan", plan, "--target", target, "--json")
	if code != 0 {
		t.Fatalf("experiment exited %d\nstderr: %s\nstdout: %s", code, errOut, out)
	}
	run, rows := decodeRun(t, out)
	if run.Stack.Mode != "target" || run.Stack.Jaeger != sys.JaegerURL() {
		t.Errorf("stack %+v", run.Stack)
	}
	if b := rows["burst"].Blocked; b.BlockedSends == nil || *b.BlockedSends == 0 {
		t.Errorf("bursts on the target's settings: %v blocked sends, want some", b.BlockedSends)
	}
	// CPU and memory come from each service's /metrics.
	for _, name := range []string{"producer", "workers", "vendor-mock", "consumer"} {
		if p := rows["burst"].Processes[name]; p.CPUPercent == nil || p.RSSMB == nil || *p.RSSMB <= 0 {
			t.Errorf("no CPU or memory for %s from its /metrics: %+v", name, p)
		}
	}
	if b := rows["burst-buffer"].Blocked; b.Sends == nil || *b.Sends == 0 || b.BlockedSends == nil || *b.BlockedSends != 0 {
		t.Errorf("bursts with RESULTS_BUFFER=400: %v of %v sends blocked, want 0 of some", b.BlockedSends, b.Sends)
	}
	workersAfter, consumerAfter, loadAfter := adminState(t)
	for _, c := range []struct {
		what          string
		before, after map[string]any
	}{{"workers config", workersBefore, workersAfter}, {"consumer config", consumerBefore, consumerAfter}, {"producer load", loadBefore, loadAfter}} {
		b, _ := json.Marshal(c.before)
		a, _ := json.Marshal(c.after)
		if !bytes.Equal(a, b) {
			t.Errorf("%s after the experiment:\n%s\nbefore:\n%s", c.what, a, b)
		}
	}
	var faults struct {
		Preset string `json:"preset"`
	}
	if status, body := call(t, http.MethodGet, sys.URL(stack.VendorMock)+"/admin/faults", nil, &faults); status != http.StatusOK || faults.Preset != "degraded" {
		t.Errorf("vendor faults after the experiment: %d %s, want the degraded preset back", status, body)
	}

	// A setting a running stack cannot change is refused before anything runs.
	if err := os.WriteFile(plan, []byte("workload: {checkout: {every: 1s}}\nrows:\n  - name: a\n    profile: {DEDUP_CAPACITY: 10}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runExperiment(t, time.Minute, "--plan", plan, "--target", target)
	if code != 2 || !strings.Contains(errOut, `row "a": consumer:DEDUP_CAPACITY can only be set when the service starts`) {
		t.Errorf("a plan with a start-only setting against a target: exit %d\nstderr: %s\nstdout: %s", code, errOut, out)
	}
}

// adminState reads what the experiment must put back.
func adminState(t *testing.T) (workers, consumer, load map[string]any) {
	t.Helper()
	for _, g := range []struct {
		url  string
		into *map[string]any
	}{
		{sys.URL(stack.Workers) + "/admin/config", &workers},
		{sys.URL(stack.Consumer) + "/admin/config", &consumer},
		{sys.URL(stack.Producer) + "/admin/load", &load},
	} {
		if status, body := call(t, http.MethodGet, g.url, nil, g.into); status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", g.url, status, body)
		}
	}
	return workers, consumer, load
}
