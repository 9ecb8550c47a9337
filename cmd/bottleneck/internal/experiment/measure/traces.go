package measure

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Latency is one fast job's end-to-end time, as the consumer recorded it
// on result.process (job.end_to_end_ms: the producer's submission to the
// consumer's handling).
type Latency struct {
	TraceID    string
	JobID      string
	Type       string
	EndToEndMS float64
}

// TraceSample is what the experiment reads from Jaeger for one window.
type TraceSample struct {
	// Fast are the fast jobs the consumer handled in the window (a sample
	// spread over it when there were more than the sampler reads).
	Fast []Latency
	// Truncated is true when some part of the window held more traces
	// than were read.
	Truncated bool
	// Worst is the whole trace of the slowest fast job, nil without one.
	Worst *jaegerapi.Trace
	// Analysis are whole traces of the window's first part, for the
	// capacity model: by the producer's service, so that jobs the pool
	// refused count too. The first part, because its jobs had the rest of
	// the window to finish: the model reads each job's whole story, and
	// jobs that arrived just before the window closed are still in
	// flight when the row ends.
	Analysis []jaegerapi.Trace
	// Completions are the traces of the jobs the consumer handled in the
	// analysis window, whenever they arrived (the consumer's
	// result.process), at most AnalysisLimit. Under a deep backlog a job
	// takes longer end to end than the whole row, so none of the jobs in
	// Analysis is handled before the row ends: without these the model
	// would see no consumer at all.
	Completions   []jaegerapi.Trace
	AnalysisStart time.Time
	AnalysisEnd   time.Time
	// AnalysisTruncated is true when the limit (AnalysisLimit) cut the
	// analysis window: then it covers its newest traces only.
	AnalysisTruncated bool
	AnalysisLimit     int
}

// TraceSampler reads trace samples from Jaeger.
type TraceSampler struct {
	Jaeger *jaegerapi.Client
	// Slices split the window; each is read with its own limit, so the
	// latency sample spreads over the whole window instead of piling up at
	// its end (Jaeger answers with the newest traces first).
	Slices   int
	PerSlice int
	// AnalysisSpan is how much of the window's start the capacity model
	// reads (at most two thirds of the window), at most AnalysisLimit
	// traces. The model needs about 2 s of arrivals to tell sustained load
	// from a burst.
	AnalysisSpan  time.Duration
	AnalysisLimit int
}

// Defaults of a TraceSampler. A handled job's trace is ~15 KB of JSON, a
// shed one's 2–3 KB. The analysis limit holds the 3 s span whole up to
// 1,000 jobs/s offered (every job is traced, the ones the producer skips
// too), and its newest 2 s (what the model needs to call load sustained)
// up to 1,500/s; a truncated read keeps the newest part whole. At 1,000
// handled jobs/s (staging) one row reads about 45 MB of JSON, a few
// seconds; under overload most of it is small shed traces.
const (
	DefaultSlices        = 4
	DefaultPerSlice      = 250
	DefaultAnalysisSpan  = 3 * time.Second
	DefaultAnalysisLimit = 3000
)

// ConsumerService and ProducerService are the service names in Jaeger.
const (
	ConsumerService = "consumer"
	ProducerService = "producer"
)

// Sample reads the window [start, end].
func (s *TraceSampler) Sample(ctx context.Context, start, end time.Time) (TraceSample, error) {
	slicesN, per := max(s.Slices, 1), max(s.PerSlice, 1)
	if s.Slices == 0 {
		slicesN = DefaultSlices
	}
	if s.PerSlice == 0 {
		per = DefaultPerSlice
	}
	var out TraceSample
	seen := map[string]bool{}
	var worst *jaegerapi.Trace
	worstMS := -1.0
	step := end.Sub(start) / time.Duration(slicesN)
	for i := range slicesN {
		from := start.Add(time.Duration(i) * step)
		to := from.Add(step)
		if i == slicesN-1 {
			to = end
		}
		traces, err := s.Jaeger.FindTraces(ctx, jaegerapi.Query{
			Service: ConsumerService, Operation: spans.ResultProcess, Start: from, End: to, Limit: per,
		})
		if err != nil {
			return out, fmt.Errorf("reading the consumer's traces: %w", err)
		}
		if len(traces) >= per {
			out.Truncated = true
		}
		for _, t := range traces {
			for _, l := range fastLatencies(t, start, end) {
				if key := l.TraceID + "/" + l.JobID; !seen[key] {
					seen[key] = true
					out.Fast = append(out.Fast, l)
					if l.EndToEndMS > worstMS {
						worst, worstMS = &t, l.EndToEndMS
					}
				}
			}
		}
	}

	out.Worst = worst

	span, limit := s.AnalysisSpan, s.AnalysisLimit
	if span <= 0 {
		span = DefaultAnalysisSpan
	}
	if limit <= 0 {
		limit = DefaultAnalysisLimit
	}
	span = min(span, end.Sub(start)*2/3)
	out.AnalysisStart, out.AnalysisEnd = start, start.Add(span)
	traces, err := s.Jaeger.FindTraces(ctx, jaegerapi.Query{
		Service: ProducerService, Start: out.AnalysisStart, End: out.AnalysisEnd, Limit: limit,
	})
	if err != nil {
		return out, fmt.Errorf("reading the producer's traces: %w", err)
	}
	out.Analysis, out.AnalysisTruncated, out.AnalysisLimit = traces, len(traces) >= limit, limit
	done, err := s.Jaeger.FindTraces(ctx, jaegerapi.Query{
		Service: ConsumerService, Operation: spans.ResultProcess, Start: out.AnalysisStart, End: out.AnalysisEnd, Limit: limit,
	})
	if err != nil {
		return out, fmt.Errorf("reading the consumer's completions: %w", err)
	}
	out.Completions = done
	return out, nil
}

// fastLatencies finds the first handling (not a duplicate) of fast jobs in
// t whose result.process started within [start, end].
func fastLatencies(t jaegerapi.Trace, start, end time.Time) []Latency {
	var out []Latency
	for i := range t.Spans {
		sp := &t.Spans[i]
		if sp.OperationName != spans.ResultProcess || t.Service(sp) != ConsumerService || sp.TagBool(spans.Duplicate) {
			continue
		}
		typ := sp.TagString(spans.JobType)
		if typ != "cache-read" && typ != "database" {
			continue
		}
		if at := sp.Start(); at.Before(start) || at.After(end) {
			continue
		}
		ms, ok := sp.TagFloat(spans.EndToEndMS)
		if !ok || ms < 0 {
			continue
		}
		out = append(out, Latency{TraceID: t.TraceID, JobID: sp.TagString(spans.JobID), Type: typ, EndToEndMS: ms})
	}
	return out
}

// Worst is the slowest latency, or nil.
func Worst(ls []Latency) *Latency {
	if len(ls) == 0 {
		return nil
	}
	w := slices.MaxFunc(ls, func(a, b Latency) int {
		switch {
		case a.EndToEndMS < b.EndToEndMS:
			return -1
		case a.EndToEndMS > b.EndToEndMS:
			return 1
		}
		return 0
	})
	return &w
}
