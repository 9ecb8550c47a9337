package scenario

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
)

// exported flushes the rig's spans and returns them by name.
func (r *rig) exported(t *testing.T) map[string][]tracetest.SpanStub {
	t.Helper()
	if err := r.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[string][]tracetest.SpanStub{}
	for _, s := range r.spans.GetSpans() {
		out[s.Name] = append(out[s.Name], s)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

// Steady load above what the in-flight cap carries: the jobs beyond it are
// not submitted, and each leaves a root span that says it arrived and the
// producer's backlog shed it, so the traces show the whole load offered.
// /stats counts them apart from the jobs the pool refused.
func TestSkippedSteadyJobsAreTracedAndCountedApart(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clock := newFakeClock(t0)
	mix, _ := ParseMix("cache-read=1")
	const limit, rate = 8, 20
	r := newRig(t, Load{Scenario: NameSteady, Rate: rate, Mix: mix},
		Options{Now: clock.Now, NewTicker: clock.NewTicker, MaxInFlight: limit})
	// The pool holds every Submit until released, then refuses it: a full
	// queue for SUBMIT_WAIT.
	release := make(chan struct{})
	r.pool.SetRefuse(func(*jobsv1.Job) error {
		<-release
		return status.Error(codes.ResourceExhausted, "job queue full")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.runner.Run(ctx) }()
	waitFor(t, "steady load to start", func() bool { return clock.tickers.Load() == 1 })
	clock.tick(t0.Add(time.Second)) // 20 jobs due at once
	waitFor(t, "the cap's worth of Submits at the pool", func() bool { return len(r.pool.Calls()) == limit })

	st := r.runner.Stats().Steady
	if st.Generated != rate || st.InFlight != limit || st.SkippedBacklog != rate-limit || st.MaxInFlightJobs != limit {
		t.Fatalf("steady stats %+v: want %d generated, %d in flight, %d skipped for the backlog", st, rate, limit, rate-limit)
	}
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.runner.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	stats := r.runner.Stats()
	if stats.Rejected["cache-read"] != limit || stats.Steady.SkippedBacklog != rate-limit {
		t.Errorf("rejected by the pool %v, skipped by the producer %d: want %d and %d, apart",
			stats.Rejected, stats.Steady.SkippedBacklog, limit, rate-limit)
	}

	byName := r.exported(t)
	roots := byName[spans.JobRootName(NameSteady, "cache-read")]
	if len(roots) != rate {
		t.Fatalf("%d job roots, want one per job generated (%d)", len(roots), rate)
	}
	if n := len(byName[spans.JobSubmit]); n != limit {
		t.Errorf("%d job.submit spans, want one per Submit made (%d)", n, limit)
	}
	submitted := map[string]bool{}
	for _, s := range byName[spans.JobSubmit] {
		submitted[s.Parent.SpanID().String()] = true
	}
	skipped := 0
	for _, root := range roots {
		if root.Parent.IsValid() {
			t.Errorf("root %s has a parent", root.Name)
		}
		if o, _ := attr(root, spans.JobOutcome); o != spans.OutcomeRejected {
			t.Errorf("root outcome %q, want rejected (pool refusal or producer skip)", o)
		}
		why, ok := attr(root, spans.SubmitOutcome)
		if !ok {
			if !submitted[root.SpanContext.SpanID().String()] {
				t.Errorf("root without submit.outcome and without a job.submit")
			}
			continue
		}
		skipped++
		if why != spans.SubmitSkippedBacklog || submitted[root.SpanContext.SpanID().String()] {
			t.Errorf("skipped root: submit.outcome %q, has a job.submit %v; want %q and none", why,
				submitted[root.SpanContext.SpanID().String()], spans.SubmitSkippedBacklog)
		}
		if id, _ := attr(root, spans.JobID); id == "" {
			t.Error("skipped root without job.id")
		}
		if typ, _ := attr(root, spans.JobType); typ != "cache-read" {
			t.Errorf("skipped root job.type %q", typ)
		}
		if !root.StartTime.Equal(t0) || !root.EndTime.Equal(t0) {
			t.Errorf("skipped root %v..%v, want the moment it was skipped (%v)", root.StartTime, root.EndTime, t0)
		}
	}
	if skipped != rate-limit {
		t.Errorf("%d roots say the producer skipped the job, want %d", skipped, rate-limit)
	}
}

// Jobs the tracker refuses because too many wait for the consumer's
// confirmation are traced as skipped too, with their own reason.
func TestJobsRefusedByAFullTrackerAreTraced(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clock := newFakeClock(t0)
	mix, _ := ParseMix("database=1")
	r := newRig(t, Load{Scenario: NameSteady, Rate: 5, Mix: mix},
		Options{Now: clock.Now, NewTicker: clock.NewTicker}, tracker.Options{MaxOutstanding: 2})
	r.pool.OnAccept(func(*jobsv1.Job) {}) // accepted, never confirmed
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.runner.Run(ctx) }()
	waitFor(t, "steady load to start", func() bool { return clock.tickers.Load() == 1 })
	clock.tick(t0.Add(time.Second))
	waitFor(t, "the tracker to refuse 3 jobs", func() bool { return r.runner.Stats().Delivery.RefusedFull == 3 })
	cancel()
	<-done
	if err := r.runner.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, root := range r.exported(t)[spans.JobRootName(NameSteady, "database")] {
		if why, _ := attr(root, spans.SubmitOutcome); why == spans.SubmitSkippedUnconfirmed {
			n++
			if o, _ := attr(root, spans.JobOutcome); o != spans.OutcomeRejected {
				t.Errorf("outcome %q, want rejected", o)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d roots say %s, want 3", n, spans.SubmitSkippedUnconfirmed)
	}
}
