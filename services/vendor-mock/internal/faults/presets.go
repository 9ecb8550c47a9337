package faults

import (
	"fmt"
	"strings"
	"time"
)

// Preset names. Custom labels a configuration that is not exactly a preset.
const (
	Healthy  = "healthy"
	Degraded = "degraded"
	Slow     = "slow"
	Flaky    = "flaky"
	Outage   = "outage"
	Custom   = "custom"
)

// DefaultPreset is where the mock starts and what DELETE goes back to. It
// is the incident's vendor: 20% of calls take 500 ms-2 s.
const DefaultPreset = Degraded

// presetOrder is the order presets are listed in (UI, errors, docs).
var presetOrder = []string{Healthy, Degraded, Slow, Flaky, Outage}

// PresetNames lists the built-in presets, mildest first.
func PresetNames() []string { return append([]string(nil), presetOrder...) }

func ms(n int64) Duration { return Duration(time.Duration(n) * time.Millisecond) }

// presetRule returns a preset's global rule.
func presetRule(name string) (Rule, bool) {
	normal := Range{Min: ms(100), Max: ms(300)}
	r := EmptyRule()
	switch name {
	case Healthy:
		r.Latency = normal
	case Degraded:
		r.Latency = normal
		r.Degraded = DegradedFault{Probability: 0.2, Latency: Range{Min: ms(500), Max: ms(2000)}}
	case Slow:
		r.Latency = Range{Min: ms(2000), Max: ms(2000)}
		r.Jitter = ms(100)
	case Flaky:
		r.Latency = normal
		r.Error = ErrorFault{Probability: 0.3, Status: DefaultErrorStatus}
	case Outage:
		// A caller without a timeout still gets an answer eventually, so an
		// outage stalls the pool for a while instead of for ever.
		r.Hang = HangFault{Probability: 1, Timeout: ms(10_000)}
	default:
		return Rule{}, false
	}
	return r, true
}

// Preset returns the named preset's configuration (no routes).
func Preset(name string) (Config, error) {
	r, ok := presetRule(name)
	if !ok {
		return Config{}, unknownPreset(name)
	}
	return Config{Preset: name, Global: r, Routes: map[string]Rule{}}, nil
}

// Default returns the configuration the mock starts with.
func Default() Config {
	c, _ := Preset(DefaultPreset)
	return c
}

func unknownPreset(name string) error {
	return fmt.Errorf("unknown preset %q (want %s)", name, strings.Join(presetOrder, ", "))
}

// labelFor names the preset whose rule behaves like the global rule, or
// Custom.
func labelFor(global Rule) string {
	g := effective(global)
	for _, name := range presetOrder {
		if r, _ := presetRule(name); effective(r) == g {
			return name
		}
	}
	return Custom
}

// effective drops the settings of faults that never fire, so that two rules
// compare equal when they answer calls alike.
func effective(r Rule) Rule {
	if r.Degraded.Probability == 0 {
		r.Degraded.Latency = Range{}
	}
	if r.Error.Probability == 0 {
		r.Error.Status = 0
	}
	if r.Hang.Probability == 0 {
		r.Hang.Timeout = 0
	}
	if r.Hang.Probability == 1 {
		// Every call hangs: nothing else is ever used.
		r = Rule{Hang: r.Hang}
	}
	return r
}
