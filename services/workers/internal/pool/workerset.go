package pool

import (
	"sync"
	"sync/atomic"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
)

// workerSet is the pool's workers, resized live (WORKERS in
// /admin/config) while jobs flow.
//
// Worker IDs are 1..WORKERS: growing starts the lowest free IDs, shrinking
// retires the highest. A retired worker finishes the job in hand (its work
// and the hand-off of its result, however long a blocked send takes), then
// stops; an idle one stops at once. If the set grows again before a
// retired worker has stopped, that worker is kept on rather than a second
// goroutine started under its ID. So a worker.id always names one
// goroutine, the distinct IDs in any window number at most the largest
// WORKERS in force during it, and no more jobs run at once than the larger
// of the old and the new count.
type workerSet struct {
	mu sync.Mutex
	// slots holds the running workers by ID-1, retired ones included until
	// they stop; nil where none runs.
	slots   []*workerSlot
	started bool
	// frozen: shutdown began, the set no longer changes (the workers stop
	// once the queue is closed and empty, or at the deadline).
	frozen bool
	wg     sync.WaitGroup
	// running counts worker goroutines alive, retired ones included until
	// they return.
	running atomic.Int32
}

// workerSlot is one worker's place in the set. Its fields are written
// under workerSet.mu; retired and retire are also read without it, on the
// worker's way to its next job.
type workerSlot struct {
	id int
	// retire is closed to retire the worker, which also wakes it if it
	// waits for a job; a revived worker gets a new one.
	retire  atomic.Pointer[chan struct{}]
	retired atomic.Bool
	// gone: the worker decided to stop; it can no longer be revived.
	gone bool
}

func newWorkerSlot(id int) *workerSlot {
	s := &workerSlot{id: id}
	s.renew()
	return s
}

// renew gives s an open retire channel. Caller holds workerSet.mu.
func (s *workerSlot) renew() {
	c := make(chan struct{})
	s.retire.Store(&c)
}

// start runs n workers, each calling run until it returns. It runs once;
// the set is then resized with resize. Unlike resize it works on a frozen
// set: a pool shut down before it started still needs workers to drain
// what it accepted.
func (ws *workerSet) start(n int, run func(*workerSlot)) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.started {
		return false
	}
	ws.started = true
	ws.grow(n, run)
	return true
}

// resize starts, revives or retires workers until n are on duty. Before
// start it does nothing (start reads the live count), and once the set is
// frozen neither.
func (ws *workerSet) resize(n int, run func(*workerSlot)) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if !ws.started || ws.frozen {
		return
	}
	ws.grow(n, run)
	for _, s := range ws.slots[min(n, len(ws.slots)):] {
		if s != nil && !s.retired.Load() {
			s.retired.Store(true)
			close(*s.retire.Load())
		}
	}
}

// grow puts workers 1..n on duty. Caller holds mu.
func (ws *workerSet) grow(n int, run func(*workerSlot)) {
	for len(ws.slots) < n {
		ws.slots = append(ws.slots, nil)
	}
	for i, s := range ws.slots[:n] {
		switch {
		case s == nil:
			s = newWorkerSlot(i + 1)
			ws.slots[i] = s
			ws.running.Add(1)
			ws.wg.Go(func() {
				defer ws.stopped(s)
				run(s)
			})
		case s.retired.Load():
			// Still finishing its last job: keep it on.
			s.renew()
			s.retired.Store(false)
		}
	}
}

// onDuty is asked by worker s before it waits for a job: it returns the
// channel that retires s, or false if s is retired, in which case s has
// left the set and must return. A worker on duty goes through without a
// lock (this runs once per job); stopping is decided under the lock, which
// is what makes a revival and a stop exclusive. A worker retired just after
// the check holds the closed channel (or, if revived, a stale one) and
// comes back at once.
func (ws *workerSet) onDuty(s *workerSlot) (<-chan struct{}, bool) {
	if !s.retired.Load() {
		return *s.retire.Load(), true
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if s.retired.Load() {
		ws.leave(s)
		return nil, false
	}
	return *s.retire.Load(), true
}

// stopped runs when a worker's goroutine returns, for whatever reason.
func (ws *workerSet) stopped(s *workerSlot) {
	ws.mu.Lock()
	ws.leave(s)
	ws.mu.Unlock()
	ws.running.Add(-1)
}

// leave frees s's ID. Caller holds mu.
func (ws *workerSet) leave(s *workerSlot) {
	if s.gone {
		return
	}
	s.gone = true
	ws.slots[s.id-1] = nil
	for len(ws.slots) > 0 && ws.slots[len(ws.slots)-1] == nil {
		ws.slots = ws.slots[:len(ws.slots)-1]
	}
}

// freeze fixes the set for the shutdown.
func (ws *workerSet) freeze() {
	ws.mu.Lock()
	ws.frozen = true
	ws.mu.Unlock()
}

// WorkersStats is the workers part of /stats.
type WorkersStats struct {
	// Count is WORKERS: the workers on duty.
	Count int `json:"count"`
	// Retiring counts retired workers still finishing their last job
	// (its work, or handing over its result).
	Retiring int `json:"retiring"`
}

func (ws *workerSet) stats() WorkersStats {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var s WorkersStats
	for _, w := range ws.slots {
		switch {
		case w == nil:
		case w.retired.Load():
			s.Retiring++
		default:
			s.Count++
		}
	}
	return s
}

// resize applies a change of WORKERS or QUEUE_SIZE made by Update.
func (p *Pool) resize(before, after config.Live) {
	if after.QueueSize != before.QueueSize {
		p.queue.setCapacity(after.QueueSize)
	}
	if after.Workers != before.Workers {
		p.queue.setWorkers(after.Workers)
		p.workerSet.resize(after.Workers, p.runWorker)
	}
}

// startWorkers runs the live number of workers; workersDone closes when
// every worker has stopped. The set keeps at least one worker on duty
// until the shutdown freezes it, so the count cannot reach zero early.
func (p *Pool) startWorkers() {
	if p.workerSet.start(p.Workers(), p.runWorker) {
		go func() { p.workerSet.wg.Wait(); close(p.workersDone) }()
	}
}

// runWorker is one worker: it takes jobs until it is retired, the queue is
// closed and empty, or the shutdown deadline passes.
func (p *Pool) runWorker(s *workerSlot) {
	for {
		retire, ok := p.workerSet.onDuty(s)
		if !ok {
			p.log.Debug("worker retired", spans.WorkerID, s.id)
			return
		}
		it, ok := p.queue.popUnless(p.abandon.Done(), retire)
		if !ok {
			if p.abandon.Err() != nil || p.queue.finished() {
				return
			}
			continue // retired, perhaps kept on since: onDuty decides
		}
		p.process(s.id, it)
		p.queue.done(it)
	}
}
