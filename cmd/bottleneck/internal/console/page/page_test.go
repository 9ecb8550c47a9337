package page_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/collect"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/fixture"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/page"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/timeline"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

func TestFragmentHighlightsTheNamedStageAndDrawsBlockedSends(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 1, 0, 0, time.UTC)
	tr := fixture.Trace(now.Add(-10*time.Second), fixture.Job{ID: "j1", Type: "cache-read", Worker: 3,
		Work: 2 * time.Millisecond, Blocked: 400 * time.Millisecond, Deliver: 60 * time.Millisecond, Handle: 50 * time.Millisecond})
	s := &collect.Snapshot{Seq: 7, At: now, Errors: map[string]string{"consumer": "cannot reach http://consumer:8083: connection refused"},
		CPU: map[string]float64{"workers": 1.5}, Process: map[string]collect.Process{"workers": {PoolWorkers: 4, PoolBusy: 4, RSSBytes: 30 << 20}},
		PeakBusy: 4, PeakOf: 4, Traces: []*jaegerapi.Trace{&tr}}
	s.Workers = &collect.WorkersStats{}
	s.Workers.Config = collect.WorkersConfig{Workers: 4, ResultsBuffer: 4, Forwarders: 1}
	s.Workers.Results.Cap, s.Workers.Results.Len, s.Workers.Results.BlockedNow = 4, 4, 3

	tl := timeline.Build(s.Traces, timeline.Options{From: now.Add(-time.Minute), To: now, Workers: 4, Forwarders: 1, ConsumerSlots: 1})
	v := page.Build(page.Input{
		Snap: s, Timelines: tl, DiagnosisWindow: 30 * time.Second, TraceLink: func(id string) string { return "/trace/" + id },
		Diagnosis: diagnose.Diagnosis{Source: "test", Stage: diagnose.StageResults, Kind: "burst", Verdict: "The bottleneck is the results channel.",
			Chain:  []string{"Slow consumer: 50 ms per result."},
			Stages: map[string]diagnose.Stage{diagnose.StageConsumer: {ArrivalsPerS: 30, Servers: 1, Utilization: 0.99}},
			Fixes: []diagnose.Fix{{Service: "workers", Setting: "RESULTS_BUFFER", Value: "400", Body: map[string]any{"results_buffer": 400},
				Curl: `curl -X PUT localhost:8081/admin/config -H 'Content-Type: application/json' -d '{"results_buffer":400}'`}}},
	})
	frag, err := page.Fragment(v)
	if err != nil {
		t.Fatal(err)
	}
	html := string(frag)
	for _, want := range []string{
		`class="stage hot" id="stage-results"`,
		`data-setting="RESULTS_BUFFER=400"`,
		`data-body="{&#34;results_buffer&#34;:400}"`,
		`<code class="curl">curl -X PUT localhost:8081/admin/config -H &#39;Content-Type: application/json&#39; -d &#39;{&#34;results_buffer&#34;:400}&#39;</code>`,
		`data-kind="blocked"`,
		`href="/trace/` + tr.TraceID + `"`,
		`data-group="worker" data-label="worker 4"`,
		`consumer: cannot reach http://consumer:8083: connection refused`,
		`id="workers-busy">4/4<`,
		`3 blocked sending`,
		`Slow consumer: 50 ms per result.`,
		`model: 30/s in · ρ 0.99`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("fragment lacks %s", want)
		}
	}
	if strings.Count(html, `class="stage hot"`) != 1 {
		t.Error("not exactly one stage highlighted")
	}

	var full bytes.Buffer
	if err := page.Page(&full, page.NewPageData(v, "")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="preset-degraded"`, `name="results_buffer" min="1" value="4"`, `<script src="/static/console.js">`} {
		if !strings.Contains(full.String(), want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
