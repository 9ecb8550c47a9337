package analysis

import (
	"cmp"
	"math"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Job types, as the spans name them. pkg/jobs holds the same names, but
// importing it would pull the generated gRPC API into the CLI for three
// strings.
const (
	TypeCacheRead = "cache-read"
	TypeDatabase  = "database"
	TypeVendorAPI = "vendor-api"
)

// IsFast says whether a job type is one of the fast ones (cache reads and
// database queries) that priority lanes keep apart from vendor calls.
func IsFast(typ string) bool { return typ == TypeCacheRead || typ == TypeDatabase }

// Outcomes of a job.
const (
	OutcomeDelivered = spans.OutcomeDelivered // the consumer handled it
	OutcomeFailed    = spans.OutcomeFailed    // the consumer handled it, but its work failed
	OutcomeRejected  = spans.OutcomeRejected  // load shed: the pool refused it (RESOURCE_EXHAUSTED)
	OutcomeLost      = spans.OutcomeLost      // never reached the pool, or never confirmed
	OutcomeAbandoned = spans.OutcomeAbandoned // unconfirmed when the producer stopped
	OutcomeInFlight  = "in-flight"            // accepted, not handled yet when the traces were read
)

// Job is one trace seen as the story of its job. Times are microseconds
// since the Unix epoch, as Jaeger sends them; 0 means the span was not in
// the trace. When a job was submitted more than once, the workers' times
// are those of its latest attempt there.
type Job struct {
	TraceID  string
	ID       string
	Type     string // cache-read | database | vendor-api, never empty
	Target   string
	Scenario string
	Contract int // trace contract: 1 or 2
	Outcome  string
	Attempts int // Submit attempts
	// Earlier marks a job read only by the search for completions: it
	// arrived before the period (or after the first search was made, its
	// spans not in Jaeger yet then). It counts for the consumer's side
	// (completions in the period, handling times), never as an arrival.
	Earlier bool

	Arrival   int64 // first submission
	Submitted int64 // end of the accepted Submit call (0: never accepted)
	Answered  int64 // end of the last Submit call: the pool's last answer

	Accepted, Dequeued int64 // queue.wait: in the job queue
	WorkStart, WorkEnd int64 // worker.process: the work
	SendStart, SendEnd int64 // result.send: handing the result over
	Taken              int64 // a forwarder took the result
	DeliverEnd         int64 // result.deliver ended (the consumer answered)
	ConsumerArrive     int64 // the result reached the consumer (result.wait)
	Start, Done        int64 // result.process: the consumer handled it

	WorkerID     string
	QueueLane    string // fast | slow | shared
	ResultsLane  string
	QueueDepth   int // jobs ahead at accept
	Blocked      bool
	SendBlockMS  float64 // the blocked part of result.send
	ConsumerWait float64 // ms for a consumer slot (result.wait)
	OK           bool    // the work succeeded (delivered, not failed)

	VendorMS       float64 // vendor.api, when the job called the vendor
	VendorDegraded bool    // vendor.handle's fault.degraded
	HasVendor      bool

	// EndToEndMS is submitted → handled by the consumer; 0 until handled.
	EndToEndMS   float64
	WaitedBehind []string // job IDs its waits named (waited_behind.job_ids)
}

// Fast reports whether the job is a fast one.
func (j *Job) Fast() bool { return IsFast(j.Type) }

// Handled reports whether the consumer handled the job (its result
// arrived, whether the work succeeded or not).
func (j *Job) Handled() bool { return j.Done > 0 }

// WorkMS is the job's own work (worker.process), 0 when not worked on.
func (j *Job) WorkMS() float64 { return msBetween(j.WorkStart, j.WorkEnd) }

// QueueWaitMS is the time in the job queue.
func (j *Job) QueueWaitMS() float64 { return msBetween(j.Accepted, j.Dequeued) }

// ChannelWaitMS is the time the result sat in the results channel.
func (j *Job) ChannelWaitMS() float64 { return msBetween(j.SendEnd, j.Taken) }

// ProcessMS is the consumer's handling time.
func (j *Job) ProcessMS() float64 { return msBetween(j.Start, j.Done) }

// DeliverMS is the forwarder's part: taking the result → the consumer's
// answer, including the consumer's wait and handling.
func (j *Job) DeliverMS() float64 { return msBetween(j.Taken, j.DeliverEnd) }

// WorkerWaitMS is what a fast job waited for a worker: in the queue and
// blocked handing its result over (a worker that is blocked can't take the
// next job, so that job waits too).
func (j *Job) WorkerWaitMS() float64 { return j.QueueWaitMS() + j.SendBlockMS }

func msBetween(from, to int64) float64 {
	if from == 0 || to < from {
		return 0
	}
	return float64(to-from) / 1e3
}

// extraction is what walking the traces found beyond the jobs: the
// configuration attributes, per-operation durations, vendor health.
type extraction struct {
	jobs    []Job
	ignored int
	// horizon is the latest span end the search by arrival saw: what
	// Jaeger knew when it was read. The search for completions comes
	// after, and may see later spans.
	horizon int64
	// doneFrom is the start of the oldest result.process the search for
	// completions returned.
	doneFrom int64

	ops        map[string][]float64
	vendor     VendorHealth
	presets    map[string]int
	rejectedMS []float64 // durations of refused Submit calls (≈ SUBMIT_WAIT)
	seen       seenConfig
	deliveries [][2]int64 // result.deliver intervals: forwarders at work
	processes  [][2]int64 // result.process intervals: consumer slots at work
	dupes      int        // duplicate result.process spans
}

// seenConfig is each configuration attribute's latest value: a setting
// changed during the window counts from when it changed.
type seenConfig struct {
	workers, queueCap, bufferCap, forwarders, concurrency latest[int]
	vendorTimeoutMS                                       latest[float64]
	sendMode                                              latest[string]
	lanes                                                 latest[string] // on | off
	workerIDs                                             map[string]struct{}
	maxQueueDepth                                         int
}

// latest is the value of a setting seen last, and whether another was
// seen too (the setting changed while the traces were written).
type latest[T comparable] struct {
	at      int64
	v       T
	set     bool
	changed bool
}

func (l *latest[T]) see(at int64, v T) {
	if l.set && v != l.v {
		l.changed = true
	}
	if !l.set || at >= l.at {
		l.at, l.v, l.set = at, v, true
	}
}

// operations lists the spans whose durations are compared (discovery 2),
// in the order a job meets them. Transport spans (gRPC, HTTP) are left out:
// they double the spans they wrap.
var operations = []string{
	spans.JobSubmit,
	spans.PoolJob,
	spans.QueueWait,
	spans.WorkerProcess,
	spans.CacheRead,
	spans.DatabaseQuery,
	spans.PoolAcquire,
	spans.QueryExecute,
	spans.VendorAPI,
	spans.VendorHandle,
	spans.ResultSend,
	spans.ResultsChannelWait,
	spans.ResultDeliver,
	spans.ResultWait,
	spans.ResultProcess,
}

// extract reads the traces searched by arrival, then those searched by
// completion that the first search did not return (jobs that arrived
// before the period): of these only what the consumer's side needs.
func extract(traces, completions []jaegerapi.Trace) *extraction {
	x := &extraction{
		ops:     make(map[string][]float64, len(operations)),
		presets: map[string]int{},
		seen:    seenConfig{workerIDs: map[string]struct{}{}},
	}
	x.jobs = make([]Job, 0, len(traces))
	for i := range traces {
		if j, ok := x.addTrace(&traces[i], false); ok {
			x.jobs = append(x.jobs, j)
		} else {
			x.ignored++
		}
	}
	if len(completions) == 0 {
		return x
	}
	read := make(map[string]bool, len(traces))
	for i := range traces {
		read[traces[i].TraceID] = true
	}
	for i := range completions {
		for k := range completions[i].Spans {
			if s := &completions[i].Spans[k]; s.OperationName == spans.ResultProcess && (x.doneFrom == 0 || s.StartTime < x.doneFrom) {
				x.doneFrom = s.StartTime
			}
		}
		if read[completions[i].TraceID] {
			continue
		}
		read[completions[i].TraceID] = true
		if j, ok := x.addTrace(&completions[i], true); ok && j.Handled() {
			j.Earlier = true
			x.jobs = append(x.jobs, j)
		}
	}
	return x
}

// producerService is the service every job's root comes from.
const producerService = "producer"

// spanOf is what addTrace remembers of the latest span of one name.
type spanOf struct{ s *jaegerapi.Span }

func (p *spanOf) keepLatest(s *jaegerapi.Span) {
	if p.s == nil || s.StartTime >= p.s.StartTime {
		p.s = s
	}
}

// addTrace reads one job's trace. Of a trace read only for its completion
// (earlier), the operations, the vendor's health and the shed Submits are
// left out: they happened before the period.
func (x *extraction) addTrace(tr *jaegerapi.Trace, earlier bool) (Job, bool) {
	j := Job{TraceID: tr.TraceID, Contract: 1, Arrival: math.MaxInt64}
	var (
		root                                      *jaegerapi.Span
		queue, work, send, channel, deliver, wait spanOf
		vendorCall, vendorHandle                  spanOf
		process                                   *jaegerapi.Span
		submits, accepted, rejected               int
		hasJobSpan                                bool
		nameType                                  string
	)
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if !earlier {
			x.horizon = max(x.horizon, s.End())
		}
		name := s.OperationName
		if isOperation[name] && !earlier {
			x.ops[name] = append(x.ops[name], s.DurationMS())
		}
		if j.ID == "" {
			j.ID = s.TagString(spans.JobID)
		}
		if j.Type == "" {
			j.Type = s.TagString(spans.JobType)
		}
		if j.Target == "" {
			j.Target = s.TagString(spans.JobTarget)
		}
		if j.Scenario == "" {
			j.Scenario = s.TagString(spans.JobScenario)
		}
		if ids := s.TagString(spans.WaitedBehindJobs); ids != "" {
			j.WaitedBehind = appendUnique(j.WaitedBehind, splitIDs(ids)...)
		}
		switch name {
		case spans.JobSubmit:
			hasJobSpan = true
			submits++
			j.Arrival = min(j.Arrival, s.StartTime)
			j.Answered = max(j.Answered, s.End())
			if s.ParentID() != "" {
				j.Contract = 2
			}
			switch submitOutcome(s) {
			case spans.SubmitAccepted, spans.SubmitAlreadyHeld:
				accepted++
				if j.Submitted == 0 || s.End() < j.Submitted {
					j.Submitted = s.End()
				}
			case spans.SubmitRejected:
				rejected++
				if !earlier {
					x.rejectedMS = append(x.rejectedMS, s.DurationMS())
				}
			}
			if s.ParentID() == "" && tr.Service(s) == producerService {
				root = s
			}
		case spans.PoolJob:
			j.Contract = 2
			x.seeWorkers(s)
		case spans.QueueWait:
			queue.keepLatest(s)
			if v, ok := s.TagFloat(spans.QueueCapacity); ok {
				x.seen.queueCap.see(s.StartTime, int(v))
			}
			if l := s.TagString(spans.QueueLane); l != "" {
				x.seen.lanes.see(s.StartTime, map[bool]string{true: "off", false: "on"}[l == "shared"])
			}
			if v, ok := s.TagFloat(spans.QueueDepth); ok {
				x.seen.maxQueueDepth = max(x.seen.maxQueueDepth, int(v))
			}
		case spans.WorkerProcess:
			work.keepLatest(s)
			x.seeWorkers(s)
		case spans.VendorAPI:
			vendorCall.keepLatest(s)
			if v, ok := s.TagFloat(spans.VendorTimeoutMS); ok {
				x.seen.vendorTimeoutMS.see(s.StartTime, v)
			}
		case spans.VendorHandle:
			vendorHandle.keepLatest(s)
			if earlier {
				continue
			}
			x.vendor.Calls++
			if s.TagBool(spans.FaultDegraded) {
				x.vendor.Degraded++
			}
			if p := s.TagString(spans.FaultPreset); p != "" {
				x.presets[p]++
			}
		case spans.ResultSend:
			send.keepLatest(s)
			if w := s.TagString(spans.WorkerID); w != "" {
				x.seen.workerIDs[w] = struct{}{}
			}
			if v, ok := s.TagFloat(spans.ResultsBufferCap); ok {
				x.seen.bufferCap.see(s.StartTime, int(v))
			}
			if m := s.TagString(spans.ResultSendMode); m != "" {
				x.seen.sendMode.see(s.StartTime, m)
			}
		case spans.ResultsChannelWait:
			j.Contract = 2
			channel.keepLatest(s)
		case spans.ResultDeliver:
			deliver.keepLatest(s)
			x.deliveries = append(x.deliveries, [2]int64{s.StartTime, s.End()})
			if v, ok := s.TagFloat(spans.ResultsForwarders); ok {
				x.seen.forwarders.see(s.StartTime, int(v))
			}
		case spans.ResultWait:
			wait.keepLatest(s)
			x.seeConcurrency(s)
		case spans.ResultProcess:
			x.seeConcurrency(s)
			if s.TagBool(spans.Duplicate) {
				x.dupes++
				continue
			}
			x.processes = append(x.processes, [2]int64{s.StartTime, s.End()})
			if process == nil || s.StartTime < process.StartTime {
				process = s
			}
		default:
			if s.ParentID() == "" && tr.Service(s) == producerService && spans.IsJobRootName(name) {
				// A span named "<scenario> <type>" at the producer is a
				// job's root when the type is one, or the span says it is a
				// job's ("GET /healthz" is not).
				_, typ, _ := strings.Cut(name, " ")
				if isJobType(typ) || s.TagString(spans.JobID) != "" {
					root, j.Contract = s, 2
					if isJobType(typ) {
						nameType = typ
					}
				}
			}
		}
	}
	if root == nil && !hasJobSpan && work.s == nil && queue.s == nil {
		return Job{}, false // not a job's trace
	}
	j.Type = cmp.Or(nameType, j.Type, typeFromSpans(work.s != nil, vendorCall.s, tr))
	if j.Type == "" {
		return Job{}, false
	}

	if root != nil {
		j.Arrival = min(j.Arrival, root.StartTime)
	}
	if j.Arrival == math.MaxInt64 {
		// Only the workers' part was read (e.g. the producer's spans were
		// dropped): the job arrived when the pool accepted it.
		j.Arrival = cmp.Or(startOf(queue.s), startOf(work.s))
	}
	j.Attempts = max(submits, 1)
	if s := queue.s; s != nil {
		j.Accepted, j.Dequeued = s.StartTime, s.End()
		j.QueueLane = s.TagString(spans.QueueLane)
		if v, ok := s.TagFloat(spans.QueueDepth); ok {
			j.QueueDepth = int(v)
		}
	}
	if s := work.s; s != nil {
		j.WorkStart, j.WorkEnd = s.StartTime, s.End()
		j.WorkerID = s.TagString(spans.WorkerID)
	}
	if s := send.s; s != nil {
		j.SendStart, j.SendEnd = s.StartTime, s.End()
		j.WorkerID = cmp.Or(j.WorkerID, s.TagString(spans.WorkerID))
		j.ResultsLane = s.TagString(spans.ResultsLane)
		if s.TagBool(spans.ChannelBlocked) {
			j.Blocked = true
			j.SendBlockMS = s.DurationMS()
			// block.duration_ms is whole milliseconds; below 1 ms it reads
			// 0, and the span's own duration stands in.
			if v, ok := s.TagFloat(spans.BlockDurationMS); ok && v > 0 {
				j.SendBlockMS = min(v, s.DurationMS())
			}
		}
	}
	if s := deliver.s; s != nil {
		j.Taken, j.DeliverEnd = s.StartTime, s.End()
		if j.SendEnd > 0 && j.Taken < j.SendEnd {
			j.Taken = j.SendEnd
		}
	}
	if s := channel.s; s != nil {
		j.Taken = s.End()
	}
	if s := wait.s; s != nil {
		j.ConsumerArrive = s.StartTime
		j.ConsumerWait = s.DurationMS()
	}
	if s := vendorCall.s; s != nil {
		j.HasVendor, j.VendorMS = true, s.DurationMS()
	}
	if s := vendorHandle.s; s != nil {
		j.VendorDegraded = s.TagBool(spans.FaultDegraded)
	}
	if s := process; s != nil {
		j.Start, j.Done = s.StartTime, s.End()
		if j.ConsumerArrive == 0 {
			j.ConsumerArrive = j.Start
		}
		j.OK = true
		if kv, ok := s.Tag(spans.ResultOK); ok {
			j.OK, _ = kv.Bool()
		}
		j.EndToEndMS = msBetween(j.Arrival, j.Done)
	}

	j.Outcome = outcome(&j, root, accepted, rejected, submits)
	return j, true
}

func isJobType(t string) bool { return t == TypeCacheRead || t == TypeDatabase || t == TypeVendorAPI }

func startOf(s *jaegerapi.Span) int64 {
	if s == nil {
		return 0
	}
	return s.StartTime
}

func (x *extraction) seeWorkers(s *jaegerapi.Span) {
	if w := s.TagString(spans.WorkerID); w != "" {
		x.seen.workerIDs[w] = struct{}{}
	}
	if v, ok := s.TagFloat(spans.PoolWorkers); ok {
		x.seen.workers.see(s.StartTime, int(v))
	}
}

func (x *extraction) seeConcurrency(s *jaegerapi.Span) {
	if v, ok := s.TagFloat(spans.ConsumerConcurrency); ok {
		x.seen.concurrency.see(s.StartTime, int(v))
	}
}

var isOperation = func() map[string]bool {
	m := make(map[string]bool, len(operations))
	for _, op := range operations {
		m[op] = true
	}
	return m
}()

// submitOutcome reads what the pool answered one Submit: submit.outcome in
// contract v2; in v1, the span's error status ("ResourceExhausted: job
// queue full ..." for a job shed at admission).
func submitOutcome(s *jaegerapi.Span) string {
	if o := s.TagString(spans.SubmitOutcome); o != "" {
		return o
	}
	if !isError(s) {
		return spans.SubmitAccepted
	}
	desc := cmp.Or(s.TagString("otel.status_description"), s.TagString("error.message"), s.TagString(tagError))
	if strings.HasPrefix(desc, "ResourceExhausted") || strings.Contains(desc, "RESOURCE_EXHAUSTED") {
		return spans.SubmitRejected
	}
	return spans.SubmitUnavailable
}

const tagError = "error"

func isError(s *jaegerapi.Span) bool {
	return s.TagBool(tagError) || s.TagString("otel.status_code") == "ERROR"
}

// outcome says how the job's life ended, as far as the traces tell.
func outcome(j *Job, root *jaegerapi.Span, accepted, rejected, submits int) string {
	if root != nil && root.OperationName != spans.JobSubmit {
		if o := root.TagString(spans.JobOutcome); o != "" {
			return o
		}
	}
	switch {
	case j.Handled() && j.OK:
		return OutcomeDelivered
	case j.Handled():
		return OutcomeFailed
	case accepted > 0 || j.Accepted > 0:
		return OutcomeInFlight
	case rejected > 0:
		return OutcomeRejected
	case submits > 0:
		return OutcomeLost
	}
	return OutcomeInFlight
}

// typeFromSpans names the type of a job whose spans carry no job.type: the
// kind of work it did tells.
func typeFromSpans(worked bool, vendor *jaegerapi.Span, tr *jaegerapi.Trace) string {
	if vendor != nil {
		return TypeVendorAPI
	}
	if !worked {
		return ""
	}
	for i := range tr.Spans {
		switch tr.Spans[i].OperationName {
		case spans.CacheRead:
			return TypeCacheRead
		case spans.DatabaseQuery:
			return TypeDatabase
		}
	}
	return ""
}

func splitIDs(s string) []string {
	var out []string
	for id := range strings.SplitSeq(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func appendUnique(list []string, ids ...string) []string {
outer:
	for _, id := range ids {
		for _, have := range list {
			if have == id {
				continue outer
			}
		}
		list = append(list, id)
	}
	return list
}
