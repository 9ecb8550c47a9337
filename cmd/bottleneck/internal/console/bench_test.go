package console

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/collect"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/fixture"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// snapshotWith1000 is a poll with 1,000 traces in the window (about 17
// jobs/s over 60 s), every worker and consumer number filled in.
func snapshotWith1000(now time.Time) *collect.Snapshot {
	traces := fixture.Load(now.Add(-60*time.Second), 1000, 4, 57*time.Second)
	s := &collect.Snapshot{At: now, Errors: map[string]string{}, CPU: map[string]float64{}, Process: map[string]collect.Process{}}
	s.Workers = &collect.WorkersStats{}
	s.Workers.Config = collect.WorkersConfig{Workers: 4, QueueSize: 40, ResultsBuffer: 4, Forwarders: 1, ResultSend: "blocking", PriorityLanes: "off"}
	s.Consumer = &collect.ConsumerStats{}
	s.Consumer.Config.Concurrency, s.Consumer.Config.ProcessDelay = 1, "50ms"
	for i := range traces {
		s.Traces = append(s.Traces, &traces[i])
	}
	return s
}

// BenchmarkRenderTick is one poll's work with 1,000 traces in the window:
// timelines, the analysis (rerun: the traces changed), the page and its
// gzip. It runs once a second whatever the number of viewers.
func BenchmarkRenderTick(b *testing.B) {
	now := time.Now()
	s := snapshotWith1000(now)
	c := &Console{opt: Options{Window: time.Minute, DiagnosisWindow: 30 * time.Second, Diagnoser: DefaultDiagnoser(), Log: slog.New(slog.DiscardHandler)}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.TracesVersion = uint64(i + 1)
		c.render(s)
	}
	b.ReportMetric(float64(len(c.rendered.Load().fragment)), "fragment-bytes")
}

// BenchmarkRenderTickUnchanged is a poll when no trace arrived: the
// analysis is reused.
func BenchmarkRenderTickUnchanged(b *testing.B) {
	now := time.Now()
	s := snapshotWith1000(now)
	c := &Console{opt: Options{Window: time.Minute, DiagnosisWindow: 30 * time.Second, Diagnoser: DefaultDiagnoser(), Log: slog.New(slog.DiscardHandler)}}
	s.TracesVersion = 1
	c.render(s)
	b.ReportAllocs()
	for b.Loop() {
		c.render(s)
	}
}

// BenchmarkDecodeTrace is what the window pays per trace it fetches: the
// JSON of one job's trace, as Jaeger sends it.
func BenchmarkDecodeTrace(b *testing.B) {
	tr := fixture.Trace(time.Now(), fixture.Job{ID: "x", Type: "vendor-api", Worker: 1, Work: time.Millisecond, Deliver: time.Millisecond, Handle: time.Millisecond})
	body, _ := json.Marshal(map[string]any{"data": []jaegerapi.Trace{tr}})
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var env struct {
			Data []jaegerapi.Trace `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiagnose is the analysis behind the verdict over the last 30 s
// of a 1,000-trace window (about 500 traces), as the console reruns it at
// most every 3 s.
func BenchmarkDiagnose(b *testing.B) {
	now := time.Now()
	s := snapshotWith1000(now)
	in := make([]jaegerapi.Trace, 0, len(s.Traces))
	for _, t := range s.Traces {
		if t.Spans[0].StartTime >= now.Add(-30*time.Second).UnixMicro() {
			in = append(in, *t)
		}
	}
	d := DefaultDiagnoser()
	b.ReportMetric(float64(len(in)), "traces")
	for b.Loop() {
		d.Diagnose(in, nil, now.Add(-30*time.Second), now)
	}
}
