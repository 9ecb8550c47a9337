package output

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium, or skips the test when it is not
// installed outside CI (CI set: a missing browser fails the test).
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium")
	}
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
		chromedp.WindowSize(1200, 1000),
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

// The page is self-contained: nothing in it points at the network but the
// trace links a reader clicks.
func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "<link", "<img", "@import", "url(", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it must not load anything", bad)
		}
	}
	for _, m := range regexp.MustCompile(`https?://[^"<\s]+`).FindAllString(page, -1) {
		if !strings.HasPrefix(m, "http://127.0.0.1:16686/trace/") && m != "http://www.w3.org/2000/svg" {
			t.Errorf("the page refers to %s", m)
		}
	}
}

func TestHTMLShowsOneBarPerRowInChromium(t *testing.T) {
	run := fixture()
	var b bytes.Buffer
	if err := WriteHTML(&b, run); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.html")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.ID("delivered"))); err != nil {
		t.Fatal(err)
	}
	eval := func(expr string, into any) {
		t.Helper()
		var err error
		switch v := into.(type) {
		case *int:
			*v, err = chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		case *bool:
			*v, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		case *string:
			*v, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		case *[]string:
			*v, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](expr))
		case *[]float64:
			*v, err = chromedp.Run(ctx, chromedp.Evaluate[[]float64](expr))
		}
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
	}
	var (
		title                        string
		delivered, p99, tableRows    int
		resources                    int
		barLabels                    []string
		widths                       []float64
		productionWide, stagingSmall bool
	)
	eval(`document.title`, &title)
	eval(`document.querySelectorAll('#delivered rect.bar').length`, &delivered)
	eval(`document.querySelectorAll('#fast-p99 rect.bar').length`, &p99)
	eval(`document.querySelectorAll('#results tbody tr').length`, &tableRows)
	eval(`performance.getEntriesByType('resource').length`, &resources)
	eval(`[...document.querySelectorAll('#delivered rect.bar')].map(r => r.dataset.row)`, &barLabels)
	eval(`[...document.querySelectorAll('#delivered rect.bar')].map(r => r.getBoundingClientRect().width)`, &widths)
	eval(`document.querySelector('#fast-p99 rect.bar[data-row="production"]').getBoundingClientRect().width > 100`, &productionWide)
	eval(`document.querySelector('#fast-p99 rect.bar[data-row="staging"]').getBoundingClientRect().width < 10`, &stagingSmall)
	if !strings.Contains(title, "incident") {
		t.Errorf("title %q", title)
	}
	n := len(run.Rows)
	if delivered != n || p99 != n || tableRows != n {
		t.Errorf("bars: %d delivered, %d p99; %d table rows; want %d of each (one per row)", delivered, p99, tableRows, n)
	}
	if resources != 0 {
		t.Errorf("the page loaded %d resources, want none", resources)
	}
	if strings.Join(barLabels, ",") != "staging,production,workers-x2,vendor-timeout,broken,consumer-capacity,fixed" {
		t.Errorf("bars in order %v", barLabels)
	}
	// Staging's delivered bar is the widest; the failed row's is empty.
	if len(widths) == n && (widths[0] < 10*widths[1] || widths[4] != 0) {
		t.Errorf("bar widths %v: want staging's ≥ 10× production's, and none for the failed row", widths)
	}
	if !productionWide || !stagingSmall {
		t.Errorf("p99 bars: production wide %v, staging narrow %v", productionWide, stagingSmall)
	}
}

func TestNiceMax(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 1}, {1000.4, 1200}, {999.2, 1000}, {10.76, 12}, {3.44, 4}, {19.8, 20}, {0.7, 0.8}, {250, 250}, {251, 300},
	} {
		if got := niceMax(c.in); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("niceMax(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The page's table keeps the producer's skips apart from the pool's
// refusals, and explains its marks.
func TestHTMLTableShowsSkipsApartFromRefusals(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<th>refused/s</th><th>skipped/s</th>",
		"<td>479.9</td><td>500.0</td>",
		"<td>0%†</td>",
		"† the results buffer was still filling when the window closed",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
