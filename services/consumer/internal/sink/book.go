package sink

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// A fast job is flagged as having waited when its end-to-end time is more
// than FlagFactor times its own work and more than FlagMin: the incident's
// 2 ms cache read that took seconds.
const (
	FlagFactor = 10
	FlagMin    = 100 * time.Millisecond
)

// FastJobWaited says whether a fast job spent most of its life waiting.
func FastJobWaited(fast bool, work, endToEnd time.Duration) bool {
	return fast && endToEnd > FlagMin && endToEnd > FlagFactor*work
}

// Outcome is one handled result, as /stats reports it.
type Outcome struct {
	JobID      string        `json:"job_id"`
	Type       string        `json:"type"`
	Target     string        `json:"target,omitempty"`
	Fast       bool          `json:"-"`
	OK         bool          `json:"ok"`
	EndToEnd   time.Duration `json:"-"`
	Work       time.Duration `json:"-"`
	TraceID    string        `json:"trace_id,omitempty"`
	EndToEndMS float64       `json:"end_to_end_ms"`
	WorkMS     float64       `json:"work_ms"`
}

// Percentiles of end-to-end times, in milliseconds.
type Percentiles struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

// Book keeps the most recent handled results in a ring, so /stats can show
// percentiles and the slowest fast jobs in bounded memory. It is memory
// only: the counters that must survive a restart are in the ledger.
type Book struct {
	mu   sync.Mutex
	ring []Outcome
	next int
	full bool
}

// NewBook keeps the last size outcomes (at least 1).
func NewBook(size int) *Book {
	return &Book{ring: make([]Outcome, max(size, 1))}
}

// Record adds a handled result.
func (b *Book) Record(o Outcome) {
	o.EndToEndMS = ms(o.EndToEnd)
	o.WorkMS = ms(o.Work)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ring[b.next] = o
	b.next = (b.next + 1) % len(b.ring)
	b.full = b.full || b.next == 0
}

// Recent is the book's view of the results it holds.
type Recent struct {
	// EndToEnd are each job type's end-to-end percentiles.
	EndToEnd map[string]Percentiles
	// SlowestFastJobs are the fast jobs with the longest end-to-end
	// times: the ones that waited behind slow vendor calls.
	SlowestFastJobs []Outcome
	// Window is the ring's size.
	Window int
}

// Recent returns per-type percentiles over the ring and its top slowest
// fast jobs.
func (b *Book) Recent(top int) Recent {
	b.mu.Lock()
	n := b.next
	if b.full {
		n = len(b.ring)
	}
	recent := slices.Clone(b.ring[:n])
	b.mu.Unlock()

	r := Recent{EndToEnd: map[string]Percentiles{}, Window: len(b.ring)}
	perType := map[string][]time.Duration{}
	var fast []Outcome
	for _, o := range recent {
		perType[o.Type] = append(perType[o.Type], o.EndToEnd)
		if o.Fast {
			fast = append(fast, o)
		}
	}
	for k, ds := range perType {
		r.EndToEnd[k] = percentiles(ds)
	}
	slices.SortFunc(fast, func(a, b Outcome) int { return cmp.Compare(b.EndToEnd, a.EndToEnd) })
	r.SlowestFastJobs = fast[:min(top, len(fast))]
	if r.SlowestFastJobs == nil {
		r.SlowestFastJobs = []Outcome{}
	}
	return r
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 { return ms(ds[int(q*float64(len(ds)-1)+0.5)]) }
	return Percentiles{Samples: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
