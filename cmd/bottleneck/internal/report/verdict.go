package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// chain tells the findings as the incident write-up does: from cause to
// symptom, each link with the number that proves it. The verdict line
// that closes it comes from the capacity model.
func chain(f *Findings, th Thresholds) []string {
	out := []string{}
	b, h := &f.Blocking, &f.HeadOfLine
	vendor, cache := f.Operation(spans.VendorAPI), f.Operation(spans.CacheRead)
	vendorSlow := f.Vendor.Degraded > 0 || (vendor != nil && vendor.P99MS >= msOf(th.VendorSlowP99))
	workers := f.Config.Workers

	// 1. The load, when it is what overwhelms the pipeline.
	if v := f.Verdict; v.Kind == analysis.KindCapacity {
		secs := f.Period.SustainedSeconds
		if secs <= 0 {
			secs = f.Period.ArrivalSeconds
		}
		line := fmt.Sprintf("Load: %s jobs/s arrived for %s", formatRate(v.OfferedPerS), formatSeconds(secs))
		if f.Jobs.Rejected > 0 {
			line += fmt.Sprintf("; %d submissions (%s/s) were shed at admission, the job queue being full", f.Jobs.Rejected, formatRate(v.ShedPerS))
		}
		out = append(out, line+".")
	}
	// 2. The vendor.
	if vendor != nil {
		line := fmt.Sprintf("vendor.api averaged %s (p99 %s) over %d calls", formatMS(vendor.AvgMS), formatMS(vendor.P99MS), vendor.Count)
		if cache != nil && f.VendorCacheRatio > 0 {
			line += fmt.Sprintf(", %s slower than cache reads", formatRatio(f.VendorCacheRatio))
		}
		if f.Vendor.Calls > 0 {
			line += fmt.Sprintf("; %d of %d vendor calls (%s) were degraded", f.Vendor.Degraded, f.Vendor.Calls, formatShare(f.Vendor.DegradedShare))
		}
		if vendorSlow {
			out = append(out, "Slow vendor: "+line+".")
		} else {
			out = append(out, "Vendor: "+line+".")
		}
	}
	// 3. The results buffer.
	if c := f.Config.ResultsBufferCap; b.Sends > 0 {
		if c <= workers {
			out = append(out, fmt.Sprintf("Small results buffer: the results channel holds %d results for %d workers, so it fills as soon as the consumer falls behind.", c, workers))
		} else {
			out = append(out, fmt.Sprintf("Results buffer: the results channel holds %d results for %d workers.", c, workers))
		}
	}
	// 4. The consumer, and the forwarders that wait for it: "slow" only
	// when it is what the verdict blames (directly, or as what a burst
	// overflowed in front of) or it is busy.
	if c := f.Consumer; c.Results > 0 {
		at := "one at a time"
		if n := f.Config.ConsumerConcurrency; n > 1 {
			at = fmt.Sprintf("%d at a time", n)
		}
		label := "Consumer"
		if consumerSlow(f) {
			label = "Slow consumer"
		}
		line := fmt.Sprintf("%s: result.process takes %s per result, %s: at most ~%.0f results/s", label, formatMS(c.AvgMS), at, c.MaxPerSecond)
		if d := f.Stage(analysis.StageDelivery); d != nil && d.CapacityPerS > 0 && d.CapacityPerS < c.MaxPerSecond*0.95 {
			line += fmt.Sprintf(", and %s, each waiting for the consumer's answer (%s), deliver at most ~%.0f/s",
				plural(f.Config.Forwarders, "forwarder", "forwarders"), formatMS(d.ServiceMSAvg), d.CapacityPerS)
		}
		if c.DeliveryWaitMaxMS > 0 {
			line += fmt.Sprintf("; results waited up to %s (avg %s) to be handled", formatMS(c.DeliveryWaitMaxMS), formatMS(c.DeliveryWaitAvgMS))
		}
		out = append(out, line+".")
	}
	// 5. The workers.
	if b.Blocked > 0 {
		line := fmt.Sprintf("Blocked workers: %d of %d result sends blocked", b.Blocked, b.Sends)
		if b.Longest != nil {
			line += fmt.Sprintf(" (longest %s)", formatMS(b.Longest.MS))
		}
		out = append(out, line+fmt.Sprintf("; workers spent %s of their busy time blocked sending results instead of taking new jobs.", formatShare(b.WorkerTimeBlocked)))
	} else if b.Sends > 0 {
		out = append(out, fmt.Sprintf("Workers: none of %d result sends blocked.", b.Sends))
	}
	// 6. The symptom.
	if h.Stuck > 0 {
		w := h.Worst[0]
		line := fmt.Sprintf("Fast jobs stuck: %d of %d fast jobs waited %s+ their own work for a worker; worst: %s waited %s (queued %s, send blocked %s) for %s of work",
			h.Stuck, h.FastJobs, formatRatio(h.MinRatio), jobLabel(w.JobType, w.JobID), formatMS(w.WaitMS), formatMS(w.QueueWaitMS), formatMS(w.SendBlockMS), formatMS(w.WorkMS))
		if len(w.VendorJobsBehind) > 0 {
			line += ", behind vendor jobs " + strings.Join(w.VendorJobsBehind, ", ")
		}
		out = append(out, line+".")
	} else if h.FastJobs > 0 {
		out = append(out, fmt.Sprintf("Fast jobs: none of %d waited %s their work for a worker.", h.FastJobs, formatRatio(h.MinRatio)))
	}
	return out
}

// consumerSlow says whether the consumer (with the forwarders that wait for
// it) is what limits the pipeline: the verdict names it or the delivery,
// or a burst overflowed the results channel in front of it, or it is at
// least 80% busy.
func consumerSlow(f *Findings) bool {
	v := f.Verdict
	switch {
	case v.Kind == analysis.KindNone || v.Kind == "":
	case v.Stage == analysis.StageConsumer, v.Stage == analysis.StageDelivery, v.Stage == analysis.StageResults:
		return true
	}
	s := f.Stage(analysis.StageConsumer)
	return s != nil && s.Utilization >= 0.8
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The formatters are the analysis's, so the report prints every number the
// way the model's own sentences do.
var (
	formatMS      = analysis.FormatMS
	formatShare   = analysis.FormatShare
	formatRate    = analysis.FormatRate
	formatSeconds = analysis.FormatSeconds
	formatRatio   = analysis.FormatRatio
	plural        = analysis.Plural
)

func jobLabel(typ, id string) string {
	switch {
	case typ != "" && id != "":
		return typ + " job " + id
	case id != "":
		return "job " + id
	case typ != "":
		return "a " + typ + " job"
	}
	return "a job"
}
