package diagnose

import (
	"fmt"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

// Model is the capacity model of `bottleneck report`
// (cmd/bottleneck/internal/analysis), run on each row's trace sample.
type Model struct {
	// Admin is where the fixes' ready curl commands point.
	Admin analysis.AdminURLs
}

// Name implements Analyzer.
func (Model) Name() string {
	return "the capacity model of bottleneck report, on the traces of each window's first seconds"
}

// Diagnose implements Analyzer.
func (m Model) Diagnose(s measure.TraceSample) Diagnosis {
	if len(s.Analysis) == 0 {
		return Diagnosis{Bottleneck: result.Bottleneck{Note: "no traces in the window to analyze", Fixes: []result.Fix{}}}
	}
	a := analysis.Analyze(s.Analysis, analysis.Options{
		WindowStart: s.AnalysisStart, WindowEnd: s.AnalysisEnd, Limit: s.AnalysisLimit, Admin: m.Admin,
		Completions: s.Completions,
	})
	v := a.Verdict
	d := Diagnosis{Bottleneck: result.Bottleneck{
		Available: true, Stage: v.Stage, Kind: v.Kind, Verdict: v.Summary,
		ThroughputPerS: result.F(v.ThroughputPerS), Traces: a.Traces, Fixes: []result.Fix{},
		Note: strings.Join(v.Notes, " "),
	}}
	for _, f := range v.Fixes {
		fix := Fix{Summary: fixSummary(f)}
		var texts []string
		for _, c := range changes(f) {
			s := settings.Setting{Service: c.Service, Name: c.Setting, Value: c.Value}
			fix.Settings = append(fix.Settings, s)
			texts = append(texts, s.Key()+"="+s.Value)
		}
		d.Fixes = append(d.Fixes, fix)
		d.Bottleneck.Fixes = append(d.Bottleneck.Fixes, result.Fix{
			Summary: fix.Summary, Settings: texts,
			PredictedThroughputPerS: positive(f.Predicted.ThroughputPerS),
			PredictedFastP99MS:      positive(f.Predicted.FastP99MS),
		})
	}
	return d
}

// changes are a fix's settings, the main one first.
func changes(f analysis.Fix) []analysis.Change {
	if len(f.Changes) > 0 {
		return f.Changes
	}
	return []analysis.Change{{Service: f.Service, Setting: f.Setting, Value: f.Value}}
}

// fixSummary says a fix in a line: "consumer CONCURRENCY=63 with workers
// FORWARDERS=64 (predicted 44.1 jobs/s, fast p99 1.20 s)".
func fixSummary(f analysis.Fix) string {
	var parts []string
	for _, c := range changes(f) {
		parts = append(parts, c.Service+" "+c.Setting+"="+c.Value)
	}
	s := strings.Join(parts, " with ")
	if f.Alternative {
		s += " (an alternative to the fix before)"
	}
	var pred []string
	if p := f.Predicted.ThroughputPerS; p > 0 {
		pred = append(pred, fmt.Sprintf("%.1f jobs/s", p))
	}
	if p := f.Predicted.FastP99MS; p > 0 {
		pred = append(pred, fmt.Sprintf("fast p99 %s", ms(p)))
	}
	if len(pred) > 0 {
		s += " (predicted " + strings.Join(pred, ", ") + ")"
	}
	return s
}

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func positive(v float64) *float64 {
	if v <= 0 {
		return nil
	}
	return result.F(v)
}
