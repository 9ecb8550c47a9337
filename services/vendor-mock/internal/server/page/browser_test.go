package page_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/server"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium, or skips the test when Chromium is not
// installed outside CI. In CI (CI set) a missing browser is a failure:
// .ci/run installs Debian's chromium package.
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
		chromedp.WindowSize(1280, 1100),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

func newServer(t *testing.T) (*server.Server, *httptest.Server) {
	t.Helper()
	tp, err := tracing.Setup(context.Background(), tracing.Options{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	// Vendor calls answer at once, so the counters fill without waiting.
	start, err := faults.Decode([]byte(`{"global":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		Tracing: tp,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Decider: faults.NewDecider(1),
		Faults:  start,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		_ = srv.Stop(context.Background())
		hs.Close()
	})
	return srv, hs
}

func getFaults(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url + "/admin/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// textIs waits until the element's text is want, polling in the page.
func textIs(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`document.querySelector(`+jsString(sel)+`)?.textContent === `+jsString(want),
		chromedp.WithPollingInterval(20*time.Millisecond))
}

func contains(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(document.querySelector(`+jsString(sel)+`)?.textContent || "").includes(`+jsString(want)+`)`,
		chromedp.WithPollingInterval(20*time.Millisecond))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	srv, hs := newServer(t)
	for _, path := range []string{"/v1/payment/authorize", "/v1/tax/calculate", "/v1/tax/calculate"} {
		resp, err := http.Post(hs.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// The page loads, shows the configuration and the counters from /stats.
	err := chromedp.Do(ctx,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("preset-slow")),
		textIs("#current-preset", "custom"),
		textIs("#count-requests", "3"),
		contains("#routes-body", "/v1/tax/calculate"),
	)
	if err != nil {
		t.Fatalf("page did not render config and counters: %v", err)
	}

	// Clicking a preset changes what the admin API returns.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("preset-slow")),
		textIs("#current-preset", "slow"),
		contains("#message", "preset is now slow"),
	)
	if err != nil {
		t.Fatalf("clicking slow: %v", err)
	}
	if got := getFaults(t, hs.URL)["preset"]; got != "slow" {
		t.Fatalf("after clicking slow, GET /admin/faults preset = %v", got)
	}

	// The form patches the global rule, and a bad value is refused with the
	// API's message, leaving the configuration alone.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("jitter"), "15ms"),
		chromedp.Click(chromedp.ID("apply-global")),
		textIs("#current-preset", "custom"),
	)
	if err != nil {
		t.Fatalf("applying the form: %v", err)
	}
	if got := srv.Faults().Global.Jitter; got != faults.Duration(15*time.Millisecond) {
		t.Errorf("jitter after applying the form = %s, want 15ms", got)
	}
	before := srv.Faults()
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("latency-min"), "-5ms"),
		chromedp.Click(chromedp.ID("apply-global")),
		contains("#message", "global.latency.min: -5ms is negative"),
	)
	if err != nil {
		t.Fatalf("bad form value: %v", err)
	}
	if after := srv.Faults(); after.Global != before.Global {
		t.Errorf("rejected form changed the config: %+v", after.Global)
	}

	if path := os.Getenv("VENDOR_MOCK_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
