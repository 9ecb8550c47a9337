package diagnose

import (
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/report"
)

// ReportRules is the report's verdict (its three discoveries and rules),
// mapped onto the pipeline: blocked result sends name the results
// channel, fast jobs stuck without blocked sends the job queue
// (head-of-line). It measures no capacity, so it cannot tell a burst from
// sustained overload; the page says which analysis it shows.
type ReportRules struct{}

// Diagnose runs report.Analyze over the window.
func (ReportRules) Diagnose(traces []jaegerapi.Trace, from, to time.Time) Diagnosis {
	f := report.Analyze(traces, report.Meta{
		Window:     report.Window{Start: from, End: to, Seconds: to.Sub(from).Seconds()},
		Thresholds: report.DefaultThresholds(),
	})
	d := Diagnosis{
		Source:   "the report's rules (blocked sends, head-of-line)",
		Verdict:  f.Verdict.Summary,
		Chain:    f.Verdict.Chain,
		Jobs:     f.Jobs.Total,
		Rejected: f.Jobs.Failed,
	}
	switch {
	case f.Jobs.Total == 0:
		d.Stage, d.Kind, d.Verdict = "", "", ""
	case f.Blocking.Blocked > 0:
		d.Stage, d.Kind = StageResults, "blocked sends"
	case f.HeadOfLine.Stuck > 0:
		d.Stage, d.Kind = StageQueue, "head-of-line"
	default:
		d.Stage, d.Kind = StageNone, "none"
	}
	for _, fx := range f.Verdict.Fixes {
		d.Fixes = append(d.Fixes, Fix{
			Service: fx.Service, Setting: fx.Setting, Value: fx.Value, Why: fx.Why,
			Body: fx.AdminConfig, Alternative: fx.Alternative,
		})
	}
	return d
}
