package scenario

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Scenario names.
const (
	NameCheckout = "checkout"
	NameSteady   = "steady"
	NameIdle     = "idle"
)

// Names lists the scenarios.
var Names = []string{NameCheckout, NameSteady, NameIdle}

// Limits shared by the environment and /admin/load.
const (
	MaxRate            = 5000
	MaxCheckoutEvery   = 24 * time.Hour
	MinCheckoutTimeout = 100 * time.Millisecond
	MaxCheckoutTimeout = 10 * time.Minute
	MaxSteadyDuration  = 30 * 24 * time.Hour
)

// Load is what the producer generates; /admin/load changes it at run time.
type Load struct {
	Scenario        string
	Rate            float64 // steady: jobs per second
	Mix             Mix     // steady: job type weights
	CheckoutEvery   time.Duration
	CheckoutTimeout time.Duration
	SteadyDuration  time.Duration // 0 = until stopped
}

// Validate names the first bad field, by its /admin/load JSON name.
func (l Load) Validate() error {
	switch {
	case l.Scenario != NameCheckout && l.Scenario != NameSteady && l.Scenario != NameIdle:
		return fmt.Errorf("scenario %q: want checkout, steady or idle", l.Scenario)
	case !(l.Rate >= 0 && l.Rate <= MaxRate):
		return fmt.Errorf("rate %v: want jobs per second from 0 to %d", l.Rate, MaxRate)
	case l.CheckoutEvery < 0 || l.CheckoutEvery > MaxCheckoutEvery:
		return fmt.Errorf("checkout_every %s: want 0 (once) to %s", l.CheckoutEvery, MaxCheckoutEvery)
	case l.CheckoutTimeout < MinCheckoutTimeout || l.CheckoutTimeout > MaxCheckoutTimeout:
		return fmt.Errorf("checkout_timeout %s: want %s to %s", l.CheckoutTimeout, MinCheckoutTimeout, MaxCheckoutTimeout)
	case l.SteadyDuration < 0 || l.SteadyDuration > MaxSteadyDuration:
		return fmt.Errorf("steady_duration %s: want 0 (until stopped) to %s", l.SteadyDuration, MaxSteadyDuration)
	}
	if err := l.Mix.Validate(); err != nil {
		if _, ok := errors.AsType[*TypeError](err); ok {
			return fmt.Errorf("mix.%w", err) // mix.cache-read: …
		}
		return fmt.Errorf("mix: %w", err)
	}
	return nil
}

// Control holds the current Load and tells the generator when it changes.
type Control struct {
	mu      sync.Mutex
	load    Load
	changed chan struct{} // closed (and replaced) on every change
}

// NewControl starts with l (which must be valid).
func NewControl(l Load) *Control {
	return &Control{load: clone(l), changed: make(chan struct{})}
}

// Get returns the current load and a channel closed at the next change.
func (c *Control) Get() (Load, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clone(c.load), c.changed
}

// Update applies change to a copy of the load and keeps it only if it is
// valid, so a bad request changes nothing.
func (c *Control) Update(change func(*Load) error) (Load, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := clone(c.load)
	if err := change(&next); err != nil {
		return clone(c.load), err
	}
	if err := next.Validate(); err != nil {
		return clone(c.load), err
	}
	c.load = next
	close(c.changed)
	c.changed = make(chan struct{})
	return clone(next), nil
}

func clone(l Load) Load {
	l.Mix = maps.Clone(l.Mix)
	return l
}
