package analysis

import (
	"cmp"
	"math/rand/v2"
	"slices"
)

// Fallbacks for a job type the window holds no measured work of.
var fallbackWorkMS = map[string]float64{TypeCacheRead: 3, TypeDatabase: 35, TypeVendorAPI: 200}

// maxReplays bounds how often a steady window's arrivals are repeated.
const maxReplays = 12

// simInput is the measured pipeline, ready to simulate.
type simInput struct {
	cfg      SimConfig
	workload Workload
	steady   bool
	ok       bool // enough was measured to simulate
}

// buildSimInput turns the period's jobs into a workload: their arrivals
// in order, each with its measured work, handling and round trip where
// the traces have them, and otherwise drawn (with a fixed seed) from what
// jobs of the same type measured. A steady window is replayed several
// times back to back, so the system reaches its steady state, and measured
// after the first third; a burst is replayed once.
func buildSimInput(jobs []Job, p Period, c *Config, m *measures, steady bool, budget int) simInput {
	in := simInput{steady: steady, cfg: simConfigOf(c)}
	if len(m.processMS) == 0 || budget <= 0 {
		return in
	}
	type sample struct{ work, vendor float64 }
	byType := map[string][]sample{}
	var pattern []*Job
	for i := range jobs {
		j := &jobs[i]
		if m.workSampled(j) {
			byType[j.Type] = append(byType[j.Type], sample{j.WorkMS(), j.VendorMS})
		}
		if j.Earlier {
			continue // handled in the period; arrived before it
		}
		if j.arrivedIn(p) {
			pattern = append(pattern, j)
		}
	}
	if len(pattern) == 0 {
		return in
	}
	slices.SortFunc(pattern, func(a, b *Job) int { return cmp.Compare(a.Arrival, b.Arrival) })
	rng := rand.New(rand.NewPCG(0x5eed, 0x1dea))
	draw := func(pool []float64, fallback float64) float64 {
		if len(pool) == 0 {
			return fallback
		}
		return pool[rng.IntN(len(pool))]
	}
	rtt := mean(m.rttMS)

	base := make([]SimJob, 0, len(pattern))
	origin := p.from()
	for _, j := range pattern {
		sj := SimJob{AtMS: float64(j.Arrival-origin) / 1e3, Fast: j.Fast(), Vendor: j.Type == TypeVendorAPI}
		switch pool := byType[j.Type]; {
		case j.WorkEnd > 0:
			sj.WorkMS, sj.VendorMS = j.WorkMS(), j.VendorMS
		case len(pool) > 0:
			s := pool[rng.IntN(len(pool))]
			sj.WorkMS, sj.VendorMS = s.work, s.vendor
		default:
			sj.WorkMS = fallbackWorkMS[j.Type]
			if sj.Vendor {
				sj.VendorMS = sj.WorkMS
			}
		}
		if j.Done > 0 {
			sj.ConsumerMS = j.ProcessMS()
		} else {
			sj.ConsumerMS = draw(m.processMS, m.consumerS)
		}
		sj.RTTMS = draw(m.rttMS, rtt)
		base = append(base, sj)
	}

	length := p.ArrivalSeconds * 1e3
	reps := 1
	if steady {
		reps = max(1, min(maxReplays, budget/len(base)))
	}
	all := make([]SimJob, 0, reps*len(base))
	for r := range reps {
		for _, sj := range base {
			sj.AtMS += float64(r) * length
			all = append(all, sj)
		}
	}
	in.workload = Workload{Jobs: all}
	if steady {
		horizon := float64(reps) * length
		in.workload.MeasureFromMS, in.workload.MeasureToMS = horizon/3, horizon
	}
	in.ok = true
	return in
}

func simConfigOf(c *Config) SimConfig {
	return SimConfig{
		Workers:         c.Workers,
		QueueSize:       c.QueueCapacity,
		SubmitWaitMS:    c.SubmitWaitMS,
		Lanes:           c.LanesOn(),
		ResultsBuffer:   c.ResultsBufferCap,
		Nonblocking:     c.Nonblocking(),
		VendorTimeoutMS: c.VendorTimeoutMS,
		Forwarders:      c.Forwarders,
		Concurrency:     c.ConsumerConcurrency,
	}
}
