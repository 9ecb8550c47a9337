package report

import (
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
)

// SchemaVersion is the version of the JSON document; it changes only when
// a field is removed or changes meaning (new fields may appear any time).
// 2: the capacity model (stages, verdict.bottleneck_stage and kind,
// predictions); jobs.failed no longer counts shed submissions (jobs.rejected
// does); the traces are read by the producer's service.
const SchemaVersion = 2

// Findings is what the report found in one window of traces. It is also
// the --json document: field names are stable, durations are milliseconds
// (suffix _ms), rates are per second (_per_s), shares are fractions 0–1.
type Findings struct {
	SchemaVersion int    `json:"schema_version"`
	Jaeger        string `json:"jaeger"`  // query API the traces came from
	Service       string `json:"service"` // service the traces were searched by
	Window        Window `json:"window"`
	// Traces is how many traces were read; Truncated says the search hit
	// the limit, so older traces of the window were left out.
	Traces    int  `json:"traces"`
	Limit     int  `json:"limit"`
	Truncated bool `json:"truncated"`
	// CompletionTraces is how many traces the second search returned: the
	// jobs the consumer handled in the window (see Collect).
	CompletionTraces int `json:"completion_traces"`
	// Contract is the trace contract read: v1, v2 or v1+v2.
	Contract string `json:"contract"`

	// The capacity model (see package analysis).
	Period      analysis.Period     `json:"period"`
	Jobs        analysis.JobCounts  `json:"jobs"`
	Config      analysis.Config     `json:"config"`
	Stages      []analysis.Stage    `json:"stages"`
	WorkerTime  analysis.WorkerTime `json:"worker_time"`
	FastLatency analysis.Latency    `json:"fast_latency"`
	ModelFit    *analysis.ModelFit  `json:"model_fit"`

	// The three discoveries of the incident write-up.
	Blocking   SendBlocking              `json:"blocked_sends"`
	Operations []analysis.OperationStats `json:"operations"`
	// VendorCacheRatio is avg vendor.api / avg cache.read; 0 when either
	// is missing from the window.
	VendorCacheRatio float64               `json:"vendor_cache_ratio"`
	Vendor           analysis.VendorHealth `json:"vendor"`
	Consumer         ConsumerThroughput    `json:"consumer"`
	HeadOfLine       HeadOfLine            `json:"head_of_line"`

	Verdict Verdict `json:"verdict"`
	// Links are trace links to the traces most worth opening.
	Links []TraceLink `json:"links"`
}

// Window is the time range searched.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Label   string    `json:"label"` // how it was asked for: "last 5m", "10m..5m"
	Seconds float64   `json:"seconds"`
}

// SendBlocking is discovery 1: workers blocked handing results to the
// results channel (result.send with channel.blocked=true).
type SendBlocking struct {
	Sends     int          `json:"sends"`   // result.send spans
	Blocked   int          `json:"blocked"` // of which blocked
	BlockedMS float64      `json:"blocked_ms"`
	Longest   *BlockedSend `json:"longest,omitempty"`
	// WorkerTimeBlocked is blocked / (blocked + worker.process) over all
	// workers: the share of their busy time spent waiting to send.
	WorkerTimeBlocked float64          `json:"worker_time_blocked"`
	PerWorker         []WorkerBlocking `json:"per_worker"`
}

// BlockedSend is one blocked result send.
type BlockedSend struct {
	MS       float64 `json:"ms"`
	TraceID  string  `json:"trace_id"`
	JobID    string  `json:"job_id"`
	JobType  string  `json:"job_type"`
	WorkerID string  `json:"worker_id"`
}

// WorkerBlocking is one worker's share of the blocking.
type WorkerBlocking struct {
	WorkerID     string  `json:"worker_id"`
	Sends        int     `json:"sends"`
	Blocked      int     `json:"blocked"`
	BlockedMS    float64 `json:"blocked_ms"`
	ProcessMS    float64 `json:"process_ms"`
	BlockedShare float64 `json:"blocked_share"` // blocked / (blocked + process)
}

// ConsumerThroughput is how fast the consumer takes results, and how long
// results waited for it.
type ConsumerThroughput struct {
	Results      int     `json:"results"`        // results handled
	AvgMS        float64 `json:"avg_ms"`         // per result
	MaxPerSecond float64 `json:"max_per_second"` // concurrency / avg
	// DeliveryWait is how long results sat between the worker and the
	// consumer's handling: in the results channel plus result.wait.
	DeliveryWaitAvgMS float64 `json:"delivery_wait_avg_ms"`
	DeliveryWaitMaxMS float64 `json:"delivery_wait_max_ms"`
}

// HeadOfLine is discovery 3 (see analysis.HeadOfLine), with links.
type HeadOfLine struct {
	analysis.HeadOfLine
	Worst []StuckJob `json:"worst"` // longest waits first
}

// StuckJob is one fast job that waited behind others, with its link.
type StuckJob struct {
	analysis.StuckJob
	URL string `json:"url"`
}

// Verdict is the model's verdict (bottleneck_stage, kind, fixes with
// predictions, …) with the root-cause chain the report tells.
type Verdict struct {
	analysis.Verdict
	Chain []string `json:"chain"` // the root-cause chain, cause first
}

// Fix is one recommendation; see analysis.Fix.
type Fix = analysis.Fix

// TraceLink points at a trace in the Jaeger UI.
type TraceLink struct {
	TraceID string `json:"trace_id"`
	URL     string `json:"url"`
	Why     string `json:"why"`
}
