// Package diagnose is the console's one seam to the analysis that names
// the bottleneck: the console draws a Diagnosis; where it comes from is a
// Diagnoser. Keeping it this small lets the model behind it change without
// touching the page.
package diagnose

import (
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// Pipeline stages, in order, as the capacity model names them.
const (
	StageAdmission = "admission"
	StageQueue     = "queue"
	StageWorkers   = "workers"
	StageVendor    = "vendor"
	StageResults   = "results"
	StageDelivery  = "delivery"
	StageConsumer  = "consumer"
	StageNone      = "none"
)

// Diagnosis is what the console shows of one window's analysis.
type Diagnosis struct {
	// Source names the analysis, shown on the page so nobody mistakes a
	// rule of thumb for a measurement.
	Source string
	// Stage is the stage that governs throughput (one of the Stage*
	// values), Kind how (capacity, burst, head-of-line, none).
	Stage, Kind string
	// Verdict is one line naming the stage and the numbers.
	Verdict string
	// Chain explains it, cause first (may be empty).
	Chain []string
	Fixes []Fix
	// Stages are per-stage numbers, when the analysis has them, by name.
	Stages map[string]Stage
	// Jobs counts the jobs the window held, Rejected those shed.
	Jobs, Rejected int
	// Throughput is jobs/s through the system over the window, when known.
	Throughput float64
}

// Stage is one stage's numbers.
type Stage struct {
	ArrivalsPerS    float64
	CompletionsPerS float64
	ServiceMSAvg    float64
	Servers         float64
	Utilization     float64
	WaitMSAvg       float64
}

// Fix is one recommended change and how to apply it live.
type Fix struct {
	Service string // workers | consumer
	Setting string // env var
	Value   string
	Why     string
	// Body is the JSON body of PUT /admin/config on Service.
	Body map[string]any
	// Alternative marks a fix that replaces the one before it.
	Alternative bool
	// Predicted effect, when the analysis predicts one (0 = unknown).
	PredictedThroughput, PredictedFastP99MS float64
	// Also holds further settings that belong to the same fix, on other
	// services (e.g. FORWARDERS with the consumer's CONCURRENCY).
	Also []Fix
}

// Diagnoser analyses the traces of [from, to).
type Diagnoser interface {
	Diagnose(traces []jaegerapi.Trace, from, to time.Time) Diagnosis
}
