package traceview_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/fixture"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/traceview"
)

func TestGroupsByServiceAndSumsTheWaits(t *testing.T) {
	tr := fixture.Trace(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), fixture.Job{ID: "j", Type: "cache-read", Worker: 2,
		Work: 3 * time.Millisecond, Blocked: 120 * time.Millisecond, Deliver: 60 * time.Millisecond, Handle: 50 * time.Millisecond})
	v := traceview.Build(&tr, func(id string) string { return "/trace/" + id })

	var names []string
	for _, g := range v.Services {
		names = append(names, g.Name)
	}
	if got := strings.Join(names, ","); got != "producer,workers,consumer" {
		t.Errorf("service groups %s; want producer,workers,consumer in pipeline order", got)
	}
	waits := map[string]string{}
	for _, w := range v.Waits {
		waits[w.Name] = w.Duration
	}
	if waits["result.send"] != "120.0 ms" {
		t.Errorf("blocked result.send wait = %q, want 120.0 ms (waits %v)", waits["result.send"], waits)
	}
	if v.Work != "3.00 ms" {
		t.Errorf("work = %q, want 3.00 ms", v.Work)
	}
	// result.process has no parent in the fixture: a second root, drawn
	// all the same.
	var process *traceview.Row
	for _, g := range v.Services {
		for i := range g.Rows {
			if g.Rows[i].Name == "result.process" {
				process = &g.Rows[i]
			}
		}
	}
	if process == nil {
		t.Fatal("result.process missing")
	}
	var hasE2E bool
	for _, a := range process.Attrs {
		hasE2E = hasE2E || a.Key == "job.end_to_end_ms"
	}
	if !hasE2E {
		t.Error("result.process attributes lack job.end_to_end_ms")
	}
	html, err := traceview.Render(v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `data-wait="true"`) || !strings.Contains(string(html), `data-service="consumer"`) {
		t.Error("rendered page marks no wait span or lacks the consumer group")
	}
}
