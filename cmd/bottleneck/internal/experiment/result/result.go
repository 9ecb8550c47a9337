// Package result holds what an experiment measured, as the JSON of
// `bottleneck experiment --json` (stable names, schema_version) and as
// the input of the table and the HTML page.
//
// A number that could not be measured is null in JSON, never 0: "no fast
// job was delivered" and "fast jobs took 0 ms" are different findings.
package result

import "time"

// SchemaVersion changes when a field changes meaning or goes away; new
// fields do not bump it.
const SchemaVersion = 1

// Run is one run of a plan.
type Run struct {
	SchemaVersion int       `json:"schema_version"`
	Plan          Plan      `json:"plan"`
	Stack         Stack     `json:"stack"`
	Machine       Machine   `json:"machine"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	WallSeconds   float64   `json:"wall_seconds"`
	// Interrupted is true when the run was stopped before its last row.
	Interrupted bool  `json:"interrupted"`
	Rows        []Row `json:"rows"`
}

// Plan says which plan ran.
type Plan struct {
	Name        string `json:"name"`
	File        string `json:"file"`
	Description string `json:"description,omitempty"`
}

// Stack modes.
const (
	ModeOwn    = "own"    // the experiment started its own native stack
	ModeTarget = "target" // a running stack, through its admin APIs
)

// Stack says what was measured.
type Stack struct {
	Mode string `json:"mode"`
	// Jaeger is the query API the traces were read from; UI the base of
	// the trace links.
	Jaeger string `json:"jaeger"`
	UI     string `json:"ui"`
	// Settings are what the experiment set on every row on top of the
	// plan (own stack: e.g. LOG_LEVEL=warn), as service:NAME=VALUE.
	Settings []string `json:"settings"`
	// Analysis names the capacity model that named the bottlenecks, or
	// says why there was none.
	Analysis string `json:"analysis"`
}

// Machine is where it ran.
type Machine struct {
	CPUs int    `json:"cpus"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// LoadAverage is the 1-minute load average before the first row, when
	// known: a busy machine makes every number smaller.
	LoadAverage *float64 `json:"load_average_before"`
}

// Row statuses.
const (
	StatusMeasured = "measured"
	StatusFailed   = "failed"  // something went wrong; Error says what
	StatusSkipped  = "skipped" // not run; Error says why
)

// Row is one configuration, measured.
type Row struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Settings are the row's settings as service:NAME=VALUE (the plan's
	// profile, a recommended fix, the row's own), sorted.
	Settings []string `json:"settings"`
	// RecommendedBy is the row whose recommended fix this row applied.
	RecommendedBy string `json:"recommended_by,omitempty"`
	// AppliedFix says which fix that was.
	AppliedFix string   `json:"applied_fix,omitempty"`
	Workload   Workload `json:"workload"`
	Status     string   `json:"status"`
	Error      string   `json:"error,omitempty"`

	WarmupSeconds   float64   `json:"warmup_seconds"`
	MeasuredSeconds float64   `json:"measured_seconds"`
	WindowStart     time.Time `json:"window_start"`
	WindowEnd       time.Time `json:"window_end"`

	// OfferedPerS is the load the producer was asked for: jobs it
	// submitted, had refused or shed, and jobs its pacer owed but could
	// not generate in time.
	OfferedPerS *float64 `json:"offered_per_s"`
	// DeliveredPerS are results the consumer handled (ok or failed);
	// FailedPerS the part of them whose job failed (e.g. a vendor timeout).
	DeliveredPerS *float64 `json:"delivered_per_s"`
	FailedPerS    *float64 `json:"failed_per_s"`
	// RejectedPerS are jobs the pool did not accept: RefusedPerS it
	// refused (queue full for SUBMIT_WAIT), ShedPerS the producer skipped
	// without submitting them, because its 2,048 submissions in flight
	// were all waiting on the pool (skipped_backlog) or too many jobs
	// waited for the consumer's confirmation (refused_full). The table
	// shows the two apart (refused/s, skipped/s).
	RejectedPerS *float64 `json:"rejected_per_s"`
	RefusedPerS  *float64 `json:"refused_per_s"`
	ShedPerS     *float64 `json:"shed_per_s"`

	Fast    Fast    `json:"fast_jobs"`
	Blocked Blocked `json:"blocked_sends"`
	// ResultsBuffer is the results channel at the window's end; nil when
	// the workers do not say.
	ResultsBuffer *BufferFill `json:"results_buffer"`
	// Processes are the "standard metrics" of each service (and of
	// Jaeger, own stack only): CPU and memory.
	Processes  map[string]Process `json:"processes"`
	Bottleneck Bottleneck         `json:"bottleneck"`
	Harness    Harness            `json:"harness"`
}

// Workload is the row's load.
type Workload struct {
	// Kind is steady or checkout.
	Kind string `json:"kind"`
	// Rate and Mix are steady load's.
	Rate *float64           `json:"rate,omitempty"`
	Mix  map[string]float64 `json:"mix,omitempty"`
	// Every and Timeout are the checkout burst's, as Go durations.
	Every   string `json:"every,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	// Text says it in words.
	Text string `json:"text"`
}

// Fast is what fast jobs (cache-read, database) saw end to end, from the
// producer's submission to the consumer's handling, over the fast jobs the
// consumer handled in the measurement window (a sample of them, read from
// Jaeger; Samples says how many).
type Fast struct {
	P50MS   *float64 `json:"p50_ms"`
	P99MS   *float64 `json:"p99_ms"`
	Samples int      `json:"samples"`
	// Handled is how many fast jobs the consumer handled in the window
	// (from its /stats), so Samples/Handled is the share read.
	Handled *int `json:"handled"`
	// Worst is the slowest of the sample, with a link to its trace.
	Worst *TraceLink `json:"worst"`
}

// TraceLink points at one trace in Jaeger.
type TraceLink struct {
	TraceID    string  `json:"trace_id"`
	URL        string  `json:"url"`
	JobID      string  `json:"job_id,omitempty"`
	Type       string  `json:"type"`
	EndToEndMS float64 `json:"end_to_end_ms"`
	// File is where the trace was saved (--traces), in the JSON of
	// Jaeger's API, which the Jaeger UI opens (Search, JSON File).
	File string `json:"file,omitempty"`
}

// Blocked is how much of the workers' time went to waiting on a full
// results channel.
type Blocked struct {
	// Share is blocked time / (WORKERS × window).
	Share        *float64 `json:"share"`
	Sends        *uint64  `json:"sends"`
	BlockedSends *uint64  `json:"blocked"`
	Workers      *int     `json:"workers"`
}

// BufferFill is how full the results channel was at the window's end and
// how it changed over the window. Under sustained overload a bigger buffer
// only delays the blocking: until it is full no worker blocks, so a row
// whose buffer was still filling measured a state that does not last.
type BufferFill struct {
	// Held is what the channel held (the non-blocking mode's overflow
	// included); Room what it holds before a send blocks (every lane's
	// slots, plus the overflow in non-blocking mode).
	Held int `json:"held"`
	Room int `json:"room"`
	// GrowthPerS is Held's change over the window, per second.
	GrowthPerS float64 `json:"growth_per_s"`
	// FillingUntilS is, when it was still filling at the window's end, how
	// much longer it would have taken to fill at that rate; null when it
	// was not filling (full, steady, or draining).
	FillingUntilS *float64 `json:"filling_until_s"`
}

// Filling reports whether the buffer was still filling when the window
// closed.
func (b *BufferFill) Filling() bool { return b != nil && b.FillingUntilS != nil }

// Process is one process's CPU and memory during the window.
type Process struct {
	// CPUPercent is CPU time / window; 100 is one core.
	CPUPercent *float64 `json:"cpu_percent"`
	// RSSMB is resident memory at the window's end; PeakRSSMB the most
	// since the process started (own stack only: each row starts fresh).
	RSSMB     *float64 `json:"rss_mb"`
	PeakRSSMB *float64 `json:"peak_rss_mb"`
}

// Bottleneck is the capacity model's verdict on the row's traces.
type Bottleneck struct {
	// Available is false when no analysis ran; Note says why.
	Available bool   `json:"available"`
	Stage     string `json:"stage"`
	Kind      string `json:"kind"`
	// Verdict is the model's sentence, e.g. "The bottleneck is the consumer: ...".
	Verdict        string   `json:"verdict,omitempty"`
	ThroughputPerS *float64 `json:"throughput_per_s"`
	Fixes          []Fix    `json:"fixes"`
	Traces         int      `json:"traces"`
	Note           string   `json:"note,omitempty"`
}

// Fix is one recommended change: settings that go together.
type Fix struct {
	Summary  string   `json:"summary"`
	Settings []string `json:"settings"` // service:NAME=VALUE
	// PredictedThroughputPerS and PredictedFastP99MS are the model's
	// predicted effect.
	PredictedThroughputPerS *float64 `json:"predicted_throughput_per_s"`
	PredictedFastP99MS      *float64 `json:"predicted_fast_p99_ms"`
}

// Harness says whether the machine, rather than the system under test,
// limited the row: the load generator falling behind, a saturated CPU,
// spans dropped on the way to Jaeger.
type Harness struct {
	// MachineBusyPercent is the busy share of all CPUs during the window.
	MachineBusyPercent *float64 `json:"machine_busy_percent"`
	// StackCPUPercent is the CPU of the services and Jaeger; ExperimentCPUPercent
	// the experiment's own; OtherCPUPercent everything else on the machine.
	// All four are shares of the same CPU time, sampled together: the
	// machine's CPU time over the window when the machine is read, else
	// the window × the CPU count.
	StackCPUPercent *float64 `json:"stack_cpu_percent"`
	// StackCPUWaitPercent is the share of the time the stack's processes
	// were ready to run that they spent waiting for a CPU (Linux
	// schedstat; own stack only). It counts waits for a CPU the process's
	// own threads hold and the wake-up of an idle (virtual) CPU too, so Go's
	// many short wake-ups keep it high even on a quiet machine: compare
	// rows, and read it only beside MachineBusyPercent.
	StackCPUWaitPercent  *float64 `json:"stack_cpu_wait_percent"`
	ExperimentCPUPercent *float64 `json:"experiment_cpu_percent"`
	OtherCPUPercent      *float64 `json:"other_cpu_percent"`
	// BehindPerS are jobs per second the producer owed but could not
	// generate in time.
	BehindPerS *float64 `json:"producer_behind_per_s"`
	// Skipped is true when the producer skipped jobs without submitting
	// them (ShedPerS > 0): the pool saw less than the load offered. Those
	// jobs are traced as shed (submit.outcome skipped_backlog or
	// skipped_unconfirmed), so the model still counts them as arrivals.
	Skipped bool `json:"producer_skipped"`
	// SpansLost are spans dropped or failed on export, all services.
	SpansLost *uint64 `json:"spans_lost"`
	// Limited is true when any warning says the numbers are the harness's.
	Limited  bool     `json:"limited"`
	Warnings []string `json:"warnings"`
}

// F returns a pointer to v, for the optional numbers.
func F(v float64) *float64 { return &v }
