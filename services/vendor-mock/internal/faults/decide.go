package faults

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Decision is what one call gets. Faults are decided per request, not per
// connection (as Toxiproxy does), so one keep-alive connection from a
// worker sees the same mix of slow, failed and hung calls as many would.
type Decision struct {
	// Delay is how long to wait before answering. With Hang set and Delay
	// zero, the wait lasts until the caller gives up.
	Delay time.Duration
	// Degraded: the degraded latency replaced the base latency.
	Degraded bool
	// Error: the error fault fired, Status is its status.
	Error bool
	// Hang: the call hangs; if Delay > 0 it then answers Status (503).
	Hang bool
	// Status is the HTTP status to answer after the wait.
	Status int
}

// Decide draws one call's fate from rule with rng. Hang wins over
// everything else; otherwise the latency (base or degraded, plus jitter) is
// waited and then an error status may be answered, as a struggling vendor
// is often slow and wrong at once.
func Decide(rule Rule, rng *rand.Rand) Decision {
	if hit(rng, rule.Hang.Probability) {
		return Decision{Hang: true, Delay: time.Duration(rule.Hang.Timeout), Status: DefaultErrorStatus}
	}
	d := Decision{Status: 200}
	latency := rule.Latency
	if hit(rng, rule.Degraded.Probability) {
		d.Degraded = true
		latency = rule.Degraded.Latency
	}
	d.Delay = uniform(rng, time.Duration(latency.Min), time.Duration(latency.Max))
	if j := time.Duration(rule.Jitter); j > 0 {
		d.Delay = max(0, d.Delay+uniform(rng, -j, j))
	}
	if hit(rng, rule.Error.Probability) {
		d.Error = true
		d.Status = rule.Error.Status
	}
	return d
}

// hit is true with probability p. A zero probability draws nothing, so
// turning a fault off does not shift the sequence of the others.
func hit(rng *rand.Rand, p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	return rng.Float64() < p
}

// uniform draws from [lo, hi]; validated rules keep hi-lo within int64.
func uniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// Decider makes decisions for concurrent requests from one seeded source.
type Decider struct {
	seed uint64
	mu   sync.Mutex
	rng  *rand.Rand
}

// NewDecider seeds the source; seed 0 picks a random seed.
func NewDecider(seed uint64) *Decider {
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &Decider{seed: seed, rng: NewRand(seed)}
}

// Seed is the seed in use, so a run with a random seed can be repeated.
func (d *Decider) Seed() uint64 { return d.seed }

// NewRand returns the source a Decider uses for seed, for tests that call
// Decide directly.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Decide draws one call's fate. Safe for concurrent use; the lock is held
// for a handful of draws only.
func (d *Decider) Decide(rule Rule) Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Decide(rule, d.rng)
}
