package scenario

import (
	"sync"
	"sync/atomic"

	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
)

type burstOutcome int

const (
	burstCompleted burstOutcome = iota
	burstTimedOut
	burstIncomplete
)

// counters are the runner's tallies behind /stats; the tracker keeps the
// jobs'.
type counters struct {
	mu     sync.Mutex
	bursts BurstCounts
	last   *BurstReport

	// backlogSkipped counts steady jobs not sent because the cap of
	// submissions in flight (Options.MaxInFlight) were all waiting on the
	// pool (each is traced: Runner.skipped); paceSkipped those the pacer
	// dropped after falling behind (never generated, not traced).
	backlogSkipped atomic.Uint64
	paceSkipped    atomic.Uint64
}

// BurstCounts tally checkout bursts.
type BurstCounts struct {
	Run        uint64 `json:"run"`
	Running    uint64 `json:"running"`
	Completed  uint64 `json:"completed"`
	TimedOut   uint64 `json:"timed_out"`
	Incomplete uint64 `json:"incomplete"`
}

func (c *counters) burstStarted() {
	c.mu.Lock()
	c.bursts.Run++
	c.bursts.Running++
	c.mu.Unlock()
}

// burstEnded keeps its own copy of rep: /stats reads it while the caller
// goes on using rep.
func (c *counters) burstEnded(rep BurstReport, o burstOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bursts.Running--
	switch o {
	case burstCompleted:
		c.bursts.Completed++
	case burstTimedOut:
		c.bursts.TimedOut++
	default:
		c.bursts.Incomplete++
	}
	c.last = &rep
}

// Stats is the runner's part of /stats.
type Stats struct {
	// Submitted counts, per job type, jobs the worker pool accepted (at
	// some attempt: each job once). Rejected counts jobs shed because its
	// queue was full (RESOURCE_EXHAUSTED, not retried); Failed jobs given
	// up: lost after the last attempt, or refused as invalid.
	Submitted map[string]uint64 `json:"submitted"`
	Rejected  map[string]uint64 `json:"rejected"`
	Failed    map[string]uint64 `json:"failed"`
	// Delivery is at-least-once delivery at work: re-submissions,
	// confirmations, losses.
	Delivery  tracker.Stats `json:"delivery"`
	Bursts    BurstCounts   `json:"bursts"`
	LastBurst *BurstReport  `json:"last_burst"`
	Steady    SteadyStats   `json:"steady"`
}

// SteadyStats say how steady load kept up.
type SteadyStats struct {
	Generated       uint64 `json:"generated"`
	InFlight        int    `json:"in_flight"`
	SkippedBacklog  uint64 `json:"skipped_backlog"`
	SkippedBehind   uint64 `json:"skipped_behind"`
	MaxInFlightJobs int    `json:"max_in_flight"`
}

// Stats returns the tallies so far.
func (r *Runner) Stats() Stats {
	delivery, byType := r.jobs.Stats()
	c := &r.counts
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Submitted: byType.Accepted,
		Rejected:  byType.Shed,
		Failed:    byType.Failed,
		Delivery:  delivery,
		Bursts:    c.bursts,
		LastBurst: c.last,
		Steady: SteadyStats{
			Generated:       r.steadySeq.Load(),
			InFlight:        len(r.inFlight),
			SkippedBacklog:  c.backlogSkipped.Load(),
			SkippedBehind:   c.paceSkipped.Load(),
			MaxInFlightJobs: cap(r.inFlight),
		},
	}
}
