package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
)

func TestTextShowsEveryRowAndWhatToKnow(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	lines := strings.Split(out, "\n")
	if lines[0] != `Experiment "incident": 7 rows on the experiment's own stack, 3m42s` {
		t.Errorf("first line %q", lines[0])
	}
	for _, want := range []string{
		"row                offered/s  delivered/s  refused/s  skipped/s  fast p50  fast p99  blocked  bottleneck",
		"staging               1000.0       996.3*        0.0        0.0    6.2 ms     41 ms     <1%   none",
		"production            1000.0        19.8       980.2        0.0    1.84 s    2.31 s     93%   consumer (capacity)",
		"workers-x2            1000.0        20.1       479.9      500.0    1.90 s    2.40 s     95%   consumer (capacity)",
		"vendor-timeout        1000.0        25.0       975.0        0.0       n/a       n/a     90%   consumer (capacity)",
		"fixed                 1000.0        44.6       955.0        0.0    900 ms    1.20 s      0%†  consumer (capacity)",
		"broken             failed: starting the services: consumer exited",
		`consumer-capacity  skipped: the analysis of row "production" recommended no fix`,
		"* the machine, not the configuration, may have limited this row: see the notes",
		"† the results buffer was still filling when the window closed, so no worker blocked yet: see the notes",
		"What the dashboards showed",
		"production      14% 31 MB  37% 42 MB     9% 33 MB  19% 38 MB  14% 226 MB           60%",
		"production  cache-read      2.31 s  http://127.0.0.1:16686/trace/abcproduction",
		"run with --keep",
		"- staging: the stack's processes waited for a CPU 40%",
		"- production: The bottleneck is the consumer: it handles 19.8 results/s while 1000 jobs/s arrive. The model recommends consumer CONCURRENCY=63 with workers FORWARDERS=64 (predicted 44.0 jobs/s).",
		"- vendor-timeout: 3.2 of the 25.0 results/s delivered were failed jobs",
		"- broken: failed: starting the services: consumer exited",
		`- consumer-capacity: skipped: the analysis of row "production" recommended no fix`,
		"- fixed: applies the fix the analysis recommended for production: consumer CONCURRENCY=63 with FORWARDERS=64",
		"staging            steady 1000/s (cache-read 60, database 20, vendor-api 20)  LOG_LEVEL=warn WORKERS=128 FAULT_PRESET=healthy",
		"workers-x2         steady 1000/s (cache-read 60, database 20, vendor-api 20)  WORKERS=8 workers:LOG_LEVEL=debug",
		"broken             checkout burst every 2s                                    the defaults",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The dashboards table skips rows that were not measured.
	if strings.Count(out, "\nbroken ") != 2 {
		t.Errorf("broken appears %d times at a line start, want 2 (main table, rows)", strings.Count(out, "\nbroken "))
	}
}

func TestTextSaysWhenNoAnalysisRan(t *testing.T) {
	run := fixture()
	run.Stack.Analysis = "none: not in this build"
	for i := range run.Rows {
		run.Rows[i].Bottleneck = result.Bottleneck{Fixes: []result.Fix{}}
	}
	var b bytes.Buffer
	WriteText(&b, run)
	if !strings.Contains(b.String(), "- bottleneck: none: not in this build") || !strings.Contains(b.String(), "93%   n/a") {
		t.Errorf("without an analysis:\n%s", b.String())
	}
}

func TestJSONHasStableNamesAndNulls(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["schema_version"] != 1.0 {
		t.Errorf("schema_version %v", m["schema_version"])
	}
	rows := m["rows"].([]any)
	failed := rows[4].(map[string]any)
	// Numbers that were not measured are null, not 0 and not missing.
	for _, k := range []string{"offered_per_s", "delivered_per_s", "rejected_per_s"} {
		if v, ok := failed[k]; !ok || v != nil {
			t.Errorf("failed row: %s = %v (present %v), want null", k, v, ok)
		}
	}
	timeout := rows[3].(map[string]any)["fast_jobs"].(map[string]any)
	if v, ok := timeout["p99_ms"]; !ok || v != nil {
		t.Errorf("no fast samples: p99_ms = %v, want null", v)
	}
	if h := rows[2].(map[string]any)["harness"].(map[string]any); h["producer_skipped"] != true {
		t.Errorf("workers-x2 skipped jobs: harness %v, want producer_skipped true", h)
	}
	fixed := rows[6].(map[string]any)["results_buffer"].(map[string]any)
	if fixed["held"] != 241.0 || fixed["room"] != 400.0 || fixed["filling_until_s"] != 6.1 {
		t.Errorf("fixed results_buffer %v", fixed)
	}
	if v, ok := rows[1].(map[string]any)["results_buffer"]; !ok || v != nil {
		t.Errorf("production results_buffer %v (present %v), want null when unknown", v, ok)
	}
	prod := rows[1].(map[string]any)
	for _, k := range []string{"name", "settings", "workload", "status", "offered_per_s", "delivered_per_s", "rejected_per_s", "refused_per_s", "shed_per_s",
		"fast_jobs", "blocked_sends", "results_buffer", "processes", "bottleneck", "harness", "window_start", "window_end", "measured_seconds"} {
		if _, ok := prod[k]; !ok {
			t.Errorf("row lacks %q", k)
		}
	}
}
