package analysis

import (
	"cmp"
	"slices"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// Options say where the traces came from and how to judge them.
type Options struct {
	// WindowStart and WindowEnd are the window the traces were searched
	// in. WindowEnd tells whether load was still arriving when the window
	// closed; zero means unknown (the period then ends at the last
	// completion).
	WindowStart, WindowEnd time.Time
	// Limit is the search's limit: a search that returned Limit traces was
	// truncated to the newest ones.
	Limit int
	// Thresholds decide what counts; zero fields take DefaultThresholds.
	Thresholds Thresholds
	// Admin is where the fixes' curl commands send their requests.
	Admin AdminURLs
	// SimBudget bounds the arrivals one simulation run replays (0: 4000;
	// negative: no simulation, predictions from formulas only).
	SimBudget int
	// Completions are the traces of the jobs the consumer handled in the
	// window (a search by the consumer's result.process), when the caller
	// read them too: jobs take longer end to end than a short window, and
	// those that arrived in it may not be handled yet when it closes, while
	// the consumer kept handling earlier ones. They count for completions
	// and the consumer's side only; traces also in the first set count
	// once. Limit applies to this search too.
	Completions []jaegerapi.Trace

	traces               int
	completionsTruncated bool
}

// Thresholds decide what counts as a finding.
type Thresholds struct {
	// A fast job is stuck behind slow ones when it waited for a worker (in
	// the queue, or blocked handing its result over) at least StuckRatio
	// times its own work and at least StuckMinWait; head-of-line blocking
	// is named when at least StuckMinShare of fast jobs (and StuckMinJobs
	// of them) were stuck.
	StuckRatio    float64
	StuckMinWait  time.Duration
	StuckMinShare float64
	StuckMinJobs  int
	// Saturation is the share of a stage's capacity that sustained arrivals
	// must reach for the capacity verdict (ρ ≥ ~0.9).
	Saturation float64
	// TargetUtilization sizes the fixes: enough servers to run at most
	// this busy at the offered load.
	TargetUtilization float64
	// MinSustained is how long arrivals must go on for load to count as
	// sustained rather than a burst.
	MinSustained time.Duration
	// BlockedSignificant is the share of the workers' time (all of it,
	// busy or not) blocked sending that shows the results channel
	// overflowed.
	BlockedSignificant float64
	// WorstCases is how many stuck fast jobs to list.
	WorstCases int
}

// DefaultThresholds: 10x and 100 ms, as in the incident (2 ms cache reads
// waiting for hundreds of ms), named when 5% of fast jobs suffer it; a
// stage is saturated at 90% of its capacity; fixes aim at 80%.
func DefaultThresholds() Thresholds {
	return Thresholds{
		StuckRatio: 10, StuckMinWait: 100 * time.Millisecond, StuckMinShare: 0.05, StuckMinJobs: 2,
		Saturation: 0.9, TargetUtilization: 0.8, MinSustained: 2 * time.Second,
		BlockedSignificant: 0.05, WorstCases: 5,
	}
}

func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds()
	t.StuckRatio = cmp.Or(t.StuckRatio, d.StuckRatio)
	t.StuckMinWait = cmp.Or(t.StuckMinWait, d.StuckMinWait)
	t.StuckMinShare = cmp.Or(t.StuckMinShare, d.StuckMinShare)
	t.StuckMinJobs = cmp.Or(t.StuckMinJobs, d.StuckMinJobs)
	t.Saturation = cmp.Or(t.Saturation, d.Saturation)
	t.TargetUtilization = cmp.Or(t.TargetUtilization, d.TargetUtilization)
	t.MinSustained = cmp.Or(t.MinSustained, d.MinSustained)
	t.BlockedSignificant = cmp.Or(t.BlockedSignificant, d.BlockedSignificant)
	t.WorstCases = cmp.Or(t.WorstCases, d.WorstCases)
	return t
}

// AdminURLs are the base URLs of the services' admin APIs.
type AdminURLs struct {
	Workers  string // default localhost:8081
	Consumer string // default localhost:8083
}

const defaultSimBudget = 4000

// Analysis is everything the traces of one window say about the pipeline.
// Its JSON names are a contract (the report's --json embeds them).
type Analysis struct {
	// Contract is the trace contract the traces follow: "v1", "v2" or
	// "v1+v2" (a window across an upgrade).
	Contract string `json:"contract"`
	Traces   int    `json:"traces"`
	// Ignored counts traces that were not a job's (no job span at all).
	Ignored int `json:"ignored_traces"`

	Period     Period           `json:"period"`
	Jobs       JobCounts        `json:"jobs"`
	Config     Config           `json:"config"`
	Stages     []Stage          `json:"stages"`
	WorkerTime WorkerTime       `json:"worker_time"`
	Fast       Latency          `json:"fast_latency"` // fast jobs, arrival → handled, over the period
	HeadOfLine HeadOfLine       `json:"head_of_line"`
	Operations []OperationStats `json:"operations"`
	Vendor     VendorHealth     `json:"vendor"`
	Verdict    Verdict          `json:"verdict"`
	// ModelFit says how well the simulation reproduces what was measured;
	// nil when nothing could be simulated.
	ModelFit *ModelFit `json:"model_fit"`

	// JobList holds every job read (those read only for their completion
	// marked Earlier); not part of the JSON.
	JobList []Job `json:"-"`
}

// JobCounts counts the jobs read (one trace each).
type JobCounts struct {
	Total     int            `json:"total"`
	ByType    map[string]int `json:"by_type"`   // cache-read, database, vendor-api: never "unknown"
	Delivered int            `json:"delivered"` // handled by the consumer, work succeeded
	Failed    int            `json:"failed"`    // handled by the consumer, work failed (e.g. vendor error or timeout)
	Rejected  int            `json:"rejected"`  // shed at admission: the queue stayed full (RESOURCE_EXHAUSTED)
	Lost      int            `json:"lost"`      // never reached the pool, never confirmed, or abandoned
	InFlight  int            `json:"in_flight"` // accepted, not handled yet when read
	// HandledEarlier counts the jobs that arrived before the period and
	// were handled in it (read by the search for completions; from the
	// oldest one read when that search was truncated); they are in no
	// other count.
	HandledEarlier int `json:"handled_earlier"`
}

// OperationStats is the duration of one span name.
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
	// HealthyP99MS is the p99 of vendor.api over the calls that were not
	// degraded: what a timeout may safely cut above.
	HealthyP99MS float64 `json:"healthy_p99_ms"`
	HealthyCalls int     `json:"healthy_calls"`
}

// ModelFit compares the simulation of the current configuration with the
// measurement: a prediction is worth as much as this agreement.
type ModelFit struct {
	// Method is "replay" (the window's arrivals once) or "steady" (repeated
	// back to back, measured after a warm-up).
	Method                  string  `json:"method"`
	SimulatedJobs           int     `json:"simulated_jobs"`
	MeasuredThroughputPerS  float64 `json:"measured_throughput_per_s"`
	SimulatedThroughputPerS float64 `json:"simulated_throughput_per_s"`
	MeasuredFastP99MS       float64 `json:"measured_fast_p99_ms"`
	SimulatedFastP99MS      float64 `json:"simulated_fast_p99_ms"`
	// ThroughputError and FastP99Error are (simulated - measured) /
	// measured; 0 when nothing was measured.
	ThroughputError float64 `json:"throughput_error"`
	FastP99Error    float64 `json:"fast_p99_error"`
	// The workers' busy time blocked sending, fast jobs' p99 wait for a
	// worker (queued + blocked sending), jobs/s shed at admission and
	// jobs/s whose work failed: what every fix's prediction is read
	// against.
	MeasuredBlockedShare   float64 `json:"measured_blocked_share"`
	SimulatedBlockedShare  float64 `json:"simulated_blocked_share"`
	MeasuredFastWaitP99MS  float64 `json:"measured_fast_wait_p99_ms"`
	SimulatedFastWaitP99MS float64 `json:"simulated_fast_wait_p99_ms"`
	MeasuredShedPerS       float64 `json:"measured_shed_per_s"`
	SimulatedShedPerS      float64 `json:"simulated_shed_per_s"`
	MeasuredFailedPerS     float64 `json:"measured_failed_per_s"`
	SimulatedFailedPerS    float64 `json:"simulated_failed_per_s"`
}

// Analyze reads the traces of one window. It is pure: no I/O, no clock;
// the same traces and options give the same Analysis.
func Analyze(traces []jaegerapi.Trace, o Options) Analysis {
	o.traces = len(traces)
	o.completionsTruncated = o.Limit > 0 && len(o.Completions) >= o.Limit
	o.Thresholds = o.Thresholds.withDefaults()
	if o.SimBudget == 0 {
		o.SimBudget = defaultSimBudget
	}
	x := extract(traces, o.Completions)
	a := Analysis{Traces: len(traces), Ignored: x.ignored, JobList: x.jobs, Contract: contractOf(x.jobs)}
	a.Config = observedConfig(x)
	a.Period = coveredPeriod(x, a.Config.SubmitWaitMS, &o)
	a.Jobs = countJobs(x.jobs, a.Period)
	a.Operations = operationStats(x.ops)
	a.Vendor = vendorHealth(x)
	a.WorkerTime = workerTime(x.jobs, a.Period, a.Config.Workers)
	stages, m := buildStages(x.jobs, a.Period, &a.Config, &a.WorkerTime)
	a.Stages = stages
	a.Fast = fastLatency(x.jobs, a.Period)
	a.HeadOfLine = headOfLine(x.jobs, a.Period, o.Thresholds)
	judge(&a, &m, &o)
	return a
}

func contractOf(jobs []Job) string {
	var v1, v2 bool
	for i := range jobs {
		if jobs[i].Contract == 2 {
			v2 = true
		} else {
			v1 = true
		}
	}
	switch {
	case v1 && v2:
		return "v1+v2"
	case v2:
		return "v2"
	}
	return "v1"
}

func countJobs(jobs []Job, p Period) JobCounts {
	c := JobCounts{ByType: map[string]int{}}
	from := max(p.from(), p.doneFrom)
	for i := range jobs {
		j := &jobs[i]
		if j.Earlier {
			if j.Done >= from && j.Done <= p.to() {
				c.HandledEarlier++
			}
			continue
		}
		c.Total++
		c.ByType[j.Type]++
		switch j.Outcome {
		case OutcomeDelivered:
			c.Delivered++
		case OutcomeFailed:
			c.Failed++
		case OutcomeRejected:
			c.Rejected++
		case OutcomeLost, OutcomeAbandoned:
			c.Lost++
		default:
			c.InFlight++
		}
	}
	return c
}

func operationStats(ops map[string][]float64) []OperationStats {
	var out []OperationStats
	for _, op := range operations {
		d := ops[op]
		if len(d) == 0 {
			continue
		}
		l := summarize(d)
		out = append(out, OperationStats{Operation: op, Count: l.Count, AvgMS: l.AvgMS, P50MS: l.P50MS, P99MS: l.P99MS, MaxMS: l.MaxMS})
	}
	return out
}

// Operation returns the stats of one span name, nil when absent.
func (a *Analysis) Operation(name string) *OperationStats {
	for i := range a.Operations {
		if a.Operations[i].Operation == name {
			return &a.Operations[i]
		}
	}
	return nil
}

func vendorHealth(x *extraction) VendorHealth {
	v := x.vendor
	if v.Calls > 0 {
		v.DegradedShare = float64(v.Degraded) / float64(v.Calls)
	}
	best, n := "", 0
	for k, c := range x.presets {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	v.Preset = best
	var healthy []float64
	for i := range x.jobs {
		if j := &x.jobs[i]; j.HasVendor && !j.VendorDegraded && !j.Earlier {
			healthy = append(healthy, j.VendorMS)
		}
	}
	slices.Sort(healthy)
	v.HealthyCalls, v.HealthyP99MS = len(healthy), Percentile(healthy, 0.99)
	return v
}

func fastLatency(jobs []Job, p Period) Latency {
	var v []float64
	for i := range jobs {
		if j := &jobs[i]; j.Fast() && j.Handled() && j.arrivedIn(p) {
			v = append(v, msBetween(j.Arrival, j.Done))
		}
	}
	return summarize(v)
}

// HeadOfLine is fast jobs that waited for a worker (in the job queue, or
// blocked handing their result over) far longer than their own work,
// because slow jobs held the workers.
type HeadOfLine struct {
	FastJobs int `json:"fast_jobs"` // fast jobs worked on in the period
	Stuck    int `json:"stuck"`
	// StuckShare is Stuck / FastJobs.
	StuckShare float64 `json:"stuck_share"`
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
	JobID      string  `json:"job_id"`
	JobType    string  `json:"job_type"`
	Target     string  `json:"target,omitempty"`
	WorkMS     float64 `json:"work_ms"`
	EndToEndMS float64 `json:"end_to_end_ms"` // 0 when not handled yet
	// WaitMS = QueueWaitMS + SendBlockMS: the time it waited for a worker.
	WaitMS      float64 `json:"wait_ms"`
	QueueWaitMS float64 `json:"queue_wait_ms"`
	SendBlockMS float64 `json:"send_block_ms"`
	// DeliveryWaitMS is the time its result then waited for the consumer:
	// in the results channel and for a consumer slot.
	DeliveryWaitMS float64 `json:"delivery_wait_ms"`
	// WaitedBehind are the job IDs its waits name (waited_behind.job_ids);
	// VendorJobsBehind are those of them that were vendor-api jobs.
	WaitedBehind     []string `json:"waited_behind"`
	VendorJobsBehind []string `json:"vendor_jobs_behind"`
}

func headOfLine(jobs []Job, p Period, th Thresholds) HeadOfLine {
	h := HeadOfLine{MinRatio: th.StuckRatio, MinWaitMS: float64(th.StuckMinWait) / float64(time.Millisecond)}
	types := make(map[string]string, len(jobs))
	for i := range jobs {
		if jobs[i].ID != "" {
			types[jobs[i].ID] = jobs[i].Type
		}
	}
	var stuck []StuckJob
	for i := range jobs {
		j := &jobs[i]
		if !j.Fast() || j.WorkEnd == 0 || !j.arrivedIn(p) {
			continue
		}
		h.FastJobs++
		if j.Handled() {
			h.WorstEndToEndMS = max(h.WorstEndToEndMS, j.EndToEndMS)
		}
		// Waiting for a worker is what slow jobs inflict on fast ones; the
		// wait for the consumer afterwards is the same for every result.
		wait, work := j.WorkerWaitMS(), j.WorkMS()
		h.WorstWaitMS = max(h.WorstWaitMS, wait)
		if wait < th.StuckRatio*work || wait < h.MinWaitMS {
			continue
		}
		sj := StuckJob{
			TraceID: j.TraceID, JobID: j.ID, JobType: j.Type, Target: j.Target,
			WorkMS: work, EndToEndMS: j.EndToEndMS, WaitMS: wait, QueueWaitMS: j.QueueWaitMS(), SendBlockMS: j.SendBlockMS,
			DeliveryWaitMS: j.ChannelWaitMS() + j.ConsumerWait,
			WaitedBehind:   append([]string{}, j.WaitedBehind...), VendorJobsBehind: []string{},
		}
		for _, id := range j.WaitedBehind {
			if types[id] == TypeVendorAPI {
				sj.VendorJobsBehind = append(sj.VendorJobsBehind, id)
			}
		}
		stuck = append(stuck, sj)
	}
	slices.SortFunc(stuck, func(a, b StuckJob) int {
		return cmp.Or(cmp.Compare(b.WaitMS, a.WaitMS), cmp.Compare(a.TraceID, b.TraceID))
	})
	h.Stuck = len(stuck)
	if h.FastJobs > 0 {
		h.StuckShare = float64(h.Stuck) / float64(h.FastJobs)
	}
	h.Worst = stuck[:min(len(stuck), th.WorstCases)]
	return h
}
