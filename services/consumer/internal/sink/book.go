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

// TypeStats is one job type's share of the book.
type TypeStats struct {
	Handled  uint64      `json:"handled"`
	Failed   uint64      `json:"failed"`
	Flagged  uint64      `json:"fast_jobs_waited,omitempty"`
	EndToEnd Percentiles `json:"end_to_end_recent"`
}

// Book counts handled results and keeps the most recent ones in a ring, so
// /stats can show percentiles and the slowest fast jobs in bounded memory.
type Book struct {
	mu         sync.Mutex
	handled    uint64
	duplicates uint64
	byType     map[string]*TypeStats
	recent     []Outcome
	next       int
	full       bool
}

// NewBook keeps the last size outcomes (at least 1).
func NewBook(size int) *Book {
	return &Book{byType: map[string]*TypeStats{}, recent: make([]Outcome, max(size, 1))}
}

// Record adds a handled result.
func (b *Book) Record(o Outcome) {
	o.EndToEndMS = ms(o.EndToEnd)
	o.WorkMS = ms(o.Work)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handled++
	ts := b.byType[o.Type]
	if ts == nil {
		ts = &TypeStats{}
		b.byType[o.Type] = ts
	}
	ts.Handled++
	if !o.OK {
		ts.Failed++
	}
	if FastJobWaited(o.Fast, o.Work, o.EndToEnd) {
		ts.Flagged++
	}
	b.recent[b.next] = o
	b.next = (b.next + 1) % len(b.recent)
	b.full = b.full || b.next == 0
}

// Duplicate counts a result that was delivered again and not handled.
func (b *Book) Duplicate() {
	b.mu.Lock()
	b.duplicates++
	b.mu.Unlock()
}

// Summary is the book's view for /stats.
type Summary struct {
	Handled    uint64               `json:"handled"`
	Duplicates uint64               `json:"duplicates"`
	ByType     map[string]TypeStats `json:"by_type"`
	// SlowestFastJobs are the recent fast jobs with the longest end-to-end
	// times: the ones that waited behind slow vendor calls.
	SlowestFastJobs []Outcome `json:"slowest_fast_jobs"`
	RecentWindow    int       `json:"recent_window"`
}

// Summarize returns counts, per-type percentiles over the recent ring and
// the top slowest recent fast jobs.
func (b *Book) Summarize(top int) Summary {
	b.mu.Lock()
	n := b.next
	if b.full {
		n = len(b.recent)
	}
	recent := slices.Clone(b.recent[:n])
	s := Summary{Handled: b.handled, Duplicates: b.duplicates, ByType: make(map[string]TypeStats, len(b.byType)), RecentWindow: len(b.recent)}
	for k, v := range b.byType {
		s.ByType[k] = *v
	}
	b.mu.Unlock()

	perType := map[string][]time.Duration{}
	var fast []Outcome
	for _, o := range recent {
		perType[o.Type] = append(perType[o.Type], o.EndToEnd)
		if o.Fast {
			fast = append(fast, o)
		}
	}
	for k, ds := range perType {
		ts := s.ByType[k]
		ts.EndToEnd = percentiles(ds)
		s.ByType[k] = ts
	}
	slices.SortFunc(fast, func(a, b Outcome) int { return cmp.Compare(b.EndToEnd, a.EndToEnd) })
	s.SlowestFastJobs = fast[:min(top, len(fast))]
	if s.SlowestFastJobs == nil {
		s.SlowestFastJobs = []Outcome{}
	}
	return s
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
