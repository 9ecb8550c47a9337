// Package plan reads an experiment plan: a YAML file of rows, each a
// configuration of the system (a profile of settings by the README's
// names), a workload, and how long to warm up and measure. Reading is
// strict: an unknown field, an unknown setting, a value the service would
// refuse, a bad duration, an empty plan, two rows of the same name or a
// reference to a row that does not come earlier are errors that name the
// row and the field, and all of them are reported at once.
package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

// Defaults of a plan that does not say.
const (
	DefaultWarmup   = 3 * time.Second
	DefaultDuration = 8 * time.Second
)

// Bounds. A measurement under a second has too few jobs to mean anything;
// the upper bounds catch a unit typo (8h for 8s) before it costs a day.
const (
	MinDuration = time.Second
	MaxDuration = time.Hour
	MaxWarmup   = 10 * time.Minute
	MaxRows     = 100
	MaxNameLen  = 40
	// The producer's limits (services/producer/internal/scenario).
	MaxRate            = 5000
	MinCheckoutTimeout = 100 * time.Millisecond
	MaxCheckoutTimeout = 10 * time.Minute
	MinCheckoutEvery   = 100 * time.Millisecond
	MaxCheckoutEvery   = 24 * time.Hour
	MaxWeight          = 1e6
	DefaultCheckoutTO  = 10 * time.Second
)

// Job types of a mix, as the producer names them.
var JobTypes = []string{"cache-read", "database", "vendor-api"}

// DefaultMix is the producer's STEADY_MIX default.
func DefaultMix() map[string]float64 {
	return map[string]float64{"cache-read": 60, "database": 20, "vendor-api": 20}
}

// Plan is a parsed, valid plan.
type Plan struct {
	// Name is the plan's name, or its file's base name.
	Name        string
	Description string
	// File is where it was read from ("" for a string).
	File string
	Rows []Row
}

// Row is one configuration to measure.
type Row struct {
	Name        string
	Description string
	// Line is the row's line in the file, for messages.
	Line int
	// Profile is the plan's profile followed by the row's own settings.
	Profile []settings.Setting
	// RecommendedBy names an earlier row whose analysis's recommended fix
	// this row applies on top of that row's profile; "" for none.
	RecommendedBy string
	Workload      Workload
	Warmup        time.Duration
	Duration      time.Duration
}

// Workload is the load the producer generates during a row: exactly one
// of Steady and Checkout.
type Workload struct {
	Steady   *Steady   `json:"steady,omitempty"`
	Checkout *Checkout `json:"checkout,omitempty"`
}

// Steady is a constant rate with a mix of job types.
type Steady struct {
	Rate float64            `json:"rate"`
	Mix  map[string]float64 `json:"mix"`
}

// Checkout is the incident's 20-job checkout burst, repeated.
type Checkout struct {
	Every   time.Duration `json:"-"`
	Timeout time.Duration `json:"-"`
}

// String describes the workload in a few words: "steady 1000/s
// (cache-read 60, database 20, vendor-api 20)", "checkout burst every 2s".
func (w Workload) String() string {
	switch {
	case w.Steady != nil:
		var parts []string
		for _, t := range JobTypes {
			if v, ok := w.Steady.Mix[t]; ok {
				parts = append(parts, fmt.Sprintf("%s %g", t, v))
			}
		}
		return fmt.Sprintf("steady %g/s (%s)", w.Steady.Rate, strings.Join(parts, ", "))
	case w.Checkout != nil:
		return fmt.Sprintf("checkout burst every %s", w.Checkout.Every)
	}
	return "none"
}

// Row returns the row named name.
func (p *Plan) Row(name string) (Row, bool) {
	i := slices.IndexFunc(p.Rows, func(r Row) bool { return r.Name == name })
	if i < 0 {
		return Row{}, false
	}
	return p.Rows[i], true
}

// Select keeps only the named rows, in plan order. A kept row that applies
// another row's recommendation needs that row kept too.
func (p *Plan) Select(names []string) error {
	var errs []string
	for _, n := range names {
		if _, ok := p.Row(n); !ok {
			errs = append(errs, fmt.Sprintf("no row %q in the plan (rows: %s)", n, strings.Join(p.names(), ", ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	var kept []Row
	for _, r := range p.Rows {
		if slices.Contains(names, r.Name) {
			kept = append(kept, r)
		}
	}
	for _, r := range kept {
		if r.RecommendedBy != "" && !slices.Contains(names, r.RecommendedBy) {
			return fmt.Errorf("row %q applies the fix recommended for row %q: select that row too", r.Name, r.RecommendedBy)
		}
	}
	p.Rows = kept
	return nil
}

// SetDuration sets every row's measurement time (the --duration flag).
func (p *Plan) SetDuration(d time.Duration) error {
	if d < MinDuration || d > MaxDuration {
		return fmt.Errorf("duration %s: want %s to %s", d, MinDuration, MaxDuration)
	}
	for i := range p.Rows {
		p.Rows[i].Duration = d
	}
	return nil
}

func (p *Plan) names() []string {
	out := make([]string, len(p.Rows))
	for i, r := range p.Rows {
		out[i] = r.Name
	}
	return out
}

// Mix returns a copy of the steady mix, or nil.
func (w Workload) Mix() map[string]float64 {
	if w.Steady == nil {
		return nil
	}
	return maps.Clone(w.Steady.Mix)
}
