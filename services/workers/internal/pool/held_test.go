package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
)

// releaseSink holds every delivery until release is closed.
type releaseSink struct {
	release chan struct{}
	calls   atomic.Int32 // Deliver calls begun
	slowSink
}

func (s *releaseSink) Deliver(ctx context.Context, r *jobsv1.Result) (int, error) {
	s.calls.Add(1)
	select {
	case <-s.release:
	case <-ctx.Done():
		return 1, ctx.Err()
	}
	return s.slowSink.Deliver(ctx, r)
}

// A re-submission finds its job wherever it is in the pool (queued,
// running, in the results channel, being delivered) and queues nothing.
// Once the consumer acknowledged the result, the ID is work again.
func TestResubmissionOfAHeldJobQueuesNothing(t *testing.T) {
	hold := make(chan struct{})
	runner := runnerFunc(func(ctx context.Context, job *jobsv1.Job) error {
		if job.GetId() == "running" {
			<-hold
		}
		return nil
	})
	live := testLive()
	live.ResultsBuffer = 1
	sink := &releaseSink{release: make(chan struct{})}
	// One worker: "running" holds it, so "queued" stays in the queue.
	tp := newTestPool(t, Options{Live: sized(live, 1, 10), Runner: runner, Sink: sink})
	job := func(id string) *jobsv1.Job {
		return &jobsv1.Job{Id: id, Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Target: "k", Attempt: 1}
	}

	// "delivering" is in the forwarder's hand, "in-channel" in the channel,
	// "running" with the worker, "queued" in the queue.
	submitAll(t, tp.Pool, []*jobsv1.Job{job("delivering"), job("in-channel"), job("running"), job("queued")})
	fakes.Eventually(t, 5*time.Second, func() bool {
		s := tp.Stats()
		return s.Results.Len == 1 && s.Queue.Depth == 1
	}, "one result in the channel, one job queued")

	for _, id := range []string{"delivering", "in-channel", "running", "queued"} {
		again := job(id)
		again.Attempt = 2
		if _, err := tp.Submit(context.Background(), again); !errors.Is(err, ErrAlreadyHeld) {
			t.Errorf("re-submission of %s (held): %v; want ErrAlreadyHeld", id, err)
		}
	}
	if st := tp.Stats(); st.Counters.AlreadyHeld != 4 || st.Counters.Submitted != 4 || st.Held != 4 {
		t.Errorf("held %d, counters %+v; want 4 held, 4 submitted, 4 already_held", st.Held, st.Counters)
	}

	close(hold)
	close(sink.release)
	waitDelivered(t, tp.Pool, 4)
	if n := tp.Stats().Held; n != 0 {
		t.Errorf("/stats says %d jobs held after every result was acknowledged", n)
	}
	// Acknowledged: the pool no longer holds it, and a Submit is work.
	if _, err := tp.Submit(context.Background(), job("delivering")); err != nil {
		t.Fatalf("Submit after the acknowledgement: %v", err)
	}
	waitDelivered(t, tp.Pool, 5)
	if got := sink.delivered(); len(got) != 5 {
		t.Errorf("consumer got %v; want each job once, and the one submitted after its acknowledgement twice", got)
	}
}

// Two Submits of one ID at once (a re-submission while the first still
// waits for room in a full queue): one gets in, the other is told the
// job is held.
func TestConcurrentSubmitsOfOneJobQueueItOnce(t *testing.T) {
	live := testLive()
	live.SubmitWait = 10 * time.Second
	p, err := New(Options{Live: sized(live, 1, 1), Runner: fakeRunner{}, Sink: &slowSink{}, Tracing: mustTracing(t), Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	// Not started: the queue stays full with "filler".
	submitAll(t, p, []*jobsv1.Job{{Id: "filler", Type: 1}})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			_, err := p.Submit(context.Background(), &jobsv1.Job{Id: "twice", Type: 1})
			errs <- err
		})
	}
	fakes.Eventually(t, 5*time.Second, func() bool { return p.Stats().Counters.AlreadyHeld == 1 }, "one Submit told the job is held")
	p.Start()
	wg.Wait()
	close(errs)
	var ok, held int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrAlreadyHeld):
			held++
		default:
			t.Errorf("Submit: %v", err)
		}
	}
	if ok != 1 || held != 1 {
		t.Errorf("%d Submits queued the job, %d were told it is held; want 1 and 1", ok, held)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c := p.Stats().Counters; c.Delivered != 2 {
		t.Errorf("counters %+v; want filler and twice delivered once each", c)
	}
}

// A refused Submit (queue full) does not leave its ID held: the retry is
// work.
func TestRefusedSubmitDoesNotHoldTheJob(t *testing.T) {
	live := testLive()
	live.SubmitWait = 0
	p, err := New(Options{Live: sized(live, 1, 1), Runner: fakeRunner{}, Sink: &slowSink{}, Tracing: mustTracing(t), Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, p, []*jobsv1.Job{{Id: "filler", Type: 1}})
	var full *FullError
	if _, err := p.Submit(context.Background(), &jobsv1.Job{Id: "later", Type: 1}); !errors.As(err, &full) {
		t.Fatalf("Submit on a full queue: %v", err)
	}
	p.Start()
	waitDelivered(t, p, 1)
	if _, err := p.Submit(context.Background(), &jobsv1.Job{Id: "later", Type: 1}); err != nil {
		t.Fatalf("the retry of a refused job: %v; want it queued", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// In non-blocking mode a result that spilled into the overflow says so on
// results.channel.wait, and the job's spans still cover pool.job without
// a gap.
func TestChannelWaitInTheOverflow(t *testing.T) {
	live := testLive()
	live.ResultsBuffer = 1
	live.ResultSend = config.SendNonblocking
	sink := &releaseSink{release: make(chan struct{})}
	tp := newTestPool(t, Options{Live: sized(live, 1, 10), Runner: fakeRunner{}, Sink: sink})
	js := cacheJobs("o", 4)
	submitAll(t, tp.Pool, js[:1])
	fakes.Eventually(t, 5*time.Second, func() bool { return sink.calls.Load() == 1 }, "the forwarder holding the first result")
	submitAll(t, tp.Pool, js[1:])
	fakes.Eventually(t, 5*time.Second, func() bool { return tp.Stats().Results.OverflowLen == 2 }, "two results in the overflow")
	close(sink.release)
	waitDelivered(t, tp.Pool, 4)

	waits := map[string]tracetest.SpanStub{}
	for _, s := range tp.spans(t, spans.ResultsChannelWait) {
		id, _ := attr(s, spans.JobID)
		waits[id] = s
	}
	// o-000 is in the forwarder's hand, o-001 went into the channel's one
	// slot, o-002 and o-003 into the overflow behind it.
	for id, want := range map[string]struct{ ahead, bufLen, overflow string }{
		"o-000": {"0", "0", "0"},
		"o-001": {"0", "0", "0"},
		"o-002": {"1", "1", "0"},
		"o-003": {"2", "1", "1"},
	} {
		s := waits[id]
		ahead, _ := attr(s, spans.WaitedBehindCount)
		bufLen, _ := attr(s, spans.ResultsBufferLen)
		overflow, _ := attr(s, spans.ResultsOverflowLen)
		if ahead != want.ahead || bufLen != want.bufLen || overflow != want.overflow {
			t.Errorf("%s: waited_behind.count %s, results.buffer.len %s, results.overflow.len %s; want %s, %s, %s",
				id, ahead, bufLen, overflow, want.ahead, want.bufLen, want.overflow)
		}
	}
	if ids, _ := attr(waits["o-003"], spans.WaitedBehindJobs); ids != "o-001,o-002" {
		t.Errorf("o-003 waited behind %q; want o-001,o-002", ids)
	}
}
