package tracker

import (
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// counters are the tracker's tallies; guarded by Tracker.mu.
type counters struct {
	attempts, resubmissions, alreadyHeld, unavailable uint64
	requeued, refusedAgain                            uint64
	confirmed, confirmedFailed                        uint64
	shed, invalid, lost, abandoned, refusedFull       uint64
	pollsFailed                                       uint64
	byType                                            map[string]*typeCounts
}

// typeCounts count jobs (not attempts) of one type.
type typeCounts struct{ accepted, shed, failed uint64 }

// of returns the counts of a job type.
func (c *counters) of(typ string) *typeCounts {
	n := c.byType[typ]
	if n == nil {
		n = &typeCounts{}
		c.byType[typ] = n
	}
	return n
}

func (c *counters) init() {
	c.byType = map[string]*typeCounts{}
	for _, t := range jobs.Types {
		c.byType[jobs.TypeName(t)] = &typeCounts{}
	}
}

// Stats say how delivery from the producer went: the "delivery" part of
// the producer's /stats. Every count is of jobs, except attempts,
// resubmissions, already_held, requeued, unavailable, resubmissions_refused
// and status_polls_failed.
type Stats struct {
	// Outstanding jobs wait for the consumer's confirmation, at most
	// MaxOutstanding; RefusedFull counts jobs not submitted because that
	// many were waiting.
	Outstanding    int    `json:"outstanding"`
	MaxOutstanding int    `json:"max_outstanding"`
	RefusedFull    uint64 `json:"refused_full"`
	RetryAfter     string `json:"retry_after"`
	MaxAttempts    int    `json:"max_attempts"`

	// Attempts counts Submit calls; Resubmissions those after a job's
	// first. Of those, AlreadyHeld were answered already_held (the pool
	// still had the job: a check, nothing queued), Requeued were accepted
	// (the pool queued the job again: it had lost it in a crash or
	// restart, or had not answered before) and ResubmissionsRefused met a
	// full queue (RESOURCE_EXHAUSTED) although the pool had accepted the
	// job before: owed delivery, they are retried soon, not shed.
	// Unavailable counts the Submits the pool did not answer (down,
	// restarting, timed out), retried soon.
	Attempts             uint64 `json:"attempts"`
	Resubmissions        uint64 `json:"resubmissions"`
	AlreadyHeld          uint64 `json:"already_held"`
	Requeued             uint64 `json:"requeued"`
	ResubmissionsRefused uint64 `json:"resubmissions_refused"`
	Unavailable          uint64 `json:"unavailable"`

	// Confirmed: jobs the consumer handled (each once, whatever its
	// attempts); ConfirmedFailed: of those, jobs whose work failed.
	Confirmed       uint64 `json:"confirmed"`
	ConfirmedFailed uint64 `json:"confirmed_failed"`
	// Shed: refused by a full queue (RESOURCE_EXHAUSTED) before the pool
	// ever accepted them; not retried.
	Shed uint64 `json:"shed"`
	// Invalid: refused as invalid (INVALID_ARGUMENT), not retried.
	Invalid uint64 `json:"invalid"`
	// Lost: not confirmed after the last attempt.
	Lost uint64 `json:"lost"`
	// Abandoned: not confirmed when the producer stopped.
	Abandoned uint64 `json:"abandoned"`

	// StatusPollsFailed counts rounds in which the consumer did not answer.
	StatusPollsFailed uint64 `json:"status_polls_failed"`
}

// TypeStats are per job type: jobs the pool accepted (at some attempt),
// shed, and failed (lost or invalid).
type TypeStats struct {
	Accepted, Shed, Failed map[string]uint64
}

// Stats returns the tallies so far.
func (t *Tracker) Stats() (Stats, TypeStats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &t.counts
	ts := TypeStats{Accepted: map[string]uint64{}, Shed: map[string]uint64{}, Failed: map[string]uint64{}}
	for typ, n := range c.byType {
		ts.Accepted[typ], ts.Shed[typ], ts.Failed[typ] = n.accepted, n.shed, n.failed
	}
	return Stats{
		Outstanding: len(t.jobs), MaxOutstanding: t.maxOut, RefusedFull: c.refusedFull,
		RetryAfter: t.retryAfter.String(), MaxAttempts: t.maxAtt,
		Attempts: c.attempts, Resubmissions: c.resubmissions, AlreadyHeld: c.alreadyHeld, Unavailable: c.unavailable,
		Requeued: c.requeued, ResubmissionsRefused: c.refusedAgain,
		Confirmed: c.confirmed, ConfirmedFailed: c.confirmedFailed,
		Shed: c.shed, Invalid: c.invalid, Lost: c.lost, Abandoned: c.abandoned,
		StatusPollsFailed: c.pollsFailed,
	}, ts
}
