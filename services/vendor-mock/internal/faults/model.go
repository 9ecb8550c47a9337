// Package faults holds the vendor mock's fault model: rules, presets, the
// strict JSON decoder and validator for the admin API, and the per-request
// decision. Everything here is pure and, given a seed, deterministic; the
// server owns time, state and I/O.
package faults

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// Config is the whole fault configuration.
type Config struct {
	// Preset names the built-in preset whose rule the global rule equals, or
	// Custom. It is derived from the rules, never taken on trust, so the
	// fault.preset tag on a span always tells the truth.
	Preset string `json:"preset"`
	// Global applies to every path no route matches.
	Global Rule `json:"global"`
	// Routes override Global for paths starting with the key; the longest
	// matching prefix wins. Never nil.
	Routes map[string]Rule `json:"routes"`
}

// Rule says how one call is answered. Durations travel in JSON as strings
// like "250ms" or "2s".
type Rule struct {
	// Latency is the base wait before answering, drawn uniformly per call.
	Latency Range `json:"latency"`
	// Jitter is added to the wait, uniformly in [-Jitter, +Jitter]; the wait
	// never goes below zero.
	Jitter Duration `json:"jitter"`
	// Degraded, when it fires, replaces the base latency.
	Degraded DegradedFault `json:"degraded"`
	// Error answers with an error status after the wait.
	Error ErrorFault `json:"error"`
	// Hang makes the call wait for the caller to give up.
	Hang HangFault `json:"hang"`
}

// Range is a closed interval of durations.
type Range struct {
	Min Duration `json:"min"`
	Max Duration `json:"max"`
}

// DegradedFault is the slow mode of a vendor that is having a bad day.
type DegradedFault struct {
	Probability float64 `json:"probability"`
	Latency     Range   `json:"latency"`
}

// ErrorFault answers Status instead of 200.
type ErrorFault struct {
	Probability float64 `json:"probability"`
	Status      int     `json:"status"`
}

// HangFault holds the call open. With Timeout zero it waits until the caller
// gives up; otherwise it answers 503 after Timeout.
type HangFault struct {
	Probability float64  `json:"probability"`
	Timeout     Duration `json:"timeout"`
}

// Duration is a time.Duration written in JSON as a string ("250ms").
type Duration time.Duration

// MarshalText writes the duration the way time.Duration prints it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "250ms", "1.5s" or "0", so Go clients can decode
// the admin API's answers into a Config. The admin API itself decodes with
// Decode and Merge, which also name the field in errors.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (want e.g. \"250ms\")", b)
	}
	*d = Duration(v)
	return nil
}

// String prints the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// GlobalRule is the name fault.rule carries when no route matched.
const GlobalRule = "global"

// RuleFor returns the rule for a request path and its name: the longest
// route prefix that matches, or GlobalRule.
func (c Config) RuleFor(path string) (Rule, string) {
	best, name := c.Global, GlobalRule
	for prefix, r := range c.Routes {
		if strings.HasPrefix(path, prefix) && (name == GlobalRule || len(prefix) > len(name)) {
			best, name = r, prefix
		}
	}
	return best, name
}

// Clone returns a copy that shares nothing mutable with c.
func (c Config) Clone() Config {
	c.Routes = maps.Clone(c.Routes)
	if c.Routes == nil {
		c.Routes = map[string]Rule{}
	}
	return c
}

// EmptyRule answers at once and injects nothing. It is where a PUT body's
// absent fields come from. The error status is preset so that a body that
// only sets an error probability gets the usual 503.
func EmptyRule() Rule {
	return Rule{Error: ErrorFault{Status: DefaultErrorStatus}}
}

// DefaultErrorStatus is what injected errors and timed-out hangs answer.
const DefaultErrorStatus = 503

// String summarises a rule on one line, for logs.
func (r Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "latency=%s-%s jitter=±%s", r.Latency.Min, r.Latency.Max, r.Jitter)
	if r.Degraded.Probability > 0 {
		fmt.Fprintf(&b, " degraded=%g@%s-%s", r.Degraded.Probability, r.Degraded.Latency.Min, r.Degraded.Latency.Max)
	}
	if r.Error.Probability > 0 {
		fmt.Fprintf(&b, " error=%g@%d", r.Error.Probability, r.Error.Status)
	}
	if r.Hang.Probability > 0 {
		timeout := "caller"
		if r.Hang.Timeout > 0 {
			timeout = r.Hang.Timeout.String()
		}
		fmt.Fprintf(&b, " hang=%g@%s", r.Hang.Probability, timeout)
	}
	return b.String()
}
