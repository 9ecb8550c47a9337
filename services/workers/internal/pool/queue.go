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
	// ctx is the Submit handler's context without its cancellation: it
	// carries the gRPC server span, so the job's spans join the caller's
	// trace, but the job outlives the RPC.
	ctx      context.Context
	job      *jobsv1.Job
	lane     int // fast or slow, by job type, whatever the lanes setting
	seq      uint64
	accepted time.Time
	wait     *tracez.ActiveSpan // queue.wait, finished at dequeue
}

// acceptance describes the queue a job joined.
type acceptance struct {
	lane   string
	ahead  int      // jobs a worker takes before this one (at accept)
	behind []string // the first of them, at most maxWaitedBehind
	depth  int      // jobs in the queue, this one included
}

// jobQueue is the bounded job queue. Jobs always go to the lane of their
// type; whether lanes are honoured is a live setting. With lanes off,
// workers take jobs in arrival order across both lanes (one shared queue of
// capacity QUEUE_SIZE). With lanes on, each lane holds up to QUEUE_SIZE
// jobs, workers take fast jobs first, and at most maxSlow workers hold a
// vendor job at once, so one worker is always free for fast jobs.
type jobQueue struct {
	mu         sync.Mutex
	lanes      [2]fifo[*queued]
	capacity   int
	prioritize bool
	maxSlow    int
	slowActive int
	seq        uint64
	closed     bool
	// changed is closed and replaced on every change, waking everyone
	// waiting for room (submitters) or for a job (workers).
	changed chan struct{}
}

func newJobQueue(capacity, workers int, prioritize bool) *jobQueue {
	return &jobQueue{
		capacity:   capacity,
		prioritize: prioritize,
		// With one worker there is nobody to reserve; vendor jobs must
		// still run.
		maxSlow: max(1, workers-1),
		changed: make(chan struct{}),
	}
}

func (q *jobQueue) broadcast() {
	close(q.changed)
	q.changed = make(chan struct{})
}

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

// push adds it, waiting up to wait for room. accept runs under the queue's
// lock the moment the job is in, so that the job's queue.wait span is
// complete before any worker can see the job.
func (q *jobQueue) push(ctx context.Context, it *queued, wait time.Duration, accept func(*queued, acceptance)) (acceptance, error) {
	var timeout <-chan time.Time
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return acceptance{}, ErrShuttingDown
		}
		if q.hasRoom(it.lane) {
			q.seq++
			it.seq = q.seq
			a := q.ahead(it.lane)
			q.lanes[it.lane].push(it)
			a.depth = q.lanes[fast].len() + q.lanes[slow].len()
			accept(it, a)
			q.broadcast()
			q.mu.Unlock()
			return a, nil
		}
		full := &FullError{Lane: q.laneName(it.lane), Capacity: q.capacity}
		changed := q.changed
		q.mu.Unlock()

		if timeout == nil {
			if wait <= 0 {
				return acceptance{}, full
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return acceptance{}, full
		case <-ctx.Done():
			return acceptance{}, fmt.Errorf("waiting for room in the job queue: %w", context.Cause(ctx))
		}
	}
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
func (q *jobQueue) pop(stop <-chan struct{}) (*queued, bool) {
	for {
		select {
		case <-stop:
			return nil, false
		default:
		}
		q.mu.Lock()
		if it := q.take(); it != nil {
			q.broadcast()
			q.mu.Unlock()
			return it, true
		}
		if q.closed && q.lanes[fast].len()+q.lanes[slow].len() == 0 {
			q.mu.Unlock()
			return nil, false
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-stop:
			return nil, false
		}
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
	q.broadcast()
	q.mu.Unlock()
}

func (q *jobQueue) setPrioritize(on bool) {
	q.mu.Lock()
	q.prioritize = on
	q.broadcast()
	q.mu.Unlock()
}

// close stops submissions; workers still take what is queued.
func (q *jobQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.broadcast()
	q.mu.Unlock()
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

// remaining counts queued jobs (shutdown report).
func (q *jobQueue) remaining() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lanes[fast].len() + q.lanes[slow].len()
}
