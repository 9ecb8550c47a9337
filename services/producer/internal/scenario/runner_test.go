package scenario

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/workers"
)

type rig struct {
	runner *Runner
	jobs   *tracker.Tracker
	pool   *fakes.Pool
	sink   *fakes.Sink
	logs   *logtest.Buffer
	tp     *tracing.Provider
	spans  *tracetest.InMemoryExporter
}

// newRig wires a runner to a fake pool and a fake consumer over loopback
// gRPC, through the producer's real clients and tracker (polling every
// millisecond). By default every accepted job completes at once.
func newRig(t *testing.T, load Load, o Options, to ...tracker.Options) *rig {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "producer", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	pool, sink := &fakes.Pool{}, &fakes.Sink{}
	pool.OnAccept(func(j *jobsv1.Job) { sink.Complete(j.GetId()) })
	addr := fakes.Serve(t, pool, sink)
	wc, err := workers.New(addr, tp)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := consumer.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wc.Close(); _ = cc.Close() })
	logs := &logtest.Buffer{}
	log, _ := logging.New(logs, logging.Options{Service: "producer", Level: "debug"})
	var topts tracker.Options
	if len(to) > 0 {
		topts = to[0]
	}
	topts.Pool, topts.Consumer, topts.Tracing, topts.Log = wc, cc, tp, log
	if topts.PollEvery == 0 {
		topts.PollEvery = time.Millisecond
	}
	jobs := tracker.New(topts)
	go func() { _ = jobs.Run() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = jobs.Stop(ctx)
	})
	if load.CheckoutTimeout == 0 {
		load.CheckoutTimeout = 5 * time.Second
	}
	if load.Mix == nil {
		load.Mix, _ = ParseMix(DefaultMix)
	}
	o.Jobs, o.Log, o.Control, o.Tracing = jobs, log, NewControl(load), tp
	return &rig{runner: NewRunner(o), jobs: jobs, pool: pool, sink: sink, logs: logs, tp: tp, spans: exp}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCheckoutBurstCompletes(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	rep := r.runner.Checkout(context.Background(), 5*time.Second)

	if rep.Completed != 20 || rep.Total != 20 || rep.TimedOut || rep.NotSubmitted != 0 {
		t.Fatalf("report: completed %d/%d timed out %v not submitted %d", rep.Completed, rep.Total, rep.TimedOut, rep.NotSubmitted)
	}
	if want := "checkout " + rep.Batch + ": all 20 jobs completed in "; !strings.HasPrefix(rep.Summary, want) {
		t.Errorf("summary %q, want prefix %q", rep.Summary, want)
	}
	sent := r.pool.Jobs()
	for i, s := range Checkout() {
		j := sent[i]
		if j.GetId() != fmt.Sprintf("checkout-%s-%02d", rep.Batch, i+1) || j.GetType() != s.Type || j.GetTarget() != s.Target ||
			j.GetSequence() != uint32(i+1) || j.GetBatch() != rep.Batch || j.GetScenario() != "checkout" {
			t.Errorf("job %d sent as %v", i+1, j)
		}
		if !rep.Jobs[i].Done || rep.Jobs[i].TraceID == "" {
			t.Errorf("report job %d: %+v, want done with a trace ID", i+1, rep.Jobs[i])
		}
	}
	logs := r.logs.String()
	if n := len(regexp.MustCompile(`msg=submitted .*seq=\d+ type=\S+ target=\S+ trace_id=[0-9a-f]{32}`).FindAllString(logs, -1)); n != 20 {
		t.Errorf("%d submission lines with seq, type, target and trace_id, want 20:\n%s", n, logs)
	}
	if !strings.Contains(logs, "all 20 jobs completed in") || !strings.Contains(logs, "slowest fast job checkout-"+rep.Batch) {
		t.Errorf("logs lack the completion or slowest-fast-job line:\n%s", logs)
	}
	st := r.runner.Stats()
	if st.Submitted["cache-read"] != 12 || st.Submitted["database"] != 4 || st.Submitted["vendor-api"] != 4 ||
		st.Bursts.Run != 1 || st.Bursts.Completed != 1 || st.Bursts.Running != 0 || st.LastBurst == nil || st.LastBurst.Batch != rep.Batch {
		t.Errorf("stats %+v", st)
	}
}

func TestCheckoutBurstTimesOut(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	r.pool.OnAccept(func(j *jobsv1.Job) {
		if j.GetSequence() != 4 { // the payment call never comes back
			r.sink.Complete(j.GetId())
		}
	})
	rep := r.runner.Checkout(context.Background(), 150*time.Millisecond)
	if !rep.TimedOut || rep.Completed != 19 || rep.Jobs[3].Done {
		t.Fatalf("report: timed out %v completed %d, job 4 done %v", rep.TimedOut, rep.Completed, rep.Jobs[3].Done)
	}
	want := fmt.Sprintf("checkout %s: TIMEOUT after 150ms: 19 of 20 jobs completed; missing checkout-%s-04 (vendor-api /v1/payment/authorize)", rep.Batch, rep.Batch)
	if rep.Summary != want {
		t.Errorf("summary\n %q\nwant\n %q", rep.Summary, want)
	}
	if !strings.Contains(r.logs.String(), "level=WARN msg=\""+want) {
		t.Errorf("no WARN TIMEOUT line in logs:\n%s", r.logs.String())
	}
	if st := r.runner.Stats(); st.Bursts.TimedOut != 1 || st.Bursts.Completed != 0 {
		t.Errorf("bursts %+v", st.Bursts)
	}
}

func TestHungPoolCannotHoldABurstPastItsTimeout(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	r.pool.SetRefuse(func(*jobsv1.Job) error { <-hang; return nil })

	done := make(chan BurstReport, 1)
	go func() { done <- r.runner.Checkout(context.Background(), 200*time.Millisecond) }()
	select {
	case rep := <-done:
		if rep.NotSubmitted != 20 || rep.Completed != 0 {
			t.Errorf("report: %d not submitted, %d completed; want 20, 0", rep.NotSubmitted, rep.Completed)
		}
	case <-time.After(30 * time.Second): // without the burst deadline: 20 submit timeouts of 65s
		t.Fatal("a hung worker pool held the checkout burst far past its 200ms timeout")
	}
}

// A slow burst is not a faulty one: jobs the consumer has not confirmed
// after RETRY_AFTER are checked on, and the pool, still holding them,
// answers already_held. Nothing was queued again, so the burst's line says
// nothing about re-submissions, and the per-attempt log says "still held".
func TestSlowJobsCheckedOnAreNotReportedResubmitted(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{}, tracker.Options{RetryAfter: tracker.MinRetryAfter})
	r.pool.OnAccept(nil) // the consumer handles a job only once it was checked on
	r.pool.SetHeld(func(j *jobsv1.Job) bool {
		if j.GetAttempt() > 1 {
			r.sink.Complete(j.GetId())
			return true
		}
		return false
	})
	rep := r.runner.Checkout(context.Background(), 10*time.Second)
	if rep.Completed != 20 || rep.Resubmitted != 0 {
		t.Fatalf("report: completed %d, resubmitted %d; want 20, 0", rep.Completed, rep.Resubmitted)
	}
	for _, j := range rep.Jobs {
		if j.Attempts < 2 || j.Requeued != 0 {
			t.Errorf("job %s: %d attempts, %d requeued; want a check (2 attempts), nothing requeued", j.ID, j.Attempts, j.Requeued)
		}
	}
	if want := regexp.MustCompile(`^checkout [0-9a-f]{8}: all 20 jobs completed in [0-9.]+m?s$`); !want.MatchString(rep.Summary) {
		t.Errorf("summary %q; want the plain completion line", rep.Summary)
	}
	logs := r.logs.String()
	if strings.Contains(logs, "re-submitted") || strings.Count(logs, `msg="still held by the worker pool"`) != 20 {
		t.Errorf("per-attempt log lines: want 20 'still held', no 're-submitted':\n%s", logs)
	}
}

// Jobs the pool queued again (it had not answered, or had lost them) are
// what the burst's line counts as re-submitted.
func TestJobsQueuedAgainAreReportedResubmitted(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	r.pool.SetRefuse(func(j *jobsv1.Job) error {
		if j.GetSequence() <= 3 && j.GetAttempt() == 1 {
			return status.Error(codes.Unavailable, "restarting")
		}
		return nil
	})
	rep := r.runner.Checkout(context.Background(), 10*time.Second)
	if rep.Completed != 20 || rep.Resubmitted != 3 {
		t.Fatalf("report: completed %d, resubmitted %d; want 20, 3", rep.Completed, rep.Resubmitted)
	}
	if want := "all 20 jobs completed in "; !strings.Contains(rep.Summary, want) ||
		!strings.HasSuffix(rep.Summary, "(3 re-submitted after the worker pool lost them or did not answer)") {
		t.Errorf("summary %q", rep.Summary)
	}
	if j := rep.Jobs[0]; j.Attempts != 2 || j.Requeued != 1 {
		t.Errorf("job 1: %+v; want 2 attempts, 1 requeued", j)
	}
	if n := strings.Count(r.logs.String(), `msg="re-submitted: the worker pool queued it again"`); n != 3 {
		t.Errorf("%d 're-submitted' log lines; want 3:\n%s", n, r.logs.String())
	}
}

// Shed jobs are counted and not retried; a job the pool did not answer is
// re-submitted and, once accepted, completes within the burst, counted once.
func TestShedJobsAreCountedUnreachableOnesRetried(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	r.pool.SetRefuse(func(j *jobsv1.Job) error {
		switch {
		case j.GetType() == jobsv1.JobType_JOB_TYPE_VENDOR_API:
			return status.Error(codes.ResourceExhausted, "queue full")
		case j.GetSequence() == 20 && j.GetAttempt() == 1:
			return status.Error(codes.Unavailable, "shutting down")
		}
		return nil
	})
	rep := r.runner.Checkout(context.Background(), 5*time.Second)
	if rep.Completed != 16 || rep.NotSubmitted != 4 || rep.TimedOut || rep.Resubmitted != 1 {
		t.Fatalf("report: completed %d not submitted %d timed out %v resubmitted %d", rep.Completed, rep.NotSubmitted, rep.TimedOut, rep.Resubmitted)
	}
	if j := rep.Jobs[19]; !j.Done || j.Attempts != 2 || j.Outcome != spans.OutcomeDelivered {
		t.Errorf("job 20: %+v; want done after 2 attempts", j)
	}
	if j := rep.Jobs[3]; j.Done || j.Submitted || j.Attempts != 1 || j.Outcome != spans.OutcomeRejected || !strings.Contains(j.Error, "queue full") {
		t.Errorf("job 4 (shed): %+v", j)
	}
	if !strings.Contains(rep.Summary, "16 of 20 jobs completed") || !strings.Contains(rep.Summary, "4 not accepted by the worker pool") {
		t.Errorf("summary %q", rep.Summary)
	}
	st := r.runner.Stats()
	if st.Rejected["vendor-api"] != 4 || st.Submitted["database"] != 4 || st.Submitted["vendor-api"] != 0 ||
		st.Delivery.Resubmissions != 1 || st.Delivery.Shed != 4 || st.Delivery.Confirmed != 16 || st.Bursts.Incomplete != 1 {
		t.Errorf("stats: rejected %v submitted %v delivery %+v bursts %+v", st.Rejected, st.Submitted, st.Delivery, st.Bursts)
	}
	if n := len(r.pool.Calls()); n != 21 {
		t.Errorf("the pool got %d Submits; want 21 (20 jobs, one re-submitted, shed ones not)", n)
	}
	if !strings.Contains(r.logs.String(), "code=ResourceExhausted") {
		t.Errorf("refusals not logged")
	}
}

// A busy pool (queue full) sheds the job; one that did not answer in time
// or was down gets it again. /stats keeps the two apart.
func TestBusyPoolShedsUnansweredIsRetried(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	codeFor := map[jobsv1.JobType]codes.Code{
		jobsv1.JobType_JOB_TYPE_CACHE_READ: codes.DeadlineExceeded,
		jobsv1.JobType_JOB_TYPE_VENDOR_API: codes.ResourceExhausted,
		jobsv1.JobType_JOB_TYPE_DATABASE:   codes.Unavailable,
	}
	r.pool.SetRefuse(func(j *jobsv1.Job) error {
		if c := codeFor[j.GetType()]; c == codes.ResourceExhausted || j.GetAttempt() == 1 {
			return status.Error(c, "refused")
		}
		return nil
	})
	rep := r.runner.Checkout(context.Background(), 5*time.Second)
	st := r.runner.Stats()
	if st.Rejected["vendor-api"] != 4 || st.Rejected["cache-read"] != 0 || st.Rejected["database"] != 0 ||
		st.Submitted["cache-read"] != 12 || st.Submitted["database"] != 4 || st.Delivery.Unavailable != 16 {
		t.Errorf("rejected %v submitted %v delivery %+v", st.Rejected, st.Submitted, st.Delivery)
	}
	for _, j := range rep.Jobs {
		want := 2
		if j.Type == "vendor-api" {
			want = 1
		}
		if j.Attempts != want {
			t.Errorf("job %s (%s): %d attempts, want %d", j.ID, j.Type, j.Attempts, want)
		}
	}
}

func TestConcurrentBurstsHaveTheirOwnBatches(t *testing.T) {
	r := newRig(t, Load{Scenario: NameIdle}, Options{})
	reps := make([]BurstReport, 3)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Go(func() { reps[i] = r.runner.Checkout(context.Background(), 5*time.Second) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, rep := range reps {
		if rep.Completed != 20 || seen[rep.Batch] {
			t.Errorf("burst %s: completed %d, batch reused %v", rep.Batch, rep.Completed, seen[rep.Batch])
		}
		seen[rep.Batch] = true
	}
	if n := len(r.pool.Jobs()); n != 60 {
		t.Errorf("pool got %d jobs, want 60", n)
	}
}

// fakeClock is a clock and ticker the test drives.
type fakeClock struct {
	now     atomic.Int64
	ticks   chan time.Time
	tickers atomic.Int32 // tickers made so far
	stopped atomic.Bool
}

func newFakeClock(t0 time.Time) *fakeClock {
	c := &fakeClock{ticks: make(chan time.Time)}
	c.now.Store(t0.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time  { return time.Unix(0, c.now.Load()) }
func (c *fakeClock) set(t time.Time) { c.now.Store(t.UnixNano()) }

// tick does not move Now: the test times changes with set.
func (c *fakeClock) tick(t time.Time) { c.ticks <- t }
func (c *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	c.stopped.Store(false)
	c.tickers.Add(1)
	return c.ticks, func() { c.stopped.Store(true) }
}

func TestSteadyFollowsRateChangesAndScenarioSwitches(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clock := newFakeClock(t0)
	mix, _ := ParseMix("cache-read=1")
	r := newRig(t, Load{Scenario: NameSteady, Rate: 10, Mix: mix}, Options{Now: clock.Now, NewTicker: clock.NewTicker, Seed: 7})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.runner.Run(ctx) }()

	jobs := func(n int) func() bool { return func() bool { return len(r.pool.Jobs()) == n } }
	// Steady load reads its start time before it makes its ticker.
	waitFor(t, "steady load to start", func() bool { return clock.tickers.Load() == 1 })
	clock.tick(t0.Add(time.Second))
	waitFor(t, "10 jobs after 1s at 10/s", jobs(10))

	clock.set(t0.Add(time.Second))
	if _, err := r.runner.Control().Update(func(l *Load) error { l.Rate = 100; l.Mix = Mix{"vendor-api": 1}; return nil }); err != nil {
		t.Fatal(err)
	}
	clock.tick(t0.Add(2 * time.Second))
	waitFor(t, "100 more after 1s at 100/s", jobs(110))
	for _, j := range r.pool.Jobs()[10:] {
		if j.GetType() != jobsv1.JobType_JOB_TYPE_VENDOR_API || j.GetScenario() != "steady" {
			t.Fatalf("after the mix change got %v", j)
		}
	}

	// Switching to idle stops steady load.
	if _, err := r.runner.Control().Update(func(l *Load) error { l.Scenario = NameIdle; return nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the steady ticker stopped", clock.stopped.Load)

	// And to checkout runs a burst (CheckoutEvery 0: once).
	if _, err := r.runner.Control().Update(func(l *Load) error { l.Scenario = NameCheckout; return nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a burst", func() bool { return r.runner.Stats().Bursts.Completed == 1 })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.runner.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := r.runner.Stats()
	if st.Submitted["cache-read"] != 10+12 || st.Submitted["vendor-api"] != 100+4 || st.Submitted["database"] != 4 || st.Steady.Generated != 110 {
		t.Errorf("stats %+v", st)
	}
}

func TestSteadyDurationEnds(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clock := newFakeClock(t0)
	mix, _ := ParseMix("cache-read=1")
	r := newRig(t, Load{Scenario: NameSteady, Rate: 10, Mix: mix, SteadyDuration: 2 * time.Second},
		Options{Now: clock.Now, NewTicker: clock.NewTicker})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.runner.Run(ctx) }()
	waitFor(t, "steady load to start", func() bool { return clock.tickers.Load() == 1 })
	clock.tick(t0.Add(time.Second))
	waitFor(t, "10 jobs", func() bool { return len(r.pool.Jobs()) == 10 })
	clock.tick(t0.Add(2 * time.Second)) // the duration is over
	clock.tick(t0.Add(3 * time.Second)) // handled after the previous tick, so nothing was sent for it
	if err := r.runner.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.pool.Jobs()); n != 10 {
		t.Errorf("%d jobs, want 10: nothing after STEADY_DURATION", n)
	}
	if !strings.Contains(r.logs.String(), "steady load finished") {
		t.Error("no line says steady load finished")
	}
}
