package tracing

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkSpan compares one span with two attributes made three ways:
// through the bridge (tracez start/finish, converted and exported through
// the batch processor into a discarding exporter), natively with the OTel
// SDK into the same kind of pipeline, and with tracez alone and no handler
// (what OTEL_SDK_DISABLED costs). Compare runs with benchstat.
func BenchmarkSpan(b *testing.B) {
	ctx := context.Background()

	b.Run("bridge", func(b *testing.B) {
		p, err := Setup(ctx, Options{ServiceName: "bench", Exporter: tracetest.NewNoopExporter(), BatchTimeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Shutdown(ctx)
		b.ReportAllocs()
		cpu := startCPU()
		n := 0
		for b.Loop() {
			_, s := p.StartSpan(ctx, "op")
			s.SetTag("job.id", "checkout-1")
			s.SetTag("job.type", "cache-read")
			s.Finish()
			n++
		}
		cpu.report(b, n)
		st := p.Stats()
		b.ReportMetric(float64(st.Dropped)/float64(n), "dropped/op")
		if st.Malformed != 0 {
			b.Fatalf("stats %+v", st)
		}
	})

	b.Run("native", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter(),
			sdktrace.WithBatchTimeout(time.Second), sdktrace.WithMaxQueueSize(DefaultQueueSize)))
		defer tp.Shutdown(ctx)
		tr := tp.Tracer("bench")
		b.ReportAllocs()
		cpu := startCPU()
		n := 0
		for b.Loop() {
			_, s := tr.Start(ctx, "op")
			s.SetAttributes(attribute.String("job.id", "checkout-1"), attribute.String("job.type", "cache-read"))
			s.End()
			n++
		}
		cpu.report(b, n)
	})

	b.Run("tracez-no-handler", func(b *testing.B) {
		tr := tracez.New()
		defer tr.Close()
		b.ReportAllocs()
		for b.Loop() {
			_, s := tr.StartSpan(ctx, "op")
			s.SetTag("job.id", "checkout-1")
			s.SetTag("job.type", "cache-read")
			s.Finish()
		}
	})
}

// cpuClock measures the process's CPU time (all goroutines: the caller and
// the export pipeline's), which ns/op alone hides when work moves to
// another core.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B, n int) {
	if n > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(n), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
