package sink

import (
	"context"
	"slices"
	"sync"
)

// MaxAheadIDs bounds the job IDs an Ahead names, so a span attribute stays
// small however long the line is.
const MaxAheadIDs = 10

// Ahead says what a result found in front of it when it arrived: the results
// being handled and those already waiting.
type Ahead struct {
	Count int
	IDs   []string // the first MaxAheadIDs of them, those being handled first
}

// Slots lets at most limit holders in at a time and makes the others wait
// in arrival order (a fair, resizable semaphore). The limit can change while
// results are held: holders keep their slot, and waiters are admitted as
// soon as there is room under the new limit, so no result is lost or
// counted twice.
type Slots struct {
	mu      sync.Mutex
	limit   int
	holders []*ticket
	waiters []*ticket
}

type ticket struct {
	id      string
	ready   chan struct{} // closed when a waiter is granted its slot
	granted bool
}

// NewSlots returns slots for limit holders (at least 1).
func NewSlots(limit int) *Slots {
	return &Slots{limit: max(limit, 1)}
}

// Acquire waits for a slot for job id, in arrival order, until ctx ends. It
// returns the function that gives the slot back (safe to call more than
// once) and what was ahead on arrival. When ctx ends first, no slot is held.
func (s *Slots) Acquire(ctx context.Context, id string) (release func(), ahead Ahead, err error) {
	t := &ticket{id: id}
	s.mu.Lock()
	ahead = s.aheadLocked()
	if len(s.waiters) == 0 && len(s.holders) < s.limit {
		t.granted = true
		s.holders = append(s.holders, t)
		s.mu.Unlock()
		return s.releaser(t), ahead, nil
	}
	t.ready = make(chan struct{})
	s.waiters = append(s.waiters, t)
	s.mu.Unlock()

	select {
	case <-t.ready:
		return s.releaser(t), ahead, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if t.granted {
		// Granted just as ctx ended: hand the slot on rather than leak it.
		s.mu.Unlock()
		s.release(t)
		return nil, ahead, ctx.Err()
	}
	s.waiters = slices.DeleteFunc(s.waiters, func(w *ticket) bool { return w == t })
	s.mu.Unlock()
	return nil, ahead, ctx.Err()
}

func (s *Slots) releaser(t *ticket) func() {
	var once sync.Once
	return func() { once.Do(func() { s.release(t) }) }
}

func (s *Slots) release(t *ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holders = slices.DeleteFunc(s.holders, func(h *ticket) bool { return h == t })
	s.grantLocked()
}

func (s *Slots) grantLocked() {
	for len(s.waiters) > 0 && len(s.holders) < s.limit {
		w := s.waiters[0]
		s.waiters[0] = nil
		s.waiters = s.waiters[1:]
		w.granted = true
		s.holders = append(s.holders, w)
		close(w.ready)
	}
}

func (s *Slots) aheadLocked() Ahead {
	a := Ahead{Count: len(s.holders) + len(s.waiters)}
	for _, list := range [][]*ticket{s.holders, s.waiters} {
		for _, t := range list {
			if len(a.IDs) == MaxAheadIDs {
				return a
			}
			a.IDs = append(a.IDs, t.id)
		}
	}
	return a
}

// SetLimit changes how many results may be held at once (at least 1).
// Lowering it lets current holders finish; raising it admits waiters now.
func (s *Slots) SetLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = max(n, 1)
	s.grantLocked()
}

// Usage reports the slots held and the results waiting for one.
func (s *Slots) Usage() (held, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.holders), len(s.waiters)
}
