package pool

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
)

func cacheJobs(prefix string, n int) []*jobsv1.Job {
	out := make([]*jobsv1.Job, n)
	for i := range out {
		out[i] = &jobsv1.Job{Id: fmt.Sprintf("%s-%03d", prefix, i), Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Target: "k"}
	}
	return out
}

func consumerClient(t *testing.T, addr string) *consumer.Client {
	t.Helper()
	cc, err := consumer.New(addr, mustTracing(t), quietLog, consumer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// A consumer that takes 20 ms per result and handles 4 at once: one
// forwarder keeps one call in flight, in order; four keep four in flight.
// Either way every result arrives exactly once, with one result.deliver
// span each, and Shutdown waits for every forwarder.
func TestForwardersDeliverConcurrently(t *testing.T) {
	const results = 24
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprintf("forwarders=%d", n), func(t *testing.T) {
			fc := fakes.StartConcurrentConsumer(t, "127.0.0.1:0", 20*time.Millisecond, 4)
			live := testLive()
			live.Forwarders = n
			live.ResultsBuffer = results
			// One worker: results enter the channel in submission order.
			tp := newTestPool(t, Options{Live: sized(live, 1, results), Runner: fakeRunner{}, Sink: consumerClient(t, fc.Addr())})
			jobs := cacheJobs("f", results)
			submitAll(t, tp.Pool, jobs)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tp.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if r := tp.fwdRunning.Load(); r != 0 {
				t.Fatalf("%d forwarders still running after Shutdown", r)
			}
			counts := fc.Counts()
			for _, j := range jobs {
				if counts[j.GetId()] != 1 {
					t.Errorf("job %s delivered %d times", j.GetId(), counts[j.GetId()])
				}
			}
			if len(counts) != results {
				t.Errorf("consumer got %d distinct results; want %d", len(counts), results)
			}
			if got := fc.MaxInFlight(); got != n {
				t.Errorf("at most %d Deliver calls in flight at once; want %d", got, n)
			}
			if got := len(tp.spans(t, spans.ResultDeliver)); got != results {
				t.Errorf("%d result.deliver spans; want %d", got, results)
			}
			if n == 1 {
				var order []string
				for _, r := range fc.Results() {
					order = append(order, r.GetJob().GetId())
				}
				want := make([]string, 0, results)
				for _, j := range jobs {
					want = append(want, j.GetId())
				}
				if !slices.Equal(order, want) {
					t.Errorf("one forwarder delivered out of order:\n got %v\nwant %v", order, want)
				}
			}
		})
	}
}

// FORWARDERS changed 1 -> 4 -> 1 under load: the extra forwarders start
// and stop, and no result is lost or delivered twice.
func TestForwardersLiveChangeLosesNothing(t *testing.T) {
	fc := fakes.StartConcurrentConsumer(t, "127.0.0.1:0", 2*time.Millisecond, 4)
	live := testLive()
	live.SubmitWait = 10 * time.Second
	tp := newTestPool(t, Options{Live: live, Runner: fakeRunner{}, Sink: consumerClient(t, fc.Addr())})

	stop := make(chan struct{})
	var (
		mu        sync.Mutex
		submitted []string
	)
	producer := make(chan struct{})
	go func() {
		defer close(producer)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			j := &jobsv1.Job{Id: fmt.Sprintf("live-%05d", i), Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Target: "k"}
			if _, err := tp.Submit(context.Background(), j); err != nil {
				t.Errorf("submit %s: %v", j.GetId(), err)
				return
			}
			mu.Lock()
			submitted = append(submitted, j.GetId())
			mu.Unlock()
		}
	}()
	setForwarders := func(n int) {
		t.Helper()
		if _, _, err := tp.Update(func(l *config.Live) error { l.Forwarders = n; return nil }); err != nil {
			t.Fatal(err)
		}
		fakes.Eventually(t, 5*time.Second, func() bool { return tp.fwdRunning.Load() == int32(n) }, "%d forwarders running", n)
	}
	delivered := func() uint64 { return tp.Stats().Counters.Delivered }
	waitMore := func(n uint64) {
		t.Helper()
		target := delivered() + n
		fakes.Eventually(t, 10*time.Second, func() bool { return delivered() >= target }, "%d more results delivered", n)
	}

	waitMore(20)
	if got := fc.MaxInFlight(); got != 1 {
		t.Fatalf("one forwarder made %d calls at once", got)
	}
	setForwarders(4)
	fakes.Eventually(t, 10*time.Second, func() bool { return fc.MaxInFlight() == 4 }, "4 Deliver calls in flight")
	setForwarders(1)
	fc.ResetMaxInFlight()
	waitMore(20)
	if got := fc.MaxInFlight(); got != 1 {
		t.Fatalf("after going back to one forwarder, %d calls were in flight at once", got)
	}

	close(stop)
	<-producer
	mu.Lock()
	defer mu.Unlock()
	waitDelivered(t, tp.Pool, uint64(len(submitted)))
	counts := fc.Counts()
	for _, id := range submitted {
		if counts[id] != 1 {
			t.Errorf("job %s delivered %d times", id, counts[id])
		}
	}
	if len(counts) != len(submitted) {
		t.Errorf("consumer got %d distinct results; %d were submitted", len(counts), len(submitted))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r := tp.fwdRunning.Load(); r != 0 {
		t.Fatalf("%d forwarders leaked after Shutdown", r)
	}
}
