package collect

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Finder is the part of Jaeger's query API the window uses.
type Finder interface {
	FindTraces(ctx context.Context, q jaegerapi.Query) ([]jaegerapi.Trace, error)
}

// Stream is one incremental search: traces with a span of Service (and
// Operation, Tags) that started in the next slice of time. Each slice is
// searched once, Lag after its end, when the spans that mark the trace as
// far enough along have been exported: services send spans in batches
// about once a second, and a job's later spans arrive after its earlier
// ones.
type Stream struct {
	Name      string
	Service   string
	Operation string
	Tags      map[string]string
	Lag       time.Duration
	// Every is how often the stream is searched (default: every poll).
	Every time.Duration
	// Arrivals marks a stream that finds jobs by their arrival (the
	// producer's spans start when a job arrives): together these streams
	// hold every job that arrived before their earliest mark
	// (WindowStats.ArrivedUntil), whatever became of it since.
	Arrivals bool
}

// StreamHandedOff is the stream that reads a job's trace early, as soon
// as its worker handed the result off. It only pays when results can sit
// in the results channel for long (a large buffer, or non-blocking sends);
// otherwise the consumer handles the result within a fraction of a second
// and the "handled" stream reads the whole trace once.
const StreamHandedOff = "handed off"

// DefaultStreams find each job's trace once its consumer has handled it
// (the whole story), or already when its worker handed the result off
// (when results may wait long in the channel: see StreamHandedOff), plus
// every job as it arrives: accepted by the pool (its job.submit says so),
// or shed (refused by the pool, or skipped by the producer: their root's
// job.outcome says so), so the analysis gets the jobs that arrived in its
// window, in flight or not; and jobs given up (lost). Jaeger's search
// cannot select spans by error status through this API (a string "true"
// never matches), so the outcomes are searched by their attribute.
func DefaultStreams() []Stream {
	return []Stream{
		{Name: StreamHandedOff, Service: "workers", Operation: spans.ResultSend, Lag: 2 * time.Second},
		{Name: "handled", Service: "consumer", Operation: spans.ResultProcess, Lag: 3 * time.Second},
		// A job.submit is exported when the pool answers; the accepted
		// jobs' traces are read again, whole, once handled.
		{Name: StreamArrived, Service: "producer", Operation: spans.JobSubmit, Tags: map[string]string{spans.SubmitOutcome: spans.SubmitAccepted},
			Lag: 2 * time.Second, Arrivals: true},
		// Every 5 s is enough for the analysis; a shed job's root ends when
		// the pool refuses it (up to SUBMIT_WAIT) or at once when the
		// producer skips it. A lost job's root ends only when the producer
		// gives up on it.
		{Name: "shed", Service: "producer", Tags: map[string]string{spans.JobOutcome: spans.OutcomeRejected}, Lag: 2 * time.Second, Every: 5 * time.Second, Arrivals: true},
		{Name: "lost", Service: "producer", Tags: map[string]string{spans.JobOutcome: spans.OutcomeLost}, Lag: 20 * time.Second, Every: 5 * time.Second},
	}
}

// StreamArrived reads each job the pool accepted when it arrives, so the
// jobs still in the queue or at a worker are in the window too. The
// collector turns it on while the workers' queue holds jobs (see
// Collector.queueHolds).
const StreamArrived = "arrived"

// WindowOptions configure a TraceWindow.
type WindowOptions struct {
	Streams []Stream
	// Keep is how far back traces are kept, by their last span's end.
	Keep time.Duration
	// MaxTraces bounds memory: the oldest traces go first beyond it.
	MaxTraces int
	// Limit is the most traces one search may return; a slice that hits
	// it is reported as truncated.
	Limit int
	// MaxSlice bounds one search's time range, so a console started late
	// or stalled catches up in steps.
	MaxSlice time.Duration
}

func (o WindowOptions) withDefaults() WindowOptions {
	if len(o.Streams) == 0 {
		o.Streams = DefaultStreams()
	}
	if o.Keep <= 0 {
		o.Keep = 90 * time.Second
	}
	if o.MaxTraces <= 0 {
		o.MaxTraces = 4000
	}
	if o.Limit <= 0 {
		o.Limit = 1500
	}
	if o.MaxSlice <= 0 {
		o.MaxSlice = 10 * time.Second
	}
	return o
}

// TraceWindow keeps the traces of the last Keep in memory and brings them
// up to date incrementally: each poll asks Jaeger only for the traces whose
// marking span started since the last poll, never the whole window again.
type TraceWindow struct {
	opt    WindowOptions
	finder Finder

	mu        sync.Mutex
	traces    map[string]*entry
	marks     []time.Time // per stream: searched up to here
	off       map[string]bool
	version   uint64
	stats     WindowStats
	lastError error
}

type entry struct {
	trace   *jaegerapi.Trace
	spans   int
	lastEnd int64 // µs
}

// WindowStats describe the window for the page and for tests.
type WindowStats struct {
	Traces int `json:"traces"`
	// Fetched counts traces decoded since start (re-fetches included);
	// Searches counts queries sent.
	Fetched  uint64 `json:"fetched"`
	Searches uint64 `json:"searches"`
	// Truncated counts searches that hit the limit.
	Truncated uint64 `json:"truncated"`
	Evicted   uint64 `json:"evicted"`
	// SettledUntil is the earliest of the per-poll streams' marks: every
	// job whose spans ended before it is in the window.
	SettledUntil time.Time `json:"settled_until"`
	// ArrivedUntil is the earliest mark of the streams that find jobs by
	// their arrival: every job that arrived before it is in the window
	// (zero until they all searched once).
	ArrivedUntil time.Time `json:"arrived_until"`
}

// NewTraceWindow starts empty; the first Poll searches back Keep.
func NewTraceWindow(f Finder, o WindowOptions) *TraceWindow {
	o = o.withDefaults()
	return &TraceWindow{opt: o, finder: f, traces: map[string]*entry{}, marks: make([]time.Time, len(o.Streams))}
}

// Poll runs each stream's next search, up to now minus its lag, merges the
// traces found and evicts the old ones. It returns whether anything
// changed.
func (w *TraceWindow) Poll(ctx context.Context, now time.Time) (changed bool, err error) {
	var errs []error
	for i, s := range w.opt.Streams {
		w.mu.Lock()
		off := w.off[s.Name]
		if off {
			w.marks[i] = now.Add(-s.Lag)
		}
		w.mu.Unlock()
		if off {
			continue
		}
		w.mu.Lock()
		mark := w.marks[i]
		w.mu.Unlock()
		if s.Every > 0 && !mark.IsZero() && now.Add(-s.Lag).Sub(mark) < s.Every {
			continue
		}
		for range 4 { // catch up at most 4 slices per poll
			w.mu.Lock()
			from := w.marks[i]
			w.mu.Unlock()
			to := now.Add(-s.Lag)
			if from.IsZero() || from.Before(now.Add(-w.opt.Keep)) {
				from = now.Add(-w.opt.Keep)
			}
			if !to.After(from) {
				break
			}
			if to.Sub(from) > w.opt.MaxSlice {
				to = from.Add(w.opt.MaxSlice)
			}
			found, ferr := w.finder.FindTraces(ctx, jaegerapi.Query{
				Service: s.Service, Operation: s.Operation, Tags: s.Tags,
				// Jaeger's bounds are inclusive; [from, to) keeps a span
				// on a boundary from being found twice.
				Start: from, End: to.Add(-time.Microsecond), Limit: w.opt.Limit,
			})
			if ferr != nil {
				errs = append(errs, fmt.Errorf("%s traces: %w", s.Name, ferr))
				break
			}
			w.mu.Lock()
			w.stats.Searches++
			if len(found) >= w.opt.Limit {
				w.stats.Truncated++
			}
			for j := range found {
				if w.merge(&found[j]) {
					changed = true
				}
			}
			w.marks[i] = to
			w.mu.Unlock()
			if !to.Before(now.Add(-s.Lag)) {
				break
			}
		}
	}
	w.mu.Lock()
	if w.evict(now) {
		changed = true
	}
	if changed {
		w.version++
	}
	w.stats.Traces = len(w.traces)
	w.stats.SettledUntil = time.Time{}
	w.stats.ArrivedUntil = time.Time{}
	arrivalsKnown := true
	for i, m := range w.marks {
		if s := w.opt.Streams[i]; s.Arrivals && !w.off[s.Name] {
			switch {
			case m.IsZero():
				arrivalsKnown = false
			case w.stats.ArrivedUntil.IsZero() || m.Before(w.stats.ArrivedUntil):
				w.stats.ArrivedUntil = m
			}
		}
	}
	if !arrivalsKnown {
		w.stats.ArrivedUntil = time.Time{}
	}
	for i, m := range w.marks {
		// Streams off, or searched only now and then (errors), say nothing
		// about the timelines being complete.
		if w.off[w.opt.Streams[i].Name] || w.opt.Streams[i].Every > 0 {
			continue
		}
		if w.stats.SettledUntil.IsZero() || m.Before(w.stats.SettledUntil) {
			w.stats.SettledUntil = m
		}
	}
	if len(errs) > 0 {
		w.lastError = errs[0]
	} else {
		w.lastError = nil
	}
	w.mu.Unlock()
	if len(errs) > 0 {
		return changed, errs[0]
	}
	return changed, nil
}

// SetEnabled turns a stream on or off; an enabled stream reads from the
// next slice on, a disabled one keeps its mark at now.
func (w *TraceWindow) SetEnabled(name string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off == nil {
		w.off = map[string]bool{}
	}
	w.off[name] = !on
}

// merge keeps the newer copy of a trace: the one with more spans (a trace
// only grows as its spans arrive). Caller holds mu.
func (w *TraceWindow) merge(t *jaegerapi.Trace) bool {
	w.stats.Fetched++
	var last int64
	for i := range t.Spans {
		last = max(last, t.Spans[i].End())
	}
	if old, ok := w.traces[t.TraceID]; ok && old.spans >= len(t.Spans) {
		return false
	}
	w.traces[t.TraceID] = &entry{trace: t, spans: len(t.Spans), lastEnd: last}
	return true
}

// evict drops traces older than Keep, then the oldest beyond MaxTraces.
// Caller holds mu.
func (w *TraceWindow) evict(now time.Time) bool {
	cut := now.Add(-w.opt.Keep).UnixMicro()
	n := len(w.traces)
	for id, e := range w.traces {
		if e.lastEnd < cut {
			delete(w.traces, id)
		}
	}
	if len(w.traces) > w.opt.MaxTraces {
		all := make([]*entry, 0, len(w.traces))
		for _, e := range w.traces {
			all = append(all, e)
		}
		slices.SortFunc(all, func(a, b *entry) int { return int(a.lastEnd - b.lastEnd) })
		for _, e := range all[:len(all)-w.opt.MaxTraces] {
			delete(w.traces, e.trace.TraceID)
		}
	}
	w.stats.Evicted += uint64(n - len(w.traces))
	return n != len(w.traces)
}

// Traces returns the window's traces, oldest last span first, and the
// window's version (it changes whenever a trace is added or dropped).
func (w *TraceWindow) Traces() ([]*jaegerapi.Trace, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	all := make([]*entry, 0, len(w.traces))
	for _, e := range w.traces {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *entry) int {
		if a.lastEnd != b.lastEnd {
			return int(a.lastEnd - b.lastEnd)
		}
		return compareStrings(a.trace.TraceID, b.trace.TraceID)
	})
	out := make([]*jaegerapi.Trace, len(all))
	for i, e := range all {
		out[i] = e.trace
	}
	return out, w.version
}

// Trace returns one trace of the window, if it is there.
func (w *TraceWindow) Trace(id string) (*jaegerapi.Trace, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.traces[id]
	if !ok {
		return nil, false
	}
	return e.trace, true
}

// Stats describes the window.
func (w *TraceWindow) Stats() (WindowStats, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats, w.lastError
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
