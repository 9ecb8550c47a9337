package report

import "time"

// SchemaVersion is the version of the JSON document; it changes only when
// a field is removed or changes meaning (new fields may appear any time).
const SchemaVersion = 1

// Findings is what the report found in one window of traces. It is also
// the --json document: field names are stable, durations are milliseconds
// (suffix _ms), shares are fractions from 0 to 1.
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

	Jobs       JobCounts        `json:"jobs"`
	Config     ObservedConfig   `json:"config"`
	Blocking   SendBlocking     `json:"blocked_sends"`
	Operations []OperationStats `json:"operations"`
	// VendorCacheRatio is avg vendor.api / avg cache.read; 0 when either
	// is missing from the window.
	VendorCacheRatio float64            `json:"vendor_cache_ratio"`
	Vendor           VendorHealth       `json:"vendor"`
	Consumer         ConsumerThroughput `json:"consumer"`
	HeadOfLine       HeadOfLine         `json:"head_of_line"`
	Verdict          Verdict            `json:"verdict"`
	// Links are Jaeger UI links to the traces most worth opening.
	Links []TraceLink `json:"links"`
}

// Window is the time range searched.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Label   string    `json:"label"` // how it was asked for: "last 5m", "10m..5m"
	Seconds float64   `json:"seconds"`
}

// JobCounts counts the jobs (one trace each) of the window.
type JobCounts struct {
	Total     int            `json:"total"`
	ByType    map[string]int `json:"by_type"`   // cache-read, database, vendor-api
	Delivered int            `json:"delivered"` // reached the consumer's result.process
	Failed    int            `json:"failed"`    // job.submit ended with an error
}

// ObservedConfig is the workers' configuration as the spans report it.
// Unknown values are empty/zero.
type ObservedConfig struct {
	Workers             int     `json:"workers"`              // distinct worker.id seen
	ResultsBufferCap    int     `json:"results_buffer_cap"`   // results.buffer.cap
	ResultSendMode      string  `json:"result_send_mode"`     // blocking | nonblocking
	PriorityLanes       string  `json:"priority_lanes"`       // on | off | "" (unknown)
	VendorTimeoutMS     float64 `json:"vendor_timeout_ms"`    // 0 = none
	ConsumerConcurrency int     `json:"consumer_concurrency"` // most result.process spans seen at once
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

// OperationStats is discovery 2: the duration of one span name.
type OperationStats struct {
	Operation string  `json:"operation"`
	Count     int     `json:"count"`
	AvgMS     float64 `json:"avg_ms"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
}

// VendorHealth is what vendor-mock's vendor.handle spans say.
type VendorHealth struct {
	Calls         int     `json:"calls"`
	Degraded      int     `json:"degraded"` // fault.degraded=true
	DegradedShare float64 `json:"degraded_share"`
	Preset        string  `json:"preset"` // fault.preset seen most
}

// ConsumerThroughput is how fast the consumer takes results, and how long
// results waited for it.
type ConsumerThroughput struct {
	Results      int     `json:"results"`        // result.process spans
	AvgMS        float64 `json:"avg_ms"`         // per result
	MaxPerSecond float64 `json:"max_per_second"` // concurrency / avg
	// DeliveryWait is how long results sat between the worker and the
	// consumer's handling: results.channel_wait_ms plus result.wait.
	DeliveryWaitAvgMS float64 `json:"delivery_wait_avg_ms"`
	DeliveryWaitMaxMS float64 `json:"delivery_wait_max_ms"`
}

// HeadOfLine is discovery 3: fast jobs that waited for a worker (in the
// job queue, or blocked handing off their result) far longer than their
// own work took, because slow jobs held the workers.
type HeadOfLine struct {
	FastJobs int `json:"fast_jobs"` // cache-read and database jobs that were worked on
	Stuck    int `json:"stuck"`
	// A fast job is stuck when its worker wait (queued + send blocked) is
	// at least MinRatio × its work and at least MinWaitMS.
	MinRatio    float64 `json:"min_ratio"`
	MinWaitMS   float64 `json:"min_wait_ms"`
	WorstWaitMS float64 `json:"worst_wait_ms"` // the longest worker wait of a fast job
	// WorstEndToEndMS is the slowest fast job end to end, stuck or not.
	WorstEndToEndMS float64    `json:"worst_end_to_end_ms"`
	Worst           []StuckJob `json:"worst"` // longest waits first
}

// StuckJob is one fast job that waited behind others.
type StuckJob struct {
	TraceID    string  `json:"trace_id"`
	URL        string  `json:"url"`
	JobID      string  `json:"job_id"`
	JobType    string  `json:"job_type"`
	Target     string  `json:"target,omitempty"`
	WorkMS     float64 `json:"work_ms"`
	EndToEndMS float64 `json:"end_to_end_ms"` // 0 when the job was not delivered yet
	// WaitMS = QueueWaitMS + SendBlockMS: the time it waited for a worker.
	WaitMS      float64 `json:"wait_ms"`
	QueueWaitMS float64 `json:"queue_wait_ms"`
	SendBlockMS float64 `json:"send_block_ms"`
	// DeliveryWaitMS is the time its result then waited for the consumer.
	DeliveryWaitMS float64 `json:"delivery_wait_ms"`
	// WaitedBehind are the job IDs its waits name (waited_behind.job_ids);
	// VendorJobsBehind are those of them that were vendor-api jobs.
	WaitedBehind     []string `json:"waited_behind"`
	VendorJobsBehind []string `json:"vendor_jobs_behind"`
}

// Verdict names the bottleneck and the fix.
type Verdict struct {
	// Bottleneck is true when workers blocked on result sends or fast jobs
	// got stuck; Healthy is its opposite.
	Bottleneck bool     `json:"bottleneck"`
	Healthy    bool     `json:"healthy"`
	Summary    string   `json:"summary"`
	Chain      []string `json:"chain"` // the root-cause chain, cause first
	Fixes      []Fix    `json:"fixes"`
}

// Fix is one setting of the README's config table that addresses a
// finding.
type Fix struct {
	Service string `json:"service"` // whose setting: workers
	Setting string `json:"setting"` // env var, e.g. RESULTS_BUFFER
	Value   string `json:"value"`
	Why     string `json:"why"`
	// Alternative marks a fix that replaces the one before it.
	Alternative bool `json:"alternative"`
	// AdminConfig applies the fix at run time: the JSON fields for
	// PUT /admin/config on the service.
	AdminConfig map[string]any `json:"admin_config"`
}

// TraceLink points at a trace in the Jaeger UI.
type TraceLink struct {
	TraceID string `json:"trace_id"`
	URL     string `json:"url"`
	Why     string `json:"why"`
}
