package analysis_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis/analysistest"
)

// steadyJobs is n arrivals every gap ms, each with the given work.
func steadyJobs(n int, gapMS float64, mk func(i int) analysis.SimJob) []analysis.SimJob {
	out := make([]analysis.SimJob, n)
	for i := range out {
		out[i] = mk(i)
		out[i].AtMS = float64(i) * gapMS
	}
	return out
}

// roomy is a pipeline where only the stage under test can limit: a queue
// nobody fills, a channel nobody fills, many forwarders, many slots.
func roomy() analysis.SimConfig {
	return analysis.SimConfig{Workers: 64, QueueSize: 1_000_000, SubmitWaitMS: 1000, ResultsBuffer: 1_000_000, Forwarders: 64, Concurrency: 64}
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

func TestSimSaturatedServersRunAtCOverS(t *testing.T) {
	// Arrivals at 1000/s, far above what the servers take: throughput is
	// c / S whichever stage the servers are.
	work := func(ms float64) func(int) analysis.SimJob {
		return func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: ms} }
	}
	tests := []struct {
		name string
		cfg  func(*analysis.SimConfig)
		job  func(int) analysis.SimJob
		want float64
	}{
		{"one worker", func(c *analysis.SimConfig) { c.Workers = 1 }, work(10), 100},
		{"four workers", func(c *analysis.SimConfig) { c.Workers = 4 }, work(10), 400},
		{"one consumer slot", func(c *analysis.SimConfig) { c.Concurrency = 1 },
			func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 0.1, ConsumerMS: 50} }, 20},
		{"two consumer slots", func(c *analysis.SimConfig) { c.Concurrency = 2 },
			func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 0.1, ConsumerMS: 50} }, 40},
		// A forwarder waits for the consumer's answer: one forwarder caps
		// delivery at 1/(round trip + handling), whatever the slots.
		{"one forwarder, sixteen slots", func(c *analysis.SimConfig) { c.Forwarders, c.Concurrency = 1, 16 },
			func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 0.1, ConsumerMS: 50, RTTMS: 2} }, 1000.0 / 52},
		{"four forwarders, one slot", func(c *analysis.SimConfig) { c.Forwarders, c.Concurrency = 4, 1 },
			func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 0.1, ConsumerMS: 50, RTTMS: 2} }, 20},
		{"vendor timeout cuts the work", func(c *analysis.SimConfig) { c.Workers, c.VendorTimeoutMS = 1, 20 },
			func(int) analysis.SimJob { return analysis.SimJob{Vendor: true, WorkMS: 100.5, VendorMS: 100} }, 1000.0 / 20.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := roomy()
			tt.cfg(&cfg)
			jobs := steadyJobs(5000, 1, tt.job) // 5 s at 1000/s
			r := analysis.Simulate(cfg, analysis.Workload{Jobs: jobs, MeasureFromMS: 1000, MeasureToMS: 5000}, false)
			if !near(r.ThroughputPerS, tt.want, 0.03) {
				t.Errorf("throughput %.2f/s, want %.2f/s", r.ThroughputPerS, tt.want)
			}
		})
	}
}

func TestSimUnderloadedServerPassesEverythingThrough(t *testing.T) {
	// 50/s into a server that takes 100/s: throughput = arrivals, and a
	// job waits only behind one that arrived before it (deterministic
	// arrivals and service: none).
	jobs := steadyJobs(1000, 20, func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 10, ConsumerMS: 1} })
	cfg := roomy()
	cfg.Workers = 1
	r := analysis.Simulate(cfg, analysis.Workload{Jobs: jobs, MeasureFromMS: 2000, MeasureToMS: 20000}, true)
	if !near(r.ThroughputPerS, 50, 0.02) {
		t.Errorf("throughput %.2f/s, want 50", r.ThroughputPerS)
	}
	for i, rec := range r.Jobs {
		if rec.Dequeue != rec.Accept {
			t.Fatalf("job %d waited %.2f ms in the queue of an underloaded server", i, rec.Dequeue-rec.Accept)
		}
	}
	if want := 11.0; !near(r.FastP99MS, want, 0.01) {
		t.Errorf("fast p99 %.2f ms, want work + handling = %.0f", r.FastP99MS, want)
	}
}

func TestSimBufferThatAbsorbsABurstBlocksNobody(t *testing.T) {
	burst := steadyJobs(20, 0.1, func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 2, ConsumerMS: 50} })
	cfg := analysistest.IncidentConfig()
	small := analysis.Simulate(cfg, analysis.Workload{Jobs: burst}, true)
	if small.BlockedShare == 0 || small.PeakResults != 4 {
		t.Errorf("4-slot channel: blocked share %.2f, peak %d; want blocking and a full channel", small.BlockedShare, small.PeakResults)
	}
	cfg.ResultsBuffer = 0 // unbounded: how big the backlog gets
	free := analysis.Simulate(cfg, analysis.Workload{Jobs: burst}, false)
	cfg.ResultsBuffer = free.PeakResults
	sized := analysis.Simulate(cfg, analysis.Workload{Jobs: burst}, false)
	if sized.BlockedShare != 0 {
		t.Errorf("a channel of the peak backlog (%d) still blocked %.2f of the workers' time", free.PeakResults, sized.BlockedShare)
	}
	if free.PeakResults < 15 || free.PeakResults > 19 {
		t.Errorf("peak backlog %d, want 20 jobs less the one delivered at once and the few handled meanwhile", free.PeakResults)
	}
	// Whatever the buffer, 20 results at 50 ms each take a second.
	for _, r := range []analysis.SimResult{small, sized} {
		if !near(r.ThroughputPerS, 20, 0.05) {
			t.Errorf("burst throughput %.2f/s, want 20/s (the consumer)", r.ThroughputPerS)
		}
	}
}

func TestSimShedsWhatTheQueueCannotHold(t *testing.T) {
	// 10 jobs at once, 1 worker busy 100 ms each, a queue of 2: one runs,
	// two queue, the rest are shed (no submit wait) or wait (with one).
	jobs := steadyJobs(10, 0, func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 100, ConsumerMS: 1} })
	cfg := analysis.SimConfig{Workers: 1, QueueSize: 2, ResultsBuffer: 10, Forwarders: 1, Concurrency: 1}
	r := analysis.Simulate(cfg, analysis.Workload{Jobs: jobs}, false)
	if r.Rejected != 7 {
		t.Errorf("rejected %d, want 7 (1 working + 2 queued of 10)", r.Rejected)
	}
	cfg.SubmitWaitMS = 250 // room frees at 100 and 200 ms
	r = analysis.Simulate(cfg, analysis.Workload{Jobs: jobs}, false)
	if r.Rejected != 5 {
		t.Errorf("with a 250ms submit wait: rejected %d, want 5", r.Rejected)
	}
}

func TestSimLanesKeepAWorkerForFastJobs(t *testing.T) {
	// Four slow vendor jobs, then fast ones: without lanes the fast ones
	// wait for a vendor job to end; with lanes one worker stays free.
	var jobs []analysis.SimJob
	for i := range 4 {
		jobs = append(jobs, analysis.SimJob{AtMS: float64(i) * 0.1, Vendor: true, WorkMS: 1000, VendorMS: 1000, ConsumerMS: 1})
	}
	for i := range 4 {
		jobs = append(jobs, analysis.SimJob{AtMS: 1 + float64(i)*0.1, Fast: true, WorkMS: 2, ConsumerMS: 1})
	}
	cfg := analysistest.IncidentConfig()
	cfg.ResultsBuffer, cfg.Concurrency, cfg.Forwarders = 100, 8, 8
	off := analysis.Simulate(cfg, analysis.Workload{Jobs: jobs}, false)
	cfg.Lanes = true
	on := analysis.Simulate(cfg, analysis.Workload{Jobs: jobs}, false)
	if off.FastP99MS < 1000 {
		t.Errorf("lanes off: fast p99 %.1f ms, want ≥ 1 s behind the vendor jobs", off.FastP99MS)
	}
	if on.FastP99MS > 20 {
		t.Errorf("lanes on: fast p99 %.1f ms, want a few ms", on.FastP99MS)
	}
}

func TestSimNonblockingNeverBlocks(t *testing.T) {
	jobs := steadyJobs(200, 1, func(int) analysis.SimJob { return analysis.SimJob{Fast: true, WorkMS: 1, ConsumerMS: 10} })
	cfg := analysistest.IncidentConfig()
	cfg.Nonblocking = true
	r := analysis.Simulate(cfg, analysis.Workload{Jobs: jobs}, false)
	if r.BlockedShare != 0 || r.PeakResults <= cfg.ResultsBuffer {
		t.Errorf("nonblocking: blocked share %.2f, peak %d; want 0 and the overflow in use", r.BlockedShare, r.PeakResults)
	}
	if r.Completed != 200 {
		t.Errorf("completed %d of 200: the overflow must lose nothing", r.Completed)
	}
}

func TestSimIsDeterministic(t *testing.T) {
	l := analysistest.Load{Rate: 80, Seconds: 3, Mix: [3]float64{60, 20, 20}, VendorMS: [2]float64{100, 300}, Degraded: 0.2, SlowMS: [2]float64{500, 2000}, ConsumerMS: 50, RTTMS: 1, Seed: 3}
	a, b := analysistest.Simulate(analysistest.IncidentConfig(), l), analysistest.Simulate(analysistest.IncidentConfig(), l)
	if !reflect.DeepEqual(a.Result, b.Result) {
		t.Error("two runs of the same input differ")
	}
}

func BenchmarkSimulate(b *testing.B) {
	l := analysistest.Load{Rate: 100, Seconds: 40, Mix: [3]float64{60, 20, 20}, VendorMS: [2]float64{100, 300}, Degraded: 0.2, SlowMS: [2]float64{500, 2000}, ConsumerMS: 50, RTTMS: 1, Seed: 1}
	jobs := l.Jobs()
	w := analysis.Workload{Jobs: make([]analysis.SimJob, len(jobs))}
	for i := range jobs {
		w.Jobs[i] = jobs[i].Sim
	}
	b.ReportAllocs()
	for b.Loop() {
		analysis.Simulate(analysistest.IncidentConfig(), w, false)
	}
}
