package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium, or skips when it is missing outside CI
// (.ci/run installs Debian's chromium; in CI a missing browser fails).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("browser test skipped: %s not found (apt-get install chromium); it always runs when CI is set", chromiumPath)
		}
		t.Fatalf("CI is set but Chromium is missing: %v", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1320, 1400),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// startConsole runs `bottleneck console` against the shared stack and
// returns its URL; it is stopped when the test ends.
func startConsole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bottleneckBinary(t), "console", "--listen", addr,
		"--jaeger", sys.JaegerURL(),
		"--producer", sys.URL(stack.Producer), "--workers", sys.URL(stack.Workers),
		"--vendor", sys.URL(stack.VendorMock), "--consumer", sys.URL(stack.Consumer))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("console did not stop on SIGTERM; output:\n%s", out.String())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("console did not answer /healthz: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pageTrue waits until the JavaScript expression is true in the page.
func pageTrue(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond))
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("HB_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "hidden-bottleneck-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func workersConfig(t *testing.T) map[string]any {
	t.Helper()
	var cfg map[string]any
	if status, body := call(t, http.MethodGet, sys.URL(stack.Workers)+"/admin/config", nil, &cfg); status != http.StatusOK {
		t.Fatalf("GET workers /admin/config: %d %s", status, body)
	}
	return cfg
}

// consoleSnapshot is the part of the console's /api/snapshot the test reads.
type consoleSnapshot struct {
	Snapshot struct {
		Seq    uint64 `json:"seq"`
		Window struct {
			SettledUntil time.Time `json:"settled_until"`
		} `json:"window"`
	} `json:"snapshot"`
}

// waitSettled waits until the console's traces are complete up to at
// least t, and returns that poll's sequence number.
func waitSettled(t *testing.T, url string, after time.Time) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var s consoleSnapshot
		if status, body := call(t, http.MethodGet, url+"/api/snapshot", nil, &s); status != http.StatusOK {
			t.Fatalf("console /api/snapshot: %d %s", status, body)
		}
		if s.Snapshot.Window.SettledUntil.After(after) {
			return s.Snapshot.Seq
		}
		if time.Now().After(deadline) {
			t.Fatalf("console's traces not settled past %s (at %s)", after.Format(time.RFC3339Nano), s.Snapshot.Window.SettledUntil)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// countJS counts the timeline segments of a kind that start at or after
// fromMS (Unix ms).
func countJS(kind string, fromMS int64) string {
	return fmt.Sprintf(`[...document.querySelectorAll('svg.timeline rect[data-kind=%q]')].filter(r => +r.dataset.start >= %d).length`, kind, fromMS)
}

// TestConsoleInBrowser is the console's end-to-end check in a real
// browser against the real stack: a row per worker, red segments after a
// default burst, a stage highlighted with fixes offered, the buffer fix
// applied by a click and no new red segment after the next burst, a
// preset clicked, and a vendor job's trace view.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	url := startConsole(t)
	setVendorPreset(t, "degraded") // the default, restored afterwards too

	cfg := workersConfig(t)
	workers := int(cfg["workers"].(float64))
	if rb := int(cfg["results_buffer"].(float64)); rb != workers {
		t.Fatalf("results_buffer = %d at the start; the test needs the default (= workers, %d)", rb, workers)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS("svg.timeline")),
		pageTrue(fmt.Sprintf(`document.querySelectorAll('svg.timeline g.row[data-group="worker"]').length === %d`, workers)),
	); err != nil {
		t.Fatalf("the page shows no timeline with one row per worker (%d): %v", workers, err)
	}

	// With the defaults, a burst leaves workers blocked handing off
	// results: red segments.
	began := time.Now()
	burst := checkout(t)
	waitSettled(t, url, time.Now())
	if err := chromedp.Do(ctx, pageTrue(countJS("blocked", began.UnixMilli())+" > 0")); err != nil {
		t.Fatalf("no red (blocked) segment after a burst with the defaults: %v", err)
	}

	// The capacity model names the results channel (highlighted: the
	// burst overflowed its 4 slots) and offers fixes; the incident's
	// buffer fix is one click, and it changes the workers' config through
	// the admin API.
	if err := chromedp.Do(ctx,
		pageTrue(`document.querySelector(".stage.hot") !== null && document.querySelector("button.fix-btn[data-fix]") !== null`),
	); err != nil {
		t.Fatalf("after a default burst the page highlights no stage or offers no fix: %v", err)
	}
	if hot, text := hotStage(t, ctx); hot != "results" {
		t.Errorf("after a default burst the page highlights %q (%s), want the results channel", hot, text)
	}
	restore := map[string]any{"results_buffer": cfg["results_buffer"]}
	t.Cleanup(func() {
		if status, body := call(t, http.MethodPut, sys.URL(stack.Workers)+"/admin/config", restore, nil); status != http.StatusOK {
			t.Errorf("restoring results_buffer: %d %s", status, body)
		}
	})
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("quick-buffer")),
		chromedp.Click(chromedp.ID("quick-buffer")),
		pageTrue(`document.getElementById("message").classList.contains("ok") && document.getElementById("message").textContent.includes("done")`),
	); err != nil {
		t.Fatalf("clicking the buffer fix: %v", err)
	}
	after := workersConfig(t)
	if got := int(after["results_buffer"].(float64)); got != 100*workers {
		t.Fatalf("after clicking the buffer fix, GET /admin/config results_buffer = %d, want %d (WORKERS*100)", got, 100*workers)
	}
	fixed := time.Now()

	// After the next burst no red segment is new, and the burst's work is
	// on the timeline (so "no red" is not just "no data").
	checkout(t)
	seq := waitSettled(t, url, time.Now())
	if err := chromedp.Do(ctx,
		pageTrue(fmt.Sprintf(`+document.querySelector(".fragment").dataset.seq >= %d`, seq)),
		pageTrue(countJS("work", fixed.UnixMilli())+" > 0"),
	); err != nil {
		t.Fatalf("the burst after the fix is not on the timeline: %v", err)
	}
	newRed, err := chromedp.Run(ctx, chromedp.Evaluate[int](countJS("blocked", fixed.UnixMilli())))
	if err != nil {
		t.Fatal(err)
	}
	if newRed != 0 {
		t.Errorf("%d red segments started after the buffer fix; want none", newRed)
	}
	saveScreenshot(t, ctx, "console.png")

	// A preset button changes the vendor's faults.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#preset-healthy")),
		pageTrue(`document.getElementById("message").textContent.includes("vendor preset healthy: done")`),
	); err != nil {
		t.Fatalf("clicking the healthy preset: %v", err)
	}
	var faults struct {
		Preset string `json:"preset"`
	}
	if status, body := call(t, http.MethodGet, sys.URL(stack.VendorMock)+"/admin/faults", nil, &faults); status != http.StatusOK || faults.Preset != "healthy" {
		t.Errorf("after clicking healthy, GET /admin/faults: %d preset %q (%s)", status, faults.Preset, body)
	}

	// A vendor job's trace view shows spans of all four services.
	vendorTraces := burst.traceIDs("vendor-api")
	if len(vendorTraces) == 0 {
		t.Fatal("the burst had no vendor-api job")
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/trace/"+vendorTraces[0]),
		chromedp.WaitVisible(chromedp.CSS(".svc")),
	); err != nil {
		t.Fatalf("trace view: %v", err)
	}
	services, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".svc")].map(s => s.dataset.service)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"producer", "workers", "vendor-mock", "consumer"} {
		if !strings.Contains(strings.Join(services, ","), want) {
			t.Errorf("trace view of %s shows services %v; %s missing", vendorTraces[0], services, want)
		}
	}
	waits, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('details[data-wait="true"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if waits == 0 {
		t.Error("trace view marks no wait span (queue.wait at least)")
	}
	saveScreenshot(t, ctx, "trace-view.png")
}

// hotStage is the pipeline box the page highlights and the verdict line.
func hotStage(t *testing.T, ctx context.Context) (stage, verdict string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[document.querySelector(".stage.hot")?.dataset.stage ?? "", document.getElementById("verdict-text")?.textContent ?? ""]`))
	if err != nil {
		t.Fatal(err)
	}
	return got[0], got[1]
}

// With the defaults and the producer's own bursts (one every 20 s), the
// highlighted stage is the results channel, and it stays so refresh after
// refresh for a minute, as windows of one and of two bursts follow each
// other (it used to flip to "queue head-of-line" whenever the 30 s window
// held two bursts).
func TestConsoleHighlightIsStableWithTheDefaults(t *testing.T) {
	ctx := browser(t)
	url := startConsole(t)
	setVendorPreset(t, "degraded")
	cfg := workersConfig(t)
	if rb, w := int(cfg["results_buffer"].(float64)), int(cfg["workers"].(float64)); rb != w {
		t.Fatalf("results_buffer = %d; the test needs the default (= workers, %d)", rb, w)
	}
	quiesce(t)
	began := time.Now()
	setLoad(t, map[string]any{"scenario": "checkout", "checkout_every": "20s", "checkout_timeout": "10s"})
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("svg.timeline")),
		pageTrue(`document.querySelector(".stage.hot") !== null`)); err != nil {
		t.Fatalf("no stage highlighted after the first burst: %v", err)
	}
	// The console reads the last 90 s of traces when it starts, so its
	// first verdicts cover the bursts of the tests before this one, run
	// with other settings (TestConsoleInBrowser's last burst has
	// RESULTS_BUFFER=400: a window holding it is rightly not a results
	// burst). Watch from the first verdict over this test's load alone.
	awaitDiagnosisFrom(t, url, began, 90*time.Second)
	const watch = time.Minute
	seen := map[string]int{}
	seqs := map[string]bool{}
	var flips []string
	for end := time.Now().Add(watch); time.Now().Before(end); time.Sleep(time.Second) {
		hot, text := hotStage(t, ctx)
		seq, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".fragment").dataset.seq`))
		if err != nil {
			t.Fatal(err)
		}
		seqs[seq] = true
		seen[hot]++
		if hot != "results" {
			flips = append(flips, fmt.Sprintf("%s: %q (%s)", time.Now().Format("15:04:05"), hot, text))
		}
	}
	t.Logf("highlighted over %s: %v; %d refreshes", watch, seen, len(seqs))
	if len(seqs) < int(watch/time.Second)/2 {
		t.Errorf("the page refreshed %d times in %s: the highlight was not watched across refreshes", len(seqs), watch)
	}
	if len(flips) > 0 {
		t.Errorf("the highlight left the results channel %d times of %d:\n%s", len(flips), seen["results"]+len(flips), strings.Join(flips, "\n"))
	}
}

// awaitDiagnosisFrom waits until the console's verdict covers only jobs
// that arrived at or after from.
func awaitDiagnosisFrom(t *testing.T, url string, from time.Time, timeout time.Duration) {
	t.Helper()
	var last time.Time
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Second) {
		var snap struct {
			Diagnosis struct {
				WindowStart time.Time `json:"window_start"`
			} `json:"diagnosis"`
		}
		if status, body := call(t, http.MethodGet, url+"/api/snapshot", nil, &snap); status != http.StatusOK {
			t.Fatalf("GET /api/snapshot: %d %s", status, body)
		}
		if last = snap.Diagnosis.WindowStart; !last.Before(from) {
			return
		}
	}
	t.Fatalf("after %s the console's verdict still starts at %s, before this test's load (%s)", timeout, last, from)
}

// The console's JSON endpoints and its proxy answer errors as the APIs
// word them, and refuse requests from other sites.
func TestConsoleProxyPassesAPIErrorsThrough(t *testing.T) {
	url := startConsole(t)
	status, body := call(t, http.MethodPost, url+"/api/control/config/workers", map[string]any{"results_buffer": -1}, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "results_buffer: -1 is out of range") {
		t.Errorf("bad results_buffer through the console: %d %s; want the workers' 400 naming the field", status, body)
	}
	status, body = call(t, http.MethodPost, url+"/api/control/preset/nope", nil, nil)
	if status != http.StatusNotFound || !strings.Contains(body, "unknown preset") {
		t.Errorf("unknown preset: %d %s", status, body)
	}

	req, _ := http.NewRequest(http.MethodPost, url+"/api/control/preset/healthy", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %s, want 403", resp.Status)
	}

	status, body = call(t, http.MethodGet, url+"/api/trace/not-hex", nil, nil)
	if status != http.StatusBadRequest {
		t.Errorf("GET /api/trace/not-hex: %d %s, want 400", status, body)
	}
	var snap map[string]json.RawMessage
	if status, body := call(t, http.MethodGet, url+"/api/snapshot", nil, &snap); status != http.StatusOK || snap["snapshot"] == nil {
		t.Errorf("GET /api/snapshot: %d %s", status, body)
	}
}
