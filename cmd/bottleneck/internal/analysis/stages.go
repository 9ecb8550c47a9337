package analysis

import (
	"slices"
	"time"
)

// Stage names, in pipeline order.
const (
	StageAdmission = "admission" // Submit: accepted or shed
	StageQueue     = "queue"     // the workers' job queue
	StageWorkers   = "workers"   // worker.process
	StageVendor    = "vendor"    // vendor.api, a part of the workers' work
	StageResults   = "results"   // the results channel
	StageDelivery  = "delivery"  // the forwarders: round trip + the consumer's handling
	StageConsumer  = "consumer"  // result.process
	StageNone      = "none"
)

// StageNames lists the stages in pipeline order.
var StageNames = []string{StageAdmission, StageQueue, StageWorkers, StageVendor, StageResults, StageDelivery, StageConsumer}

// Kinds of stage.
const (
	KindServer = "server" // c servers, each busy S per visit
	KindBuffer = "buffer" // slots a job waits in
	KindGate   = "gate"   // admission: accepts or sheds
)

// Stage is one part of the pipeline over the covered period. Rates are per
// second of the period; durations are milliseconds.
//
// For a server stage, Servers is c, ServiceMS* is the pure service time S
// (the work, not the waits), Utilization is ρ = λ·S/c, WaitMSAvg the time
// a job waited for one of its servers and QueueLenAvg = λ·W (Little's law)
// the mean number waiting. CapacityPerS is μ = c/(V·S) jobs/s, V being the
// visits per job (1, except the vendor: the share of jobs that call it).
//
// For a buffer, Slots (and Servers) is its size, WaitMSAvg the time in it,
// QueueLenAvg = λ·W, and Utilization the mean fill L/slots.
//
// For admission, Utilization is the share of submissions shed, WaitMSAvg
// the time the pool took to answer a Submit.
type Stage struct {
	Name            string  `json:"name"`
	Kind            string  `json:"kind"`
	ArrivalsPerS    float64 `json:"arrivals_per_s"`
	CompletionsPerS float64 `json:"completions_per_s"`
	ServiceMSAvg    float64 `json:"service_ms_avg"`
	ServiceMSP99    float64 `json:"service_ms_p99"`
	Servers         int     `json:"servers"`
	Utilization     float64 `json:"utilization"`
	WaitMSAvg       float64 `json:"wait_ms_avg"`
	QueueLenAvg     float64 `json:"queue_len_avg"`
	CapacityPerS    float64 `json:"capacity_per_s"`
	Visits          float64 `json:"visits"`
	Slots           int     `json:"slots"`
	RejectedPerS    float64 `json:"rejected_per_s"`
	// BlockedShare: for results, the share of sends that blocked; for the
	// workers, the share of their busy time spent blocked sending.
	BlockedShare float64 `json:"blocked_share"`
	// Inferred is true when Servers (or Slots) was inferred from what the
	// spans did, not read from an attribute.
	Inferred bool `json:"inferred"`
	// Samples is how many visits the service time (or wait) is measured on.
	Samples int `json:"samples"`
}

// Stage returns the stage called name, nil when absent.
func (a *Analysis) Stage(name string) *Stage {
	for i := range a.Stages {
		if a.Stages[i].Name == name {
			return &a.Stages[i]
		}
	}
	return nil
}

// measures are the numbers behind the stages that the verdict, the fixes
// and the simulation need again.
type measures struct {
	T                 float64 // period seconds
	offered, offLate  float64 // arrivals/s of sustained load: over its busy periods, and their later half
	arrivals          int
	accepted          int
	rejected          int
	delivered         float64 // handled by the consumer per second
	failedPerS        float64 // of which their work failed
	rejectedPerS      float64
	workMS            map[string][]float64
	workAvg           float64 // mean work per job (ms)
	vendorShare       float64 // share of the workers' work spent in vendor calls
	vendorJobShare    float64 // share of jobs calling the vendor
	processMS, rttMS  []float64
	consumerS, rtt    float64 // means (ms)
	blockedWorkerTime float64
	fastWaitP99       float64 // fast jobs' wait for a worker (queue + blocked send), p99 ms
	// workEarlier is set when the work of jobs read for their completion
	// only (Job.Earlier) samples the workers' service time too: see
	// earlierWorkSamples.
	workEarlier bool
	// overfull are the buffers whose mean fill λ·W came out above their
	// slots (shown capped at 100%).
	overfull map[string]overfill
}

// overfill is a buffer's mean fill beyond its slots: the raw L/slots, and
// whether an overflow (RESULT_SEND=nonblocking) really holds the excess.
type overfill struct {
	fill     float64
	overflow bool
}

func buildStages(jobs []Job, p Period, c *Config, wt *WorkerTime) ([]Stage, measures) {
	m := measures{T: max(p.Seconds, 1e-3), workMS: map[string][]float64{}, overfull: map[string]overfill{}}
	m.workEarlier = earlierWorkSamples(jobs)
	end := p.to()
	rate := eventRate(p)
	doneRate := completionRate(p, jobs)

	var (
		admWait, queueWait, resultsWait, chanWait, deliverS, consumerWait []float64
		work, vendor, process, fastWait                                   []float64
		arrive, accept, reject, enq, deq, workEnd, send, taken            []int64
		delivered, consumerIn, done, failed, vendorCalls                  []int64
		nBlocked                                                          int
		vendorWorkMS, allWorkMS                                           float64
		vendorJobs                                                        int
	)
	for i := range jobs {
		j := &jobs[i]
		if m.workSampled(j) {
			w := j.WorkMS()
			work = append(work, w)
			m.workMS[j.Type] = append(m.workMS[j.Type], w)
			allWorkMS += w
			if j.HasVendor {
				vendor = append(vendor, j.VendorMS)
				vendorWorkMS += j.VendorMS
				vendorJobs++
			}
		}
		if j.arrivedIn(p) {
			m.arrivals++
			arrive = append(arrive, j.Arrival)
			switch j.Outcome {
			case OutcomeRejected:
				m.rejected++
				reject = append(reject, cmpNonZero(j.Answered, j.Arrival))
			case OutcomeLost, OutcomeAbandoned:
			default:
				m.accepted++
				if j.Submitted > 0 {
					accept = append(accept, j.Submitted)
				}
			}
			if j.Answered > 0 {
				admWait = append(admWait, msBetween(j.Arrival, cmpNonZero(j.Submitted, j.Answered)))
			}
			if j.Fast() && j.WorkEnd > 0 {
				fastWait = append(fastWait, j.WorkerWaitMS())
			}
		}
		// A job read for its completion only was queued, worked on and
		// sent before the period: only its delivery and handling count.
		if !j.Earlier {
			if j.Accepted > 0 {
				enq = append(enq, j.Accepted)
				queueWait = append(queueWait, msBetween(j.Accepted, orEnd(j.Dequeued, max(end, j.Accepted))))
			}
			if j.Dequeued > 0 {
				deq = append(deq, j.Dequeued)
			}
			if j.WorkStart > 0 && j.WorkEnd > 0 {
				if j.HasVendor {
					vendorCalls = append(vendorCalls, j.WorkStart)
				}
				workEnd = append(workEnd, j.WorkEnd)
			}
			if j.SendStart > 0 {
				send = append(send, j.SendStart)
				if j.Blocked {
					nBlocked++
				}
				resultsWait = append(resultsWait, msBetween(j.SendStart, orEnd(j.Taken, max(end, j.SendStart))))
			}
		}
		if j.SendEnd > 0 && (!j.Earlier || p.contains(j.Taken)) {
			chanWait = append(chanWait, msBetween(j.SendEnd, orEnd(j.Taken, max(end, j.SendEnd))))
		}
		if j.Taken > 0 {
			taken = append(taken, j.Taken)
			if j.DeliverEnd > 0 {
				s := max(0, j.DeliverMS()-j.ConsumerWait)
				deliverS = append(deliverS, s)
				if j.Done > 0 {
					m.rttMS = append(m.rttMS, max(0, s-j.ProcessMS()))
				}
			}
		}
		if j.DeliverEnd > 0 {
			delivered = append(delivered, j.DeliverEnd)
		}
		if j.ConsumerArrive > 0 {
			consumerIn = append(consumerIn, j.ConsumerArrive)
			if j.Start > 0 {
				consumerWait = append(consumerWait, j.ConsumerWait)
			} else {
				consumerWait = append(consumerWait, msBetween(j.ConsumerArrive, max(end, j.ConsumerArrive)))
			}
			if j.Done > 0 {
				process = append(process, j.ProcessMS())
			}
		}
		if j.Done > 0 {
			done = append(done, j.Done)
			if !j.OK {
				failed = append(failed, j.Done)
			}
		}
	}
	nSend := len(send)
	m.delivered = doneRate(done)
	m.failedPerS = doneRate(failed)
	m.processMS = process
	if allWorkMS > 0 {
		m.vendorShare = vendorWorkMS / allWorkMS
	}
	if len(work) > 0 {
		m.vendorJobShare = float64(vendorJobs) / float64(len(work))
	}
	m.rejectedPerS = rate(reject)
	slices.Sort(fastWait)
	m.fastWaitP99 = Percentile(fastWait, 0.99)

	st := make([]Stage, 0, len(StageNames))

	adm := Stage{Name: StageAdmission, Kind: KindGate, ArrivalsPerS: rate(arrive), CompletionsPerS: rate(accept),
		RejectedPerS: m.rejectedPerS, Samples: len(admWait)}
	if m.arrivals > 0 {
		adm.Utilization = float64(m.rejected) / float64(m.arrivals)
	}
	adm.WaitMSAvg = mean(admWait)
	adm.QueueLenAvg = adm.ArrivalsPerS * adm.WaitMSAvg / 1e3
	st = append(st, adm)

	lanes := 1
	if c.LanesOn() {
		lanes = 2
	}
	q := Stage{Name: StageQueue, Kind: KindBuffer, ArrivalsPerS: rate(enq), CompletionsPerS: rate(deq),
		Slots: c.QueueCapacity * lanes, Samples: len(queueWait), Inferred: c.IsInferred("queue_capacity"), Visits: 1}
	q.Servers = q.Slots
	q.WaitMSAvg = mean(queueWait)
	q.QueueLenAvg = q.ArrivalsPerS * q.WaitMSAvg / 1e3
	q.Utilization = m.fill(StageQueue, q.QueueLenAvg, q.Slots, false)
	st = append(st, q)

	w := Stage{Name: StageWorkers, Kind: KindServer, ArrivalsPerS: rate(deq), CompletionsPerS: rate(workEnd),
		Servers: c.Workers, Samples: len(work), Inferred: c.IsInferred("workers"), Visits: 1,
		WaitMSAvg: q.WaitMSAvg, QueueLenAvg: q.QueueLenAvg}
	ws := summarize(work)
	w.ServiceMSAvg, w.ServiceMSP99 = ws.AvgMS, ws.P99MS
	m.workAvg = ws.AvgMS
	w.Utilization = w.ArrivalsPerS * w.ServiceMSAvg / 1e3 / float64(w.Servers)
	w.CapacityPerS = workersCapacity(c.Workers, c.LanesOn(), m)
	if wt != nil {
		w.BlockedShare = wt.BlockedOfBusy
		m.blockedWorkerTime = wt.BlockedOfBusy
	}
	st = append(st, w)

	// With lanes, at most workers-1 of them may hold vendor jobs: those
	// are the vendor's servers.
	vendorServers := c.Workers
	if c.LanesOn() {
		vendorServers = max(1, c.Workers-1)
	}
	v := Stage{Name: StageVendor, Kind: KindServer, ArrivalsPerS: rate(vendorCalls), CompletionsPerS: rate(vendorCalls),
		Servers: vendorServers, Samples: len(vendor), Inferred: w.Inferred, Visits: m.vendorJobShare}
	vs := summarize(vendor)
	v.ServiceMSAvg, v.ServiceMSP99 = vs.AvgMS, vs.P99MS
	v.Utilization = v.ArrivalsPerS * v.ServiceMSAvg / 1e3 / float64(vendorServers)
	if v.ServiceMSAvg > 0 && v.Visits > 0 {
		v.CapacityPerS = float64(vendorServers) / (v.Visits * v.ServiceMSAvg / 1e3)
	}
	st = append(st, v)

	r := Stage{Name: StageResults, Kind: KindBuffer, ArrivalsPerS: rate(send), CompletionsPerS: doneRate(taken),
		Slots: c.ResultsBufferCap * lanes, Samples: len(resultsWait), Visits: 1}
	r.Servers = r.Slots
	r.WaitMSAvg = mean(resultsWait)
	r.QueueLenAvg = r.ArrivalsPerS * r.WaitMSAvg / 1e3
	if nSend > 0 {
		r.BlockedShare = float64(nBlocked) / float64(nSend)
	}
	// Little's law undercounts when results wait longer than the period
	// (the waits read are cut at its end): a send that blocked found the
	// channel full, so the share of sends that blocked bounds the fill
	// from below.
	r.Utilization = max(m.fill(StageResults, r.ArrivalsPerS*mean(chanWait)/1e3, r.Slots, c.Nonblocking()), r.BlockedShare)
	st = append(st, r)

	d := Stage{Name: StageDelivery, Kind: KindServer, ArrivalsPerS: doneRate(taken), CompletionsPerS: doneRate(delivered),
		Servers: c.Forwarders, Samples: len(deliverS), Inferred: c.IsInferred("forwarders"), Visits: 1,
		WaitMSAvg: r.WaitMSAvg, QueueLenAvg: r.QueueLenAvg}
	ds := summarize(deliverS)
	d.ServiceMSAvg, d.ServiceMSP99 = ds.AvgMS, ds.P99MS
	d.Utilization = d.ArrivalsPerS * d.ServiceMSAvg / 1e3 / float64(d.Servers)
	if d.ServiceMSAvg > 0 {
		d.CapacityPerS = float64(d.Servers) / (d.ServiceMSAvg / 1e3)
	}
	st = append(st, d)

	k := Stage{Name: StageConsumer, Kind: KindServer, ArrivalsPerS: doneRate(consumerIn), CompletionsPerS: doneRate(done),
		Servers: c.ConsumerConcurrency, Samples: len(process), Inferred: c.IsInferred("consumer_concurrency"), Visits: 1}
	ps := summarize(append([]float64(nil), process...))
	k.ServiceMSAvg, k.ServiceMSP99 = ps.AvgMS, ps.P99MS
	k.WaitMSAvg = mean(consumerWait)
	k.QueueLenAvg = k.ArrivalsPerS * k.WaitMSAvg / 1e3
	k.Utilization = k.ArrivalsPerS * k.ServiceMSAvg / 1e3 / float64(k.Servers)
	if k.ServiceMSAvg > 0 {
		k.CapacityPerS = float64(k.Servers) / (k.ServiceMSAvg / 1e3)
	}
	st = append(st, k)

	m.consumerS = k.ServiceMSAvg
	m.rtt = mean(m.rttMS)
	return st, m
}

// earlierWorkSamples says whether the work of the jobs read for their
// completion only samples the workers' service time too. The work of the
// jobs that arrived in the period is the sample, when there is one: it was
// done under the period's settings. Behind a deep job queue or a full
// results channel a job takes longer end to end than a short window,
// though, and few of those that arrived in it reach a worker before it
// closes; the jobs handled in it were worked on shortly before, and their
// work is the best measure there is (the experiment's 400-slot rows read 3 s
// of a backlog some 10-20 s deep). Without either the workers' capacity is
// unknown, and a fix would be predicted to carry the whole offered load.
func earlierWorkSamples(jobs []Job) bool {
	own, earlier := 0, 0
	for i := range jobs {
		if j := &jobs[i]; j.WorkStart > 0 && j.WorkEnd > 0 {
			if j.Earlier {
				earlier++
			} else {
				own++
			}
		}
	}
	return own < minSpanEvents && earlier > own
}

// workSampled says whether j's work is a sample of the workers' service
// time.
func (m *measures) workSampled(j *Job) bool {
	return j.WorkStart > 0 && j.WorkEnd > 0 && (!j.Earlier || m.workEarlier)
}

// workSampledIn is workSampled limited to work that began in p, except for
// the jobs handled in p, whose work (when it is sampled) began before it.
func (m *measures) workSampledIn(j *Job, p Period) bool {
	return m.workSampled(j) && (j.Earlier || p.contains(j.WorkStart))
}

// fill is a buffer's mean fill L/slots. A blocking buffer can't hold more
// than its slots: a fill above them comes from waits measured under other
// settings (a bigger buffer earlier in the window), and a non-blocking
// one's excess is its overflow. Either way it is shown as full, and the
// raw value kept for a note.
func (m *measures) fill(stage string, l float64, slots int, overflow bool) float64 {
	f := l / float64(max(slots, 1))
	if f > 1.05 {
		m.overfull[stage] = overfill{fill: f, overflow: overflow}
	}
	return min(f, 1)
}

// eventRate returns how a stage's rate is measured from the times of its
// events (of the jobs read). When the period ends at the last completion,
// every event of every job read lies in it: count over the period. When
// load was still arriving as the window closed, the jobs read are those
// that arrived in the window, and a stage that comes later sees their
// events shifted by its delay: the ones before it belong to jobs that
// arrived before the window and were not read. The stage's own rate is
// then its events over the time they span (a FIFO stage handles the jobs
// of the window one after another, no other in between).
func eventRate(p Period) func([]int64) float64 {
	T := max(p.Seconds, 1e-3)
	return func(ev []int64) float64 {
		if p.EndsAt != "window" || len(ev) < minSpanEvents {
			n := 0
			for _, t := range ev {
				if p.contains(t) {
					n++
				}
			}
			return float64(n) / T
		}
		lo, hi := ev[0], ev[0]
		for _, t := range ev {
			lo, hi = min(lo, t), max(hi, t)
		}
		if hi <= lo {
			return float64(len(ev)) / T
		}
		return float64(len(ev)-1) / (float64(hi-lo) / 1e6)
	}
}

// completionRate returns how the consumer's side (results taken by a
// forwarder, delivered, handled) is measured. When the completions of the
// window were read too (Options.Completions), every completion in the
// period is known, whenever its job arrived: count them over the period
// (from the oldest completion read, when that search was truncated), up
// to the last completion Jaeger had. The consumer's spans reach it a
// second or so after the producer's, which end the period; a consumer that
// stopped handling longer ago than that still shows, as a lower rate.
// Without the completions, as eventRate.
func completionRate(p Period, jobs []Job) func([]int64) float64 {
	read := false
	var lastDone int64
	for i := range jobs {
		read = read || jobs[i].Earlier
		lastDone = max(lastDone, jobs[i].Done)
	}
	if !read {
		return eventRate(p)
	}
	from, to := max(p.from(), p.doneFrom), p.to()
	if lastDone < to {
		to = max(lastDone, to-exportLag.Microseconds())
	}
	T := max(float64(to-from)/1e6, 1e-3)
	return func(ev []int64) float64 {
		n := 0
		for _, t := range ev {
			if t >= from && t <= to {
				n++
			}
		}
		return float64(n) / T
	}
}

// exportLag is how much later than others a service's spans may reach
// Jaeger: the services export in batches about once a second.
const exportLag = 2 * time.Second

// minSpanEvents is the fewest events whose span gives a rate.
const minSpanEvents = 10

// workersCapacity is the jobs/s c workers complete at the measured mix:
// c / mean work; with priority lanes at most c-1 of them hold vendor jobs,
// which caps the vendor jobs' share too.
func workersCapacity(workers int, lanes bool, m measures) float64 {
	if m.workAvg <= 0 {
		return 0
	}
	mu := float64(workers) / (m.workAvg / 1e3)
	if lanes && m.vendorJobShare > 0 {
		if v := mean(m.workMS[TypeVendorAPI]); v > 0 {
			mu = min(mu, float64(max(1, workers-1))/(m.vendorJobShare*v/1e3))
		}
	}
	return mu
}

func orEnd(t, end int64) int64 {
	if t == 0 {
		return end
	}
	return t
}

func cmpNonZero(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}
