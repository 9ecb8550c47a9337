package faults

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
)

// Limits that keep a configuration sane and its memory bounded.
const (
	MaxDuration     = time.Hour
	MaxRoutes       = 100
	MaxPrefixLength = 256
)

// Validate checks every field and reports each problem with the field's
// path, e.g. "global.degraded.probability: 1.5 is outside [0,1]".
func (c Config) Validate() error {
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if want := labelFor(c.Global); c.Preset != want {
		add(errorf("preset", "%q does not describe the global rule (it is %q)", c.Preset, want))
	}
	add(validateRule("global", c.Global))
	if len(c.Routes) > MaxRoutes {
		add(errorf("routes", "%d rules, at most %d", len(c.Routes), MaxRoutes))
	}
	for _, prefix := range slices.Sorted(maps.Keys(c.Routes)) {
		path := routePath(prefix)
		switch {
		case !strings.HasPrefix(prefix, "/"):
			add(errorf(path, `a route prefix must start with "/"`))
		case len(prefix) > MaxPrefixLength:
			add(errorf(path, "prefix longer than %d bytes", MaxPrefixLength))
		}
		add(validateRule(path, c.Routes[prefix]))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

func validateRule(path string, r Rule) error {
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	add(validateRange(path+".latency", r.Latency))
	add(validateDuration(path+".jitter", r.Jitter))
	add(validateProbability(path+".degraded.probability", r.Degraded.Probability))
	add(validateRange(path+".degraded.latency", r.Degraded.Latency))
	add(validateProbability(path+".error.probability", r.Error.Probability))
	if s := r.Error.Status; s < 400 || s > 599 {
		add(errorf(path+".error.status", "%d is not an error status (want 400-599)", s))
	}
	add(validateProbability(path+".hang.probability", r.Hang.Probability))
	add(validateDuration(path+".hang.timeout", r.Hang.Timeout))
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

func validateRange(path string, g Range) error {
	if err := validateDuration(path+".min", g.Min); err != nil {
		return err
	}
	if err := validateDuration(path+".max", g.Max); err != nil {
		return err
	}
	if g.Min > g.Max {
		return errorf(path, "min %s is greater than max %s", g.Min, g.Max)
	}
	return nil
}

func validateDuration(path string, d Duration) error {
	switch {
	case d < 0:
		return errorf(path, "%s is negative", d)
	case time.Duration(d) > MaxDuration:
		return errorf(path, "%s is longer than the %s limit", d, MaxDuration)
	}
	return nil
}

func validateProbability(path string, p float64) error {
	if !(p >= 0 && p <= 1) { // also catches NaN
		return errorf(path, "%g is outside [0,1]", p)
	}
	return nil
}
