package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Fix values. RESULTS_BUFFER's fix is computed: WORKERS*100.
const (
	vendorTimeoutFix = 300 * time.Millisecond
	buffersPerWorker = 100
	defaultWorkers   = 4
)

// verdict explains the findings as the incident write-up does: a chain
// from cause to symptom, each link with the number that proves it, and the
// fixes that apply.
func verdict(f *Findings, th Thresholds) Verdict {
	b, h := &f.Blocking, &f.HeadOfLine
	vendor, cache := f.Operation(spans.VendorAPI), f.Operation(spans.CacheRead)
	vendorSlow := f.Vendor.Degraded > 0 || (vendor != nil && vendor.P99MS >= msOf(th.VendorSlowP99))
	workers := f.Config.Workers
	if workers == 0 {
		workers = defaultWorkers
	}

	v := Verdict{Bottleneck: b.Blocked > 0 || h.Stuck > 0}
	v.Healthy = !v.Bottleneck

	// 1. The vendor.
	if vendor != nil {
		line := fmt.Sprintf("vendor.api averaged %s (p99 %s) over %d calls", formatMS(vendor.AvgMS), formatMS(vendor.P99MS), vendor.Count)
		if cache != nil && f.VendorCacheRatio > 0 {
			line += fmt.Sprintf(", %s slower than cache reads", formatRatio(f.VendorCacheRatio))
		}
		if f.Vendor.Calls > 0 {
			line += fmt.Sprintf("; %d of %d vendor calls (%s) were degraded", f.Vendor.Degraded, f.Vendor.Calls, formatShare(f.Vendor.DegradedShare))
		}
		if vendorSlow {
			v.Chain = append(v.Chain, "Slow vendor: "+line+".")
		} else {
			v.Chain = append(v.Chain, "Vendor: "+line+".")
		}
	}
	// 2. The results buffer.
	if c := f.Config.ResultsBufferCap; c > 0 {
		if c <= workers {
			v.Chain = append(v.Chain, fmt.Sprintf("Small results buffer: the results channel holds %d results for %d workers, so it fills as soon as the consumer falls behind.", c, workers))
		} else {
			v.Chain = append(v.Chain, fmt.Sprintf("Results buffer: the results channel holds %d results for %d workers.", c, workers))
		}
	}
	// 3. The consumer.
	if c := f.Consumer; c.Results > 0 {
		at := "one at a time"
		if n := f.Config.ConsumerConcurrency; n > 1 {
			at = fmt.Sprintf("%d at a time", n)
		}
		line := fmt.Sprintf("Slow consumer: result.process takes %s per result, %s: at most ~%.0f results/s", formatMS(c.AvgMS), at, c.MaxPerSecond)
		if c.DeliveryWaitMaxMS > 0 {
			line += fmt.Sprintf("; results waited up to %s (avg %s) to be handled", formatMS(c.DeliveryWaitMaxMS), formatMS(c.DeliveryWaitAvgMS))
		}
		v.Chain = append(v.Chain, line+".")
	}
	// 4. The workers.
	if b.Blocked > 0 {
		line := fmt.Sprintf("Blocked workers: %d of %d result sends blocked", b.Blocked, b.Sends)
		if b.Longest != nil {
			line += fmt.Sprintf(" (longest %s)", formatMS(b.Longest.MS))
		}
		v.Chain = append(v.Chain, line+fmt.Sprintf("; workers spent %s of their busy time blocked sending results instead of taking new jobs.", formatShare(b.WorkerTimeBlocked)))
	} else if b.Sends > 0 {
		v.Chain = append(v.Chain, fmt.Sprintf("Workers: none of %d result sends blocked.", b.Sends))
	}
	// 5. The symptom.
	if h.Stuck > 0 {
		w := h.Worst[0]
		line := fmt.Sprintf("Fast jobs stuck: %d of %d fast jobs waited %s+ their own work for a worker; worst: %s waited %s (queued %s, send blocked %s) for %s of work",
			h.Stuck, h.FastJobs, formatRatio(h.MinRatio), jobLabel(w.JobType, w.JobID), formatMS(w.WaitMS), formatMS(w.QueueWaitMS), formatMS(w.SendBlockMS), formatMS(w.WorkMS))
		if len(w.VendorJobsBehind) > 0 {
			line += ", behind vendor jobs " + strings.Join(w.VendorJobsBehind, ", ")
		}
		v.Chain = append(v.Chain, line+".")
	} else if h.FastJobs > 0 {
		v.Chain = append(v.Chain, fmt.Sprintf("Fast jobs: none of %d waited %s their work for a worker.", h.FastJobs, formatRatio(h.MinRatio)))
	}

	switch {
	case b.Blocked > 0:
		v.Summary = fmt.Sprintf("The bottleneck is the results channel: workers spent %s of their time blocked sending results, so fast jobs waited behind slow vendor calls.", formatShare(b.WorkerTimeBlocked))
	case h.Stuck > 0:
		v.Summary = fmt.Sprintf("No result send blocked, but %d fast jobs still waited for a worker behind slow ones (head-of-line blocking in the job queue).", h.Stuck)
	default:
		v.Summary = "No blocked result sends and no fast job stuck behind slow ones: the system looks healthy"
		switch {
		case f.Consumer.DeliveryWaitMaxMS >= msOf(th.StuckMinWait):
			v.Summary += fmt.Sprintf("; what remains is the consumer's pace (results waited up to %s for it).", formatMS(f.Consumer.DeliveryWaitMaxMS))
		case vendorSlow:
			v.Summary += ", though the vendor is slow."
		default:
			v.Summary += "."
		}
	}

	v.Fixes = []Fix{}
	if b.Blocked > 0 && f.Config.ResultSendMode != "nonblocking" {
		size := workers * buffersPerWorker
		v.Fixes = append(v.Fixes,
			Fix{Service: Service, Setting: "RESULTS_BUFFER", Value: strconv.Itoa(size),
				AdminConfig: map[string]any{"results_buffer": size},
				Why:         fmt.Sprintf("WORKERS*%d slots: results no longer wait for the consumer", buffersPerWorker)},
			Fix{Service: Service, Setting: "RESULT_SEND", Value: "nonblocking", Alternative: true,
				AdminConfig: map[string]any{"result_send": "nonblocking"},
				Why:         "or: hand results to an overflow buffer, so a worker never blocks and no result is lost"})
	}
	if h.Stuck > 0 && f.Config.PriorityLanes != "on" {
		v.Fixes = append(v.Fixes, Fix{Service: Service, Setting: "PRIORITY_LANES", Value: "on",
			AdminConfig: map[string]any{"priority_lanes": "on"},
			Why:         "fast jobs get their own lane past slow vendor jobs"})
	}
	if v.Bottleneck && vendorSlow && f.Config.VendorTimeoutMS == 0 {
		v.Fixes = append(v.Fixes, Fix{Service: Service, Setting: "VENDOR_TIMEOUT", Value: vendorTimeoutFix.String(),
			AdminConfig: map[string]any{"vendor_timeout": vendorTimeoutFix.String()},
			Why:         "a degraded vendor call can't hold a worker longer than that"})
	}
	return v
}

// AdminConfigBody is the body of one PUT /admin/config on the workers
// that applies every fix except the alternatives.
func (v Verdict) AdminConfigBody() string {
	body := map[string]any{}
	for _, fx := range v.Fixes {
		if fx.Alternative {
			continue
		}
		for k, val := range fx.AdminConfig {
			body[k] = val
		}
	}
	if len(body) == 0 {
		return ""
	}
	b, err := json.Marshal(body) // keys sorted: stable output
	if err != nil {
		return ""
	}
	return string(b)
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatMS prints milliseconds at a precision that fits their size.
func formatMS(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}

func formatShare(s float64) string { return strconv.FormatFloat(s*100, 'f', 0, 64) + "%" }

func formatRatio(r float64) string {
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "x"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "x"
}

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
