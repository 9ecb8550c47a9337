package analysis

import (
	"slices"
	"time"
)

// Period is the time the traces read actually cover, over which every rate
// is computed: from the first arrival read to the end of activity, which is
// the window's end while load was still arriving (or the latest span
// Jaeger had, if earlier: spans reach it a second or two late), else the
// last completion.
type Period struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
	// EndsAt says what ended it: "window" (load still arriving) or
	// "last_completion".
	EndsAt string `json:"ends_at"`
	// ArrivalSeconds is the span of the arrivals: first to last, plus one
	// mean gap between arrivals (so n evenly spaced arrivals at rate r span
	// n/r seconds).
	ArrivalSeconds float64 `json:"arrival_seconds"`
	// Arrivals counts the jobs that arrived in the period.
	Arrivals int `json:"arrivals"`
	// Truncated: the search returned its limit of traces, so only the
	// newest part of the window was read and the period is that part.
	Truncated bool `json:"truncated"`
	// WindowSeconds is the length of the window searched (0: not given).
	WindowSeconds float64 `json:"window_seconds"`
}

func (p Period) contains(t int64) bool { return t >= p.from() && t <= p.to() }
func (p Period) from() int64           { return p.Start.UnixMicro() }
func (p Period) to() int64             { return p.End.UnixMicro() }

// stillArrivingGap is how close to the end of the data the last arrival
// must be for load to count as still arriving: a few mean gaps between
// arrivals, and at least this.
const stillArrivingGap = time.Second

func coveredPeriod(jobs []Job, horizon int64, submitWaitMS float64, o *Options) Period {
	p := Period{Truncated: o.Limit > 0 && o.traces >= o.Limit}
	if !o.WindowStart.IsZero() && o.WindowEnd.After(o.WindowStart) {
		p.WindowSeconds = o.WindowEnd.Sub(o.WindowStart).Seconds()
	}
	if len(jobs) == 0 {
		return p
	}
	arrivals := make([]int64, 0, len(jobs))
	var lastActivity int64
	for i := range jobs {
		arrivals = append(arrivals, jobs[i].Arrival)
		lastActivity = max(lastActivity, jobs[i].lastActivity())
	}
	slices.Sort(arrivals)
	first, last := arrivals[0], arrivals[len(arrivals)-1]

	// The window's end says whether load was still arriving when it
	// closed; a window that ends before the arrivals it returned (the
	// clocks of the report and the services disagree) says nothing.
	windowEnd := int64(0)
	if !o.WindowEnd.IsZero() && o.WindowEnd.UnixMicro() >= last-stillArrivingGap.Microseconds() {
		windowEnd = o.WindowEnd.UnixMicro()
	}
	edge := horizon
	if windowEnd != 0 {
		edge = min(edge, windowEnd)
	}
	edge = max(edge, first)
	var gap int64
	if n := len(arrivals); n > 1 {
		gap = (last - first) / int64(n-1)
	}
	// A job's first span to end is its Submit call, which waits up to
	// SUBMIT_WAIT for room: the arrivals seen lag that much behind.
	lag := max(stillArrivingGap.Microseconds(), 3*gap, int64(submitWaitMS*1e3)+stillArrivingGap.Microseconds()/2)
	// And a burst that drained as the window closed is not load still
	// arriving: the arrivals must cover most of the time read.
	if windowEnd != 0 && last >= edge-lag && 2*(last-first) >= edge-first {
		p.EndsAt = "window"
		p.End = time.UnixMicro(edge)
	} else {
		p.EndsAt = "last_completion"
		p.End = time.UnixMicro(min(max(lastActivity, last), max(horizon, last)))
	}
	p.Start = time.UnixMicro(first)
	if !p.End.After(p.Start) {
		p.End = p.Start.Add(time.Millisecond)
	}
	p.Seconds = p.End.Sub(p.Start).Seconds()
	for _, a := range arrivals {
		if a <= p.to() {
			p.Arrivals++
		}
	}
	// n arrivals cover n gaps, not n-1.
	lastIn := arrivals[p.Arrivals-1]
	span := lastIn - first
	if p.Arrivals > 1 {
		span += span / int64(p.Arrivals-1)
	}
	p.ArrivalSeconds = max(float64(span)/1e6, 1e-3)
	return p
}

// lastActivity is the end of the job's latest known part.
func (j *Job) lastActivity() int64 {
	return max(j.Arrival, j.Submitted, j.Dequeued, j.WorkEnd, j.SendEnd, j.Taken, j.DeliverEnd, j.Done, j.Answered)
}
