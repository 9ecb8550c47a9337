package pool

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// BenchmarkPoolThroughput pushes zero-latency jobs through queue, workers,
// results channel and forwarder (in-process sink): the pool's own cost per
// job, with tracing on (in-memory exporter) and off.
func BenchmarkPoolThroughput(b *testing.B) {
	for _, traced := range []bool{false, true} {
		b.Run(fmt.Sprintf("tracing=%v", traced), func(b *testing.B) {
			opts := tracing.Options{ServiceName: "bench", Disabled: !traced}
			if traced {
				opts.Exporter = tracetest.NewNoopExporter()
			}
			tr, err := tracing.Setup(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Shutdown(context.Background()) //nolint:errcheck
			live := testLive()
			live.ResultsBuffer = 400
			p, err := New(Options{Live: sized(live, 4, 1000), Runner: fakeRunner{}, Sink: &nopSink{}, Tracing: tr, Log: quietLog})
			if err != nil {
				b.Fatal(err)
			}
			p.Start()
			// Distinct IDs: a job the pool still holds is not queued again.
			jobs := make([]*jobsv1.Job, b.N)
			for i := range jobs {
				jobs[i] = &jobsv1.Job{Id: fmt.Sprintf("bench-%d", i), Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Target: "k"}
			}
			b.ResetTimer()
			for _, job := range jobs {
				if _, err := p.Submit(context.Background(), job); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
			if traced && tr.Stats().Dropped > 0 {
				b.Logf("%d spans dropped", tr.Stats().Dropped)
			}
		})
	}
}

type nopSink struct{}

func (*nopSink) Deliver(context.Context, *jobsv1.Result) (int, error) { return 1, nil }
