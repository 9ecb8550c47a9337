package output

import (
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
)

func f(v float64) *float64 { return &v }
func u(v uint64) *uint64   { return &v }
func i(v int) *int         { return &v }

// fixture is a run with every kind of row: measured, limited by the
// machine, failed, skipped, and one without traces.
func fixture() *result.Run {
	proc := func(cpu, rss float64) result.Process { return result.Process{CPUPercent: f(cpu), RSSMB: f(rss)} }
	measured := func(name string, offered, delivered, refused, shed, p50, p99, blocked float64) result.Row {
		return result.Row{
			Name: name, Status: result.StatusMeasured, Settings: []string{},
			Workload:    result.Workload{Kind: "steady", Rate: f(1000), Text: "steady 1000/s (cache-read 60, database 20, vendor-api 20)"},
			OfferedPerS: f(offered), DeliveredPerS: f(delivered), RejectedPerS: f(refused + shed), RefusedPerS: f(refused), ShedPerS: f(shed), FailedPerS: f(0),
			Fast:    result.Fast{P50MS: f(p50), P99MS: f(p99), Samples: 100, Handled: i(400), Worst: &result.TraceLink{TraceID: "abc" + name, URL: "http://127.0.0.1:16686/trace/abc" + name, Type: "cache-read", EndToEndMS: p99}},
			Blocked: result.Blocked{Share: f(blocked), Sends: u(100), BlockedSends: u(uint64(blocked * 100)), Workers: i(4)},
			Processes: map[string]result.Process{
				"producer": proc(14, 31), "workers": proc(37, 42), "vendor-mock": proc(9, 33), "consumer": proc(19, 38), "jaeger": proc(14, 226),
			},
			Bottleneck: result.Bottleneck{Available: true, Stage: "consumer", Kind: "capacity", Fixes: []result.Fix{}},
			Harness:    result.Harness{MachineBusyPercent: f(60), Warnings: []string{}},
		}
	}
	staging := measured("staging", 1000, 996.3, 0, 0, 6.2, 41, 0.001)
	staging.Settings = []string{"producer:LOG_LEVEL=warn", "workers:LOG_LEVEL=warn", "vendor-mock:LOG_LEVEL=warn", "consumer:LOG_LEVEL=warn", "workers:WORKERS=128", "vendor-mock:FAULT_PRESET=healthy"}
	staging.Description = "a healthy vendor"
	staging.Bottleneck = result.Bottleneck{Available: true, Stage: "none", Kind: "none", Fixes: []result.Fix{}}
	staging.Harness.Limited = true
	staging.Harness.Warnings = []string{"the stack's processes waited for a CPU 40% of the time they were ready to run"}
	production := measured("production", 1000, 19.8, 980.2, 0, 1840, 2310, 0.93)
	production.Bottleneck.Verdict = "The bottleneck is the consumer: it handles 19.8 results/s while 1000 jobs/s arrive."
	production.Bottleneck.Fixes = []result.Fix{{Summary: "consumer CONCURRENCY=63 with workers FORWARDERS=64 (predicted 44.0 jobs/s)", Settings: []string{"consumer:CONCURRENCY=63", "workers:FORWARDERS=64"}}}
	workers := measured("workers-x2", 1000, 20.1, 479.9, 500, 1900, 2400, 0.95)
	workers.Harness.Skipped = true
	workers.Settings = []string{"workers:WORKERS=8", "workers:LOG_LEVEL=debug"}
	timeout := measured("vendor-timeout", 1000, 25, 975, 0, 1500, 2000, 0.9)
	timeout.FailedPerS = f(3.2)
	timeout.Fast = result.Fast{Samples: 0, Handled: i(0)}
	failed := result.Row{Name: "broken", Status: result.StatusFailed, Error: "starting the services: consumer exited", Settings: []string{}, Processes: map[string]result.Process{},
		Workload: result.Workload{Kind: "checkout", Every: "2s", Text: "checkout burst every 2s"}, Bottleneck: result.Bottleneck{Fixes: []result.Fix{}}, Harness: result.Harness{Warnings: []string{}}}
	skipped := result.Row{Name: "consumer-capacity", Status: result.StatusSkipped, RecommendedBy: "production", Error: `the analysis of row "production" recommended no fix`,
		Settings: []string{}, Processes: map[string]result.Process{}, Workload: staging.Workload, Bottleneck: result.Bottleneck{Fixes: []result.Fix{}}, Harness: result.Harness{Warnings: []string{}}}
	fixed := measured("fixed", 1000, 44.6, 955, 0, 900, 1200, 0)
	fixed.ResultsBuffer = &result.BufferFill{Held: 241, Room: 400, GrowthPerS: 25.9, FillingUntilS: f(6.1)}
	fixed.RecommendedBy, fixed.AppliedFix = "production", "consumer CONCURRENCY=63 with FORWARDERS=64"
	fixed.Settings = []string{"workers:FORWARDERS=64", "consumer:CONCURRENCY=63"}
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	return &result.Run{
		SchemaVersion: result.SchemaVersion,
		Plan:          result.Plan{Name: "incident", File: "experiments/incident.yaml", Description: "Staging did 1,000 jobs/s."},
		Stack:         result.Stack{Mode: result.ModeOwn, Jaeger: "http://127.0.0.1:16686", UI: "http://127.0.0.1:16686", Settings: []string{"workers:LOG_LEVEL=warn"}, Analysis: "capacity model"},
		Machine:       result.Machine{CPUs: 2, OS: "linux", Arch: "amd64", LoadAverage: f(0.42)},
		StartedAt:     start, FinishedAt: start.Add(222 * time.Second), WallSeconds: 222,
		Rows: []result.Row{staging, production, workers, timeout, failed, skipped, fixed},
	}
}
