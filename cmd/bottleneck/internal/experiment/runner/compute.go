package runner

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
)

// Thresholds of the harness checks.
const (
	// busyLimit: a machine this busy may have slowed the row down.
	busyLimit = 90.0
	// behindLimit: the producer generating less than this share of the
	// planned rate means the load itself was not what the plan said.
	behindLimit = 0.97
	// otherLimit: other processes using this much of the machine are
	// worth saying.
	otherLimit = 20.0
	// fillingMin, fillingMinShare: a results buffer that grew by fewer
	// results, or less than this share of its room, over the window is
	// steady, not filling (the default 4 slots swing between empty and
	// full all the time).
	fillingMin      = 10
	fillingMinShare = 0.01
	// accountingSlack: the processes' CPU may exceed the machine's busy
	// share by this much (percentage points) from rounding to ticks.
	accountingSlack = 1.0
)

// measurement fills a row's numbers from the snapshots at the window's
// start and end, the planned workload and the machine's CPU count.
func measurement(row *result.Row, w plan.Workload, a, b measure.Snapshot, cpus int) {
	secs := b.At.Sub(a.At).Seconds()
	row.MeasuredSeconds = round(secs, 3)
	row.WindowStart, row.WindowEnd = a.At.UTC(), b.At.UTC()
	if secs <= 0 {
		return
	}
	rate := func(x, y uint64) *float64 { return result.F(round(float64(int64(y)-int64(x))/secs, 2)) }
	ac, bc := a.Counters, b.Counters
	if w.Steady != nil {
		// Steady submissions run concurrently, so counting their outcomes
		// would miss those still in flight: count what was generated.
		gen := func(c measure.Counters) uint64 { return c.Producer.Steady.Generated + c.Producer.Steady.SkippedBehind }
		row.OfferedPerS = rate(gen(ac), gen(bc))
	} else {
		row.OfferedPerS = rate(ac.Offered(), bc.Offered())
	}
	row.DeliveredPerS = rate(ac.Consumer.Handled, bc.Consumer.Handled)
	row.FailedPerS = rate(ac.FailedHandled(), bc.FailedHandled())
	refused := rate(sumMap(ac.Producer.Rejected), sumMap(bc.Producer.Rejected))
	shed := rate(ac.Producer.Shed(), bc.Producer.Shed())
	row.RefusedPerS, row.ShedPerS = refused, shed
	row.RejectedPerS = result.F(round(*refused+*shed, 2))
	row.ResultsBuffer = bufferFill(a.Counters, b.Counters, secs)

	handled := int(bc.FastHandled() - ac.FastHandled())
	row.Fast.Handled = &handled

	workers := bc.Workers.Config.Workers
	sends := bc.Workers.Counters.Completed - ac.Workers.Counters.Completed
	blocked := bc.Workers.Counters.BlockedSends - ac.Workers.Counters.BlockedSends
	row.Blocked.Sends, row.Blocked.BlockedSends = &sends, &blocked
	if workers > 0 {
		row.Blocked.Workers = &workers
		ms := float64(bc.Workers.Counters.BlockedMSTotal - ac.Workers.Counters.BlockedMSTotal)
		share := ms / (float64(workers) * secs * 1000)
		row.Blocked.Share = result.F(round(math.Min(math.Max(share, 0), 1), 4))
	}

	// CPU shares over the interval the CPU readings span (they are taken
	// together, after the counters).
	cpuSecs := secs
	if !a.CPUAt.IsZero() && !b.CPUAt.IsZero() {
		cpuSecs = b.CPUAt.Sub(a.CPUAt).Seconds()
	}
	row.Processes = map[string]result.Process{}
	var stackCPU, stackWait time.Duration
	stackKnown, waitKnown := true, len(b.Procs) > 0
	for name, pb := range b.Procs {
		pa, ok := a.Procs[name]
		var p result.Process
		if ok && pa.HasCPU && pb.HasCPU && cpuSecs > 0 {
			d := pb.CPU - pa.CPU
			stackCPU += d
			p.CPUPercent = result.F(round(100*d.Seconds()/cpuSecs, 1))
		} else {
			stackKnown = false
		}
		if ok && pa.HasWait && pb.HasWait {
			stackWait += max(pb.Wait-pa.Wait, 0)
		} else {
			waitKnown = false
		}
		if pb.RSS > 0 {
			p.RSSMB = result.F(round(float64(pb.RSS)/(1<<20), 1))
		}
		if pb.PeakRSS > 0 {
			p.PeakRSSMB = result.F(round(float64(pb.PeakRSS)/(1<<20), 1))
		}
		row.Processes[name] = p
	}
	stackKnown = stackKnown && len(b.Procs) > 0
	if stackKnown && waitKnown && stackCPU+stackWait > 0 {
		row.Harness.StackCPUWaitPercent = result.F(round(100*stackWait.Seconds()/(stackCPU+stackWait).Seconds(), 1))
	}
	harness(row, w, a, b, secs, cpus, stackCPU, stackKnown)
}

// bufferFill is the results channel at the window's end, and whether it
// was still filling: not yet full, and it grew over the window by at least
// fillingMin results and fillingMinShare of its room.
func bufferFill(a, b measure.Counters, secs float64) *result.BufferFill {
	held, room := b.ResultsHeld()
	before, _ := a.ResultsHeld()
	if room <= 0 {
		return nil
	}
	f := &result.BufferFill{Held: held, Room: room, GrowthPerS: round(float64(held-before)/secs, 2)}
	if grew := held - before; held < room && grew >= fillingMin && float64(grew) >= fillingMinShare*float64(room) {
		f.FillingUntilS = result.F(round(float64(room-held)/(float64(grew)/secs), 1))
	}
	return f
}

// harness says whether the machine rather than the system limited the row.
func harness(row *result.Row, w plan.Workload, a, b measure.Snapshot, secs float64, cpus int, stackCPU time.Duration, stackKnown bool) {
	h := &row.Harness
	h.Warnings = []string{}
	ac, bc := a.Counters, b.Counters
	behind := float64(bc.Producer.Steady.SkippedBehind-ac.Producer.Steady.SkippedBehind) / secs
	h.BehindPerS = result.F(round(behind, 2))
	if w.Steady != nil && row.OfferedPerS != nil {
		generated := *row.OfferedPerS - behind
		if generated < behindLimit*w.Steady.Rate {
			h.Limited = true
			h.Warnings = append(h.Warnings, fmt.Sprintf(
				"the producer generated %.0f of the planned %g jobs/s: the machine could not keep up with the load itself", generated, w.Steady.Rate))
		}
	}
	if shed := row.ShedPerS; shed != nil && *shed > 0 {
		h.Skipped = true
		backlog := float64(bc.Producer.Steady.SkippedBacklog-ac.Producer.Steady.SkippedBacklog) / secs
		full := float64(bc.Producer.Delivery.RefusedFull-ac.Producer.Delivery.RefusedFull) / secs
		var why []string
		if backlog > 0 {
			cap := "all its submissions in flight"
			if n := bc.Producer.Steady.MaxInFlight; n > 0 {
				cap = fmt.Sprintf("its %d submissions in flight", n)
			}
			why = append(why, fmt.Sprintf("%.1f/s because %s were waiting on the pool (skipped_backlog)", backlog, cap))
		}
		if full > 0 {
			why = append(why, fmt.Sprintf("%.1f/s because too many jobs waited for the consumer's confirmation (refused_full)", full))
		}
		msg := fmt.Sprintf("the producer skipped %.1f jobs/s without submitting them", *shed)
		if len(why) > 0 {
			msg += ": " + strings.Join(why, "; ")
		}
		if row.OfferedPerS != nil {
			msg += fmt.Sprintf(". The pool saw %.1f of the %.1f jobs/s offered", math.Max(*row.OfferedPerS-*shed-behind, 0), *row.OfferedPerS)
		}
		h.Warnings = append(h.Warnings, msg+"; each skipped job is traced as shed, so the model still counts it as arrived")
	}
	if f := row.ResultsBuffer; f.Filling() && w.Steady != nil {
		h.Warnings = append(h.Warnings, fmt.Sprintf(
			"the results buffer was still filling when the window closed (%d of %d held, +%.1f/s): it would have been full about %.0f s later. "+
				"Until then no worker blocks, so this row's blocked share does not last: under sustained overload a bigger buffer only delays the blocking "+
				"(a longer warmup measures past the fill)", f.Held, f.Room, f.GrowthPerS, *f.FillingUntilS))
	}
	lost := bc.SpansLost() - ac.SpansLost()
	h.SpansLost = &lost
	if lost > 0 {
		h.Warnings = append(h.Warnings, fmt.Sprintf("%d spans were lost on the way to Jaeger: the trace sample and the bottleneck analysis miss them", lost))
	}
	if a.Machine != nil && b.Machine != nil && cpus > 0 {
		total := (b.Machine.Total - a.Machine.Total).Seconds()
		if total > 0 {
			busy := 100 * (b.Machine.Busy - a.Machine.Busy).Seconds() / total
			h.MachineBusyPercent = result.F(round(busy, 1))
			// Shares of the machine's own count of CPU time over the
			// interval, read together with the processes': the stack's
			// share and the machine's busy share divide by the same time.
			var ours float64
			if stackKnown {
				h.StackCPUPercent = result.F(round(100*stackCPU.Seconds()/total, 1))
				ours += *h.StackCPUPercent
			}
			if a.Self != nil && b.Self != nil {
				h.ExperimentCPUPercent = result.F(round(100*(*b.Self-*a.Self).Seconds()/total, 1))
				ours += *h.ExperimentCPUPercent
			}
			if stackKnown {
				h.OtherCPUPercent = result.F(round(math.Max(busy-ours, 0), 1))
				if ours > busy+accountingSlack {
					// The kernel keeps a process's CPU time and a CPU's busy
					// time in separate counters, ticked apart.
					h.Warnings = append(h.Warnings, fmt.Sprintf(
						"the processes' CPU time (%.1f%% of the machine) exceeds the machine's busy time (%.1f%%): the kernel counts the two apart, so the CPU shares are approximate", ours, busy))
				}
			}
			use := fmt.Sprintf("the machine's CPUs were %.0f%% busy", busy)
			if h.StackCPUPercent != nil && h.OtherCPUPercent != nil {
				use += fmt.Sprintf(" (the stack %.0f%%, other processes %.0f%%)", *h.StackCPUPercent, *h.OtherCPUPercent)
			}
			switch {
			case busy >= busyLimit:
				// No CPU to spare: whatever the stack needed beyond what it
				// got, it waited for. The configuration did not set this
				// row's limit alone.
				h.Limited = true
				if w := h.StackCPUWaitPercent; w != nil {
					use += fmt.Sprintf("; the stack's threads waited for a CPU %.0f%% of the time they were ready to run", *w)
				}
				h.Warnings = append(h.Warnings, use+": the machine, not the configuration, may have limited this row")
			case h.OtherCPUPercent != nil && *h.OtherCPUPercent >= otherLimit:
				h.Warnings = append(h.Warnings, fmt.Sprintf("other processes used %.0f%% of the machine's CPUs during the row", *h.OtherCPUPercent))
			}
		}
	}
}

// latencies fills the fast jobs' percentiles and the worst one's link.
func latencies(row *result.Row, s measure.TraceSample, ui string) {
	row.Fast.Samples = len(s.Fast)
	if len(s.Fast) == 0 {
		if row.Fast.Handled != nil && *row.Fast.Handled > 0 {
			row.Harness.Warnings = append(row.Harness.Warnings, fmt.Sprintf(
				"the consumer handled %d fast jobs, but Jaeger had none of their traces: no latencies", *row.Fast.Handled))
		}
		return
	}
	ms := make([]float64, len(s.Fast))
	for i, l := range s.Fast {
		ms[i] = l.EndToEndMS
	}
	slices.Sort(ms)
	row.Fast.P50MS = result.F(round(analysis.Percentile(ms, 0.50), 1))
	row.Fast.P99MS = result.F(round(analysis.Percentile(ms, 0.99), 1))
	if w := measure.Worst(s.Fast); w != nil {
		row.Fast.Worst = &result.TraceLink{TraceID: w.TraceID, URL: TraceURL(ui, w.TraceID), JobID: w.JobID, Type: w.Type, EndToEndMS: w.EndToEndMS}
	}
}

// TraceURL links a trace the way `bottleneck report` does.
func TraceURL(ui, traceID string) string { return ui + "/trace/" + traceID }

func sumMap(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// workload describes w for the JSON.
func workload(w plan.Workload) result.Workload {
	out := result.Workload{Text: w.String()}
	switch {
	case w.Steady != nil:
		out.Kind = "steady"
		out.Rate = result.F(w.Steady.Rate)
		out.Mix = w.Mix()
	case w.Checkout != nil:
		out.Kind = "checkout"
		out.Every, out.Timeout = w.Checkout.Every.String(), w.Checkout.Timeout.String()
	}
	return out
}
