// Package analysistest draws synthetic trace sets for tests of the
// capacity model and of what is built on it (the report, the experiment,
// the console). It runs the model's own simulator with recording on and
// draws, from each job's recorded times, the spans the services would have
// left, in trace contract v1 or v2. The jobs interact as they would in the
// real pipeline (a slow consumer backs up the channel, which blocks the
// workers, which fills the queue, which sheds submissions), and the code
// under test sees only spans.
package analysistest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Base is the synthetic clock's origin, in µs since the epoch: a run's
// first arrival.
const Base int64 = 1_700_000_000_000_000

// Load describes the jobs of a synthetic run: steady arrivals (Rate for
// Seconds, types drawn by Mix) or a burst (Burst's types at once, repeated
// Times, Every apart).
type Load struct {
	Rate    float64
	Seconds float64
	Mix     [3]float64 // weights: cache-read, database, vendor-api

	Burst []string
	Every time.Duration
	Times int

	VendorMS   [2]float64 // vendor call min, max (ms)
	Degraded   float64    // share of vendor calls degraded
	SlowMS     [2]float64 // a degraded call's min, max
	ConsumerMS float64    // the consumer's handling per result
	RTTMS      float64    // the rest of a delivery
	Seed       uint64     // for the mix and the durations
}

// Job is one job of a synthetic run.
type Job struct {
	ID, Type string
	Degraded bool
	Sim      analysis.SimJob
}

// Jobs draws the load's jobs.
func (l Load) Jobs() []Job {
	rng := rand.New(rand.NewPCG(l.Seed, 7))
	uni := func(r [2]float64) float64 { return r[0] + rng.Float64()*(r[1]-r[0]) }
	mk := func(i int, typ string, at float64) Job {
		j := Job{ID: fmt.Sprintf("job-%d", i+1), Type: typ}
		j.Sim = analysis.SimJob{AtMS: at, Fast: analysis.IsFast(typ), Vendor: typ == analysis.TypeVendorAPI, ConsumerMS: l.ConsumerMS, RTTMS: l.RTTMS}
		switch typ {
		case analysis.TypeCacheRead:
			j.Sim.WorkMS = 1 + rng.Float64()*4
		case analysis.TypeDatabase:
			j.Sim.WorkMS = 12 + rng.Float64()*45
		default:
			v := uni(l.VendorMS)
			if rng.Float64() < l.Degraded {
				v, j.Degraded = uni(l.SlowMS), true
			}
			j.Sim.VendorMS, j.Sim.WorkMS = v, v+0.2
		}
		return j
	}
	var out []Job
	if len(l.Burst) > 0 {
		for rep := range max(l.Times, 1) {
			at := float64(rep) * float64(l.Every.Milliseconds())
			for i, typ := range l.Burst {
				out = append(out, mk(len(out), typ, at+float64(i)*0.3))
			}
		}
		return out
	}
	n := int(l.Rate * l.Seconds)
	total := l.Mix[0] + l.Mix[1] + l.Mix[2]
	for i := range n {
		x, typ := rng.Float64()*total, analysis.TypeVendorAPI
		switch {
		case x < l.Mix[0]:
			typ = analysis.TypeCacheRead
		case x < l.Mix[0]+l.Mix[1]:
			typ = analysis.TypeDatabase
		}
		out = append(out, mk(i, typ, float64(i)*1000/l.Rate))
	}
	return out
}

// CheckoutBurst is the incident's 20 jobs, in its order.
var CheckoutBurst = []string{
	analysis.TypeCacheRead, analysis.TypeCacheRead, analysis.TypeCacheRead, analysis.TypeVendorAPI,
	analysis.TypeCacheRead, analysis.TypeDatabase, analysis.TypeCacheRead, analysis.TypeVendorAPI,
	analysis.TypeCacheRead, analysis.TypeCacheRead, analysis.TypeDatabase, analysis.TypeCacheRead,
	analysis.TypeVendorAPI, analysis.TypeVendorAPI, analysis.TypeCacheRead, analysis.TypeCacheRead,
	analysis.TypeDatabase, analysis.TypeCacheRead, analysis.TypeCacheRead, analysis.TypeDatabase,
}

// IncidentConfig is the services' defaults: 4 workers, 40 queue slots, a
// 1 s submit wait, a 4-slot results channel, 1 forwarder, 1 consumer slot.
func IncidentConfig() analysis.SimConfig {
	return analysis.SimConfig{Workers: 4, QueueSize: 40, SubmitWaitMS: 1000, ResultsBuffer: 4, Forwarders: 1, Concurrency: 1}
}

// Run is a synthetic run: its jobs, configuration and simulated outcome,
// ready to draw as traces.
type Run struct {
	Config analysis.SimConfig
	Jobs   []Job
	Result analysis.SimResult
	// ReadAtMS is when the traces are read, in ms after the first arrival:
	// spans ending later are not in Jaeger yet. 0: after everything ended.
	ReadAtMS float64
	// Scenario is the producer's scenario the jobs carry (default steady).
	Scenario string
}

// Simulate runs l under cfg.
func Simulate(cfg analysis.SimConfig, l Load) Run {
	jobs := l.Jobs()
	w := analysis.Workload{Jobs: make([]analysis.SimJob, len(jobs))}
	for i := range jobs {
		w.Jobs[i] = jobs[i].Sim
	}
	return Run{Config: cfg, Jobs: jobs, Result: analysis.Simulate(cfg, w, true)}
}

// Window is the search window of the run: from just before its first
// arrival to ReadAtMS (or a second after its last delivery).
func (r Run) Window() (time.Time, time.Time) {
	end := r.ReadAtMS
	if end == 0 {
		for _, rec := range r.Result.Jobs {
			end = max(end, rec.DeliverEnd)
		}
		end += 1000
	}
	return time.UnixMicro(Base - 1000), time.UnixMicro(Base + int64(end*1000))
}

// Options are the analysis options of a search over the run's window.
func (r Run) Options() analysis.Options {
	start, end := r.Window()
	return analysis.Options{WindowStart: start, WindowEnd: end, Limit: 100000}
}

// Traces draws the run's jobs as Jaeger traces of contract v1 or v2, in
// arrival order.
func (r Run) Traces(contract int) []jaegerapi.Trace {
	out := make([]jaegerapi.Trace, 0, len(r.Jobs))
	for i := range r.Jobs {
		if t, ok := r.trace(i, contract); ok {
			out = append(out, t)
		}
	}
	return out
}

// builder builds one trace; times are ms from Base.
type builder struct {
	t      jaegerapi.Trace
	readAt float64 // spans ending after this are left out (0: none)
}

func newBuilder(n int, readAt float64) *builder {
	return &builder{readAt: readAt, t: jaegerapi.Trace{
		TraceID: fmt.Sprintf("%032x", n+1),
		Processes: map[string]jaegerapi.Process{
			"p1": {ServiceName: "producer"}, "p2": {ServiceName: "workers"},
			"p3": {ServiceName: "vendor-mock"}, "p4": {ServiceName: "consumer"},
		},
	}}
}

var processOf = map[string]string{"producer": "p1", "workers": "p2", "vendor-mock": "p3", "consumer": "p4"}

// span adds a span unless it ends after readAt; tags are key, value
// pairs, sent as strings the way the tracez bridge sends them.
func (b *builder) span(op, service, parent string, startMS, endMS float64, tags ...string) string {
	if b.readAt > 0 && endMS > b.readAt {
		return ""
	}
	id := fmt.Sprintf("%016x", len(b.t.Spans)+1)
	start, end := int64(math.Round(startMS*1000)), int64(math.Round(endMS*1000))
	s := jaegerapi.Span{
		TraceID: b.t.TraceID, SpanID: id, OperationName: op, ProcessID: processOf[service],
		StartTime: Base + start, Duration: end - start,
	}
	if parent != "" {
		s.References = []jaegerapi.Reference{{RefType: jaegerapi.ChildOf, TraceID: b.t.TraceID, SpanID: parent}}
	}
	for i := 0; i+1 < len(tags); i += 2 {
		v, _ := json.Marshal(tags[i+1])
		s.Tags = append(s.Tags, jaegerapi.KeyValue{Key: tags[i], Type: "string", Value: v})
	}
	b.t.Spans = append(b.t.Spans, s)
	return id
}

func (b *builder) done() (jaegerapi.Trace, bool) { return b.t, len(b.t.Spans) > 0 }

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
func num(v int) string    { return strconv.Itoa(v) }

// depthAt is the number of jobs ahead of job i in its queue when it was
// accepted (queue.depth).
func (r Run) depthAt(i int) int {
	me := r.Result.Jobs[i]
	n := 0
	for k, o := range r.Result.Jobs {
		if k == i || o.Accept < 0 || (r.Config.Lanes && r.Jobs[k].Sim.Fast != r.Jobs[i].Sim.Fast) {
			continue
		}
		if (o.Accept < me.Accept || (o.Accept == me.Accept && k < i)) && o.Dequeue > me.Accept {
			n++
		}
	}
	return n
}

func (r Run) trace(i, contract int) (jaegerapi.Trace, bool) {
	j, rec, c := r.Jobs[i], r.Result.Jobs[i], r.Config
	at := j.Sim.AtMS
	b := newBuilder(i, r.ReadAtMS)
	if b.readAt > 0 && at > b.readAt {
		return jaegerapi.Trace{}, false
	}
	scenario := r.Scenario
	if scenario == "" {
		scenario = "steady"
	}
	jobTags := []string{spans.JobID, j.ID, spans.JobType, j.Type, spans.JobScenario, scenario, spans.JobTarget, "t"}
	lane := "shared"
	if c.Lanes {
		lane = map[bool]string{true: "fast", false: "slow"}[j.Sim.Fast]
	}
	mode := map[bool]string{true: "nonblocking", false: "blocking"}[c.Nonblocking]
	answered := rec.Accept
	if rec.Rejected {
		answered = at + c.SubmitWaitMS
	}

	var root, poolJob string
	if contract == 1 {
		tags := jobTags
		if rec.Rejected {
			tags = append(append([]string{}, tags...), "error", "true", "otel.status_code", "ERROR",
				"otel.status_description", "ResourceExhausted: job queue full (40 jobs); try later")
		}
		root = b.span(spans.JobSubmit, "producer", "", at, answered+0.2, tags...)
		if rec.Rejected || root == "" {
			return b.done()
		}
		poolJob = b.span("jobs.v1.WorkerPool/Submit", "workers", root, at+0.05, answered+0.1)
	} else {
		rootEnd := rec.Done
		outcome := spans.OutcomeDelivered
		if rec.TimedOut {
			outcome = spans.OutcomeFailed
		}
		if rec.Rejected {
			rootEnd, outcome = answered+0.3, spans.OutcomeRejected
		}
		rootID := fmt.Sprintf("%016x", 9999)
		if rootEnd >= 0 && (b.readAt == 0 || rootEnd+0.3 <= b.readAt) {
			// The root is exported when the producer learns the outcome.
			b.span(spans.JobRootName(scenario, j.Type), "producer", "", at, rootEnd,
				append(append([]string{}, jobTags...), spans.JobOutcome, outcome, spans.JobAttempts, "1")...)
			b.t.Spans[len(b.t.Spans)-1].SpanID = rootID
		}
		root = rootID
		outcomeTag := spans.SubmitAccepted
		if rec.Rejected {
			outcomeTag = spans.SubmitRejected
		}
		b.span(spans.JobSubmit, "producer", root, at, answered+0.2,
			append(append([]string{}, jobTags...), spans.JobAttempt, "1", spans.SubmitOutcome, outcomeTag)...)
		if rec.Rejected {
			return b.done()
		}
		end := rec.DeliverEnd
		if end < 0 {
			end = math.MaxFloat64 // not acknowledged yet: pool.job not exported
		}
		poolJob = b.span(spans.PoolJob, "workers", root, rec.Accept, end,
			append(append([]string{}, jobTags...), spans.PoolWorkers, num(c.Workers))...)
		if poolJob == "" {
			poolJob = fmt.Sprintf("%016x", 8888)
		}
	}

	qTags := append(append([]string{}, jobTags...), spans.QueueLane, lane, spans.QueueDepth, num(r.depthAt(i)))
	if contract == 2 {
		qTags = append(qTags, spans.QueueCapacity, num(c.QueueSize))
	}
	if rec.Dequeue < 0 {
		return b.done()
	}
	b.span(spans.QueueWait, "workers", poolJob, rec.Accept, rec.Dequeue, qTags...)
	if rec.WorkEnd < 0 {
		return b.done()
	}
	worker := num(rec.Worker)
	wTags := append(append([]string{}, jobTags...), spans.WorkerID, worker)
	if contract == 2 {
		wTags = append(wTags, spans.PoolWorkers, num(c.Workers))
	}
	work := b.span(spans.WorkerProcess, "workers", poolJob, rec.Dequeue, rec.WorkEnd, wTags...)
	switch j.Type {
	case analysis.TypeCacheRead:
		b.span(spans.CacheRead, "workers", work, rec.Dequeue, rec.WorkEnd-0.01)
	case analysis.TypeDatabase:
		b.span(spans.DatabaseQuery, "workers", work, rec.Dequeue, rec.WorkEnd-0.01)
	default:
		vendorEnd := rec.Dequeue + j.Sim.VendorMS
		if rec.TimedOut {
			vendorEnd = rec.Dequeue + c.VendorTimeoutMS
		}
		call := b.span(spans.VendorAPI, "workers", work, rec.Dequeue, vendorEnd, spans.VendorTimeoutMS, ms(c.VendorTimeoutMS))
		if !rec.TimedOut {
			b.span(spans.VendorHandle, "vendor-mock", call, rec.Dequeue+0.1, vendorEnd-0.1,
				spans.FaultPreset, "degraded", spans.FaultDegraded, strconv.FormatBool(j.Degraded))
		}
	}
	if rec.SendEnd < 0 {
		return b.done()
	}
	blocked := rec.SendEnd-rec.SendStart > 0
	b.span(spans.ResultSend, "workers", poolJob, rec.SendStart, rec.SendEnd, spans.JobID, j.ID, spans.WorkerID, worker,
		spans.ChannelBlocked, strconv.FormatBool(blocked), spans.BlockDurationMS, num(int(rec.SendEnd-rec.SendStart)),
		spans.ResultsBufferCap, num(c.ResultsBuffer), spans.ResultSendMode, mode, spans.ResultsLane, lane)
	if rec.Taken < 0 {
		return b.done()
	}
	if contract == 2 {
		b.span(spans.ResultsChannelWait, "workers", poolJob, rec.SendEnd, rec.Taken, spans.JobID, j.ID)
	}
	if rec.DeliverEnd < 0 {
		return b.done()
	}
	dTags := []string{spans.JobID, j.ID, spans.JobType, j.Type, spans.ChannelWaitMS, num(int(rec.Taken - rec.SendEnd))}
	if contract == 2 {
		dTags = append(dTags, spans.ResultsForwarders, num(c.Forwarders))
	}
	deliver := b.span(spans.ResultDeliver, "workers", poolJob, rec.Taken, rec.DeliverEnd, dTags...)
	var cTags []string
	if contract == 2 {
		cTags = append(cTags, spans.ConsumerConcurrency, num(c.Concurrency))
	}
	b.span(spans.ResultWait, "consumer", deliver, rec.ConsumerArrive, rec.Start, cTags...)
	pTags := append(append(append([]string{}, jobTags...), cTags...), spans.Duplicate, "false",
		spans.ResultOK, strconv.FormatBool(!rec.TimedOut), spans.EndToEndMS, num(int(rec.Done-at)))
	b.span(spans.ResultProcess, "consumer", deliver, rec.Start, rec.Done, pTags...)
	return b.done()
}
