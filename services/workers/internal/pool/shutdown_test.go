package pool

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
)

// stuckSink accepts the first `accept` results, then holds every further
// delivery until its context ends, like a consumer that stopped answering.
type stuckSink struct {
	accept int
	mu     sync.Mutex
	n      int
	stuck  chan struct{} // closed when the first delivery gets stuck
	once   sync.Once
}

func (s *stuckSink) Deliver(ctx context.Context, _ *jobsv1.Result) (int, error) {
	s.mu.Lock()
	s.n++
	ok := s.n <= s.accept
	s.mu.Unlock()
	if ok {
		return 1, nil
	}
	s.once.Do(func() { close(s.stuck) })
	<-ctx.Done()
	return 1, context.Cause(ctx)
}

// newShutdownPool starts a pool that logs to a buffer and traces to an
// in-memory exporter; the test calls Shutdown itself.
func newShutdownPool(t *testing.T, o Options) (*Pool, *logtest.Buffer, func() []tracetest.SpanStub) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "workers-test", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	logs := &logtest.Buffer{}
	o.Tracing = tr
	o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	spansNamed := func() []tracetest.SpanStub {
		t.Helper()
		if err := tr.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		return exp.GetSpans()
	}
	return p, logs, spansNamed
}

// expired is a shutdown context whose deadline has already passed, so
// Shutdown abandons at once: no timing in the test.
func expired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// checkBalance asserts that every completed job's result is accounted for
// once, and every accepted job either ran or was abandoned in the queue.
func checkBalance(t *testing.T, c Counters) {
	t.Helper()
	if c.Completed != c.Delivered+c.DeliveryFailed+c.Abandoned {
		t.Errorf("completed %d != delivered %d + delivery_failed %d + abandoned %d",
			c.Completed, c.Delivered, c.DeliveryFailed, c.Abandoned)
	}
	if c.Submitted != c.Completed+c.AbandonedJobs {
		t.Errorf("submitted %d != completed %d + abandoned_jobs %d", c.Submitted, c.Completed, c.AbandonedJobs)
	}
}

// The consumer stops answering with results queued: the shutdown report
// counts the result in delivery and those still in the results channel,
// in one summary line, and the counters add up.
func TestShutdownDeadlineReportsUndeliveredResults(t *testing.T) {
	const jobs, accepted = 8, 2
	live := testLive()
	live.ResultsBuffer = jobs // every result fits: no worker blocks
	sink := &stuckSink{accept: accepted, stuck: make(chan struct{})}
	p, logs, _ := newShutdownPool(t, Options{Live: sized(live, 2, jobs), Runner: fakeRunner{}, Sink: sink})
	submitAll(t, p, cacheJobs("u", jobs))
	<-sink.stuck
	fakes.Eventually(t, 5*time.Second, func() bool { return p.Stats().Counters.Completed == jobs }, "every job completed")

	err := p.Shutdown(expired())
	const undelivered = jobs - accepted // one in the forwarder's hand, the rest in the channel
	if err == nil || !strings.Contains(err.Error(), "0 queued jobs and 6 undelivered results") {
		t.Fatalf("Shutdown at the deadline: %v; want 0 queued jobs and %d undelivered results", err, undelivered)
	}
	c := p.Stats().Counters
	if c.Delivered != accepted || c.Abandoned != undelivered || c.DeliveryFailed != 0 {
		t.Errorf("counters %+v; want %d delivered, %d abandoned", c, accepted, undelivered)
	}
	checkBalance(t, c)
	if got := p.Stats().Results.Len; got != 0 {
		t.Errorf("results channel still holds %d results after the abandon", got)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d WARN lines at the abandon; want one summary line:\n%s", n, out)
	}
	if !strings.Contains(out, "undelivered_results=6") {
		t.Errorf("summary line does not say 6 undelivered results:\n%s", out)
	}
}

// Jobs still queued at the deadline end their queue.wait spans with an
// error saying why, and count as abandoned jobs.
func TestShutdownDeadlineFinishesQueueWaitSpans(t *testing.T) {
	hang := runnerFunc(func(ctx context.Context, _ *jobsv1.Job) error { <-ctx.Done(); return ctx.Err() })
	p, _, finished := newShutdownPool(t, Options{Live: sized(testLive(), 1, 10), Runner: hang, Sink: &slowSink{}})
	js := checkout("stuck")[:3]
	submitAll(t, p, js)
	fakes.Eventually(t, 5*time.Second, func() bool { return p.Stats().Queue.Depth == 2 }, "the first job running")

	err := p.Shutdown(expired())
	if err == nil || !strings.Contains(err.Error(), "2 queued jobs") {
		t.Fatalf("Shutdown at the deadline: %v; want it to report 2 queued jobs", err)
	}
	waits := map[string]tracetest.SpanStub{}
	for _, s := range finished() {
		if s.Name == spans.QueueWait {
			id, _ := attr(s, spans.JobID)
			waits[id] = s
		}
	}
	if len(waits) != len(js) {
		t.Fatalf("%d queue.wait spans finished; want %d (one per accepted job)", len(waits), len(js))
	}
	for i, j := range js {
		s := waits[j.GetId()]
		if i == 0 {
			if s.Status.Code == otelcodes.Error {
				t.Errorf("the running job's queue.wait has status %v %q", s.Status.Code, s.Status.Description)
			}
			continue
		}
		if s.Status.Code != otelcodes.Error || s.Status.Description != abandonedAtShutdown {
			t.Errorf("queue.wait of queued job %s: status %v %q; want Error %q",
				j.GetId(), s.Status.Code, s.Status.Description, abandonedAtShutdown)
		}
	}
	c := p.Stats().Counters
	if c.AbandonedJobs != 2 {
		t.Errorf("abandoned_jobs = %d; want 2", c.AbandonedJobs)
	}
	if d := p.Stats().Queue.Depth; d != 0 {
		t.Errorf("queue depth %d after the abandon", d)
	}
	checkBalance(t, c)
}

// handledSink is a consumer that handles every result it is given, but
// whose acknowledgement of the results after the first `accept` never
// arrives (it hangs until the caller gives up); Handled reports what it
// handled, like the consumer's Status.
type handledSink struct {
	stuckSink
	mu      sync.Mutex
	handled map[string]bool
	askErr  error
}

func (s *handledSink) Deliver(ctx context.Context, r *jobsv1.Result) (int, error) {
	s.mu.Lock()
	if s.handled == nil {
		s.handled = map[string]bool{}
	}
	s.handled[r.GetJob().GetId()] = true
	s.mu.Unlock()
	return s.stuckSink.Deliver(ctx, r)
}

func (s *handledSink) Handled(_ context.Context, ids []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.askErr != nil {
		return nil, s.askErr
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = s.handled[id]
	}
	return out, nil
}

// A delivery the shutdown deadline cuts, whose result the consumer had
// handled all the same, counts as delivered: abandoned means never
// acknowledged. Its spans end without an error; those of the results
// still in the channel end with one.
func TestShutdownDeadlineAsksTheConsumerAboutCutDeliveries(t *testing.T) {
	const jobs, accepted = 5, 1
	live := testLive()
	live.ResultsBuffer = jobs
	sink := &handledSink{stuckSink: stuckSink{accept: accepted, stuck: make(chan struct{})}}
	p, logs, finished := newShutdownPool(t, Options{Live: sized(live, 1, jobs), Runner: fakeRunner{}, Sink: sink})
	js := cacheJobs("h", jobs)
	submitAll(t, p, js)
	<-sink.stuck
	fakes.Eventually(t, 5*time.Second, func() bool { return p.Stats().Counters.Completed == jobs }, "every job completed")

	err := p.Shutdown(expired())
	// h-000 acknowledged; h-001 handled but its acknowledgement cut; h-002..4 in the channel.
	if err == nil || !strings.Contains(err.Error(), "0 queued jobs and 3 undelivered results") {
		t.Fatalf("Shutdown at the deadline: %v; want 3 undelivered results", err)
	}
	c := p.Stats().Counters
	if c.Delivered != 2 || c.DeliveredAtDeadline != 1 || c.Abandoned != 3 {
		t.Errorf("counters %+v; want 2 delivered (1 confirmed at the deadline), 3 abandoned", c)
	}
	checkBalance(t, c)
	if !strings.Contains(logs.String(), "delivered_at_deadline=1") {
		t.Errorf("the summary line does not count the confirmed delivery:\n%s", logs.String())
	}
	if n := p.held.len(); n != 0 {
		t.Errorf("%d jobs still held after the abandon", n)
	}

	byJob := map[string]map[string]tracetest.SpanStub{}
	for _, s := range finished() {
		id, _ := attr(s, spans.JobID)
		if byJob[id] == nil {
			byJob[id] = map[string]tracetest.SpanStub{}
		}
		byJob[id][s.Name] = s
	}
	cut := byJob["h-001"]
	if d := cut[spans.ResultDeliver]; d.Status.Code == otelcodes.Error {
		t.Errorf("the confirmed delivery's result.deliver has error %q", d.Status.Description)
	} else if v, _ := attr(d, spans.DeliveryConfirmedByStatus); v != "true" {
		t.Errorf("the confirmed delivery's result.deliver: %s=%q; want true", spans.DeliveryConfirmedByStatus, v)
	}
	if j := cut[spans.PoolJob]; j.Name == "" || j.Status.Code == otelcodes.Error {
		t.Errorf("pool.job of the confirmed delivery: %+v; want finished without error", j.Status)
	}
	for _, id := range []string{"h-002", "h-003", "h-004"} {
		for _, name := range []string{spans.ResultsChannelWait, spans.PoolJob} {
			s, ok := byJob[id][name]
			if !ok || s.Status.Code != otelcodes.Error || !strings.HasPrefix(s.Status.Description, abandonedAtShutdown) {
				t.Errorf("%s of %s (left in the channel): finished %v, status %v %q; want an error saying %q",
					name, id, ok, s.Status.Code, s.Status.Description, abandonedAtShutdown)
			}
		}
	}
}

// Without an answer from the consumer, a cut delivery counts as abandoned.
func TestShutdownDeadlineWithoutAnAnswerCountsCutDeliveriesAbandoned(t *testing.T) {
	live := testLive()
	sink := &handledSink{stuckSink: stuckSink{accept: 0, stuck: make(chan struct{})}, askErr: errors.New("consumer unreachable")}
	p, logs, _ := newShutdownPool(t, Options{Live: sized(live, 1, 1), Runner: fakeRunner{}, Sink: sink})
	submitAll(t, p, cacheJobs("n", 1))
	<-sink.stuck
	if err := p.Shutdown(expired()); err == nil {
		t.Fatal("Shutdown at the deadline returned no error")
	}
	if c := p.Stats().Counters; c.Delivered != 0 || c.Abandoned != 1 {
		t.Errorf("counters %+v; want the cut delivery abandoned", c)
	}
	if !strings.Contains(logs.String(), "could not ask the consumer") {
		t.Errorf("no line says the consumer could not be asked:\n%s", logs.String())
	}
}
