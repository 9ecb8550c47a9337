package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// The unit tests need trace sets whose jobs interact as they would in the
// real pipeline (a slow consumer backs up the channel, which blocks the
// workers, which fills the queue, which sheds submissions). They get them
// by running the simulator with recording on and drawing, from each job's
// recorded times, the spans the services would have left, in contract v1
// or v2. The verdict code never sees the simulator's numbers, only spans.

// base is the synthetic clock's origin, in µs since the epoch.
const base int64 = 1_700_000_000_000_000

// load describes the jobs of a synthetic run.
type load struct {
	rate     float64       // steady arrivals per second; 0 with burst
	seconds  float64       // how long steady load lasts
	burst    []string      // job types arriving at once, at t=0 (checkout-like)
	mix      [3]float64    // weights: cache-read, database, vendor-api
	vendorMS [2]float64    // vendor call min, max
	degraded float64       // share of vendor calls degraded
	slowMS   [2]float64    // degraded vendor call min, max
	consumer float64       // ms per result
	rttMS    float64       // delivery overhead
	seed     uint64        // for the mix and the durations
	every    time.Duration // repeat the burst this often (0: once)
	times    int           // repeat the burst this many times
}

// synthJob is one job of a synthetic run.
type synthJob struct {
	id, typ  string
	degraded bool
	sim      SimJob
}

func (l load) jobs() []synthJob {
	rng := rand.New(rand.NewPCG(l.seed, 7))
	uni := func(r [2]float64) float64 { return r[0] + rng.Float64()*(r[1]-r[0]) }
	mk := func(i int, typ string, at float64) synthJob {
		j := synthJob{id: fmt.Sprintf("job-%d", i+1), typ: typ}
		j.sim = SimJob{AtMS: at, Fast: IsFast(typ), Vendor: typ == TypeVendorAPI, ConsumerMS: l.consumer, RTTMS: l.rttMS}
		switch typ {
		case TypeCacheRead:
			j.sim.WorkMS = 1 + rng.Float64()*4
		case TypeDatabase:
			j.sim.WorkMS = 12 + rng.Float64()*45
		default:
			v := uni(l.vendorMS)
			if rng.Float64() < l.degraded {
				v, j.degraded = uni(l.slowMS), true
			}
			j.sim.VendorMS, j.sim.WorkMS = v, v+0.2
		}
		return j
	}
	var out []synthJob
	if len(l.burst) > 0 {
		for rep := range max(l.times, 1) {
			at := float64(rep) * float64(l.every.Milliseconds())
			for i, typ := range l.burst {
				out = append(out, mk(len(out), typ, at+float64(i)*0.3))
			}
		}
		return out
	}
	n := int(l.rate * l.seconds)
	total := l.mix[0] + l.mix[1] + l.mix[2]
	for i := range n {
		x, typ := rng.Float64()*total, TypeVendorAPI
		switch {
		case x < l.mix[0]:
			typ = TypeCacheRead
		case x < l.mix[0]+l.mix[1]:
			typ = TypeDatabase
		}
		out = append(out, mk(i, typ, float64(i)*1000/l.rate))
	}
	return out
}

// checkoutBurst is the incident's 20 jobs, in its order.
var checkoutBurst = []string{
	TypeCacheRead, TypeCacheRead, TypeCacheRead, TypeVendorAPI, TypeCacheRead, TypeDatabase, TypeCacheRead, TypeVendorAPI,
	TypeCacheRead, TypeCacheRead, TypeDatabase, TypeCacheRead, TypeVendorAPI, TypeVendorAPI, TypeCacheRead, TypeCacheRead,
	TypeDatabase, TypeCacheRead, TypeCacheRead, TypeDatabase,
}

// incidentConfig is the services' defaults.
func incidentConfig() SimConfig {
	return SimConfig{Workers: 4, QueueSize: 40, SubmitWaitMS: 1000, ResultsBuffer: 4, Forwarders: 1, Concurrency: 1}
}

// run is a synthetic run: its jobs, configuration and the simulated
// outcome, ready to draw as traces.
type run struct {
	cfg  SimConfig
	jobs []synthJob
	res  SimResult
	// readAtMS is when the traces are read: spans ending later are not in
	// Jaeger yet. 0: after everything finished.
	readAtMS float64
}

func simulateRun(cfg SimConfig, l load) run {
	jobs := l.jobs()
	w := Workload{Jobs: make([]SimJob, len(jobs))}
	for i := range jobs {
		w.Jobs[i] = jobs[i].sim
	}
	return run{cfg: cfg, jobs: jobs, res: Simulate(cfg, w, true)}
}

// window is the search window of the run: from its first arrival to
// readAtMS (or a second after its last completion).
func (r run) window() (time.Time, time.Time) {
	end := r.readAtMS
	if end == 0 {
		for _, rec := range r.res.Jobs {
			end = max(end, rec.DeliverEnd)
		}
		end += 1000
	}
	return time.UnixMicro(base - 1000), time.UnixMicro(base + int64(end*1000))
}

func (r run) options() Options {
	start, end := r.window()
	return Options{WindowStart: start, WindowEnd: end, Limit: 100000}
}

// traces draws the run's jobs as Jaeger traces of contract v1 or v2.
func (r run) traces(contract int) []jaegerapi.Trace {
	out := make([]jaegerapi.Trace, 0, len(r.jobs))
	for i := range r.jobs {
		if t, ok := r.trace(i, contract); ok {
			out = append(out, t)
		}
	}
	return out
}

// tb builds one trace; times are ms from base.
type tb struct {
	t      jaegerapi.Trace
	readAt float64 // spans ending after this are left out (0: none)
}

func newTB(n int, readAt float64) *tb {
	return &tb{readAt: readAt, t: jaegerapi.Trace{
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
func (b *tb) span(op, service, parent string, startMS, endMS float64, tags ...string) string {
	if b.readAt > 0 && endMS > b.readAt {
		return ""
	}
	id := fmt.Sprintf("%016x", len(b.t.Spans)+1)
	s := jaegerapi.Span{
		TraceID: b.t.TraceID, SpanID: id, OperationName: op, ProcessID: processOf[service],
		StartTime: base + int64(math.Round(startMS*1000)), Duration: int64(math.Round(endMS*1000)) - int64(math.Round(startMS*1000)),
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

func (b *tb) done() (jaegerapi.Trace, bool) { return b.t, len(b.t.Spans) > 0 }

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
func num(v int) string    { return strconv.Itoa(v) }

// depthAt is the number of jobs ahead of job i in its queue when it was
// accepted (queue.depth).
func (r run) depthAt(i int) int {
	me := r.res.Jobs[i]
	n := 0
	for k, o := range r.res.Jobs {
		if k == i || o.Accept < 0 || (r.cfg.Lanes && r.jobs[k].sim.Fast != r.jobs[i].sim.Fast) {
			continue
		}
		if (o.Accept < me.Accept || (o.Accept == me.Accept && k < i)) && o.Dequeue > me.Accept {
			n++
		}
	}
	return n
}

func (r run) trace(i, contract int) (jaegerapi.Trace, bool) {
	j, rec, c := r.jobs[i], r.res.Jobs[i], r.cfg
	at := j.sim.AtMS
	b := newTB(i, r.readAtMS)
	if b.readAt > 0 && at > b.readAt {
		return jaegerapi.Trace{}, false
	}
	jobTags := []string{spans.JobID, j.id, spans.JobType, j.typ, spans.JobScenario, "steady", spans.JobTarget, "t"}
	lane := "shared"
	if c.Lanes {
		lane = map[bool]string{true: "fast", false: "slow"}[j.sim.Fast]
	}
	mode := map[bool]string{true: "nonblocking", false: "blocking"}[c.Nonblocking]
	answered := rec.Accept
	if rec.Rejected {
		answered = at + c.SubmitWaitMS
	}

	var root, poolJob, server string
	if contract == 1 {
		tags := jobTags
		if rec.Rejected {
			tags = append(append([]string{}, tags...), "error", "true", "otel.status_code", "ERROR",
				"otel.status_description", "ResourceExhausted: job queue full (40 jobs); try later")
		}
		if answered < 0 {
			return b.done()
		}
		root = b.span(spans.JobSubmit, "producer", "", at, answered+0.2, tags...)
		if rec.Rejected {
			return b.done()
		}
		server = b.span("jobs.v1.WorkerPool/Submit", "workers", root, at+0.05, answered+0.1)
		poolJob = server
	} else {
		rootEnd := rec.Done
		outcome := spans.OutcomeDelivered
		if rec.Rejected {
			rootEnd, outcome = answered+0.3, spans.OutcomeRejected
		}
		rootTags := append(append([]string{}, jobTags...), spans.JobOutcome, outcome, spans.JobAttempts, "1")
		rootID := fmt.Sprintf("%016x", 9999)
		if rootEnd >= 0 && (b.readAt == 0 || rootEnd+0.3 <= b.readAt) {
			// The root is exported when the producer learns the outcome.
			root = b.span(spans.JobRootName("steady", j.typ), "producer", "", at, rootEnd, rootTags...)
			b.t.Spans[len(b.t.Spans)-1].SpanID = rootID
		}
		root = rootID
		outcomeTag := spans.SubmitAccepted
		if rec.Rejected {
			outcomeTag = spans.SubmitRejected
		}
		if answered < 0 {
			return b.done()
		}
		b.span(spans.JobSubmit, "producer", root, at, answered+0.2, append(append([]string{}, jobTags...), spans.JobAttempt, "1", spans.SubmitOutcome, outcomeTag)...)
		if rec.Rejected {
			return b.done()
		}
		end := rec.DeliverEnd
		if end < 0 {
			end = 1e18 // not acknowledged yet: pool.job not exported
		}
		poolJob = b.span(spans.PoolJob, "workers", root, rec.Accept, end, append(append([]string{}, jobTags...), spans.PoolWorkers, num(c.Workers))...)
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
	switch j.typ {
	case TypeCacheRead:
		b.span(spans.CacheRead, "workers", work, rec.Dequeue, rec.WorkEnd-0.01)
	case TypeDatabase:
		b.span(spans.DatabaseQuery, "workers", work, rec.Dequeue, rec.WorkEnd-0.01)
	default:
		vendorEnd := rec.Dequeue + j.sim.VendorMS
		if rec.TimedOut {
			vendorEnd = rec.Dequeue + c.VendorTimeoutMS
		}
		call := b.span(spans.VendorAPI, "workers", work, rec.Dequeue, vendorEnd, spans.VendorTimeoutMS, ms(c.VendorTimeoutMS))
		if !rec.TimedOut {
			b.span(spans.VendorHandle, "vendor-mock", call, rec.Dequeue+0.1, vendorEnd-0.1,
				spans.FaultPreset, "degraded", spans.FaultDegraded, strconv.FormatBool(j.degraded))
		}
	}
	if rec.SendEnd < 0 {
		return b.done()
	}
	blocked := rec.SendEnd-rec.SendStart > 0
	b.span(spans.ResultSend, "workers", poolJob, rec.SendStart, rec.SendEnd, spans.JobID, j.id, spans.WorkerID, worker,
		spans.ChannelBlocked, strconv.FormatBool(blocked), spans.BlockDurationMS, num(int(rec.SendEnd-rec.SendStart)),
		spans.ResultsBufferCap, num(c.ResultsBuffer), spans.ResultSendMode, mode, spans.ResultsLane, lane)
	if rec.Taken < 0 {
		return b.done()
	}
	if contract == 2 {
		b.span(spans.ResultsChannelWait, "workers", poolJob, rec.SendEnd, rec.Taken, spans.JobID, j.id)
	}
	if rec.DeliverEnd < 0 {
		return b.done()
	}
	dTags := []string{spans.JobID, j.id, spans.JobType, j.typ, spans.ChannelWaitMS, num(int(rec.Taken - rec.SendEnd))}
	if contract == 2 {
		dTags = append(dTags, spans.ResultsForwarders, num(c.Forwarders))
	}
	deliver := b.span(spans.ResultDeliver, "workers", poolJob, rec.Taken, rec.DeliverEnd, dTags...)
	cTags := []string{}
	if contract == 2 {
		cTags = append(cTags, spans.ConsumerConcurrency, num(c.Concurrency))
	}
	b.span(spans.ResultWait, "consumer", deliver, rec.ConsumerArrive, rec.Start, cTags...)
	pTags := append(append(append([]string{}, jobTags...), cTags...), spans.Duplicate, "false", spans.ResultOK, strconv.FormatBool(!rec.TimedOut),
		spans.EndToEndMS, num(int(rec.Done-at)))
	b.span(spans.ResultProcess, "consumer", deliver, rec.Start, rec.Done, pTags...)
	return b.done()
}
