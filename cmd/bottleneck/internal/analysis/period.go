package analysis

import (
	"cmp"
	"slices"
	"time"
)

// Period is the time the traces read actually cover, over which every rate
// is computed: from the first arrival read (never before the window) to
// the end of activity, which is the window's end while load was still
// arriving (or the latest span Jaeger had, if earlier: spans reach it a
// second or two late), else the last completion.
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
	// BusyPeriods counts the stretches of arrivals the pipeline worked
	// through without emptying (see busyPeriods): 1 for steady load, one
	// per burst for bursts that drain before the next.
	BusyPeriods int `json:"busy_periods"`
	// ActiveSeconds is the time the pipeline was busy with them: from each
	// busy period's first arrival to its jobs' last activity.
	ActiveSeconds float64 `json:"active_seconds"`
	// SustainedSeconds is the arrival span of the busy periods that are
	// sustained load (at least MinSustained and 10 arrivals each); 0 when
	// the arrivals came in short bursts.
	SustainedSeconds float64 `json:"sustained_seconds"`
	// Truncated: the search returned its limit of traces, so only the
	// newest part of the window was read and the period is that part.
	Truncated bool `json:"truncated"`
	// WindowSeconds is the length of the window searched (0: not given).
	WindowSeconds float64 `json:"window_seconds"`

	busy []busyPeriod
	// doneFrom is where completions are known from when the search for
	// them was truncated (0: from the period's start).
	doneFrom int64
}

func (p Period) contains(t int64) bool { return t >= p.from() && t <= p.to() }
func (p Period) from() int64           { return p.Start.UnixMicro() }
func (p Period) to() int64             { return p.End.UnixMicro() }

// busyPeriod is a stretch of arrivals the pipeline worked through without
// emptying.
type busyPeriod struct {
	first, last int64 // its first and last arrival
	end         int64 // its jobs' last activity
	n           int   // arrivals
}

// span is the busy period's arrival span, counted like ArrivalSeconds.
func (b busyPeriod) span() int64 {
	if b.n < 2 {
		return 0
	}
	return (b.last - b.first) * int64(b.n) / int64(b.n-1)
}

func (b busyPeriod) sustained(minSpan time.Duration) bool {
	return b.n >= minSustainedArrivals && b.span() >= minSpan.Microseconds()
}

// minSustainedArrivals is the fewest arrivals a busy period needs to count
// as sustained load.
const minSustainedArrivals = 10

// stillArrivingGap is how close to the end of the data the last arrival
// must be for load to count as still arriving: a few mean gaps between
// arrivals, and at least this.
const stillArrivingGap = time.Second

// minBurstGap is the shortest pause between arrivals that can separate two
// bursts (with the pipeline empty in between): far longer than any stage's
// service time at the defaults.
const minBurstGap = time.Second

func coveredPeriod(x *extraction, submitWaitMS float64, o *Options) Period {
	jobs, horizon := x.jobs, x.horizon
	p := Period{Truncated: o.Limit > 0 && o.traces >= o.Limit}
	if !o.WindowStart.IsZero() && o.WindowEnd.After(o.WindowStart) {
		p.WindowSeconds = o.WindowEnd.Sub(o.WindowStart).Seconds()
	}
	// Arrivals are the jobs read by arrival (not those the search for
	// completions added), and never before the window: a job submitted
	// again inside it arrived earlier.
	var windowStart int64
	if !o.WindowStart.IsZero() {
		windowStart = o.WindowStart.UnixMicro()
	}
	arrivals := make([]int64, 0, len(jobs))
	var lastActivity, earliest int64
	for i := range jobs {
		j := &jobs[i]
		if j.Earlier {
			continue
		}
		lastActivity = max(lastActivity, j.lastActivity())
		if earliest == 0 || j.Arrival < earliest {
			earliest = j.Arrival
		}
		if j.Arrival >= windowStart {
			arrivals = append(arrivals, j.Arrival)
		}
	}
	if len(arrivals) == 0 && earliest != 0 {
		// Every arrival is before the window: the clocks of the report and
		// the services disagree. Take the arrivals as they are.
		for i := range jobs {
			if !jobs[i].Earlier {
				arrivals = append(arrivals, jobs[i].Arrival)
			}
		}
	}
	if len(arrivals) == 0 {
		return p
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

	p.busy = busyPeriods(jobs, p)
	var active, sustained int64
	for _, b := range p.busy {
		active += min(b.end, p.to()) - b.first
		if b.sustained(o.Thresholds.MinSustained) {
			sustained += b.span()
		}
	}
	p.BusyPeriods = len(p.busy)
	p.ActiveSeconds = max(float64(active)/1e6, 1e-3)
	p.SustainedSeconds = float64(sustained) / 1e6

	if o.completionsTruncated {
		// Only the newest completions were read: they are known from the
		// oldest one read on.
		p.doneFrom = x.doneFrom
	}
	return p
}

// busyPeriods groups the period's arrivals into the stretches the pipeline
// worked through without emptying: an arrival joins the stretch before it
// when it came within four mean gaps between arrivals (or minBurstGap, if
// longer) of its last arrival, or while a job of that stretch was still in
// the pipeline.
// Steady load is one busy period; bursts that drain before the next are one
// each, whatever the average rate over the window says.
func busyPeriods(jobs []Job, p Period) []busyPeriod {
	type arrival struct{ at, end int64 }
	var in []arrival
	for i := range jobs {
		if j := &jobs[i]; !j.Earlier && p.contains(j.Arrival) {
			in = append(in, arrival{j.Arrival, max(j.lastActivity(), j.Arrival)})
		}
	}
	if len(in) == 0 {
		return nil
	}
	slices.SortFunc(in, func(a, b arrival) int { return cmp.Compare(a.at, b.at) })
	meanGap := (in[len(in)-1].at - in[0].at) / int64(max(1, len(in)-1))
	join := max(minBurstGap.Microseconds(), 4*meanGap)
	out := []busyPeriod{{first: in[0].at, last: in[0].at, end: in[0].end, n: 1}}
	for _, a := range in[1:] {
		b := &out[len(out)-1]
		if a.at-b.last <= join || a.at <= b.end {
			b.last, b.end, b.n = a.at, max(b.end, a.end), b.n+1
			continue
		}
		out = append(out, busyPeriod{first: a.at, last: a.at, end: a.end, n: 1})
	}
	return out
}

// arrivedIn reports whether the job is one of the period's arrivals.
func (j *Job) arrivedIn(p Period) bool { return !j.Earlier && p.contains(j.Arrival) }

// lastActivity is the end of the job's latest known part.
func (j *Job) lastActivity() int64 {
	return max(j.Arrival, j.Submitted, j.Dequeued, j.WorkEnd, j.SendEnd, j.Taken, j.DeliverEnd, j.Done, j.Answered)
}
