package scenario

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

type burstOutcome int

const (
	burstCompleted burstOutcome = iota
	burstTimedOut
	burstIncomplete
)

// counters are the runner's tallies behind /stats.
type counters struct {
	mu        sync.Mutex
	submitted map[string]uint64
	rejected  map[string]uint64 // pool busy: RESOURCE_EXHAUSTED (queue full) or DEADLINE_EXCEEDED
	failed    map[string]uint64 // any other error: pool down (UNAVAILABLE), invalid job
	bursts    BurstCounts
	last      *BurstReport

	// backlogSkipped counts steady jobs not sent because maxInFlight
	// submissions were already waiting on the pool; paceSkipped those the
	// pacer dropped after falling behind.
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

func (c *counters) init() {
	c.submitted, c.rejected, c.failed = map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	for _, t := range jobs.Types {
		n := jobs.TypeName(t)
		c.submitted[n], c.rejected[n], c.failed[n] = 0, 0, 0
	}
}

func (c *counters) add(m *map[string]uint64, typ string) {
	c.mu.Lock()
	(*m)[typ]++
	c.mu.Unlock()
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
	Submitted map[string]uint64 `json:"submitted"`
	Rejected  map[string]uint64 `json:"rejected"`
	Failed    map[string]uint64 `json:"failed"`
	Bursts    BurstCounts       `json:"bursts"`
	LastBurst *BurstReport      `json:"last_burst"`
	Steady    SteadyStats       `json:"steady"`
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
	c := &r.counts
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Submitted: maps.Clone(c.submitted),
		Rejected:  maps.Clone(c.rejected),
		Failed:    maps.Clone(c.failed),
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
