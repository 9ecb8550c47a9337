package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

// jitterRunner takes a short random time per job, and fails the jobs whose
// sequence number is a multiple of failEvery.
type jitterRunner struct{ failEvery uint32 }

var errInjected = errors.New("injected failure")

func (r jitterRunner) Run(ctx context.Context, job *jobsv1.Job, _ work.Params) error {
	d := rand.N(200 * time.Microsecond)
	if job.GetType() == jobsv1.JobType_JOB_TYPE_VENDOR_API {
		d = rand.N(time.Millisecond)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if job.GetSequence()%r.failEvery == 0 {
		return errInjected
	}
	return nil
}

// countingSink is a consumer that handles results concurrently and counts
// each job's deliveries.
type countingSink struct {
	mu      sync.Mutex
	counts  map[string]int
	results map[string]*jobsv1.Result
}

func (s *countingSink) Deliver(_ context.Context, r *jobsv1.Result) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts, s.results = map[string]int{}, map[string]*jobsv1.Result{}
	}
	s.counts[r.GetJob().GetId()]++
	s.results[r.GetJob().GetId()] = r
	return 1, nil
}

// WORKERS and QUEUE_SIZE change over and over (lanes switching on and off
// too) while producers submit as fast as the pool takes jobs: every
// accepted job is delivered exactly once, no refused job runs, the
// counters agree with what the producers and the consumer saw, worker IDs
// stay within 1..WORKERS, and nothing is left running after the shutdown.
func TestResizeUnderLoadDeliversEveryJobExactlyOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "workers-test", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background()) //nolint:errcheck
	live := sized(testLive(), 4, 40)
	live.SubmitWait = 2 * time.Millisecond // small queues refuse some jobs: they must never run
	live.ResultsBuffer = 2                 // workers block sending, retired ones too
	live.Forwarders = 2
	const failEvery = 11
	sink := &countingSink{}
	p, err := New(Options{Live: live, Runner: jitterRunner{failEvery: failEvery}, Sink: sink, Tracing: tr, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()

	const producers, perProducer = 4, 400
	types := []jobsv1.JobType{jobsv1.JobType_JOB_TYPE_CACHE_READ, jobsv1.JobType_JOB_TYPE_DATABASE, jobsv1.JobType_JOB_TYPE_VENDOR_API}
	var (
		mu       sync.Mutex
		accepted = map[string]*jobsv1.Job{}
		refused  = map[string]bool{}
		wg       sync.WaitGroup
	)
	for w := range producers {
		wg.Go(func() {
			for i := range perProducer {
				j := &jobsv1.Job{Id: fmt.Sprintf("p%d-%04d", w, i), Type: types[(w+i)%len(types)],
					Target: "/v1/fraud/check", Sequence: uint32(i + 1)}
				_, err := p.Submit(context.Background(), j)
				var full *FullError
				mu.Lock()
				switch {
				case err == nil:
					accepted[j.GetId()] = j
				case errors.As(err, &full):
					refused[j.GetId()] = true
				default:
					t.Errorf("submit %s: %v", j.GetId(), err)
				}
				mu.Unlock()
			}
		})
	}
	producersDone := make(chan struct{})
	go func() { wg.Wait(); close(producersDone) }()

	// Each size holds until ten more jobs completed, so every size sees
	// jobs flow; a size under which nothing moves for 10 s is a deadlock.
	// The sizes keep changing until every accepted job is delivered, so
	// the drain of a big queue is resized too.
	sizes := []struct{ workers, queue int }{
		{1, 1}, {16, 200}, {2, 3}, {8, 1}, {1, 50}, {32, 5}, {3, 1000}, {5, 2}, {64, 64}, {2, 1},
	}
	finished := func() bool {
		select {
		case <-producersDone:
			c := p.Stats().Counters
			return c.Delivered >= c.Submitted
		default:
			return false
		}
	}
	changes, most := 0, live.Workers
	for ; !finished(); changes++ {
		s := sizes[changes%len(sizes)]
		most = max(most, s.workers)
		if _, _, err := p.Update(func(l *config.Live) error {
			l.Workers, l.QueueSize = s.workers, s.queue
			if changes%3 == 2 {
				l.PriorityLanes = !l.PriorityLanes
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		target := p.Stats().Counters.Completed + 10
		stuck := time.Now().Add(10 * time.Second)
		for !finished() && p.Stats().Counters.Completed < target {
			if time.Now().After(stuck) {
				t.Fatalf("no progress for 10s with %d workers, queue %d: %+v", s.workers, s.queue, p.Stats())
			}
			time.Sleep(100 * time.Microsecond) // polling, not synchronisation
		}
	}
	if changes < 20 {
		t.Errorf("only %d size changes while jobs flowed; the test did not exercise resizing", changes)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if r := p.workerSet.running.Load(); r != 0 {
		t.Errorf("%d workers still running after Shutdown", r)
	}
	if r := p.fwdRunning.Load(); r != 0 {
		t.Errorf("%d forwarders still running after Shutdown", r)
	}

	mu.Lock()
	defer mu.Unlock()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(accepted) == 0 || len(accepted)+len(refused) != producers*perProducer {
		t.Fatalf("%d accepted + %d refused of %d submitted", len(accepted), len(refused), producers*perProducer)
	}
	var wantFailed uint64
	for id, j := range accepted {
		if n := sink.counts[id]; n != 1 {
			t.Errorf("accepted job %s delivered %d times", id, n)
			continue
		}
		r := sink.results[id]
		wantOK := j.GetSequence()%failEvery != 0
		if !wantOK {
			wantFailed++
		}
		if r.GetOk() != wantOK {
			t.Errorf("job %s: ok=%v; want %v", id, r.GetOk(), wantOK)
		}
		if w := r.GetWorkerId(); w < 1 || int(w) > most {
			t.Errorf("job %s ran on worker.id %d; want 1..%d", id, w, most)
		}
	}
	for id := range refused {
		if n := sink.counts[id]; n != 0 {
			t.Errorf("refused job %s delivered %d times", id, n)
		}
	}
	if len(sink.counts) != len(accepted) {
		t.Errorf("consumer got %d distinct jobs; %d were accepted", len(sink.counts), len(accepted))
	}

	c := p.Stats().Counters
	n := uint64(len(accepted))
	if c.Submitted != n || c.Rejected != uint64(len(refused)) {
		t.Errorf("counters say %d submitted, %d rejected; the producers saw %d accepted, %d refused", c.Submitted, c.Rejected, n, len(refused))
	}
	if c.Completed != n || c.Delivered != n || c.Failed != wantFailed || c.DeliveryFailed != 0 || c.Abandoned != 0 || c.AbandonedJobs != 0 {
		t.Errorf("counters %+v; want %d completed and delivered, %d failed, nothing abandoned", c, n, wantFailed)
	}
	var byType uint64
	for _, v := range c.CompletedByType {
		byType += v
	}
	if byType != c.Completed {
		t.Errorf("completed_by_type adds up to %d, completed is %d", byType, c.Completed)
	}
	checkBalance(t, c)

	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	process := 0
	for _, s := range exp.GetSpans() {
		if s.Name == spans.WorkerProcess {
			process++
		}
	}
	if uint64(process) != n {
		t.Errorf("%d worker.process spans for %d jobs run", process, n)
	}
	t.Logf("%d jobs accepted, %d refused, %d failed by design; %d size changes", n, len(refused), wantFailed, changes)
}
