package sink

import (
	"sync"
	"time"
)

// Record is what the ledger knows about one job ID.
type Record struct {
	// Done is false while the job's result is being handled.
	Done        bool
	CompletedAt time.Time
	OK          bool
}

// Ledger remembers the last capacity job IDs the consumer took, so that a
// result delivered twice (a forwarder retry) is handled once, and so that
// Status can say which jobs completed. Memory is bounded: the oldest IDs are
// forgotten first (a ring in arrival order).
type Ledger struct {
	mu      sync.Mutex
	entries map[string]*entry
	ring    []string // IDs in arrival order; a slot is reused when the ring wraps
	next    int
}

type entry struct {
	Record
	slot int // ring slot that owns this entry; a stale slot does not evict it
}

// NewLedger remembers up to capacity job IDs (at least 1).
func NewLedger(capacity int) *Ledger {
	capacity = max(capacity, 1)
	return &Ledger{entries: make(map[string]*entry, min(capacity, 1024)), ring: make([]string, capacity)}
}

// ClaimOutcome says what Claim found for a job ID.
type ClaimOutcome int

const (
	// Claimed: the ID was new and the caller now holds it; it must call
	// Complete or Forget.
	Claimed ClaimOutcome = iota
	// InProgress: an earlier attempt holds the ID and has not handled it
	// yet. It may still give up (Forget), so the caller must not report the
	// result as delivered: it has to ask for a retry.
	InProgress
	// Handled: the result was handled; the caller has a true duplicate.
	Handled
)

// Claim takes job id for handling if nobody holds it.
func (l *Ledger) Claim(id string) ClaimOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[id]; ok {
		if e.Done {
			return Handled
		}
		return InProgress
	}
	l.insertLocked(id, Record{})
	return Claimed
}

// Forget drops a claim whose result was not handled (the caller gave up
// while waiting), so that a retry is handled. Completed IDs stay.
func (l *Ledger) Forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[id]; ok && !e.Done {
		delete(l.entries, id)
	}
}

// Complete records that id's result was handled at t.
func (l *Ledger) Complete(id string, t time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := Record{Done: true, CompletedAt: t, OK: ok}
	if e, found := l.entries[id]; found {
		e.Record = r
		return
	}
	// Evicted while being handled (a tiny capacity under load): remember it again.
	l.insertLocked(id, r)
}

func (l *Ledger) insertLocked(id string, r Record) {
	slot := l.next
	if old := l.ring[slot]; old != "" {
		if e, ok := l.entries[old]; ok && e.slot == slot {
			delete(l.entries, old)
		}
	}
	l.ring[slot] = id
	l.entries[id] = &entry{Record: r, slot: slot}
	l.next = (slot + 1) % len(l.ring)
}

// Lookup returns what is known about id.
func (l *Ledger) Lookup(id string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[id]
	if !ok {
		return Record{}, false
	}
	return e.Record, true
}

// Len is the number of IDs remembered.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
