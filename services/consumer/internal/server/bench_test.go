package server

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// BenchmarkDeliver measures the consumer's own cost per result over
// loopback gRPC with PROCESS_DELAY=0 and CONCURRENCY=64, tracing on and off,
// the ledger's fsync included (its own cost: ledger.BenchmarkComplete).
func BenchmarkDeliver(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("tracing=%v", on), func(b *testing.B) {
			tp, err := tracing.Setup(context.Background(), tracing.Options{
				ServiceName: "consumer", Exporter: tracetest.NewNoopExporter(), Disabled: !on})
			if err != nil {
				b.Fatal(err)
			}
			defer tp.Shutdown(context.Background())
			srv := New(Options{Tracing: tp, Settings: Settings{Concurrency: 64}, Ledger: openLedger(b, b.TempDir(), 1<<20), Sleep: func(time.Duration) {}})
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			g := srv.GRPCServer()
			go func() { _ = g.Serve(l) }()
			defer g.Stop()
			conn, _ := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), tp.GRPCDialOption(nil))
			defer conn.Close()
			client := jobsv1.NewResultSinkClient(conn)
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := result(fmt.Sprint("bench-", n.Add(1)), jobsv1.JobType_JOB_TYPE_CACHE_READ)
					if _, err := client.Deliver(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
		})
	}
}
