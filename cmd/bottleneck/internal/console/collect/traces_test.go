package collect

import (
	"context"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/fixture"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// fakeJaeger answers searches from a fixed set of traces, as Jaeger's
// memory store does: a trace matches when one of its spans of the service
// and operation started in [Start, End].
type fakeJaeger struct {
	traces  []jaegerapi.Trace
	queries []jaegerapi.Query
}

func (f *fakeJaeger) FindTraces(_ context.Context, q jaegerapi.Query) ([]jaegerapi.Trace, error) {
	f.queries = append(f.queries, q)
	var out []jaegerapi.Trace
	for _, t := range f.traces {
		for _, s := range t.Spans {
			if t.Processes[s.ProcessID].ServiceName != q.Service || (q.Operation != "" && s.OperationName != q.Operation) {
				continue
			}
			if s.StartTime < q.Start.UnixMicro() || s.StartTime > q.End.UnixMicro() {
				continue
			}
			out = append(out, t)
			break
		}
	}
	return out, nil
}

func TestWindowFetchesEachSliceOnceAndEvicts(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeJaeger{traces: fixture.Load(base, 100, 4, 10*time.Second)}
	streams := DefaultStreams()[:2] // result.send (workers), result.process (consumer)
	w := NewTraceWindow(f, WindowOptions{Streams: streams, Keep: 30 * time.Second})

	// Polls every second over the load and well past it.
	now := base.Add(time.Second)
	for ; now.Before(base.Add(20 * time.Second)); now = now.Add(time.Second) {
		if _, err := w.Poll(context.Background(), now); err != nil {
			t.Fatal(err)
		}
	}
	traces, _ := w.Traces()
	st, _ := w.Stats()
	if len(traces) != 100 {
		t.Fatalf("window holds %d traces, want all 100", len(traces))
	}
	// Each trace is found once per stream, no more: incremental, never the
	// whole window again.
	if st.Fetched != 200 {
		t.Errorf("fetched %d traces for 100 jobs and 2 streams, want 200", st.Fetched)
	}
	for i := 1; i < len(f.queries); i++ {
		a, b := f.queries[i-1], f.queries[i]
		if a.Operation == b.Operation && b.Start.Before(a.End) {
			t.Errorf("query %d starts at %s, before the previous one's end %s: slices overlap", i, b.Start, a.End)
		}
	}
	if got := st.SettledUntil; !got.Equal(now.Add(-time.Second).Add(-streams[1].Lag)) {
		t.Errorf("settled until %s, want the slowest stream's mark %s", got, now.Add(-time.Second).Add(-streams[1].Lag))
	}

	// Long after, everything is evicted.
	if _, err := w.Poll(context.Background(), base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if traces, _ := w.Traces(); len(traces) != 0 {
		t.Errorf("%d traces left after the window moved past them", len(traces))
	}
}

func TestWindowKeepsTheFullerCopyAndBoundsMemory(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	full := fixture.Load(base, 50, 4, 5*time.Second)
	w := NewTraceWindow(&fakeJaeger{}, WindowOptions{MaxTraces: 20, Keep: time.Hour})
	w.mu.Lock()
	partial := full[0]
	partial.Spans = partial.Spans[:3]
	w.merge(&full[0])
	if w.merge(&partial) {
		t.Error("a copy with fewer spans replaced the fuller one")
	}
	for i := range full {
		w.merge(&full[i])
	}
	w.evict(base)
	w.mu.Unlock()
	traces, _ := w.Traces()
	if len(traces) != 20 {
		t.Fatalf("%d traces kept, want MaxTraces (20)", len(traces))
	}
	if traces[len(traces)-1].TraceID != full[49].TraceID {
		t.Error("the newest trace was evicted instead of the oldest")
	}
}

func TestDisabledStreamIsNotSearched(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeJaeger{traces: fixture.Load(base, 20, 4, 5*time.Second)}
	w := NewTraceWindow(f, WindowOptions{Streams: DefaultStreams()[:2], Keep: 30 * time.Second})
	w.SetEnabled(StreamHandedOff, false)
	for now := base.Add(time.Second); now.Before(base.Add(12 * time.Second)); now = now.Add(time.Second) {
		if _, err := w.Poll(context.Background(), now); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range f.queries {
		if q.Service == "workers" {
			t.Fatalf("the disabled stream searched: %+v", q)
		}
	}
	st, _ := w.Stats()
	if traces, _ := w.Traces(); len(traces) != 20 || st.Fetched != 20 {
		t.Errorf("%d traces, %d fetched; want each of the 20 read once", len(traces), st.Fetched)
	}
}
