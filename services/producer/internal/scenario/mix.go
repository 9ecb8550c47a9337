package scenario

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// Mix weighs the job types of steady load, by wire name ("cache-read").
// Types left out weigh nothing.
type Mix map[string]float64

// DefaultMix is mostly fast jobs with a fifth of vendor calls.
const DefaultMix = "cache-read=60,database=20,vendor-api=20"

// MaxWeight bounds one weight. Weights are relative, so a million to one
// is as lopsided as a mix needs to be, and the sum of a few capped weights
// stays finite (uncapped, 1e308+1e308 is +Inf and the draw breaks).
const MaxWeight = 1e6

// ParseMix reads "cache-read=60,database=20,vendor-api=20". It is strict:
// every part is type=weight, each type known and named once, weights
// numbers from 0 to MaxWeight with a positive sum.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want type=weight", part)
		}
		name = strings.TrimSpace(name)
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("%s named twice", name)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: want a weight from 0 to %g", name, value, float64(MaxWeight))
		}
		m[name] = w
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// TypeError is a mix entry that is wrong: an unknown type or a bad weight.
// Its message starts with the type, so callers can name the field
// ("mix.cache-read").
type TypeError struct {
	Type   string
	Reason string
}

func (e *TypeError) Error() string { return e.Type + ": " + e.Reason }

// Validate checks the types and weights, in a fixed order so that the same
// mix always gets the same error.
func (m Mix) Validate() error {
	sum := 0.0
	for _, name := range slices.Sorted(maps.Keys(m)) {
		w := m[name]
		if _, err := jobs.ParseType(name); err != nil || name != strings.ToLower(name) {
			return &TypeError{Type: name, Reason: fmt.Sprintf("unknown job type (want %s, %s or %s)", jobs.CacheRead, jobs.Database, jobs.VendorAPI)}
		}
		// Written so that NaN fails too.
		if !(w >= 0 && w <= MaxWeight) {
			return &TypeError{Type: name, Reason: fmt.Sprintf("weight %v, want a number from 0 to %g", w, float64(MaxWeight))}
		}
		sum += w
	}
	if sum <= 0 {
		return errors.New("the weights must add up to more than 0")
	}
	return nil
}

// String formats the mix the way ParseMix reads it, in a fixed type order.
func (m Mix) String() string {
	var parts []string
	for _, name := range []string{jobs.CacheRead, jobs.Database, jobs.VendorAPI} {
		if w, ok := m[name]; ok {
			parts = append(parts, name+"="+strconv.FormatFloat(w, 'g', -1, 64))
		}
	}
	return strings.Join(parts, ",")
}
