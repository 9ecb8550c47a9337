package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

const good = `
name: demo
description: a short plan
warmup: 1s
duration: 4s
profile:
  LOG_LEVEL: warn
workload:
  steady: {rate: 200, mix: {cache-read: 80, vendor-api: 20}}
rows:
  - name: staging
    description: healthy
    profile:
      FAULT_PRESET: healthy
      WORKERS: 64
      consumer:CONCURRENCY: 16
      workers:FORWARDERS: 16
  - name: production
  - name: burst
    workload: {checkout: {every: 2s}}
    profile: {RESULTS_BUFFER: 400, PRIORITY_LANES: on}
    duration: 6s
    warmup: 0
  - name: fixed
    profile_from: {recommended_by: production}
    profile: {VENDOR_TIMEOUT: 300ms}
`

func TestParseReadsAPlan(t *testing.T) {
	p, err := Parse([]byte(good), "experiments/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "demo" || p.Description != "a short plan" || len(p.Rows) != 4 {
		t.Fatalf("plan %q %q with %d rows", p.Name, p.Description, len(p.Rows))
	}
	staging := p.Rows[0]
	want := []settings.Setting{
		{Name: "LOG_LEVEL", Value: "warn"},
		{Name: "FAULT_PRESET", Value: "healthy"},
		{Name: "WORKERS", Value: "64"},
		{Service: "consumer", Name: "CONCURRENCY", Value: "16"},
		{Service: "workers", Name: "FORWARDERS", Value: "16"},
	}
	if len(staging.Profile) != len(want) {
		t.Fatalf("staging profile %v, want %v", staging.Profile, want)
	}
	for i := range want {
		if staging.Profile[i] != want[i] {
			t.Errorf("staging profile[%d] = %+v, want %+v", i, staging.Profile[i], want[i])
		}
	}
	if staging.Warmup != time.Second || staging.Duration != 4*time.Second || staging.Line != 11 {
		t.Errorf("staging warmup %s duration %s line %d", staging.Warmup, staging.Duration, staging.Line)
	}
	if s := staging.Workload.Steady; s == nil || s.Rate != 200 || s.Mix["cache-read"] != 80 || s.Mix["vendor-api"] != 20 || len(s.Mix) != 2 {
		t.Errorf("staging workload %+v", staging.Workload)
	}
	burst := p.Rows[2]
	if c := burst.Workload.Checkout; c == nil || c.Every != 2*time.Second || c.Timeout != DefaultCheckoutTO || burst.Workload.Steady != nil {
		t.Errorf("burst workload %+v", burst.Workload)
	}
	if burst.Duration != 6*time.Second || burst.Warmup != 0 {
		t.Errorf("burst warmup %s duration %s", burst.Warmup, burst.Duration)
	}
	// YAML's "on" stays the word the service reads.
	if got := burst.Profile[len(burst.Profile)-1]; got.Name != "PRIORITY_LANES" || got.Value != "on" {
		t.Errorf("burst's last setting %+v", got)
	}
	if p.Rows[3].RecommendedBy != "production" || p.Rows[1].RecommendedBy != "" {
		t.Errorf("recommended_by: %q, %q", p.Rows[3].RecommendedBy, p.Rows[1].RecommendedBy)
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := Parse([]byte("rows:\n  - name: only\n    workload: {steady: {rate: 10}}\n"), "dir/mine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := p.Rows[0]
	if p.Name != "mine" || r.Warmup != DefaultWarmup || r.Duration != DefaultDuration || len(r.Profile) != 0 {
		t.Errorf("defaults: name %q warmup %s duration %s profile %v", p.Name, r.Warmup, r.Duration, r.Profile)
	}
	if r.Workload.Steady.Mix["cache-read"] != 60 || r.Workload.Steady.Mix["database"] != 20 {
		t.Errorf("default mix %v", r.Workload.Steady.Mix)
	}
}

// Every error names where it is: the line, the row (by name once it has
// one) and the field.
func TestParseRejectsBadPlans(t *testing.T) {
	const wl = "workload: {steady: {rate: 10}}\n"
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty file", "", []string{"the plan is empty"}},
		{"no rows", "name: x\n", []string{"the plan has no rows"}},
		{"empty rows", "rows: []\n", []string{"the plan has no rows"}},
		{"not yaml", "rows: [\n", []string{"plan.yaml:", "line"}},
		{"unknown top field", wl + "rowz: []\nrows: [{name: a}]\n", []string{`line 2: unknown field "rowz"`}},
		{"unknown row field", wl + "rows:\n  - name: a\n    profil: {WORKERS: 8}\n", []string{`line 4: row "a": unknown field "profil"`}},
		{"unknown setting", wl + "rows:\n  - name: a\n    profile: {WORKER: 8}\n", []string{`row "a": profile: unknown setting WORKER`, "did you mean WORKERS?"}},
		{"setting of another service", wl + "rows:\n  - name: a\n    profile: {consumer:WORKERS: 8}\n", []string{`row "a": profile: consumer does not read WORKERS (workers does)`}},
		{"unknown service", wl + "rows:\n  - name: a\n    profile: {db:WORKERS: 8}\n", []string{`unknown service "db"`}},
		{"bad int", wl + "rows:\n  - name: a\n    profile: {WORKERS: many}\n", []string{`line 4: row "a": profile: WORKERS="many": want an integer from 1 to 1024`}},
		{"out of range", wl + "rows:\n  - name: a\n    profile: {CONCURRENCY: 65}\n", []string{`CONCURRENCY="65": want an integer from 1 to 64`}},
		{"bad enum", wl + "rows:\n  - name: a\n    profile: {FAULT_PRESET: broken}\n", []string{`row "a": profile: FAULT_PRESET="broken"`}},
		{"bad duration setting", wl + "rows:\n  - name: a\n    profile: {VENDOR_TIMEOUT: 300}\n", []string{`VENDOR_TIMEOUT="300"`}},
		{"bad boolean word", wl + "rows:\n  - name: a\n    profile: {PRIORITY_LANES: true}\n", []string{`PRIORITY_LANES="true": want one of off, on`}},
		{"no value", wl + "rows:\n  - name: a\n    profile: {WORKERS: }\n", []string{`row "a": profile: WORKERS: want a value`}},
		{"managed setting", wl + "rows:\n  - name: a\n    profile: {HTTP_ADDR: \":1\"}\n", []string{"HTTP_ADDR is set by the experiment"}},
		{"otel setting", wl + "rows:\n  - name: a\n    profile: {OTEL_SDK_DISABLED: \"true\"}\n", []string{"OTEL_* settings are not plan settings"}},
		{"load in profile", wl + "rows:\n  - name: a\n    profile: {STEADY_RATE: 5}\n", []string{"STEADY_RATE is the producer's load: set it in the row's workload"}},
		{"setting twice", wl + "rows:\n  - name: a\n    profile: {WORKERS: 8, workers:WORKERS: 8, WORKERS: 9}\n", []string{"WORKERS given twice"}},
		{"bad measure duration", wl + "rows:\n  - name: a\n    duration: 8\n", []string{`line 4: row "a": duration "8": want a duration like 8s`}},
		{"too short", wl + "rows:\n  - name: a\n    duration: 100ms\n", []string{`row "a": duration 100ms: want 1s to 1h0m0s`}},
		{"negative warmup", wl + "warmup: -1s\nrows: [{name: a}]\n", []string{"warmup -1s: want 0 to 10m0s"}},
		{"bad plan duration", wl + "duration: soon\nrows: [{name: a}]\n", []string{`duration "soon"`}},
		{"duplicate rows", wl + "rows:\n  - name: a\n  - name: a\n", []string{`line 4: row "a": two rows are named "a"`}},
		{"row without name", wl + "rows:\n  - description: x\n", []string{"row 1: no name"}},
		{"empty name", wl + "rows:\n  - name: \"\"\n", []string{"row 1: name is empty"}},
		{"name with spaces", wl + "rows:\n  - name: two words\n", []string{`name "two words": want`}},
		{"row not a mapping", wl + "rows:\n  - just-a-name\n", []string{"row 1: want a mapping"}},
		{"no workload", "rows:\n  - name: a\n", []string{`row "a": no workload`}},
		{"two workloads", "rows:\n  - name: a\n    workload: {steady: {rate: 1}, checkout: {every: 1s}}\n", []string{"want exactly one of steady"}},
		{"no rate", "rows:\n  - name: a\n    workload: {steady: {mix: {database: 1}}}\n", []string{`row "a": workload.steady: no rate`}},
		{"rate too high", "rows:\n  - name: a\n    workload: {steady: {rate: 9000}}\n", []string{`rate "9000": want jobs per second`}},
		{"zero rate", "rows:\n  - name: a\n    workload: {steady: {rate: 0}}\n", []string{`rate "0"`}},
		{"bad mix type", "rows:\n  - name: a\n    workload: {steady: {rate: 1, mix: {email: 3}}}\n", []string{`workload.steady.mix: unknown job type "email"`}},
		{"zero mix", "rows:\n  - name: a\n    workload: {steady: {rate: 1, mix: {database: 0}}}\n", []string{"the weights must add up to more than 0"}},
		{"no every", "rows:\n  - name: a\n    workload: {checkout: {timeout: 5s}}\n", []string{`row "a": workload.checkout: no every`}},
		{"every too small", "rows:\n  - name: a\n    workload: {checkout: {every: 1ms}}\n", []string{"every 1ms: want 100ms to 24h0m0s"}},
		{"unknown workload", "rows:\n  - name: a\n    workload: {ramp: {}}\n", []string{`unknown field "ramp" (want steady, checkout)`}},
		{"reference to a later row", wl + "rows:\n  - name: a\n    profile_from: {recommended_by: b}\n  - name: b\n", []string{`row "a": profile_from.recommended_by: row "b" comes later`}},
		{"reference to itself", wl + "rows:\n  - name: a\n    profile_from: {recommended_by: a}\n", []string{"cannot apply its own recommendation"}},
		{"reference to an unknown row", wl + "rows:\n  - name: a\n  - name: b\n    profile_from: {recommended_by: prod}\n", []string{`no row "prod" before this one (rows so far: a)`}},
		{"bad profile_from", wl + "rows:\n  - name: a\n  - name: b\n    profile_from: {made_by: a}\n", []string{`unknown field "made_by" (want recommended_by)`, "want recommended_by: <an earlier row's name>"}},
		{"all problems at once", wl + "rows:\n  - name: a\n    profile: {WORKERS: 0}\n  - name: a\n", []string{"2 problems", "WORKERS=\"0\"", "two rows are named"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "plan.yaml")
			if err == nil {
				t.Fatalf("no error for:\n%s", c.yaml)
			}
			var pe *Errors
			if !errors.As(err, &pe) {
				t.Errorf("error %T, want *Errors", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSelectAndSetDuration(t *testing.T) {
	p, err := Parse([]byte(good), "demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Select([]string{"fixed"}); err == nil || !strings.Contains(err.Error(), `select that row too`) {
		t.Errorf("selecting a row without the row it takes its fix from: %v", err)
	}
	if err := p.Select([]string{"nope"}); err == nil || !strings.Contains(err.Error(), `no row "nope"`) {
		t.Errorf("selecting an unknown row: %v", err)
	}
	if err := p.Select([]string{"fixed", "production"}); err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 2 || p.Rows[0].Name != "production" || p.Rows[1].Name != "fixed" {
		t.Errorf("selected %v, want production then fixed (plan order)", p.names())
	}
	if err := p.SetDuration(500 * time.Millisecond); err == nil {
		t.Error("--duration 500ms: want an error")
	}
	if err := p.SetDuration(2 * time.Second); err != nil || p.Rows[0].Duration != 2*time.Second || p.Rows[1].Duration != 2*time.Second {
		t.Errorf("SetDuration: %v, rows %v", err, p.Rows)
	}
}

// The plans in the repository parse: a broken default plan would only
// show when someone runs it.
func TestRepositoryPlansParse(t *testing.T) {
	files, _ := filepath.Glob("../../../../../experiments/*.yaml")
	if len(files) == 0 {
		t.Skip("no experiments/*.yaml (run from the repository)")
	}
	for _, f := range files {
		if _, err := ReadFile(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func TestReadFileRefusesAHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "a plan is at most") {
		t.Errorf("ReadFile of a huge file: %v", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("ReadFile of a missing file: want an error")
	}
}
