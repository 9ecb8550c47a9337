package diagnose

import (
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// Model is the capacity model (package analysis): stages from the traces,
// the stage that governs throughput and how, and fixes with their
// predicted effect.
type Model struct {
	// Admin are the services' admin URLs the fixes' curls name.
	Admin analysis.AdminURLs
	// SimBudget bounds the simulation behind the predictions (see
	// analysis.Options); the console keeps it small, it reruns often.
	SimBudget int
}

// Diagnose runs analysis.Analyze over the window.
func (m Model) Diagnose(traces, completions []jaegerapi.Trace, from, to time.Time) Diagnosis {
	a := analysis.Analyze(traces, analysis.Options{WindowStart: from, WindowEnd: to, Admin: m.Admin, SimBudget: m.SimBudget, Completions: completions})
	v := a.Verdict
	d := Diagnosis{
		Source:      "the capacity model (stages, demand, simulation)",
		Stage:       v.Stage,
		Kind:        v.Kind,
		Verdict:     v.Summary,
		Jobs:        a.Jobs.Total,
		Rejected:    a.Jobs.Rejected,
		Throughput:  v.ThroughputPerS,
		OfferedPerS: v.OfferedPerS,
		ShedPerS:    v.ShedPerS,
		Stages:      map[string]Stage{},
	}
	if a.Jobs.Total == 0 {
		d.Stage, d.Kind, d.Verdict = "", "", ""
	}
	if v.Stage == analysis.StageWorkers && v.HeldBy == "vendor" {
		d.Stage = StageVendor
	}
	d.Chain = append(d.Chain, v.Notes...)
	for _, s := range a.Stages {
		d.Stages[s.Name] = Stage{ArrivalsPerS: s.ArrivalsPerS, CompletionsPerS: s.CompletionsPerS, ServiceMSAvg: s.ServiceMSAvg,
			Servers: float64(s.Servers), Utilization: s.Utilization, WaitMSAvg: s.WaitMSAvg}
	}
	for _, f := range v.Fixes {
		fx := Fix{Service: f.Service, Setting: f.Setting, Value: f.Value, Why: f.Why, Body: f.AdminConfig, Alternative: f.Alternative,
			PredictedThroughput: f.Predicted.ThroughputPerS, PredictedFastP99MS: f.Predicted.FastP99MS}
		for i, c := range f.Changes {
			if i == 0 {
				fx.Curl = c.Curl // the main change is the fix itself
				continue
			}
			fx.Also = append(fx.Also, Fix{Service: c.Service, Setting: c.Setting, Value: c.Value, Body: c.AdminConfig, Curl: c.Curl})
		}
		d.Fixes = append(d.Fixes, fx)
	}
	return d
}
