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

// Diagnosis is what the console shows of one window's analysis; its JSON
// is the "diagnosis" of /api/snapshot.
type Diagnosis struct {
	// Source names the analysis, shown on the page so nobody mistakes a
	// rule of thumb for a measurement.
	Source string `json:"source"`
	// WindowStart and WindowEnd bound the arrivals of the jobs analysed
	// (the console sets them).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Stage is the stage that governs throughput (one of the Stage*
	// values), Kind how (capacity, burst, head-of-line, none).
	Stage string `json:"stage"`
	Kind  string `json:"kind"`
	// Verdict is one line naming the stage and the numbers.
	Verdict string `json:"verdict"`
	// Chain explains it, cause first (may be empty).
	Chain []string `json:"chain"`
	Fixes []Fix    `json:"fixes"`
	// Stages are per-stage numbers, when the analysis has them, by name.
	Stages map[string]Stage `json:"stages"`
	// Jobs counts the jobs that arrived in the window, Rejected those shed
	// (refused by the pool or skipped by the producer).
	Jobs     int `json:"jobs"`
	Rejected int `json:"rejected"`
	// Throughput is jobs/s through the system over the window, when known;
	// OfferedPerS what arrived, ShedPerS what was shed.
	Throughput  float64 `json:"throughput_per_s"`
	OfferedPerS float64 `json:"offered_per_s"`
	ShedPerS    float64 `json:"shed_per_s"`
}

// Stage is one stage's numbers.
type Stage struct {
	ArrivalsPerS    float64 `json:"arrivals_per_s"`
	CompletionsPerS float64 `json:"completions_per_s"`
	ServiceMSAvg    float64 `json:"service_ms_avg"`
	Servers         float64 `json:"servers"`
	Utilization     float64 `json:"utilization"`
	WaitMSAvg       float64 `json:"wait_ms_avg"`
}

// Fix is one recommended change and how to apply it live.
type Fix struct {
	Service string `json:"service"` // workers | consumer
	Setting string `json:"setting"` // env var
	Value   string `json:"value"`
	Why     string `json:"why"`
	// Body is the JSON body of PUT /admin/config on Service; Curl the
	// ready command that sends it.
	Body map[string]any `json:"body"`
	Curl string         `json:"curl"`
	// Alternative marks a fix that replaces the one before it.
	Alternative bool `json:"alternative"`
	// Predicted effect, when the analysis predicts one (0 = unknown).
	PredictedThroughput float64 `json:"predicted_throughput_per_s"`
	PredictedFastP99MS  float64 `json:"predicted_fast_p99_ms"`
	// Also holds further settings that belong to the same fix, on other
	// services (e.g. FORWARDERS with the consumer's CONCURRENCY).
	Also []Fix `json:"also"`
}

// Diagnoser analyses the traces of [from, to).
type Diagnoser interface {
	// Diagnose judges the jobs that arrived in [from, to) (traces), with
	// the jobs handled in it that arrived before (completions).
	Diagnose(traces, completions []jaegerapi.Trace, from, to time.Time) Diagnosis
}
