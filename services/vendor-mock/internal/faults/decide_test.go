package faults

import (
	"math"
	"testing"
	"time"
)

const draws = 10_000

// within reports whether the observed share of n draws is within 6 standard
// deviations of p: deterministic for a fixed seed, and not a coin toss for
// any other.
func within(t *testing.T, what string, count int, p float64) {
	t.Helper()
	share := float64(count) / draws
	tol := 6 * math.Sqrt(p*(1-p)/draws)
	if math.Abs(share-p) > tol {
		t.Errorf("%s share = %.4f over %d draws, want %.2f ± %.4f", what, share, draws, p, tol)
	}
}

func TestDecideDegradedShare(t *testing.T) {
	rule := Default().Global
	for _, seed := range []uint64{1, 42, 20250101} {
		rng := NewRand(seed)
		degraded := 0
		for range draws {
			d := Decide(rule, rng)
			lat := rule.Latency
			if d.Degraded {
				degraded++
				lat = rule.Degraded.Latency
			}
			if d.Delay < time.Duration(lat.Min) || d.Delay > time.Duration(lat.Max) {
				t.Fatalf("delay %s outside %s-%s (degraded=%v)", d.Delay, lat.Min, lat.Max, d.Degraded)
			}
			if d.Status != 200 || d.Error || d.Hang {
				t.Fatalf("degraded preset injected a failure: %+v", d)
			}
		}
		within(t, "degraded", degraded, rule.Degraded.Probability)
	}
}

func TestDecideErrorAndHangShares(t *testing.T) {
	rule := EmptyRule()
	rule.Error = ErrorFault{Probability: 0.3, Status: 502}
	rule.Hang = HangFault{Probability: 0.1, Timeout: ms(50)}
	rng := NewRand(7)
	errs, hangs := 0, 0
	for range draws {
		d := Decide(rule, rng)
		switch {
		case d.Hang:
			hangs++
			if d.Delay != 50*time.Millisecond || d.Status != 503 || d.Error {
				t.Fatalf("hang decision = %+v, want 503 after 50ms", d)
			}
		case d.Error:
			errs++
			if d.Status != 502 {
				t.Fatalf("error decision = %+v, want status 502", d)
			}
		case d.Status != 200:
			t.Fatalf("no fault but status %d", d.Status)
		}
	}
	within(t, "hang", hangs, 0.1)
	// Errors are drawn only for calls that did not hang.
	if share := float64(errs) / float64(draws-hangs); math.Abs(share-0.3) > 0.03 {
		t.Errorf("error share among non-hung calls = %.4f, want 0.30", share)
	}
}

func TestDecideJitterStaysInBoundsAndNonNegative(t *testing.T) {
	rule := EmptyRule()
	rule.Latency = Range{ms(5), ms(10)}
	rule.Jitter = ms(20)
	rng := NewRand(3)
	var sawZero, sawAbove bool
	for range draws {
		d := Decide(rule, rng)
		if d.Delay < 0 || d.Delay > 30*time.Millisecond {
			t.Fatalf("delay %s outside [0, 30ms]", d.Delay)
		}
		sawZero = sawZero || d.Delay == 0
		sawAbove = sawAbove || d.Delay > 10*time.Millisecond
	}
	if !sawZero || !sawAbove {
		t.Errorf("jitter should both clamp at zero and add delay: zero=%v above=%v", sawZero, sawAbove)
	}
}

func TestDecideCertainties(t *testing.T) {
	rng := NewRand(1)
	outage, _ := Preset(Outage)
	if d := Decide(outage.Global, rng); !d.Hang || d.Delay != 10*time.Second {
		t.Errorf("outage decision = %+v, want a hang answered after 10s", d)
	}
	slow, _ := Preset(Slow)
	if d := Decide(slow.Global, rng); d.Delay < 1900*time.Millisecond || d.Delay > 2100*time.Millisecond {
		t.Errorf("slow decision delay = %s, want about 2s", d.Delay)
	}
	if d := Decide(EmptyRule(), rng); d != (Decision{Status: 200}) {
		t.Errorf("empty rule decision = %+v, want an immediate 200", d)
	}
}

func TestSameSeedSameDecisions(t *testing.T) {
	rule := Default().Global
	a, b := NewDecider(99), NewDecider(99)
	for range 1000 {
		if da, db := a.Decide(rule), b.Decide(rule); da != db {
			t.Fatalf("seeded deciders diverged: %+v vs %+v", da, db)
		}
	}
}
