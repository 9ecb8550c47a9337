package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis/analysistest"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// The incident's defaults under steady overload: the model names the
// consumer and recommends its capacity, with the forwarders to carry it,
// as settings a later row can apply.
func TestModelRecommendsSettingsARowCanApply(t *testing.T) {
	r := analysistest.Simulate(analysistest.IncidentConfig(), analysistest.Load{Rate: 100, Seconds: 8, Mix: [3]float64{100, 0, 0}, ConsumerMS: 50, RTTMS: 1, Seed: 1})
	start, end := r.Window()
	d := Model{}.Diagnose(measure.TraceSample{Analysis: r.Traces(2), AnalysisStart: start, AnalysisEnd: end, AnalysisLimit: 1000})
	b := d.Bottleneck
	if !b.Available || b.Stage != "consumer" || b.Kind != analysis.KindCapacity || !strings.HasPrefix(b.Verdict, "The bottleneck is the consumer") {
		t.Fatalf("bottleneck %+v", b)
	}
	if b.ThroughputPerS == nil || *b.ThroughputPerS < 15 || *b.ThroughputPerS > 25 || b.Traces == 0 {
		t.Errorf("throughput %v from %d traces, want ~20/s", b.ThroughputPerS, b.Traces)
	}
	if len(d.Fixes) == 0 || len(b.Fixes) != len(d.Fixes) {
		t.Fatalf("fixes %+v / %+v", d.Fixes, b.Fixes)
	}
	first := d.Fixes[0]
	want := []settings.Setting{{Service: "consumer", Name: "CONCURRENCY", Value: "7"}, {Service: "workers", Name: "FORWARDERS", Value: "7"}}
	if len(first.Settings) != 2 || first.Settings[0] != want[0] || first.Settings[1] != want[1] {
		t.Errorf("first fix %+v, want %v", first.Settings, want)
	}
	if !strings.HasPrefix(first.Summary, "consumer CONCURRENCY=7 with workers FORWARDERS=7 (predicted ") {
		t.Errorf("summary %q", first.Summary)
	}
	if f := b.Fixes[0]; strings.Join(f.Settings, " ") != "consumer:CONCURRENCY=7 workers:FORWARDERS=7" || f.PredictedThroughputPerS == nil || *f.PredictedThroughputPerS < 50 {
		t.Errorf("JSON fix %+v", f)
	}
	// The settings are ones a plan could have written: the services accept them.
	env := settings.Env{}
	env.Apply(first.Settings...)
	if err := env.Check(); err != nil {
		t.Errorf("the recommended settings do not pass the services' checks: %v", err)
	}
}

func TestModelWithoutTraces(t *testing.T) {
	d := Model{}.Diagnose(measure.TraceSample{})
	if d.Bottleneck.Available || d.Bottleneck.Note == "" || len(d.Fixes) != 0 || d.Bottleneck.Fixes == nil {
		t.Errorf("no traces: %+v", d)
	}
}

// The experiment's results-buffer row: 400 slots full under steady
// overload, so a job takes longer end to end than the whole row and none
// that arrived in the analysis window is handled before the row ends. The
// consumer is still the stage that limits throughput; the row's
// completions show it (without them the run of 2026-12-01 named the
// workers "held by the vendor", and rows with deep job queues "none").
func TestModelReadsTheCompletionsOfABacklog(t *testing.T) {
	cfg := analysistest.IncidentConfig()
	cfg.ResultsBuffer = 400
	r := analysistest.Simulate(cfg, analysistest.Load{Rate: 100, Seconds: 40, Mix: [3]float64{100, 0, 0}, ConsumerMS: 50, RTTMS: 1, Seed: 1})
	r.ReadAtMS = 40000
	all := r.Traces(2)
	start := time.UnixMicro(analysistest.Base + 30_000_000)
	end := start.Add(3 * time.Second)
	var arrived, done []jaegerapi.Trace
	for _, tr := range all {
		for _, s := range tr.Spans {
			if tr.Service(&s) == "producer" && s.StartTime >= start.UnixMicro() && s.StartTime <= end.UnixMicro() {
				arrived = append(arrived, tr)
				break
			}
		}
		for _, s := range tr.Spans {
			if s.OperationName == spans.ResultProcess && s.StartTime >= start.UnixMicro() && s.StartTime <= end.UnixMicro() {
				done = append(done, tr)
				break
			}
		}
	}
	if len(arrived) == 0 || len(done) == 0 {
		t.Fatalf("%d arrived, %d handled in the window: the case needs both", len(arrived), len(done))
	}
	sample := measure.TraceSample{Analysis: arrived, AnalysisStart: start, AnalysisEnd: end, AnalysisLimit: 3000}
	without := Model{}.Diagnose(sample).Bottleneck
	if without.Stage == "consumer" {
		t.Fatalf("without completions the model named the consumer: the case does not show what they add (%+v)", without)
	}
	sample.Completions = done
	b := Model{}.Diagnose(sample).Bottleneck
	if b.Stage != "consumer" || b.Kind != analysis.KindCapacity {
		t.Fatalf("with the completions: %s/%s (%s); want the consumer's capacity", b.Stage, b.Kind, b.Verdict)
	}
	if b.ThroughputPerS == nil || *b.ThroughputPerS < 15 || *b.ThroughputPerS > 25 {
		t.Errorf("throughput %v, want the consumer's ~20/s", b.ThroughputPerS)
	}
}
