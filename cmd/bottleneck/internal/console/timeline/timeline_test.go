package timeline_test

import (
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/fixture"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/timeline"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

var base = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ptrs(ts []jaegerapi.Trace) []*jaegerapi.Trace {
	out := make([]*jaegerapi.Trace, len(ts))
	for i := range ts {
		out[i] = &ts[i]
	}
	return out
}

func TestRowsSegmentsAndSummary(t *testing.T) {
	traces := []jaegerapi.Trace{
		// worker 1: a 200 ms vendor call, then blocked 100 ms.
		fixture.Trace(base, fixture.Job{ID: "v", Type: "vendor-api", Worker: 1, Start: 0, Work: 200 * time.Millisecond,
			Blocked: 100 * time.Millisecond, Deliver: 60 * time.Millisecond, Handle: 50 * time.Millisecond}),
		// worker 2: a 2 ms cache read, not blocked, but 900 ms end to end.
		fixture.Trace(base, fixture.Job{ID: "c", Type: "cache-read", Worker: 2, Start: 0, Work: 2 * time.Millisecond,
			Deliver: 60 * time.Millisecond, Handle: 50 * time.Millisecond, EndToEndMS: 900}),
	}
	tl := timeline.Build(ptrs(traces), timeline.Options{From: base, To: base.Add(10 * time.Second), Workers: 4, Forwarders: 1, ConsumerSlots: 1})

	if len(tl.Workers) != 4 {
		t.Fatalf("%d worker rows, want 4 (configured), even idle ones", len(tl.Workers))
	}
	w1 := tl.Workers[0].Segments
	if len(w1) != 2 || w1[0].Kind != timeline.Work || w1[0].JobType != "vendor-api" || w1[1].Kind != timeline.Blocked {
		t.Fatalf("worker 1 segments = %+v; want vendor work then blocked", w1)
	}
	if w1[1].DurationMS() != 100 || w1[1].TraceID != traces[0].TraceID || w1[1].JobID != "v" {
		t.Errorf("blocked segment = %+v", w1[1])
	}
	if w2 := tl.Workers[1].Segments; len(w2) != 1 || w2[0].Kind != timeline.Work {
		t.Errorf("worker 2: an unblocked send draws nothing; got %+v", w2)
	}
	if len(tl.Workers[2].Segments)+len(tl.Workers[3].Segments) != 0 {
		t.Error("workers 3 and 4 did nothing but have segments")
	}
	// The deliveries do not overlap: one forwarder row holds both.
	if len(tl.Forwarders) != 1 || len(tl.Forwarders[0].Segments) != 2 || len(tl.Consumer) != 1 {
		t.Errorf("forwarders %+v, consumer slots %d; want one row with both deliveries", tl.Forwarders, len(tl.Consumer))
	}

	s := tl.Summary
	if s.WorkingMS != 202 || s.BlockedMS != 100 {
		t.Errorf("working %v ms, blocked %v ms; want 202 and 100", s.WorkingMS, s.BlockedMS)
	}
	if got, want := s.BlockedShareOfBusy, 100.0/302; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("blocked share of busy = %v, want %v", got, want)
	}
	if s.Sends != 2 || s.BlockedSends != 1 {
		t.Errorf("sends %d, blocked %d; want 2 and 1", s.Sends, s.BlockedSends)
	}
	if s.FastJobs != 1 || s.FastP99MS != 900 || s.SlowestFastJob != "c" {
		t.Errorf("fast jobs %d, p99 %v, slowest %q; want 1, 900, c", s.FastJobs, s.FastP99MS, s.SlowestFastJob)
	}
	if want := 4*10000.0 - 302; s.IdleMS != want {
		t.Errorf("idle %v ms, want %v", s.IdleMS, want)
	}
}

func TestOnlyTheRangeIsDrawnAndCounted(t *testing.T) {
	old := fixture.Trace(base, fixture.Job{ID: "old", Type: "cache-read", Worker: 1, Start: 0, Work: time.Second,
		Blocked: time.Second, Deliver: time.Millisecond, Handle: time.Millisecond})
	tl := timeline.Build(ptrs([]jaegerapi.Trace{old}), timeline.Options{
		From: base.Add(1500 * time.Millisecond), To: base.Add(5 * time.Second), Workers: 1})
	segs := tl.Workers[0].Segments
	if len(segs) != 1 || segs[0].Kind != timeline.Blocked {
		t.Fatalf("segments %+v; want only the blocked send, which overlaps the range", segs)
	}
	if tl.Summary.BlockedMS != 500 || tl.Summary.WorkingMS != 0 {
		t.Errorf("blocked %v, working %v; want 500 (clipped) and 0", tl.Summary.BlockedMS, tl.Summary.WorkingMS)
	}
}

// Spans at the same time need as many rows as overlap: forwarders and
// consumer slots have no ID in the spans.
func TestOverlappingDeliveriesTakeMoreRows(t *testing.T) {
	var traces []jaegerapi.Trace
	for i, id := range []string{"a", "b", "c"} {
		traces = append(traces, fixture.Trace(base, fixture.Job{ID: id, Type: "database", Worker: i + 1,
			Start: time.Duration(i) * 10 * time.Millisecond, Work: 5 * time.Millisecond,
			Deliver: 100 * time.Millisecond, Handle: 90 * time.Millisecond}))
	}
	tl := timeline.Build(ptrs(traces), timeline.Options{From: base, To: base.Add(time.Second), Forwarders: 1, ConsumerSlots: 1})
	if len(tl.Forwarders) != 3 || len(tl.Consumer) != 3 {
		t.Errorf("forwarder rows %d, consumer rows %d; want 3 each for 3 overlapping spans", len(tl.Forwarders), len(tl.Consumer))
	}
}
