package pool

import (
	"errors"
	"sync"
)

// ErrAlreadyHeld answers a Submit for a job ID the pool holds already:
// queued, being worked on, its result in the results channel or being
// delivered. Nothing is queued. The producer re-submits a job it has not
// seen confirmed; when the pool still has it, running it again would only
// be duplicate work.
var ErrAlreadyHeld = errors.New("worker pool already holds this job; nothing queued")

// heldJobs are the job IDs the pool holds, from the moment a Submit for
// one arrives until its result is acknowledged by the consumer or given
// up. Its size is bounded by what the pool can hold at once: the queue,
// the workers, the results channel and its overflow, the forwarders, and
// the Submits waiting for room.
type heldJobs struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// add claims id; false when the pool holds it already.
func (h *heldJobs) add(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[string]struct{}{}
	}
	if _, ok := h.ids[id]; ok {
		return false
	}
	h.ids[id] = struct{}{}
	return true
}

// remove lets id go: the pool no longer holds the job.
func (h *heldJobs) remove(id string) {
	h.mu.Lock()
	delete(h.ids, id)
	h.mu.Unlock()
}

// len is the number of jobs held.
func (h *heldJobs) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}
