package analysis

import (
	"math"
	"slices"
)

// SimConfig is the pipeline the simulation runs: the settings of the
// workers and the consumer that shape it.
type SimConfig struct {
	Workers      int
	QueueSize    int     // job queue slots (per lane when Lanes)
	SubmitWaitMS float64 // how long a Submit waits for room before it is shed
	Lanes        bool    // PRIORITY_LANES=on
	// ResultsBuffer is the results channel's slots per lane; 0 or less
	// means unbounded (what the largest buffer would hold).
	ResultsBuffer   int
	Nonblocking     bool    // RESULT_SEND=nonblocking
	OverflowCap     int     // the non-blocking overflow per lane (0: 1000 per worker)
	VendorTimeoutMS float64 // 0 = none
	Forwarders      int
	Concurrency     int // consumer slots
}

// SimJob is one arrival to replay.
type SimJob struct {
	AtMS     float64 // arrival, from the start of the run
	Fast     bool    // cache-read or database: the fast lane
	Vendor   bool    // calls the vendor (the slow lane)
	WorkMS   float64 // the whole work, the vendor call included
	VendorMS float64 // the vendor call's part of WorkMS
	// ConsumerMS is the consumer's handling, RTTMS the rest of a delivery
	// (round trip and gRPC), half each way.
	ConsumerMS float64
	RTTMS      float64
}

// Workload is what the simulation replays, and over what part of it the
// results are measured: completions in [MeasureFromMS, MeasureToMS] make the
// throughput, jobs arriving in it the latencies. MeasureToMS 0 means until
// the last completion.
type Workload struct {
	Jobs          []SimJob // sorted by AtMS
	MeasureFromMS float64
	MeasureToMS   float64
}

// SimResult is what one run measured.
type SimResult struct {
	Arrived, Rejected, Completed int // in the measurement window
	ThroughputPerS               float64
	RejectedPerS                 float64
	FastP50MS, FastP99MS         float64 // fast jobs, arrival → handled by the consumer
	// FastWaitP99MS is fast jobs' p99 wait for a worker: queued, and
	// blocked handing their result over.
	FastWaitP99MS float64
	// FailedPerS is the jobs/s handled whose work failed: vendor calls cut
	// by the timeout (they count in ThroughputPerS too).
	FailedPerS float64
	// BlockedShare is blocked / (working + blocked) of the workers;
	// BlockedOfWorkers is blocked / (workers × the measured time): how
	// much of the workers' capacity blocking took; BlockedMS the blocked
	// time itself, summed over the workers.
	BlockedShare     float64
	BlockedOfWorkers float64
	BlockedMS        float64
	// PeakResults is the most results waiting in the results channel at
	// once (overflow included); PeakQueue the most jobs in the job queue.
	PeakResults, PeakQueue int
	TimedOut               int // vendor calls cut by the timeout
	// Jobs holds every job's times when asked for (Simulate's record).
	Jobs []SimRecord
}

// SimRecord is what happened to one job, times in ms from the start;
// negative for what never happened.
type SimRecord struct {
	Accept, Dequeue, WorkEnd, SendStart, SendEnd, Taken, ConsumerArrive, Start, Done, DeliverEnd float64
	Worker                                                                                       int // 1-based
	Rejected                                                                                     bool
	TimedOut                                                                                     bool
}

// Simulate runs the pipeline on w under cfg. It is deterministic: the same
// input gives the same result. It follows the workers' pool as it is
// built (services/workers/internal/pool): a job queue of QueueSize (one
// shared FIFO, or a lane per kind with fast jobs first and at most
// workers-1 workers holding vendor jobs), a Submit that waits SubmitWaitMS
// for room and is then shed, workers that hold a job until its result is
// handed over, the results channel (per lane with lanes on, forwarders
// taking the fast lane first), forwarders that wait for the consumer's
// answer, and the consumer's slots.
func Simulate(cfg SimConfig, w Workload, record bool) SimResult {
	s := newSim(cfg, w)
	s.run()
	return s.result(record)
}

const (
	evArrive = iota
	evSubmitTimeout
	evWorkDone
	evConsumerArrive
	evProcessDone
	evDeliverDone
)

type event struct {
	at   float64
	seq  uint64
	kind uint8
	job  int32
}

type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// fifo is a queue of job indexes.
type fifo struct {
	items []int32
	head  int
}

func (f *fifo) push(j int32) { f.items = append(f.items, j) }
func (f *fifo) len() int     { return len(f.items) - f.head }
func (f *fifo) front() int32 { return f.items[f.head] }
func (f *fifo) pop() int32 {
	j := f.items[f.head]
	f.head++
	if f.head > 64 && f.head*2 > len(f.items) {
		f.items = append(f.items[:0], f.items[f.head:]...)
		f.head = 0
	}
	return j
}

const (
	stArriving = iota
	stWaitingSubmit
	stQueued
	stRejected
	stDone
)

type sim struct {
	cfg  SimConfig
	w    Workload
	jobs []SimJob
	rec  []SimRecord
	st   []uint8

	now    float64
	seq    uint64
	events eventHeap

	queue      [2]fifo // job queue lanes (lane 0 only when lanes are off)
	submitters [2]fifo // Submits waiting for room
	slowActive int
	maxSlow    int
	idle       []int // free workers, by ID

	results    [2]fifo // results channel lanes: 0 fast, 1 slow/shared
	blocked    [2]fifo // senders waiting for room
	idleFwd    int
	freeSlots  int
	consumerQ  fifo
	resultsLen int
	queueLen   int
	peakRes    int
	peakQueue  int
	timedOut   int
}

func newSim(cfg SimConfig, w Workload) *sim {
	cfg.Workers = max(cfg.Workers, 1)
	cfg.QueueSize = max(cfg.QueueSize, 1)
	cfg.Forwarders = max(cfg.Forwarders, 1)
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.OverflowCap <= 0 {
		cfg.OverflowCap = defaultOverflowPerWork * cfg.Workers
	}
	s := &sim{
		cfg: cfg, w: w, jobs: w.Jobs,
		rec:       make([]SimRecord, len(w.Jobs)),
		st:        make([]uint8, len(w.Jobs)),
		maxSlow:   max(1, cfg.Workers-1),
		idleFwd:   cfg.Forwarders,
		freeSlots: cfg.Concurrency,
		events:    make(eventHeap, 0, 64),
	}
	for id := cfg.Workers; id >= 1; id-- {
		s.idle = append(s.idle, id)
	}
	for i := range s.rec {
		s.rec[i] = SimRecord{Accept: -1, Dequeue: -1, WorkEnd: -1, SendStart: -1, SendEnd: -1, Taken: -1,
			ConsumerArrive: -1, Start: -1, Done: -1, DeliverEnd: -1}
	}
	return s
}

func (s *sim) at(t float64, kind uint8, j int32) {
	s.seq++
	s.events.push(event{at: t, seq: s.seq, kind: kind, job: j})
}

func (s *sim) run() {
	// Arrivals are fed one at a time, so the heap stays as small as what
	// is in progress.
	next := 0
	for next < len(s.jobs) || len(s.events) > 0 {
		if next < len(s.jobs) && (len(s.events) == 0 || s.jobs[next].AtMS <= s.events[0].at) {
			s.now = s.jobs[next].AtMS
			s.arrive(int32(next))
			next++
			continue
		}
		e := s.events.pop()
		s.now = e.at
		switch e.kind {
		case evSubmitTimeout:
			if s.st[e.job] == stWaitingSubmit {
				s.st[e.job] = stRejected
				s.rec[e.job].Rejected = true
			}
		case evWorkDone:
			s.rec[e.job].WorkEnd = s.now
			s.send(e.job)
		case evConsumerArrive:
			s.rec[e.job].ConsumerArrive = s.now
			if s.freeSlots > 0 && s.consumerQ.len() == 0 {
				s.startProcess(e.job)
			} else {
				s.consumerQ.push(e.job)
			}
		case evProcessDone:
			s.rec[e.job].Done = s.now
			s.st[e.job] = stDone
			s.freeSlots++
			if s.consumerQ.len() > 0 {
				s.startProcess(s.consumerQ.pop())
			}
			s.at(s.now+s.jobs[e.job].RTTMS/2, evDeliverDone, e.job)
		case evDeliverDone:
			s.rec[e.job].DeliverEnd = s.now
			s.forwarderNext()
		}
	}
}

// lane is the job queue lane of j: with lanes off, one shared FIFO.
func (s *sim) lane(j int32) int {
	if s.cfg.Lanes && !s.jobs[j].Fast {
		return 1
	}
	return 0
}

func (s *sim) hasRoom(lane int) bool { return s.queue[lane].len() < s.cfg.QueueSize }

func (s *sim) arrive(j int32) {
	l := s.lane(j)
	if s.hasRoom(l) && s.frontSubmitter(l) < 0 {
		s.enqueue(j)
		s.settle()
		return
	}
	if s.cfg.SubmitWaitMS <= 0 {
		s.st[j] = stRejected
		s.rec[j].Rejected = true
		return
	}
	s.st[j] = stWaitingSubmit
	s.submitters[l].push(j)
	s.at(s.now+s.cfg.SubmitWaitMS, evSubmitTimeout, j)
}

// frontSubmitter is the first Submit still waiting for room in lane, -1
// for none; those that gave up are dropped on the way.
func (s *sim) frontSubmitter(lane int) int32 {
	f := &s.submitters[lane]
	for f.len() > 0 {
		if j := f.front(); s.st[j] == stWaitingSubmit {
			return j
		}
		f.pop()
	}
	return -1
}

func (s *sim) enqueue(j int32) {
	s.st[j] = stQueued
	s.rec[j].Accept = s.now
	s.queue[s.lane(j)].push(j)
	s.queueLen++
	s.peakQueue = max(s.peakQueue, s.queueLen)
}

// take is the job an idle worker takes next, -1 for none.
func (s *sim) take() int32 {
	var j int32 = -1
	switch {
	case s.queue[0].len() > 0:
		j = s.queue[0].pop()
	case s.cfg.Lanes && s.queue[1].len() > 0 && s.slowActive < s.maxSlow:
		j = s.queue[1].pop()
	}
	if j >= 0 {
		s.queueLen--
		if s.jobs[j].Vendor {
			s.slowActive++
		}
	}
	return j
}

// settle gives idle workers the jobs they may take and waiting Submits the
// room that frees, until neither can go on (jobQueue.settle).
func (s *sim) settle() {
	for progressed := true; progressed; {
		progressed = false
		for len(s.idle) > 0 {
			j := s.take()
			if j < 0 {
				break
			}
			w := s.idle[len(s.idle)-1]
			s.idle = s.idle[:len(s.idle)-1]
			s.startWork(j, w)
			progressed = true
		}
		for lane := range 2 {
			for s.hasRoom(lane) {
				j := s.frontSubmitter(lane)
				if j < 0 {
					break
				}
				s.submitters[lane].pop()
				s.enqueue(j)
				progressed = true
			}
		}
	}
}

func (s *sim) startWork(j int32, worker int) {
	r := &s.rec[j]
	r.Dequeue, r.Worker = s.now, worker
	job := &s.jobs[j]
	d := job.WorkMS
	if t := s.cfg.VendorTimeoutMS; job.Vendor && t > 0 && job.VendorMS > t {
		d = job.WorkMS - job.VendorMS + t
		r.TimedOut = true
		s.timedOut++
	}
	s.at(s.now+d, evWorkDone, j)
}

// resultLane is the results channel lane of j's result.
func (s *sim) resultLane(j int32) int {
	if s.cfg.Lanes && s.jobs[j].Fast {
		return 0
	}
	return 1
}

func (s *sim) resultsRoom(lane int) bool {
	if s.cfg.ResultsBuffer <= 0 {
		return true
	}
	n := s.results[lane].len()
	if s.cfg.Nonblocking {
		return n < s.cfg.ResultsBuffer+s.cfg.OverflowCap
	}
	return n < s.cfg.ResultsBuffer
}

func (s *sim) send(j int32) {
	s.rec[j].SendStart = s.now
	l := s.resultLane(j)
	switch {
	case s.idleFwd > 0:
		// Every lane is empty when a forwarder idles: hand it over.
		s.idleFwd--
		s.freeWorker(j)
		s.deliver(j)
	case s.blocked[l].len() == 0 && s.resultsRoom(l):
		s.putResult(j, l)
		s.freeWorker(j)
	default:
		s.blocked[l].push(j)
	}
}

func (s *sim) putResult(j int32, lane int) {
	s.results[lane].push(j)
	s.resultsLen++
	s.peakRes = max(s.peakRes, s.resultsLen)
}

// freeWorker ends j's hold on its worker: its result is handed over.
func (s *sim) freeWorker(j int32) {
	r := &s.rec[j]
	r.SendEnd = s.now
	if s.jobs[j].Vendor {
		s.slowActive--
	}
	s.idle = append(s.idle, r.Worker)
	s.settle()
}

func (s *sim) deliver(j int32) {
	s.rec[j].Taken = s.now
	s.at(s.now+s.jobs[j].RTTMS/2, evConsumerArrive, j)
}

func (s *sim) startProcess(j int32) {
	s.freeSlots--
	s.rec[j].Start = s.now
	s.at(s.now+s.jobs[j].ConsumerMS, evProcessDone, j)
}

// forwarderNext: a forwarder is free; it takes the next result, fast lane
// first, and the blocked senders of that lane get the room.
func (s *sim) forwarderNext() {
	for l := range 2 {
		if s.results[l].len() == 0 {
			continue
		}
		j := s.results[l].pop()
		s.resultsLen--
		s.deliver(j)
		for s.blocked[l].len() > 0 && s.resultsRoom(l) {
			b := s.blocked[l].pop()
			s.putResult(b, l)
			s.freeWorker(b)
		}
		return
	}
	s.idleFwd++
}

func (s *sim) result(record bool) SimResult {
	var r SimResult
	from, to := s.w.MeasureFromMS, s.w.MeasureToMS
	if to <= 0 {
		for i := range s.rec {
			to = max(to, s.rec[i].Done)
		}
		if len(s.jobs) > 0 {
			to = max(to, s.jobs[len(s.jobs)-1].AtMS)
		}
	}
	var fast, fastWait []float64
	var working, blocked float64
	failed := 0
	for i := range s.jobs {
		rec := &s.rec[i]
		if d := rec.Done; d >= from && d <= to && d >= 0 {
			r.Completed++
			if rec.TimedOut {
				failed++
			}
		}
		if at := s.jobs[i].AtMS; at >= from && at <= to {
			r.Arrived++
			if rec.Rejected {
				r.Rejected++
			}
			if s.jobs[i].Fast && rec.Done >= 0 {
				fast = append(fast, rec.Done-at)
			}
			if s.jobs[i].Fast && rec.SendEnd >= 0 {
				fastWait = append(fastWait, rec.Dequeue-rec.Accept+rec.SendEnd-rec.SendStart)
			}
		}
		if rec.Dequeue >= from && rec.Dequeue <= to && rec.WorkEnd >= 0 {
			working += rec.WorkEnd - rec.Dequeue
			if rec.SendEnd >= 0 {
				blocked += rec.SendEnd - rec.SendStart
			}
		}
		if rec.TimedOut {
			r.TimedOut++
		}
	}
	if secs := (to - from) / 1e3; secs > 0 {
		r.ThroughputPerS = float64(r.Completed) / secs
		r.RejectedPerS = float64(r.Rejected) / secs
		r.FailedPerS = float64(failed) / secs
	}
	slices.Sort(fast)
	slices.Sort(fastWait)
	r.FastP50MS, r.FastP99MS = Percentile(fast, 0.5), Percentile(fast, 0.99)
	r.FastWaitP99MS = Percentile(fastWait, 0.99)
	r.BlockedMS = blocked
	if busy := working + blocked; busy > 0 {
		r.BlockedShare = blocked / busy
	}
	if span := to - from; span > 0 {
		r.BlockedOfWorkers = blocked / (float64(s.cfg.Workers) * span)
	}
	r.PeakResults, r.PeakQueue = s.peakRes, s.peakQueue
	if record {
		r.Jobs = s.rec
	}
	return r
}

// unbounded stands for a buffer no burst fills.
const unbounded = math.MaxInt32 / 2
