package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Kinds of verdict.
const (
	KindCapacity   = "capacity"     // sustained arrivals at or above a stage's capacity
	KindBurst      = "burst"        // a burst a buffer could not absorb, drained afterwards
	KindHeadOfLine = "head-of-line" // capacity suffices, fast jobs wait behind slow ones
	KindNone       = "none"         // healthy
)

// Verdict names the stage that governs throughput, the kind of trouble,
// and the fixes.
type Verdict struct {
	// Stage is the stage named: for capacity the stage with the least
	// capacity; for a burst the buffer that has to absorb it; for
	// head-of-line the job queue; "none" when healthy.
	Stage string `json:"bottleneck_stage"`
	Kind  string `json:"kind"`
	// HeldBy is "vendor" when the workers are the bottleneck and vendor
	// calls are most of their work.
	HeldBy string `json:"held_by"`
	// LimitStage is the stage that governs throughput whatever the kind:
	// the one with the least capacity, except that the consumer is named
	// rather than the delivery when its handling is most of each delivery
	// (see attribute). CapacityPerS is the least capacity: the system's
	// ceiling X_max.
	LimitStage   string  `json:"limit_stage"`
	CapacityPerS float64 `json:"capacity_per_s"`
	// ThroughputPerS is what the consumer handled per second; OfferedPerS
	// what arrived (over the arrival span when load was sustained), and
	// ShedPerS what admission refused.
	ThroughputPerS float64 `json:"throughput_per_s"`
	OfferedPerS    float64 `json:"offered_per_s"`
	ShedPerS       float64 `json:"shed_per_s"`
	Sustained      bool    `json:"sustained"`
	// PeakBacklog is, for a burst, the most jobs the named buffer would
	// have had to hold to absorb it.
	PeakBacklog int `json:"peak_backlog"`
	// BufferLastsS is, under a sustained surplus in front of the consumer,
	// how long the results channel's slots last before workers block.
	BufferLastsS float64 `json:"buffer_lasts_s"`

	Bottleneck bool   `json:"bottleneck"` // Kind != none
	Healthy    bool   `json:"healthy"`
	Summary    string `json:"summary"`
	// Symptoms are the stages upstream of the bottleneck that look busy or
	// blocked because of it.
	Symptoms []string `json:"symptoms"`
	// Notes qualify the verdict: inferred settings, truncation, what a
	// bigger buffer would not do.
	Notes []string `json:"notes"`
	Fixes []Fix    `json:"fixes"`
}

// judge names the bottleneck, its kind and the fixes.
func judge(a *Analysis, m *measures, o *Options) {
	th := o.Thresholds
	v := &a.Verdict
	v.Fixes, v.Symptoms, v.Notes = []Fix{}, []string{}, []string{}
	v.ThroughputPerS = m.delivered
	v.ShedPerS = m.rejectedPerS
	v.Sustained, m.offered, m.offLate = sustainedLoad(a.Period, a.JobList, th)
	if v.Sustained {
		v.OfferedPerS = m.offered
		// Shed over the same time as the offered load, not over a period
		// that may go on while the backlog drains: the share of arrivals
		// shed, of the rate they arrived at.
		if m.arrivals > 0 {
			m.rejectedPerS = float64(m.rejected) / float64(m.arrivals) * m.offered
			v.ShedPerS = m.rejectedPerS
		}
	} else {
		v.OfferedPerS = float64(m.arrivals) / m.T
	}
	limit, ceiling := limitStage(a)
	v.LimitStage, v.CapacityPerS = attribute(a, limit, m), ceiling
	named := v.LimitStage

	in := buildSimInput(a.JobList, a.Period, &a.Config, m, v.Sustained, o.SimBudget)
	var base *SimResult
	if in.ok {
		r := Simulate(in.cfg, in.workload, false)
		base = &r
	}
	a.ModelFit = modelFit(a, m, &in, base)

	switch {
	case a.Jobs.Total == 0 || m.arrivals == 0:
		v.Kind, v.Stage = KindNone, StageNone
		v.Summary = "No jobs in the traces read: nothing to judge."
	case m.delivered == 0 && a.Jobs.InFlight >= max(3, m.arrivals/10):
		// Nothing came out: a stage has stopped (a vendor outage, a
		// consumer that doesn't answer), and its capacity can't be
		// measured from work that never ended. Name where the jobs are.
		stage, held := stalledAt(a.JobList)
		v.Kind, v.Stage = KindCapacity, stage
		v.Summary = fmt.Sprintf("Nothing was handled in the %s read: %d jobs are held up behind %s (%d of them there), which has stopped or is far slower than the window shows.",
			FormatSeconds(a.Period.Seconds), a.Jobs.InFlight, stageName(stage), held)
	case v.Sustained && v.CapacityPerS > 0 && min(m.offered, m.offLate) >= th.Saturation*v.CapacityPerS,
		v.Sustained && a.Stage(StageAdmission).Utilization >= 0.05 && v.LimitStage != "":
		v.Kind, v.Stage = KindCapacity, named
	default:
		if stage, peak := burstAt(a, m, th, base); stage != "" {
			v.Kind, v.Stage, v.PeakBacklog = KindBurst, stage, peak
			if in.ok {
				// What the buffer would have held had it been big enough:
				// the simulation with that buffer unbounded.
				cfg := in.cfg
				if stage == StageResults {
					cfg.ResultsBuffer = 0
				} else {
					cfg.QueueSize = unbounded
				}
				r := Simulate(cfg, in.workload, false)
				if p := map[bool]int{true: r.PeakResults, false: r.PeakQueue}[stage == StageResults]; p > 0 {
					v.PeakBacklog = p
				}
			}
		} else if h := a.HeadOfLine; h.Stuck >= th.StuckMinJobs && h.StuckShare >= th.StuckMinShare && m.vendorShare >= 0.5 {
			v.Kind, v.Stage = KindHeadOfLine, StageQueue
		} else {
			v.Kind, v.Stage = KindNone, StageNone
		}
	}
	if v.Stage == StageWorkers && m.vendorShare >= 0.5 {
		v.HeldBy = StageVendor
	}
	v.Bottleneck = v.Kind != KindNone
	v.Healthy = !v.Bottleneck
	v.BufferLastsS = bufferLasts(a)
	if v.Summary == "" {
		v.Summary = summary(a, m)
	}
	v.Symptoms = symptoms(a, v.Stage)
	v.Notes = append(v.Notes, notes(a, m)...)
	var why []string
	v.Fixes, why = recommend(a, m, &in, base, o)
	v.Notes = append(v.Notes, why...)
}

// sustainedLoad tells sustained load from bursts. The busy periods long
// enough to be sustained on their own (MinSustained and 10 arrivals) must
// hold most of the arrivals: bursts that drain before the next one are
// bursts however many of them the window holds. It returns the arrival
// rate over those busy periods (the offered load while it lasted) and over
// their later half; the later half must keep at least half the pace.
func sustainedLoad(p Period, jobs []Job, th Thresholds) (sustained bool, offered, offLate float64) {
	var long []busyPeriod
	n := 0
	var span int64
	for _, b := range p.busy {
		if b.sustained(th.MinSustained) {
			long = append(long, b)
			n += b.n
			span += b.span()
		}
	}
	if n == 0 || 2*n < p.Arrivals || span <= 0 {
		return false, 0, 0
	}
	var times []int64
	for i := range jobs {
		if j := &jobs[i]; j.arrivedIn(p) {
			times = append(times, j.Arrival)
		}
	}
	slices.Sort(times)
	// The later half of the sustained time, busy period by busy period.
	late, acc := 0, int64(0)
	for _, b := range long {
		sp := b.span()
		if acc+sp > span/2 {
			from := b.first
			if skip := span/2 - acc; skip > 0 {
				from += skip * (b.last - b.first) / sp
			}
			lo, _ := slices.BinarySearch(times, from)
			hi, _ := slices.BinarySearch(times, b.last+1)
			late += hi - lo
		}
		acc += sp
	}
	secs := float64(span) / 1e6
	offered, offLate = float64(n)/secs, float64(late)/(secs/2)
	return offLate >= 0.5*offered, offered, offLate
}

// bufferLasts is, under a sustained surplus in front of the consumer, how
// long the results channel's slots last before workers block: it fills at
// what the workers hand over (the offered load, at most their capacity)
// minus what the delivery and the consumer take.
func bufferLasts(a *Analysis) float64 {
	v := &a.Verdict
	if v.Kind != KindCapacity || (v.Stage != StageConsumer && v.Stage != StageDelivery) || a.Config.Nonblocking() {
		return 0
	}
	if surplus := fillRate(a, v.OfferedPerS); surplus > 0 {
		return float64(a.Stage(StageResults).Slots) / surplus
	}
	return 0
}

// fillRate is how fast results pile up in the results channel at the
// offered load: the workers hand them over at min(offered, their
// capacity), the delivery and the consumer take min of theirs.
func fillRate(a *Analysis, offered float64) float64 {
	out := minPositive(a.Stage(StageDelivery).CapacityPerS, a.Stage(StageConsumer).CapacityPerS)
	if out <= 0 {
		return 0
	}
	in := offered
	if w := a.Stage(StageWorkers).CapacityPerS; w > 0 {
		in = min(in, w)
	}
	return in - out
}

// stalledAt is the stage the jobs in flight are held up by: with
// backpressure they pile up upstream of it, so it is the furthest stage
// downstream that holds one, from the last part of each job that ended (a
// job taken by a forwarder waits for the consumer; one done with its work
// for a forwarder; one accepted, for a worker).
func stalledAt(jobs []Job) (string, int) {
	count := map[string]int{}
	for i := range jobs {
		j := &jobs[i]
		if j.Outcome != OutcomeInFlight || j.Earlier {
			continue
		}
		switch {
		case j.Taken > 0:
			count[StageConsumer]++
		case j.WorkEnd > 0:
			count[StageDelivery]++
		default:
			count[StageWorkers]++
		}
	}
	for _, s := range []string{StageConsumer, StageDelivery} {
		if count[s] > 0 {
			return s, count[s]
		}
	}
	return StageWorkers, count[StageWorkers]
}

// serverStages are the stages that can limit throughput: the vendor is a
// part of the workers' work, and buffers only hold.
var serverStages = []string{StageWorkers, StageDelivery, StageConsumer}

// limitStage is the server stage with the least capacity μ = c/(V·S).
func limitStage(a *Analysis) (string, float64) {
	best, mu := "", math.Inf(1)
	for _, name := range serverStages {
		if s := a.Stage(name); s != nil && s.CapacityPerS > 0 && s.CapacityPerS < mu {
			best, mu = name, s.CapacityPerS
		}
	}
	if best == "" {
		return "", 0
	}
	return best, mu
}

// attribute names the stage to blame for the limit. A forwarder's Deliver
// returns only once the consumer handled the result, so the delivery's
// capacity F/(round trip + handling) is never above the consumer's K/S
// when F ≤ K: when the consumer's handling is most of each delivery and its
// own capacity is close, the consumer is the one to name (its fix then
// raises the forwarders with it).
func attribute(a *Analysis, limit string, m *measures) string {
	if limit != StageDelivery {
		return limit
	}
	d, c := a.Stage(StageDelivery), a.Stage(StageConsumer)
	if c.CapacityPerS > 0 && c.CapacityPerS <= 1.25*d.CapacityPerS && m.consumerS >= 0.5*d.ServiceMSAvg {
		return StageConsumer
	}
	return StageDelivery
}

// burstAt finds a burst a buffer could not absorb: more arrived in a short
// while than the stages after the buffer could take, so it filled, and the
// overflow shows (blocked sends for the results channel, shed submissions
// for the job queue). It looks at the arrivals, not at when results were
// ready: a stall downstream also bunches results up, but that is a dip in
// capacity, not a burst. Bursts are judged over the time the pipeline was
// busy with them (Period.ActiveSeconds): the idle time between periodic
// bursts dilutes nothing. It returns the buffer and the backlog a fluid
// model of it puts there (the simulation refines it).
func burstAt(a *Analysis, m *measures, th Thresholds, sim *SimResult) (string, int) {
	jobs := a.JobList
	var arrivals []int64
	blocked := 0
	for i := range jobs {
		if jobs[i].arrivedIn(a.Period) {
			arrivals = append(arrivals, jobs[i].Arrival)
		}
		if jobs[i].Blocked && !jobs[i].Earlier {
			blocked++
		}
	}
	if !a.Config.Nonblocking() {
		res := a.Stage(StageResults)
		downstream := minPositive(a.Stage(StageDelivery).CapacityPerS, a.Stage(StageConsumer).CapacityPerS)
		// Blocking that took a real part of the workers' capacity while
		// they had work (not of their busy time: with 3 ms jobs, a few
		// short blocks are most of that), and that the replay of the
		// window's arrivals reproduces: blocking it doesn't came from
		// something else (a stall downstream, CPU contention).
		activeMS := float64(a.WorkerTime.Workers) * a.Period.ActiveSeconds * 1e3
		evident := blocked >= 2 && a.WorkerTime.BlockedOfActive >= th.BlockedSignificant &&
			(sim == nil || (activeMS > 0 && sim.BlockedMS/activeMS >= th.BlockedSignificant/2))
		if evident && downstream > 0 {
			if peak := fluidPeak(arrivals, downstream); peak > float64(res.Slots) {
				return StageResults, int(math.Ceil(peak))
			}
		}
	}
	if m.rejected > 0 && (sim == nil || sim.Rejected > 0) {
		q := a.Stage(StageQueue)
		if mu := a.Stage(StageWorkers).CapacityPerS; mu > 0 {
			if peak := fluidPeak(arrivals, mu); peak > float64(q.Slots) {
				return StageQueue, int(math.Ceil(peak))
			}
		}
	}
	return "", 0
}

// fluidPeak is the largest backlog of a buffer fed at the given times and
// drained at mu per second: b ← max(0, b − mu·Δt) + 1 at each arrival.
func fluidPeak(times []int64, mu float64) float64 {
	slices.Sort(times)
	var b, peak float64
	for i, t := range times {
		if i > 0 {
			b = max(0, b-mu*float64(t-times[i-1])/1e6)
		}
		b++
		peak = max(peak, b)
	}
	return peak
}

func minPositive(a, b float64) float64 {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// stageLine describes what a server stage does at its limit, e.g. "the
// consumer: it handles 19.8 results/s (50.5ms each, 1 at a time)".
func stageLine(a *Analysis, name string, m *measures) string {
	s := a.Stage(name)
	switch name {
	case StageConsumer:
		return fmt.Sprintf("the consumer: it handles %s results/s (%s each, %s)",
			FormatRate(s.CompletionsPerS), FormatMS(s.ServiceMSAvg), atATime(s.Servers, s.Inferred))
	case StageDelivery:
		return fmt.Sprintf("the delivery to the consumer: %s %s %s results/s (%s each: a round trip of %s and the consumer's %s of handling, which the forwarder waits for)",
			Plural(s.Servers, "forwarder", "forwarders"), verb(s.Servers, "delivers", "deliver"), FormatRate(s.CompletionsPerS),
			FormatMS(s.ServiceMSAvg), FormatMS(m.rtt), FormatMS(m.consumerS))
	case StageWorkers:
		line := fmt.Sprintf("the workers: %s %s %s jobs/s (%s of work each on average)",
			Plural(s.Servers, "worker", "workers"), verb(s.Servers, "completes", "complete"), FormatRate(s.CompletionsPerS), FormatMS(s.ServiceMSAvg))
		if m.vendorShare >= 0.5 {
			vs := a.Stage(StageVendor)
			line = fmt.Sprintf("the workers, held by the vendor: %s %s %s jobs/s (%s of work each on average; vendor calls, %s each, are %s of it)",
				Plural(s.Servers, "worker", "workers"), verb(s.Servers, "completes", "complete"), FormatRate(s.CompletionsPerS), FormatMS(s.ServiceMSAvg),
				FormatMS(vs.ServiceMSAvg), FormatShare(m.vendorShare))
		}
		return line
	}
	return "the " + name
}

func atATime(n int, inferred bool) string {
	s := strconv.Itoa(n) + " at a time"
	if inferred {
		s = "seen " + s
	}
	return s
}

func verb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func summary(a *Analysis, m *measures) string {
	v := &a.Verdict
	shed := ""
	if v.ShedPerS > 0 {
		shed = fmt.Sprintf("; %s jobs/s are shed at admission", FormatRate(v.ShedPerS))
	}
	switch v.Kind {
	case KindCapacity:
		return fmt.Sprintf("The bottleneck is %s while %s jobs/s arrive%s.", stageLine(a, v.Stage, m), FormatRate(v.OfferedPerS), shed)
	case KindBurst:
		count, within := burstShape(a)
		limit := attribute(a, v.LimitStage, m)
		if v.Stage == StageResults {
			limit = attribute(a, minStage(a, StageDelivery, StageConsumer), m)
		}
		lim := a.Stage(limit)
		head := fmt.Sprintf("A burst overflowed the %s: %d jobs arrived within %s, faster than %s can take them (%s/s)",
			bufferName(v.Stage), count, FormatMS(within), stageName(limit), FormatRate(lim.CapacityPerS))
		if n := a.Period.BusyPeriods; n > 1 {
			head = fmt.Sprintf("Bursts overflowed the %s: %d of them, each drained before the next, the largest %d jobs within %s, faster than %s can take them (%s/s)",
				bufferName(v.Stage), n, count, FormatMS(within), stageName(limit), FormatRate(lim.CapacityPerS))
		}
		switch v.Stage {
		case StageResults:
			s := fmt.Sprintf("%s; the backlog peaked at %d results in a %d-slot channel, so workers spent %s of their busy time blocked sending results",
				head, v.PeakBacklog, a.Stage(StageResults).Slots, FormatShare(a.WorkerTime.BlockedOfBusy))
			if a.HeadOfLine.Stuck > 0 {
				s += " and fast jobs waited behind slow ones"
			}
			return s + "."
		default:
			return fmt.Sprintf("%s; the backlog peaked at %d jobs in a %d-slot queue, and %d submissions were shed.",
				head, v.PeakBacklog, a.Stage(StageQueue).Slots, m.rejected)
		}
	case KindHeadOfLine:
		h := a.HeadOfLine
		busiest := busiestStage(a)
		return fmt.Sprintf("Head-of-line blocking in the job queue: capacity suffices (the busiest stage, the %s, is %s busy), but %d of %d fast jobs (%s) waited %s their own work for a worker behind slow vendor jobs (worst %s); fast jobs' p99 is %s.",
			busiest.Name, FormatShare(busiest.Utilization), h.Stuck, h.FastJobs, FormatShare(h.StuckShare), FormatRatio(h.MinRatio), FormatMS(h.WorstWaitMS), FormatMS(a.Fast.P99MS))
	}
	busiest := busiestStage(a)
	s := fmt.Sprintf("No bottleneck: %s jobs/s arrive and %s are handled; the busiest stage, the %s, is %s busy",
		FormatRate(v.OfferedPerS), FormatRate(v.ThroughputPerS), busiest.Name, FormatShare(busiest.Utilization))
	if a.Fast.Count > 0 {
		s += fmt.Sprintf("; fast jobs' p99 is %s", FormatMS(a.Fast.P99MS))
	}
	return s + "."
}

func minStage(a *Analysis, x, y string) string {
	sx, sy := a.Stage(x), a.Stage(y)
	if sy.CapacityPerS > 0 && (sx.CapacityPerS <= 0 || sy.CapacityPerS < sx.CapacityPerS) {
		return y
	}
	return x
}

func stageName(name string) string {
	switch name {
	case StageDelivery:
		return "the delivery to the consumer"
	case StageConsumer:
		return "the consumer"
	case StageWorkers:
		return "the workers"
	}
	return "the " + name
}

func bufferName(stage string) string {
	if stage == StageResults {
		return "results channel"
	}
	return "job queue"
}

// burstShape is the densest burst: the most arrivals within one second,
// and the time they spanned.
func burstShape(a *Analysis) (int, float64) {
	var t []int64
	for i := range a.JobList {
		if a.JobList[i].arrivedIn(a.Period) {
			t = append(t, a.JobList[i].Arrival)
		}
	}
	slices.Sort(t)
	best, span := 0, int64(0)
	lo := 0
	for hi := range t {
		for t[hi]-t[lo] > 1e6 {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best, span = n, t[hi]-t[lo]
		}
	}
	return best, float64(span) / 1e3
}

// busiestStage is the server stage with the highest utilization.
func busiestStage(a *Analysis) Stage {
	var best Stage
	for _, name := range serverStages {
		if s := a.Stage(name); s != nil && s.Utilization >= best.Utilization {
			best = *s
		}
	}
	if best.Name == "" {
		best.Name = StageWorkers
	}
	return best
}

// symptoms lists what the stages upstream of the bottleneck show because
// of it: with backpressure, each of them looks busy or blocked.
func symptoms(a *Analysis, stage string) []string {
	out := []string{}
	if stage == StageNone {
		return out
	}
	at := slices.Index(StageNames, stage)
	for _, s := range a.Stages[:max(at, 0)] {
		switch s.Name {
		case StageAdmission:
			if s.RejectedPerS > 0 {
				out = append(out, fmt.Sprintf("admission: %s jobs/s shed (%s of submissions) because the queue stayed full", FormatRate(s.RejectedPerS), FormatShare(s.Utilization)))
			}
		case StageQueue:
			if s.Utilization >= 0.25 {
				out = append(out, fmt.Sprintf("queue: %s full on average; jobs waited %s in it", FormatShare(min(s.Utilization, 1)), FormatMS(s.WaitMSAvg)))
			}
		case StageWorkers:
			if a.WorkerTime.BlockedOfBusy >= 0.05 {
				out = append(out, fmt.Sprintf("workers: %s of their busy time blocked sending results, not working (work alone keeps them %s busy)", FormatShare(a.WorkerTime.BlockedOfBusy), FormatShare(s.Utilization)))
			}
		case StageResults:
			if s.BlockedShare > 0 {
				out = append(out, fmt.Sprintf("results: %s of sends blocked on a full channel (%d slots); results waited %s for a forwarder", FormatShare(s.BlockedShare), s.Slots, FormatMS(s.WaitMSAvg)))
			}
		case StageDelivery:
			if s.Utilization >= 0.8 {
				out = append(out, fmt.Sprintf("delivery: the forwarders are %s busy, each waiting for the consumer's answer", FormatShare(min(s.Utilization, 1))))
			}
		}
	}
	return out
}

// notes qualify the verdict. They only read the analysis.
func notes(a *Analysis, m *measures) []string {
	var out []string
	v := &a.Verdict
	if a.Period.Truncated {
		out = append(out, fmt.Sprintf("Only the newest %d traces were read (the search's limit): every rate is over the %s they cover, not the whole window.",
			a.Traces, FormatSeconds(a.Period.Seconds)))
	}
	if a.Jobs.HandledEarlier > 0 && a.Jobs.Delivered+a.Jobs.Failed < a.Jobs.HandledEarlier {
		out = append(out, fmt.Sprintf("Jobs take longer end to end than the period read: %d handled in it had arrived before it, and %d of the %d that arrived in it were still in the pipeline. Completions are counted from the consumer's spans, whenever their jobs arrived.",
			a.Jobs.HandledEarlier, a.Jobs.InFlight, a.Jobs.Total))
	}
	if v.BufferLastsS > 0 {
		in := v.OfferedPerS
		if w := a.Stage(StageWorkers).CapacityPerS; w > 0 && w < in {
			in = w
		}
		surplus := fillRate(a, v.OfferedPerS)
		b := a.Stage(StageResults).Slots
		line := fmt.Sprintf("A bigger RESULTS_BUFFER would only delay the blocking: the workers hand over %s results/s and %s takes %s, so its %d slots fill in %s",
			FormatRate(in), stageName(v.Stage), FormatRate(in-surplus), b, FormatSeconds(v.BufferLastsS))
		if incident := a.Config.Workers * 100; incident > b {
			line += fmt.Sprintf(", and %d would in %s", incident, FormatSeconds(float64(incident)/surplus))
		}
		out = append(out, line+".")
	}
	if len(a.Config.Changed) > 0 {
		var names []string
		for _, c := range a.Config.Changed {
			names = append(names, EnvName(c))
		}
		out = append(out, fmt.Sprintf("%s changed while these traces were written: the window mixes both settings, the latest value counts, and waits measured under the old one skew the rest. Read a window that starts after the change.",
			strings.Join(names, ", ")))
	}
	for _, name := range []string{StageQueue, StageResults} {
		f, ok := m.overfull[name]
		if !ok {
			continue
		}
		s := a.Stage(name)
		if f.overflow {
			out = append(out, fmt.Sprintf("The %s held %.0f results on average, more than its %d slots: the non-blocking overflow held the rest (shown as 100%% full).", bufferName(name), f.fill*float64(s.Slots), s.Slots))
		} else {
			out = append(out, fmt.Sprintf("The %s's waits imply %.0f jobs in its %d slots on average (shown as 100%% full): they were measured under other settings, or the traces read are not all of its jobs.", bufferName(name), f.fill*float64(s.Slots), s.Slots))
		}
	}
	if f := a.ModelFit; f != nil && f.FastP99Error < -0.5 && f.MeasuredFastP99MS-f.SimulatedFastP99MS >= 100 {
		out = append(out, fmt.Sprintf("Fast jobs' p99 was %s, but the simulation of these arrivals and service times gives %s: something the model does not see slowed the pipeline at times (CPU contention, a pause, a stall downstream); predictions of p99 are optimistic here.",
			FormatMS(f.MeasuredFastP99MS), FormatMS(f.SimulatedFastP99MS)))
	}
	if s := a.Stage(v.Stage); s != nil && s.Inferred && s.Kind == KindServer {
		what := map[string]string{StageWorkers: "workers (distinct worker.id)", StageDelivery: "forwarders (most deliveries at once)",
			StageConsumer: "consumer concurrency (most results handled at once)"}[v.Stage]
		out = append(out, fmt.Sprintf("The %s is inferred from what the spans did: these traces (contract %s) don't carry the setting; it may be set higher than %d.", what, a.Contract, s.Servers))
	}
	return out
}

// modelFit compares the simulation of the current settings with the
// measurement. It is the baseline every prediction is read against.
func modelFit(a *Analysis, m *measures, in *simInput, r *SimResult) *ModelFit {
	if r == nil {
		return nil
	}
	f := &ModelFit{Method: "replay", SimulatedJobs: len(in.workload.Jobs),
		MeasuredThroughputPerS: m.delivered, SimulatedThroughputPerS: r.ThroughputPerS,
		MeasuredFastP99MS: a.Fast.P99MS, SimulatedFastP99MS: r.FastP99MS,
		MeasuredBlockedShare: a.WorkerTime.BlockedOfBusy, SimulatedBlockedShare: r.BlockedShare,
		MeasuredFastWaitP99MS: m.fastWaitP99, SimulatedFastWaitP99MS: r.FastWaitP99MS,
		MeasuredShedPerS: m.rejectedPerS, SimulatedShedPerS: r.RejectedPerS,
		MeasuredFailedPerS: m.failedPerS, SimulatedFailedPerS: r.FailedPerS,
	}
	if in.steady {
		f.Method = "steady"
	}
	if f.MeasuredThroughputPerS > 0 {
		f.ThroughputError = (f.SimulatedThroughputPerS - f.MeasuredThroughputPerS) / f.MeasuredThroughputPerS
	}
	if f.MeasuredFastP99MS > 0 {
		f.FastP99Error = (f.SimulatedFastP99MS - f.MeasuredFastP99MS) / f.MeasuredFastP99MS
	}
	return f
}
