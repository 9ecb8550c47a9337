// Package diagnose turns a row's traces into the capacity model's verdict:
// the stage that governs throughput, its kind, and the fixes it
// recommends, with the settings a later row can apply
// (profile_from: {recommended_by: ROW}).
package diagnose

import (
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

// Diagnosis is the verdict on one row.
type Diagnosis struct {
	Bottleneck result.Bottleneck
	// Fixes are the recommended fixes in the model's order, the first one
	// first; each is the settings that go together.
	Fixes []Fix
}

// Fix is one recommended fix.
type Fix struct {
	Summary  string
	Settings []settings.Setting
}

// Analyzer diagnoses a row from its trace sample.
type Analyzer interface {
	// Name says which model this is, for the run's header.
	Name() string
	Diagnose(s measure.TraceSample) Diagnosis
}

// Unavailable is the Analyzer of a build without the capacity model: every
// row says so, and rows that apply a recommendation are skipped.
type Unavailable struct{ Reason string }

// Name implements Analyzer.
func (u Unavailable) Name() string { return "none: " + u.Reason }

// Diagnose implements Analyzer.
func (u Unavailable) Diagnose(s measure.TraceSample) Diagnosis {
	return Diagnosis{Bottleneck: result.Bottleneck{Available: false, Traces: len(s.Analysis), Note: u.Reason, Fixes: []result.Fix{}}}
}
