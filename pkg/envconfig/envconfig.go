// Package envconfig reads typed settings from environment variables,
// collecting every error so a bad configuration is reported in one go, and
// recording every variable it was asked for so documentation and deployment
// files can be checked against the code.
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reader reads settings from a lookup function (os.LookupEnv by default).
type Reader struct {
	lookup func(string) (string, bool)
	names  []string
	errs   []error
}

// New reads from lookup; nil means os.LookupEnv.
func New(lookup func(string) (string, bool)) *Reader {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Reader{lookup: lookup}
}

// FromMap reads from a fixed map (tests, and listing variable names).
func FromMap(m map[string]string) *Reader {
	return New(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

// Err returns every error met so far, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Names returns the variables read so far, sorted.
func (r *Reader) Names() []string {
	n := slices.Clone(r.names)
	slices.Sort(n)
	return slices.Compact(n)
}

func (r *Reader) get(name string) (string, bool) {
	r.names = append(r.names, name)
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *Reader) fail(name, value, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, value, want))
}

// String returns the variable or def.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// Int returns the variable parsed as an integer in [lo, hi], or def.
func (r *Reader) Int(name string, def, lo, hi int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("want an integer from %d to %d", lo, hi))
		return def
	}
	return n
}

// Float returns the variable parsed as a number in [lo, hi], or def.
func (r *Reader) Float(name string, def, lo, hi float64) float64 {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		r.fail(name, v, fmt.Sprintf("want a number from %g to %g", lo, hi))
		return def
	}
	return f
}

// Duration returns the variable parsed with time.ParseDuration ("0" is
// allowed) within [lo, hi], or def.
func (r *Reader) Duration(name string, def, lo, hi time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail(name, v, fmt.Sprintf("want a duration from %s to %s, like 250ms", lo, hi))
		return def
	}
	return d
}

// Bool returns the variable as a boolean (true/false/1/0/on/off), or def.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "on", "yes":
		return true
	case "0", "false", "off", "no":
		return false
	}
	r.fail(name, v, "want true or false")
	return def
}

// Enum returns the variable if it is one of allowed (case-insensitive, the
// allowed spelling is returned), or def.
func (r *Reader) Enum(name, def string, allowed ...string) string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return a
		}
	}
	r.fail(name, v, "want one of "+strings.Join(allowed, ", "))
	return def
}

// Range is a closed interval of durations.
type Range struct {
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// String formats the range the way ParseRange reads it.
func (g Range) String() string {
	if g.Min == g.Max {
		return g.Min.String()
	}
	return g.Min.String() + "-" + g.Max.String()
}

// ParseRange reads "10ms-50ms", or "20ms" for a fixed value.
func ParseRange(s string) (Range, error) {
	lo, hi, found := strings.Cut(s, "-")
	a, err := ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return Range{}, err
	}
	b := a
	if found {
		if b, err = ParseDuration(strings.TrimSpace(hi)); err != nil {
			return Range{}, err
		}
	}
	if a < 0 || b < a {
		return Range{}, fmt.Errorf("range %q: want 0 <= min <= max", s)
	}
	return Range{Min: a, Max: b}, nil
}

// DurationRange returns the variable parsed by ParseRange, or def.
func (r *Reader) DurationRange(name string, def Range) Range {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	g, err := ParseRange(v)
	if err != nil || g.Max > time.Hour {
		r.fail(name, v, "want a duration range like 10ms-50ms (min <= max, at most 1h)")
		return def
	}
	return g
}

// ParseDuration is time.ParseDuration that also accepts a bare "0".
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}
