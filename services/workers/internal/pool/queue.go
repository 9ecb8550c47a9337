package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zoobzio/tracez"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// Lane names, as the queue.lane attribute and /stats show them.
const (
	LaneFast   = "fast"   // cache-read and database jobs, when priority lanes are on
	LaneSlow   = "slow"   // vendor-api jobs, when priority lanes are on
	LaneShared = "shared" // every job, when priority lanes are off
)

const (
	fast = 0
	slow = 1
)

// maxWaitedBehind caps the job IDs a wait span lists.
const maxWaitedBehind = 10

// ErrShuttingDown answers submissions after shutdown began.
var ErrShuttingDown = errors.New("worker pool is shutting down; not taking jobs")

// FullError answers a submission that found the queue full for the whole
// submit wait.
type FullError struct {
	Lane     string
	Capacity int
}

func (e *FullError) Error() string {
	if e.Lane == LaneShared {
		return fmt.Sprintf("job queue full (%d jobs); try later", e.Capacity)
	}
	return fmt.Sprintf("job queue's %s lane full (%d jobs); try later", e.Lane, e.Capacity)
}

// queued is a job between Submit and a worker.
type queued struct {
	// ctx has no cancellation: the job outlives the Submit call. Until
	// accept it holds the job's parent span (the producer's root, or the
	// Submit server span); from accept on, the job's pool.job span.
	ctx      context.Context
	job      *jobsv1.Job
	lane     int // fast or slow, by job type, whatever the lanes setting
	seq      uint64
	accepted time.Time
	span     *tracez.ActiveSpan // pool.job, finished once the result is acknowledged
	wait     *tracez.ActiveSpan // queue.wait, finished at dequeue
}

// acceptance describes the queue a job joined.
type acceptance struct {
	lane     string
	ahead    int      // jobs a worker takes before this one (at accept)
	behind   []string // the first of them, at most maxWaitedBehind
	depth    int      // jobs in the queue, this one included
	capacity int      // the job's lane's capacity when it joined (QUEUE_SIZE is live)
}

// jobQueue is the bounded job queue. Jobs always go to the lane of their
// type; whether lanes are honoured is a live setting. With lanes off,
// workers take jobs in arrival order across both lanes (one shared queue of
// capacity QUEUE_SIZE). With lanes on, each lane holds up to QUEUE_SIZE
// jobs, workers take fast jobs first, and at most maxSlow workers hold a
// vendor job at once, so one worker is always free for fast jobs.
//
// The capacity and the worker count behind maxSlow are live too
// (setCapacity, setWorkers). A smaller capacity never drops a queued job:
// the surplus drains, and newcomers wait until the queue is below the new
// capacity.
//
// Waiting is targeted: a Submit waiting for room and an idle worker each
// park on their own channel, and whoever changes the queue does the
// waiter's part under the lock before waking it: a worker wakes holding its
// job, a Submit wakes with its job accepted. So a push wakes at most the one
// worker that takes a job, a pop at most the one Submit that fills the
// freed slot, in arrival order, and nobody wakes to find nothing to do
// (under overload, waking every waiter on every change cost half the
// service's CPU).
type jobQueue struct {
	mu         sync.Mutex
	lanes      [2]fifo[*queued]
	capacity   int
	prioritize bool
	maxSlow    int
	slowActive int
	seq        uint64
	closed     bool

	// submitters wait for room, per lane, in arrival order; waitSeq
	// orders them across lanes when the lanes share the capacity.
	submitters [2]waitList[*submitWaiter]
	waitSeq    uint64
	idle       waitList[*idler[*queued]] // idle workers
	// wakeups counts waiters woken (tests and BenchmarkQueueContended).
	wakeups uint64
}

// submitWaiter is a Submit waiting for room.
type submitWaiter struct {
	it     *queued
	accept func(*queued, acceptance)
	seq    uint64
	link   *waitLink[*submitWaiter]
	// a and err are set under the queue's lock before done is closed.
	a    acceptance
	err  error
	done chan struct{}
}

func newJobQueue(capacity, workers int, prioritize bool) *jobQueue {
	return &jobQueue{
		capacity:   capacity,
		prioritize: prioritize,
		maxSlow:    maxSlowFor(workers),
	}
}

// maxSlowFor is the lanes' cap on workers holding vendor jobs: all but one.
// With one worker there is nobody to reserve; vendor jobs must still run.
func maxSlowFor(workers int) int { return max(1, workers-1) }

func (q *jobQueue) laneName(lane int) string {
	switch {
	case !q.prioritize:
		return LaneShared
	case lane == fast:
		return LaneFast
	}
	return LaneSlow
}

func (q *jobQueue) hasRoom(lane int) bool {
	if q.prioritize {
		return q.lanes[lane].len() < q.capacity
	}
	return q.lanes[fast].len()+q.lanes[slow].len() < q.capacity
}

// waitedFor reports whether Submits are waiting for the room a job in lane
// would take; a newcomer must not overtake them.
func (q *jobQueue) waitedFor(lane int) bool {
	if q.prioritize {
		return q.submitters[lane].len() > 0
	}
	return q.submitters[fast].len()+q.submitters[slow].len() > 0
}

// push adds it, waiting up to wait for room. accept runs under the queue's
// lock the moment the job is in, so that the job's queue.wait span is
// complete before any worker can see the job.
func (q *jobQueue) push(ctx context.Context, it *queued, wait time.Duration, accept func(*queued, acceptance)) (acceptance, error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return acceptance{}, ErrShuttingDown
	}
	if q.hasRoom(it.lane) && !q.waitedFor(it.lane) {
		a := q.enqueue(it, accept)
		q.settle()
		q.mu.Unlock()
		return a, nil
	}
	if wait <= 0 {
		err := q.full(it.lane)
		q.mu.Unlock()
		return acceptance{}, err
	}
	q.waitSeq++
	w := &submitWaiter{it: it, accept: accept, seq: q.waitSeq, done: make(chan struct{})}
	w.link = q.submitters[it.lane].push(w)
	q.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	var gaveUp error
	select {
	case <-w.done:
		return w.a, w.err
	case <-t.C:
	case <-ctx.Done():
		gaveUp = fmt.Errorf("waiting for room in the job queue: %w", context.Cause(ctx))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-w.done: // admitted (or refused) while giving up: that answer stands
		return w.a, w.err
	default:
	}
	q.submitters[it.lane].remove(w.link)
	if gaveUp == nil {
		gaveUp = q.full(it.lane)
	}
	return acceptance{}, gaveUp
}

// setCapacity changes QUEUE_SIZE. Growing admits waiting Submits at once,
// in arrival order; shrinking keeps every queued job (the surplus drains
// as workers take jobs, and Submits wait until there is room under the
// new capacity).
func (q *jobQueue) setCapacity(n int) {
	q.mu.Lock()
	q.capacity = n
	q.settle()
	q.mu.Unlock()
}

// setWorkers moves the lanes' cap on workers holding vendor jobs with the
// worker count: WORKERS-1, so one worker stays free for fast jobs. If more
// than that hold vendor jobs when it shrinks, they finish them; no other
// vendor job starts until the count is below the new cap. Growing lets
// idle workers take the vendor jobs that waited for the cap.
func (q *jobQueue) setWorkers(n int) {
	q.mu.Lock()
	q.maxSlow = maxSlowFor(n)
	q.settle()
	q.mu.Unlock()
}

func (q *jobQueue) full(lane int) error {
	return &FullError{Lane: q.laneName(lane), Capacity: q.capacity}
}

// enqueue puts it in its lane and runs accept. Caller holds q.mu and has
// checked the room.
func (q *jobQueue) enqueue(it *queued, accept func(*queued, acceptance)) acceptance {
	q.seq++
	it.seq = q.seq
	a := q.ahead(it.lane)
	q.lanes[it.lane].push(it)
	a.depth = q.lanes[fast].len() + q.lanes[slow].len()
	a.capacity = q.capacity
	accept(it, a)
	return a
}

// settle brings the waiters up to date with the queue after any change:
// idle workers get the jobs they may take, and waiting Submits take the
// room that frees, in arrival order, until neither can go on. Each waiter
// is woken once, with its part done. Caller holds q.mu.
func (q *jobQueue) settle() {
	for progressed := true; progressed; {
		progressed = false
		for q.idle.len() > 0 {
			if isClosed(q.idle.front().retire) {
				// Retired while it waited: the retirement wakes it, and
				// it takes no new job on its way out.
				q.idle.pop()
				continue
			}
			it := q.take()
			if it == nil {
				break
			}
			q.idle.pop().handOff(it)
			q.wakeups++
			progressed = true
		}
		for {
			w := q.nextAdmitted()
			if w == nil {
				break
			}
			q.submitters[w.it.lane].remove(w.link)
			w.a = q.enqueue(w.it, w.accept)
			q.wakeups++
			close(w.done)
			progressed = true
		}
	}
}

// nextAdmitted returns the waiting Submit that gets room now, if any: the
// first of a lane with room when lanes are on, else the first of all.
func (q *jobQueue) nextAdmitted() *submitWaiter {
	if q.prioritize {
		for lane := range q.submitters {
			if q.submitters[lane].len() > 0 && q.hasRoom(lane) {
				return q.submitters[lane].front()
			}
		}
		return nil
	}
	f, s := &q.submitters[fast], &q.submitters[slow]
	var w *submitWaiter
	switch {
	case f.len() > 0 && (s.len() == 0 || f.front().seq < s.front().seq):
		w = f.front()
	case s.len() > 0:
		w = s.front()
	default:
		return nil
	}
	if !q.hasRoom(w.it.lane) {
		return nil
	}
	return w
}

// ahead lists the jobs a worker would take before a new job in lane.
func (q *jobQueue) ahead(lane int) acceptance {
	a := acceptance{lane: q.laneName(lane)}
	if q.prioritize {
		l := &q.lanes[lane]
		a.ahead = l.len()
		for i := range min(l.len(), maxWaitedBehind) {
			a.behind = append(a.behind, l.at(i).job.GetId())
		}
		return a
	}
	// Arrival order across both lanes: merge them by sequence number.
	f, s := &q.lanes[fast], &q.lanes[slow]
	a.ahead = f.len() + s.len()
	i, j := 0, 0
	for len(a.behind) < maxWaitedBehind && (i < f.len() || j < s.len()) {
		if j >= s.len() || (i < f.len() && f.at(i).seq < s.at(j).seq) {
			a.behind = append(a.behind, f.at(i).job.GetId())
			i++
		} else {
			a.behind = append(a.behind, s.at(j).job.GetId())
			j++
		}
	}
	return a
}

// pop waits for a job a worker may take. It returns false once the queue
// is closed and empty, or when stop is closed (shutdown deadline).
func (q *jobQueue) pop(stop <-chan struct{}) (*queued, bool) { return q.popUnless(stop, nil) }

// popUnless is pop for a worker that may be retired: it also returns false
// when retire is closed before the worker got a job. Retirement is checked
// under the queue's lock right before a job changes hands, so a retired
// worker takes no new job; one handed over just before retire closed is
// still returned, and the worker runs it first.
func (q *jobQueue) popUnless(stop, retire <-chan struct{}) (*queued, bool) {
	select {
	case <-stop:
		return nil, false
	default:
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if isClosed(retire) {
			return nil, false
		}
		if it := q.take(); it != nil {
			q.settle() // the freed slot goes to a waiting Submit
			return it, true
		}
		if q.closed && q.lanes[fast].len()+q.lanes[slow].len() == 0 {
			return nil, false
		}
		// A job handed over just as stop or retire closed is this
		// worker's, as if it had taken it a moment earlier.
		it, ok, quit := awaitHandOff(&q.mu, &q.idle, stop, retire)
		if ok || quit {
			return it, ok
		}
	}
}

// isClosed reports whether c is closed (false for nil).
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (q *jobQueue) take() *queued {
	f, s := &q.lanes[fast], &q.lanes[slow]
	var it *queued
	switch {
	case q.prioritize && f.len() > 0:
		it = f.pop()
	case q.prioritize:
		if s.len() > 0 && q.slowActive < q.maxSlow {
			it = s.pop()
		}
	case f.len() > 0 && (s.len() == 0 || f.at(0).seq < s.at(0).seq):
		it = f.pop()
	case s.len() > 0:
		it = s.pop()
	}
	if it != nil && it.lane == slow {
		q.slowActive++
	}
	return it
}

// done tells the queue a worker is free of it (its result handed over).
func (q *jobQueue) done(it *queued) {
	if it.lane != slow {
		return
	}
	q.mu.Lock()
	q.slowActive--
	q.settle() // a vendor job may be waiting for a worker
	q.mu.Unlock()
}

// setPrioritize switches the lanes. Every waiter is judged again under the
// new rules: each worker that may now take a job gets one, each Submit
// that now has room gets in.
func (q *jobQueue) setPrioritize(on bool) {
	q.mu.Lock()
	q.prioritize = on
	q.settle()
	q.mu.Unlock()
}

// close stops submissions; workers still take what is queued. It wakes
// everyone: waiting Submits are refused, idle workers find out whether
// anything is left.
func (q *jobQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for lane := range q.submitters {
		for q.submitters[lane].len() > 0 {
			w := q.submitters[lane].pop()
			w.err = ErrShuttingDown
			q.wakeups++
			close(w.done)
		}
	}
	for q.idle.len() > 0 {
		q.wakeups++
		close(q.idle.pop().wake)
	}
}

// finished reports whether the queue is closed and empty: a worker that
// finds it so has nothing left to do.
func (q *jobQueue) finished() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed && q.lanes[fast].len()+q.lanes[slow].len() == 0
}

// waiting counts the parked Submits and idle workers (tests).
func (q *jobQueue) waiting() (submits, workers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.submitters[fast].len() + q.submitters[slow].len(), q.idle.len()
}

// wakeupCount is the number of waiters woken so far (tests, benchmarks).
func (q *jobQueue) wakeupCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wakeups
}

// QueueStats is the job queue part of /stats.
type QueueStats struct {
	Depth         int                  `json:"depth"`
	Capacity      int                  `json:"capacity"`
	PriorityLanes bool                 `json:"priority_lanes"`
	Lanes         map[string]LaneStats `json:"lanes"`
	// VendorJobsRunning counts workers holding a vendor-api job.
	VendorJobsRunning int `json:"vendor_jobs_running"`
}

// LaneStats is one lane of the job queue.
type LaneStats struct {
	Depth    int `json:"depth"`
	Capacity int `json:"capacity"`
}

func (q *jobQueue) stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{
		Depth:             q.lanes[fast].len() + q.lanes[slow].len(),
		Capacity:          q.capacity,
		PriorityLanes:     q.prioritize,
		VendorJobsRunning: q.slowActive,
	}
	if q.prioritize {
		s.Capacity = 2 * q.capacity
		s.Lanes = map[string]LaneStats{
			LaneFast: {Depth: q.lanes[fast].len(), Capacity: q.capacity},
			LaneSlow: {Depth: q.lanes[slow].len(), Capacity: q.capacity},
		}
	} else {
		s.Lanes = map[string]LaneStats{LaneShared: {Depth: s.Depth, Capacity: q.capacity}}
	}
	return s
}

// drain removes and returns the queued jobs, in no particular order: at
// the shutdown deadline they will never run. A worker that took a job
// before drain keeps it.
func (q *jobQueue) drain() []*queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*queued
	for lane := range q.lanes {
		for q.lanes[lane].len() > 0 {
			out = append(out, q.lanes[lane].pop())
		}
	}
	return out
}
