package scenario

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// Mix weighs the job types of steady load, by wire name ("cache-read").
// Types left out weigh nothing.
type Mix map[string]float64

// DefaultMix is mostly fast jobs with a fifth of vendor calls.
const DefaultMix = "cache-read=60,database=20,vendor-api=20"

// ParseMix reads "cache-read=60,database=20,vendor-api=20". It is strict:
// every part is type=weight, each type known and named once, weights
// non-negative numbers with a positive sum.
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
			return nil, fmt.Errorf("%s=%q: weight is not a number", name, value)
		}
		m[name] = w
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Validate checks the types and weights.
func (m Mix) Validate() error {
	sum := 0.0
	for name, w := range m {
		if _, err := jobs.ParseType(name); err != nil || name != strings.ToLower(name) {
			return fmt.Errorf("unknown job type %q (want %s, %s or %s)", name, jobs.CacheRead, jobs.Database, jobs.VendorAPI)
		}
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("%s: weight %v, want a number >= 0", name, w)
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
