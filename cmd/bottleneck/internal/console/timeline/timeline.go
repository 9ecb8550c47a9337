// Package timeline turns a window of traces into the console's timelines:
// one row per worker (its work, coloured by job type, and the time it was
// blocked handing the result off), one per forwarder and one per consumer
// slot, plus what the rows add up to. It reads contract v1 and v2 traces
// alike: both carry worker.id on worker.process and result.send. It is
// pure: no I/O, no clock.
package timeline

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Kind is what a segment shows.
type Kind string

const (
	Work      Kind = "work"      // worker.process
	Blocked   Kind = "blocked"   // result.send that waited for room in the results channel
	Deliver   Kind = "deliver"   // a forwarder's result.deliver
	Handle    Kind = "handle"    // a consumer slot's result.process
	Collapsed Kind = "collapsed" // several short segments drawn as one (rendering only)
)

// Segment is one span on a row. Times are µs since the epoch.
type Segment struct {
	Start, End int64
	Kind       Kind
	JobType    string // cache-read | database | vendor-api
	JobID      string
	TraceID    string
	Failed     bool
	// Count is how many spans a Collapsed segment stands for.
	Count int
}

// DurationMS is the segment's length in milliseconds.
func (s Segment) DurationMS() float64 { return float64(s.End-s.Start) / 1e3 }

// Row is one worker, forwarder or consumer slot.
type Row struct {
	Label    string
	Segments []Segment // by start
}

// Options bound the timelines.
type Options struct {
	From, To time.Time
	// Rows to draw at least (configured counts); more appear when the
	// spans show more.
	Workers, Forwarders, ConsumerSlots int
	// Recent is the period the summary numbers cover (e.g. last 30 s),
	// ending at To; zero means the whole range.
	Recent time.Duration
}

// Timelines is what Build returns.
type Timelines struct {
	From, To   time.Time
	Workers    []Row
	Forwarders []Row
	Consumer   []Row
	Summary    Summary
}

// Summary is what the traces say about the recent period, beside what the
// dashboards say.
type Summary struct {
	Period time.Duration
	// The workers' time, summed over the worker rows and clipped to the
	// period: doing work, blocked sending a result, and the rest.
	WorkingMS, BlockedMS, IdleMS float64
	// BlockedShareOfBusy is blocked / (working + blocked): of the time a
	// dashboard calls "busy", the share spent not working.
	BlockedShareOfBusy float64
	BlockedSends       int
	Sends              int
	// Fast jobs (cache-read, database) handled by the consumer in the
	// period: how many, their end-to-end p50/p99 and their own work's p50.
	FastJobs                    int
	FastP50MS, FastP99MS        float64
	FastWorkP50MS               float64
	SlowestFastTrace            string
	SlowestFastJob              string
	JobsHandled                 int
	ConsumerBusyMS, ConsumerCap float64
}

// traceInfo is what one trace contributes, read from its spans once: tag
// lookups decode JSON, and a trace in the window does not change.
type traceInfo struct {
	work    []workerSeg // worker.process and blocked result.send
	sends   []send
	deliver []Segment
	handle  []handled
}

type workerSeg struct {
	worker int
	seg    Segment
}

type send struct {
	start   int64
	blocked bool
}

type handled struct {
	seg       Segment
	duplicate bool
	fast      bool
	e2e, work float64
	hasE2E    bool
	hasWork   bool
}

func extract(t *jaegerapi.Trace) *traceInfo {
	info := &traceInfo{}
	jobType, jobID := jobOf(t)
	for i := range t.Spans {
		s := &t.Spans[i]
		seg := Segment{Start: s.StartTime, End: s.End(), JobType: jobType, JobID: jobID, TraceID: t.TraceID}
		switch s.OperationName {
		case spans.WorkerProcess:
			id, ok := workerID(s)
			if !ok {
				continue
			}
			seg.Kind, seg.Failed = Work, isError(s)
			if v := s.TagString(spans.JobType); v != "" {
				seg.JobType = v
			}
			info.work = append(info.work, workerSeg{id, seg})
		case spans.ResultSend:
			id, ok := workerID(s)
			if !ok {
				continue
			}
			blocked := s.TagBool(spans.ChannelBlocked)
			info.sends = append(info.sends, send{s.StartTime, blocked})
			if blocked {
				seg.Kind = Blocked
				info.work = append(info.work, workerSeg{id, seg})
			}
		case spans.ResultDeliver:
			seg.Kind = Deliver
			info.deliver = append(info.deliver, seg)
		case spans.ResultProcess:
			seg.Kind, seg.Failed = Handle, s.TagString(spans.ResultOK) == "false"
			h := handled{seg: seg, duplicate: s.TagBool(spans.Duplicate), fast: jobType == "cache-read" || jobType == "database"}
			h.e2e, h.hasE2E = s.TagFloat(spans.EndToEndMS)
			h.work, h.hasWork = s.TagFloat(spans.WorkMS)
			info.handle = append(info.handle, h)
		}
	}
	return info
}

// Cache keeps what each trace contributes between Builds; a trace the
// window replaced (it grew) is a new pointer and is read again. Not safe
// for concurrent use.
type Cache struct {
	m map[*jaegerapi.Trace]*traceInfo
}

func (c *Cache) info(t *jaegerapi.Trace, next map[*jaegerapi.Trace]*traceInfo) *traceInfo {
	info, ok := c.m[t]
	if !ok {
		info = extract(t)
	}
	next[t] = info
	return info
}

// Build makes the timelines from traces.
func Build(traces []*jaegerapi.Trace, o Options) Timelines {
	var c Cache
	return c.Build(traces, o)
}

// Build makes the timelines from traces, reading only traces it has not
// seen before.
func (c *Cache) Build(traces []*jaegerapi.Trace, o Options) Timelines {
	from, to := o.From.UnixMicro(), o.To.UnixMicro()
	recentFrom := from
	if o.Recent > 0 {
		recentFrom = max(from, o.To.Add(-o.Recent).UnixMicro())
	}
	workers := map[int][]Segment{}
	var delivers, handles []Segment
	var fastE2E, fastWork []float64
	sum := Summary{Period: time.Duration(to-recentFrom) * time.Microsecond}
	slowest := -1.0
	in := func(s Segment) bool { return s.End >= from && s.Start <= to }
	next := make(map[*jaegerapi.Trace]*traceInfo, len(traces))

	for _, t := range traces {
		info := c.info(t, next)
		for _, w := range info.work {
			if !in(w.seg) {
				continue
			}
			workers[w.worker] = append(workers[w.worker], w.seg)
			if w.seg.Kind == Blocked {
				sum.BlockedMS += clippedMS(w.seg, recentFrom, to)
			} else {
				sum.WorkingMS += clippedMS(w.seg, recentFrom, to)
			}
		}
		for _, s := range info.sends {
			if s.start >= recentFrom && s.start <= to {
				sum.Sends++
				if s.blocked {
					sum.BlockedSends++
				}
			}
		}
		for _, d := range info.deliver {
			if in(d) {
				delivers = append(delivers, d)
			}
		}
		for _, h := range info.handle {
			if !in(h.seg) {
				continue
			}
			handles = append(handles, h.seg)
			sum.ConsumerBusyMS += clippedMS(h.seg, recentFrom, to)
			if h.seg.Start < recentFrom || h.duplicate {
				continue
			}
			sum.JobsHandled++
			if !h.fast {
				continue
			}
			if h.hasE2E {
				fastE2E = append(fastE2E, h.e2e)
				if h.e2e > slowest {
					slowest, sum.SlowestFastTrace, sum.SlowestFastJob = h.e2e, h.seg.TraceID, h.seg.JobID
				}
			}
			if h.hasWork {
				fastWork = append(fastWork, h.work)
			}
		}
	}
	c.m = next

	tl := Timelines{From: o.From, To: o.To}
	n := o.Workers
	for id := range workers {
		n = max(n, id)
	}
	for id := 1; id <= n; id++ {
		segs := workers[id]
		sortSegments(segs)
		tl.Workers = append(tl.Workers, Row{Label: "worker " + strconv.Itoa(id), Segments: segs})
	}
	tl.Forwarders = pack(delivers, o.Forwarders, "forwarder ")
	tl.Consumer = pack(handles, o.ConsumerSlots, "consumer slot ")

	periodMS := float64(to-recentFrom) / 1e3
	sum.IdleMS = max(0, periodMS*float64(len(tl.Workers))-sum.WorkingMS-sum.BlockedMS)
	if busy := sum.WorkingMS + sum.BlockedMS; busy > 0 {
		sum.BlockedShareOfBusy = sum.BlockedMS / busy
	}
	sum.ConsumerCap = periodMS * float64(len(tl.Consumer))
	sum.FastJobs = len(fastE2E)
	slices.Sort(fastE2E)
	slices.Sort(fastWork)
	sum.FastP50MS, sum.FastP99MS = analysis.Percentile(fastE2E, 0.50), analysis.Percentile(fastE2E, 0.99)
	sum.FastWorkP50MS = analysis.Percentile(fastWork, 0.50)
	tl.Summary = sum
	return tl
}

// pack lays spans that may overlap onto the fewest rows (at least min),
// each on the lowest row free when it starts: forwarders and consumer
// slots carry no ID of their own in the spans.
func pack(segs []Segment, minRows int, label string) []Row {
	sortSegments(segs)
	var ends []int64
	rows := make([][]Segment, 0, minRows)
	for _, s := range segs {
		placed := false
		for i, e := range ends {
			if e <= s.Start {
				rows[i] = append(rows[i], s)
				ends[i] = s.End
				placed = true
				break
			}
		}
		if !placed {
			rows = append(rows, []Segment{s})
			ends = append(ends, s.End)
		}
	}
	for len(rows) < minRows {
		rows = append(rows, nil)
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = Row{Label: label + strconv.Itoa(i+1), Segments: r}
	}
	return out
}

func sortSegments(s []Segment) {
	slices.SortFunc(s, func(a, b Segment) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End))
	})
}

func clippedMS(s Segment, from, to int64) float64 {
	a, b := max(s.Start, from), min(s.End, to)
	if b <= a {
		return 0
	}
	return float64(b-a) / 1e3
}

func workerID(s *jaegerapi.Span) (int, bool) {
	v, ok := s.TagFloat(spans.WorkerID)
	if !ok || v < 1 || v > 1<<16 {
		return 0, false
	}
	return int(v), true
}

func isError(s *jaegerapi.Span) bool {
	kv, ok := s.Tag("error")
	if !ok {
		return false
	}
	b, _ := kv.Bool()
	return b
}

// jobOf finds the job's type and ID on any span that carries them.
func jobOf(t *jaegerapi.Trace) (typ, id string) {
	for i := range t.Spans {
		s := &t.Spans[i]
		if typ == "" {
			typ = s.TagString(spans.JobType)
		}
		if id == "" {
			id = s.TagString(spans.JobID)
		}
		if typ != "" && id != "" {
			break
		}
	}
	return typ, id
}
