package analysis

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Fix is one recommendation: one or more settings changed together, each
// with the request that applies it live, and the predicted effect.
type Fix struct {
	// Service, Setting and Value are the fix's first (main) change.
	Service string `json:"service"` // workers | consumer
	Setting string `json:"setting"` // env var, e.g. CONCURRENCY
	Value   string `json:"value"`
	Why     string `json:"why"`
	// Alternative marks a fix that replaces the one before it.
	Alternative bool `json:"alternative"`
	// AdminConfig is the main change's body for PUT /admin/config.
	AdminConfig map[string]any `json:"admin_config"`
	// Changes are every setting of the fix, the main one first: a fix may
	// need two services (the consumer's CONCURRENCY with the workers'
	// FORWARDERS), one request each.
	Changes   []Change   `json:"changes"`
	Predicted Prediction `json:"predicted"`
}

// Change is one setting of a fix.
type Change struct {
	Service     string         `json:"service"`
	Setting     string         `json:"setting"`
	Value       string         `json:"value"`
	AdminConfig map[string]any `json:"admin_config"`
	// AdminURL is the service's admin endpoint; Curl the ready command.
	AdminURL string `json:"admin_url"`
	Curl     string `json:"curl"`
}

// Prediction is the effect of a fix, computed from the measured numbers:
// throughput = min(offered, the new capacity) (the next stage then limits
// it), and fast jobs' p99 end to end from the simulation.
type Prediction struct {
	ThroughputPerS float64 `json:"throughput_per_s"`
	FastP99MS      float64 `json:"fast_p99_ms"`
	// FailedPerS is the part of ThroughputPerS whose work would fail:
	// vendor calls cut by a VENDOR_TIMEOUT.
	FailedPerS float64 `json:"failed_per_s"`
	// FastWaitP99MS is fast jobs' p99 wait for a worker (queued, and
	// blocked handing their result over), from the simulation.
	FastWaitP99MS float64 `json:"fast_wait_p99_ms"`
	// BottleneckStage is the stage with the least capacity after the fix,
	// CapacityPerS its capacity.
	BottleneckStage string  `json:"bottleneck_stage"`
	CapacityPerS    float64 `json:"capacity_per_s"`
	RejectedPerS    float64 `json:"rejected_per_s"`
	BlockedShare    float64 `json:"blocked_share"` // workers' busy time blocked sending
	// Method says where the numbers come from: "capacity model" (formulas
	// only), "capacity model + simulation" or "simulation".
	Method string `json:"method"`
}

// Services whose settings fixes change.
const (
	ServiceWorkers  = "workers"
	ServiceConsumer = "consumer"
)

func (u AdminURLs) of(service string) string {
	switch service {
	case ServiceConsumer:
		return cmp.Or(u.Consumer, "localhost:8083")
	}
	return cmp.Or(u.Workers, "localhost:8081")
}

// fixer builds fixes from one analysis.
type fixer struct {
	a    *Analysis
	m    *measures
	in   *simInput
	base *SimResult
	o    *Options
	// notes say why a fix the verdict calls for is not offered.
	notes []string
}

func recommend(a *Analysis, m *measures, in *simInput, base *SimResult, o *Options) ([]Fix, []string) {
	f := &fixer{a: a, m: m, in: in, base: base, o: o}
	v := &a.Verdict
	var main, extra []*Fix
	switch v.Kind {
	case KindCapacity:
		switch v.Stage {
		case StageConsumer, StageDelivery:
			main = append(main, f.consumerCapacity())
		case StageWorkers:
			main = append(main, f.vendorTimeout(), f.workers())
		}
	case KindBurst:
		if v.Stage == StageResults {
			if b := f.resultsBuffer(); b != nil {
				main = append(main, b, f.nonblocking())
			}
		} else {
			main = append(main, f.queueSize())
		}
		extra = append(extra, f.lanes(), f.vendorTimeout())
	case KindHeadOfLine:
		main = append(main, f.lanes())
		if main[0] == nil {
			main = append(main, f.vendorTimeout())
		} else {
			extra = append(extra, f.vendorTimeout())
		}
		extra = append(extra, f.workers())
	}
	out, notes := []Fix{}, f.notes
	kept := false // the last main fix was kept: an alternative follows it
	for _, fx := range main {
		if fx == nil {
			continue
		}
		if ok, effect := f.helps(fx); !ok {
			// Say so: a remedy the verdict suggests that the numbers
			// say won't help teaches something.
			notes = append(notes, fmt.Sprintf("Won't help: %s — %s.", fx.settings(), effect))
			kept = false
			continue
		}
		if fx.Alternative && !kept {
			fx.Alternative = false
		}
		kept = !fx.Alternative || kept
		out = append(out, *fx)
	}
	for _, fx := range extra {
		// Further fixes only when the simulation shows what they do.
		if fx == nil || base == nil {
			continue
		}
		if ok, _ := f.helps(fx); ok {
			out = append(out, *fx)
		}
	}
	return out, notes
}

// settings names a fix's changes: "consumer CONCURRENCY=7 + workers
// FORWARDERS=7".
func (fx *Fix) settings() string {
	var parts []string
	for _, c := range fx.Changes {
		parts = append(parts, c.Service+" "+c.Setting+"="+c.Value)
	}
	return strings.Join(parts, " + ")
}

// helps says whether a fix makes a difference, against the same model of
// the current settings: jobs handled without failing up a tenth, fast
// jobs' p99 down a fifth, the workers' time blocked sending halved (by 5
// points at least), or shed jobs halved; and neither throughput nor (unless
// more are handled or fewer shed) fast jobs' p99 clearly worse. A shorter
// wait for a worker alone is no help: fast jobs may then wait as long for
// the consumer. Throughput is judged against the measurement when the
// prediction's comes from the capacity model (sustained load), against
// the simulation otherwise. Without a simulation only throughput can be
// judged; a fix for anything else is kept. It also returns what the fix
// would do, for a fix that doesn't help.
func (f *fixer) helps(fx *Fix) (bool, string) {
	p, b, m := fx.Predicted, f.base, f.m
	good := p.ThroughputPerS - p.FailedPerS
	now := m.delivered - m.failedPerS
	if b != nil && p.Method == "simulation" {
		now = b.ThroughputPerS - b.FailedPerS
	}
	more := now > 0 && good >= 1.1*now || now <= 0 && good > 0
	fewer := now > 0 && good < 0.95*now
	if b == nil {
		return more || f.a.Verdict.Kind != KindCapacity,
			fmt.Sprintf("the capacity model predicts %s jobs/s handled, against %s measured", FormatRate(good), FormatRate(now))
	}
	faster := b.FastP99MS > 0 && p.FastP99MS > 0 && p.FastP99MS <= 0.8*b.FastP99MS
	slower := b.FastP99MS > 0 && p.FastP99MS > 1.2*b.FastP99MS && p.FastP99MS-b.FastP99MS >= 50
	unblocked := p.BlockedShare <= b.BlockedShare/2 && b.BlockedShare-p.BlockedShare >= 0.05
	shedLess := b.RejectedPerS > 0 && p.RejectedPerS <= b.RejectedPerS/2
	effect := fmt.Sprintf("the simulation of this window with it gives %s jobs/s handled and fast jobs' p99 %s (their wait for a worker %s), against %s jobs/s and %s (%s) without it",
		FormatRate(good), FormatMS(p.FastP99MS), FormatMS(p.FastWaitP99MS), FormatRate(now), FormatMS(b.FastP99MS), FormatMS(b.FastWaitP99MS))
	if !faster && p.FastWaitP99MS <= b.FastWaitP99MS/2 {
		effect += ": fast jobs would wait about as long further on, for the delivery to the consumer"
	}
	if fit := f.a.ModelFit; fit != nil && fit.FastP99Error < -0.5 {
		// The simulation doesn't reproduce the waits measured (a note says
		// so): it can't tell what a fix does to them. Keep the fix the
		// verdict calls for, unless it handles fewer jobs.
		return !fewer, effect
	}
	// Fast jobs' p99 counts only the jobs handled: a fix that sheds fewer
	// or handles more may raise it, and still help.
	if fewer || slower && !more && !shedLess {
		return false, effect
	}
	return more || faster || unblocked || shedLess, effect
}

// change is a setting and its admin field.
type change struct {
	service, setting, value string
	field                   string
	body                    any
}

func (f *fixer) fix(why string, alternative bool, cfg Config, changes ...change) *Fix {
	fx := &Fix{Why: why, Alternative: alternative}
	for i, c := range changes {
		body := map[string]any{c.field: c.body}
		url := f.o.Admin.of(c.service)
		b, _ := json.Marshal(body)
		ch := Change{Service: c.service, Setting: c.setting, Value: c.value, AdminConfig: body,
			AdminURL: "http://" + url + "/admin/config",
			Curl:     fmt.Sprintf("curl -X PUT %s/admin/config -H 'Content-Type: application/json' -d '%s'", url, b)}
		fx.Changes = append(fx.Changes, ch)
		if i == 0 {
			fx.Service, fx.Setting, fx.Value, fx.AdminConfig = c.service, c.setting, c.value, body
		}
	}
	fx.Predicted = f.predict(cfg)
	return fx
}

// predict is the effect of running with cfg instead: the capacities it
// gives each server stage, and a simulation of the window under it.
func (f *fixer) predict(cfg Config) Prediction {
	a, m := f.a, f.m
	mm, cut := *m, 0.0
	if t := cfg.VendorTimeoutMS; t > 0 && t != a.Config.VendorTimeoutMS {
		mm, cut = m.withVendorTimeout(a.JobList, a.Period, t)
	}
	caps := map[string]float64{StageWorkers: workersCapacity(cfg.Workers, cfg.LanesOn(), mm)}
	if d := a.Stage(StageDelivery).ServiceMSAvg; d > 0 {
		caps[StageDelivery] = float64(cfg.Forwarders) / (d / 1e3)
	}
	if m.consumerS > 0 {
		caps[StageConsumer] = float64(cfg.ConsumerConcurrency) / (m.consumerS / 1e3)
	}
	p := Prediction{Method: "capacity model"}
	p.CapacityPerS = math.Inf(1)
	for _, name := range serverStages {
		if c := caps[name]; c > 0 && c < p.CapacityPerS {
			p.BottleneckStage, p.CapacityPerS = name, c
		}
	}
	if p.BottleneckStage == "" {
		p.CapacityPerS = 0
	}
	if p.BottleneckStage == StageDelivery && caps[StageConsumer] <= 1.25*caps[StageDelivery] && m.consumerS >= 0.5*a.Stage(StageDelivery).ServiceMSAvg {
		p.BottleneckStage = StageConsumer
	}
	offered := a.Verdict.OfferedPerS
	p.ThroughputPerS = min(offered, p.CapacityPerS)
	// The jobs whose vendor call a timeout cuts fail: they are handled,
	// and counted, but not done.
	p.FailedPerS = p.ThroughputPerS * mm.vendorJobShare * cut
	if !f.in.ok {
		return p
	}
	r := Simulate(simConfigOf(&cfg), f.in.workload, false)
	p.FastP99MS, p.RejectedPerS, p.BlockedShare, p.FastWaitP99MS = r.FastP99MS, r.RejectedPerS, r.BlockedShare, r.FastWaitP99MS
	if a.Verdict.Sustained {
		p.Method = "capacity model + simulation"
	} else {
		p.ThroughputPerS, p.FailedPerS, p.Method = r.ThroughputPerS, r.FailedPerS, "simulation"
	}
	return p
}

// withVendorTimeout is m as if vendor calls were cut at t ms, and the
// share of vendor calls the cut would fail.
func (m measures) withVendorTimeout(jobs []Job, p Period, t float64) (measures, float64) {
	work := map[string][]float64{}
	var sum float64
	var n, calls, cut int
	for i := range jobs {
		j := &jobs[i]
		if !m.workSampledIn(j, p) {
			continue
		}
		w := j.WorkMS()
		if j.HasVendor {
			calls++
			if j.VendorMS > t {
				w -= j.VendorMS - t
				cut++
			}
		}
		work[j.Type] = append(work[j.Type], w)
		sum += w
		n++
	}
	if n > 0 {
		m.workAvg = sum / float64(n)
	}
	m.workMS = work
	if calls == 0 {
		return m, 0
	}
	return m, float64(cut) / float64(calls)
}

func (f *fixer) target() float64 { return f.o.Thresholds.TargetUtilization }

func ceilDiv(x float64) int { return int(math.Ceil(x - 1e-9)) }

// consumerCapacity sizes the consumer's slots for the offered load, and
// the workers' forwarders with them when the forwarders would then cap it:
// a forwarder waits for the consumer's answer, so F forwarders deliver at
// most F / (round trip + handling) results per second.
func (f *fixer) consumerCapacity() *Fix {
	a, m := f.a, f.m
	lambda := a.Verdict.OfferedPerS
	sc, sd := m.consumerS, a.Stage(StageDelivery).ServiceMSAvg
	if lambda <= 0 || sc <= 0 {
		return nil
	}
	k := clamp(ceilDiv(lambda*sc/1e3/f.target()), 1, maxConcurrency)
	fw := clamp(ceilDiv(lambda*max(sd, sc)/1e3/f.target()), 1, maxForwarders)
	cfg := a.Config
	var cs []change
	kc := change{ServiceConsumer, "CONCURRENCY", strconv.Itoa(k), "concurrency", k}
	fc := change{ServiceWorkers, "FORWARDERS", strconv.Itoa(fw), "forwarders", fw}
	if a.Verdict.Stage == StageDelivery {
		if fw > cfg.Forwarders {
			cs, cfg.Forwarders = append(cs, fc), fw
		}
		if k > cfg.ConsumerConcurrency {
			cs, cfg.ConsumerConcurrency = append(cs, kc), k
		}
	} else {
		if k > cfg.ConsumerConcurrency {
			cs, cfg.ConsumerConcurrency = append(cs, kc), k
		}
		if fw > cfg.Forwarders {
			cs, cfg.Forwarders = append(cs, fc), fw
		}
	}
	if len(cs) == 0 {
		f.notes = append(f.notes, fmt.Sprintf("CONCURRENCY %d and FORWARDERS %d already cover %s jobs/s; what is left is the consumer's own handling time (%s per result).",
			cfg.ConsumerConcurrency, cfg.Forwarders, FormatRate(lambda), FormatMS(sc)))
		return nil
	}
	var why string
	forwarders := fmt.Sprintf("each forwarder waits for the consumer's answer, %s per delivery (round trip and handling): %s jobs/s × %s / %s busy = %d forwarders",
		FormatMS(max(sd, sc)), FormatRate(lambda), FormatMS(max(sd, sc)), FormatShare(f.target()), fw)
	slots := fmt.Sprintf("%s jobs/s × %s per result / %s busy = %d consumer slots", FormatRate(lambda), FormatMS(sc), FormatShare(f.target()), k)
	switch {
	case a.Verdict.Stage == StageDelivery && cfg.ConsumerConcurrency == k && k > a.Config.ConsumerConcurrency:
		why = forwarders + "; and the consumer needs " + slots + " to take what they bring"
	case a.Verdict.Stage == StageDelivery:
		why = forwarders + fmt.Sprintf("; the consumer's %d slots already take that", a.Config.ConsumerConcurrency)
	case cfg.Forwarders == fw && fw > a.Config.Forwarders:
		why = slots + "; FORWARDERS must rise with it, since " + forwarders
	default:
		why = slots
	}
	if k >= maxConcurrency || fw >= maxForwarders {
		why += " (capped at the settings' maximum of 64)"
	}
	return f.fix(why, false, cfg, cs...)
}

// burstBufferSize sizes a buffer per lane for a burst of burstJobs whose
// backlog peaked at peak. The peak of the bursts read is a floor, not a
// ceiling (the next burst's vendor calls may be slower): twice it, but
// never more than a whole burst, which can't leave more waiting than it
// has jobs. whole says the whole burst was the bound.
func burstBufferSize(peak, burstJobs, lanes int) (size int, whole bool) {
	want := 2 * peak
	if burstJobs > peak && burstJobs < want {
		want, whole = burstJobs, true
	}
	return ceilDiv(float64(want) / float64(max(lanes, 1))), whole
}

// resultsBuffer sizes the results channel for the burst from the most
// results that wait at once when nothing blocks (the simulation with an
// unbounded channel), with room for slower bursts (burstBufferSize), never
// the size already in force.
func (f *fixer) resultsBuffer() *Fix {
	a := f.a
	peak := a.Verdict.PeakBacklog
	lanes := 1
	if a.Config.LanesOn() {
		lanes = 2
	}
	count, _ := burstShape(a)
	size, whole := burstBufferSize(peak, count, lanes)
	size = min(niceCeil(max(size, a.Config.ResultsBufferCap+1)), maxResultsBuffer)
	if size <= a.Config.ResultsBufferCap {
		return nil
	}
	cfg := a.Config
	cfg.ResultsBufferCap = size
	room := "twice that, for bursts slower than this one"
	if whole {
		room = "a whole burst"
	}
	why := fmt.Sprintf("the burst's backlog peaked at %d results; %d slots (%s) absorb it without blocking a worker, and it drains between bursts", peak, size, room)
	return f.fix(why, false, cfg, change{ServiceWorkers, "RESULTS_BUFFER", strconv.Itoa(size), "results_buffer", size})
}

func (f *fixer) nonblocking() *Fix {
	if f.a.Config.Nonblocking() {
		return nil
	}
	cfg := f.a.Config
	cfg.ResultSendMode = "nonblocking"
	return f.fix("or: hand results to an overflow buffer, so a worker never blocks and no result is lost", true, cfg,
		change{ServiceWorkers, "RESULT_SEND", "nonblocking", "result_send", "nonblocking"})
}

// queueSize sizes the job queue for a burst that overflowed it.
func (f *fixer) queueSize() *Fix {
	a := f.a
	peak := a.Verdict.PeakBacklog
	size := min(niceCeil(max(peak, a.Config.QueueCapacity+1)), maxQueueSize)
	if size <= a.Config.QueueCapacity {
		return nil
	}
	cfg := a.Config
	cfg.QueueCapacity = size
	why := fmt.Sprintf("the burst's backlog peaked at %d jobs; a queue of %d holds it instead of shedding submissions", peak, size)
	return f.fix(why, false, cfg, change{ServiceWorkers, "QUEUE_SIZE", strconv.Itoa(size), "queue_size", size})
}

// lanes gives fast jobs their own lane. Lanes keep one worker free of
// vendor jobs, so at most WORKERS-1 hold them: when the vendor calls
// would keep those busier than the target, the fix raises WORKERS with
// it, or it would trade the fast jobs' wait for a vendor backlog.
func (f *fixer) lanes() *Fix {
	a, m := f.a, f.m
	if a.Config.LanesOn() {
		return nil
	}
	cfg := a.Config
	cfg.PriorityLanes = "on"
	why := "fast jobs get their own lane past slow vendor jobs, and one worker is always free for them"
	changes := []change{{ServiceWorkers, "PRIORITY_LANES", "on", "priority_lanes", "on"}}
	// Workers busy with vendor jobs at the offered load.
	busy := a.Verdict.OfferedPerS * m.vendorJobShare * mean(m.workMS[TypeVendorAPI]) / 1e3
	if n := clamp(ceilDiv(busy/f.target())+1, 1, maxWorkers); busy > 0 && n > cfg.Workers {
		cfg.Workers = n
		why += fmt.Sprintf("; at most WORKERS-1 then hold vendor jobs, and the vendor calls keep %.1f workers busy (%s jobs/s × %s × %s each): %.1f / %s busy + 1 = %d workers",
			busy, FormatRate(a.Verdict.OfferedPerS), FormatShare(m.vendorJobShare), FormatMS(mean(m.workMS[TypeVendorAPI])), busy, FormatShare(f.target()), n)
		changes = append(changes, change{ServiceWorkers, "WORKERS", strconv.Itoa(n), "workers", n})
	}
	return f.fix(why, false, cfg, changes...)
}

// vendorTimeout cuts vendor calls at the healthy calls' p99, when degraded
// calls hold the workers and cutting them frees a tenth of the vendor
// time at least.
func (f *fixer) vendorTimeout() *Fix {
	a := f.a
	vh := a.Vendor
	if vh.HealthyCalls < 5 || vh.Degraded == 0 || vh.HealthyP99MS <= 0 {
		return nil
	}
	t := math.Ceil(vh.HealthyP99MS/50) * 50
	if cur := a.Config.VendorTimeoutMS; cur > 0 && cur <= t {
		return nil
	}
	var total, kept float64
	var cut, calls int
	for i := range a.JobList {
		j := &a.JobList[i]
		if !j.HasVendor || !f.m.workSampledIn(j, a.Period) {
			continue
		}
		calls++
		total += j.VendorMS
		kept += min(j.VendorMS, t)
		if j.VendorMS > t {
			cut++
		}
	}
	if total <= 0 || (total-kept)/total < 0.1 {
		return nil
	}
	cfg := a.Config
	cfg.VendorTimeoutMS = t
	d := time.Duration(t) * time.Millisecond
	why := fmt.Sprintf("healthy vendor calls (fault.degraded=false) take up to %s (p99 of %d); the %d of %d calls slower than %s fail at %s instead of holding a worker, which frees %s of the vendor time",
		FormatMS(vh.HealthyP99MS), vh.HealthyCalls, cut, calls, d, d, FormatShare((total-kept)/total))
	return f.fix(why, false, cfg, change{ServiceWorkers, "VENDOR_TIMEOUT", d.String(), "vendor_timeout", d.String()})
}

// workers sizes the pool for its work: only when the work itself (not
// blocking on a full results channel) keeps the workers busy.
func (f *fixer) workers() *Fix {
	a, m := f.a, f.m
	lambda := a.Verdict.OfferedPerS
	if lambda <= 0 || m.workAvg <= 0 {
		return nil
	}
	n := ceilDiv(lambda * m.workAvg / 1e3 / f.target())
	if a.Config.LanesOn() {
		if v := mean(m.workMS[TypeVendorAPI]); v > 0 {
			n = max(n, ceilDiv(lambda*m.vendorJobShare*v/1e3/f.target())+1)
		}
	}
	n = clamp(n, 1, maxWorkers)
	if n <= a.Config.Workers {
		return nil
	}
	cfg := a.Config
	cfg.Workers = n
	why := fmt.Sprintf("the work alone needs them: %s jobs/s × %s of work / %s busy = %d workers", FormatRate(lambda), FormatMS(m.workAvg), FormatShare(f.target()), n)
	return f.fix(why, false, cfg, change{ServiceWorkers, "WORKERS", strconv.Itoa(n), "workers", n})
}

func clamp(n, lo, hi int) int { return max(lo, min(n, hi)) }

// niceCeil rounds n up to two significant digits: 17, 140, 1300.
func niceCeil(n int) int {
	if n <= 20 {
		return n
	}
	p := int(math.Pow10(len(strconv.Itoa(n)) - 2))
	return (n + p - 1) / p * p
}
