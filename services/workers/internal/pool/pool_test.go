package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/vendor"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

// The incident with no settings changed: 4 workers, 4 result slots, a
// consumer at 5 ms per result. A 20-job burst makes workers block sending.
func TestDefaultsBlockOnResultSend(t *testing.T) {
	tp := newTestPool(t, Options{Live: testLive(), Runner: fakeRunner{vendor: 5 * time.Millisecond}, Sink: &slowSink{delay: 5 * time.Millisecond}})
	submitAll(t, tp.Pool, checkout("b1"))
	waitDelivered(t, tp.Pool, 20)

	c := tp.Stats().Counters
	if c.BlockedSends == 0 {
		t.Fatalf("no blocked sends with the incident's defaults: %+v", c)
	}
	var blocked []string
	for _, s := range tp.spans(t, spans.ResultSend) {
		if v, _ := attr(s, spans.ChannelBlocked); v == "true" {
			blocked = append(blocked, s.Name)
			// A blocked send names the results it waited behind: the
			// channel was full, so exactly cap of them.
			if n, _ := attr(s, spans.WaitedBehindCount); n != "4" {
				t.Errorf("blocked send waited behind %q results; want 4 (the full channel)", n)
			}
			if ids, _ := attr(s, spans.WaitedBehindJobs); len(strings.Split(ids, ",")) != 4 {
				t.Errorf("waited_behind.job_ids = %q; want 4 IDs", ids)
			}
			if l, _ := attr(s, spans.ResultsBufferLen); l != "4" {
				t.Errorf("results.buffer.len = %q at a blocked send; want 4", l)
			}
			if c, _ := attr(s, spans.ResultsBufferCap); c != "4" {
				t.Errorf("results.buffer.cap = %q; want 4", c)
			}
			if m, _ := attr(s, spans.ResultSendMode); m != config.SendBlocking {
				t.Errorf("result.send.mode = %q", m)
			}
			if _, ok := attr(s, spans.BlockDurationMS); !ok {
				t.Error("blocked send has no block.duration_ms")
			}
		}
	}
	if uint64(len(blocked)) != c.BlockedSends {
		t.Errorf("%d result.send spans say blocked, stats say %d", len(blocked), c.BlockedSends)
	}
}

// Fix 1: 400 result slots hold the whole burst; nobody blocks.
func TestBiggerBufferNeverBlocks(t *testing.T) {
	live := testLive()
	live.ResultsBuffer = 400
	sink := &slowSink{delay: 5 * time.Millisecond}
	tp := newTestPool(t, Options{Live: live, Runner: fakeRunner{vendor: 5 * time.Millisecond}, Sink: sink})
	submitAll(t, tp.Pool, checkout("b1"))
	waitDelivered(t, tp.Pool, 20)
	if c := tp.Stats().Counters; c.BlockedSends != 0 {
		t.Fatalf("%d blocked sends with a 400-slot buffer", c.BlockedSends)
	}
	for _, s := range tp.spans(t, spans.ResultSend) {
		if v, _ := attr(s, spans.ChannelBlocked); v != "false" {
			t.Errorf("result.send channel.blocked = %q", v)
		}
	}
}

// Fix 2: non-blocking sends spill into the overflow; no worker blocks, and
// the real (gRPC) consumer gets every result exactly once.
func TestNonblockingSendNeverBlocksAndDeliversExactlyOnce(t *testing.T) {
	fc := fakes.StartConsumer(t, "127.0.0.1:0", 2*time.Millisecond)
	cc, err := consumer.New(fc.Addr(), mustTracing(t), quietLog, consumer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	live := testLive()
	live.ResultSend = config.SendNonblocking
	tp := newTestPool(t, Options{Live: live, Runner: fakeRunner{}, Sink: cc})

	var all []*jobsv1.Job
	for b := range 3 {
		all = append(all, checkout(fmt.Sprintf("b%d", b))...)
	}
	submitAll(t, tp.Pool, all)
	fc.WaitFor(t, len(all), 10*time.Second)
	waitDelivered(t, tp.Pool, uint64(len(all)))

	c := tp.Stats().Counters
	if c.BlockedSends != 0 || c.FallbackSends != 0 {
		t.Errorf("non-blocking mode blocked %d sends (%d fallbacks)", c.BlockedSends, c.FallbackSends)
	}
	if c.OverflowSends == 0 {
		t.Error("no send went to the overflow: the test did not exercise it")
	}
	for _, s := range tp.spans(t, spans.ResultSend) {
		if v, _ := attr(s, spans.ChannelBlocked); v != "false" {
			t.Errorf("result.send channel.blocked = %q in non-blocking mode", v)
		}
		if m, _ := attr(s, spans.ResultSendMode); m != config.SendNonblocking {
			t.Errorf("result.send.mode = %q", m)
		}
	}
	counts := fc.Counts()
	for _, j := range all {
		if counts[j.GetId()] != 1 {
			t.Errorf("job %s delivered %d times", j.GetId(), counts[j.GetId()])
		}
	}
}

// Fix 3: with priority lanes, fast jobs submitted behind 8 slow vendor jobs
// finish before any vendor job; without lanes they wait behind them.
func TestPriorityLanesLetFastJobsPass(t *testing.T) {
	const vendorTime = 150 * time.Millisecond
	run := func(t *testing.T, lanes bool) (fastLast, vendorFirst time.Time) {
		live := testLive()
		live.PriorityLanes = lanes
		live.ResultsBuffer = 100 // the results channel is not what this test is about
		sink := &slowSink{}
		tp := newTestPool(t, Options{Live: live, Runner: fakeRunner{fast: time.Millisecond, vendor: vendorTime}, Sink: sink})
		var vendorIDs, fastIDs []string
		for i := range 8 {
			j := &jobsv1.Job{Id: "v" + strconv.Itoa(i), Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Target: "/v1/fraud/check"}
			vendorIDs = append(vendorIDs, j.Id)
			submitAll(t, tp.Pool, []*jobsv1.Job{j})
		}
		for i := range 8 {
			j := &jobsv1.Job{Id: "c" + strconv.Itoa(i), Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Target: "k"}
			fastIDs = append(fastIDs, j.Id)
			submitAll(t, tp.Pool, []*jobsv1.Job{j})
		}
		waitDelivered(t, tp.Pool, 16)
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, id := range fastIDs {
			if w := sink.when[id]; w.After(fastLast) {
				fastLast = w
			}
		}
		vendorFirst = sink.when[vendorIDs[0]]
		for _, id := range vendorIDs {
			if w := sink.when[id]; w.Before(vendorFirst) {
				vendorFirst = w
			}
		}
		if lanes {
			// A worker hands its result over before it lets go of the
			// vendor slot, so the count reaches 0 just after delivery.
			waitFor(t, func() bool { return tp.Stats().Queue.VendorJobsRunning == 0 })
		}
		return fastLast, vendorFirst
	}
	t.Run("on", func(t *testing.T) {
		fastLast, vendorFirst := run(t, true)
		if !fastLast.Before(vendorFirst) {
			t.Errorf("with lanes on, the last fast job was delivered %s after the first vendor job", fastLast.Sub(vendorFirst))
		}
	})
	t.Run("off", func(t *testing.T) {
		fastLast, vendorFirst := run(t, false)
		if !fastLast.After(vendorFirst) {
			t.Errorf("with lanes off, fast jobs finished before every vendor job: lanes are leaking")
		}
	})
}

// With lanes on, at most WORKERS-1 workers hold vendor jobs.
func TestPriorityLanesReserveAWorker(t *testing.T) {
	live := testLive()
	live.PriorityLanes = true
	release := make(chan struct{})
	var mu sync.Mutex
	running, most := 0, 0
	runner := runnerFunc(func(ctx context.Context, job *jobsv1.Job) error {
		if job.GetType() != jobsv1.JobType_JOB_TYPE_VENDOR_API {
			return nil
		}
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	tp := newTestPool(t, Options{Live: live, Runner: runner, Sink: &slowSink{}})
	for i := range 6 {
		submitAll(t, tp.Pool, []*jobsv1.Job{{Id: "v" + strconv.Itoa(i), Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Target: "/v1/x"}})
	}
	fakes.Eventually(t, 5*time.Second, func() bool { return tp.Stats().Queue.VendorJobsRunning == 3 }, "3 vendor jobs running")
	// The fourth worker is free: a fast job goes straight through.
	submitAll(t, tp.Pool, []*jobsv1.Job{{Id: "c", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ}})
	waitDelivered(t, tp.Pool, 1)
	close(release)
	waitDelivered(t, tp.Pool, 7)
	if most != 3 {
		t.Errorf("%d vendor jobs ran at once; want 3 (WORKERS-1)", most)
	}
}

type runnerFunc func(ctx context.Context, job *jobsv1.Job) error

func (f runnerFunc) Run(ctx context.Context, job *jobsv1.Job, _ work.Params) error {
	return f(ctx, job)
}

// Resizing the results buffer under load loses and duplicates nothing.
func TestLiveResizeUnderLoadLosesNothing(t *testing.T) {
	live := testLive()
	live.ResultsBuffer = 1
	sink := &slowSink{delay: 200 * time.Microsecond}
	tp := newTestPool(t, Options{Live: sized(live, 4, 1000), Runner: fakeRunner{}, Sink: sink})
	var all []*jobsv1.Job
	for b := range 15 {
		all = append(all, checkout(fmt.Sprintf("b%02d", b))...)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sizes := []int{1, 400, 2, 50, 1, 3, 1000, 1}
		modes := []string{config.SendBlocking, config.SendNonblocking}
		for i := 0; ; i++ {
			select {
			case <-time.After(time.Millisecond):
			}
			if tp.Stats().Counters.Delivered >= uint64(len(all)) {
				return
			}
			_, _, err := tp.Update(func(l *config.Live) error {
				l.ResultsBuffer = sizes[i%len(sizes)]
				if i%5 == 4 {
					l.ResultSend = modes[(i/5)%2]
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	submitAll(t, tp.Pool, all)
	waitDelivered(t, tp.Pool, uint64(len(all)))
	<-done
	got := sink.delivered()
	slices.Sort(got)
	want := make([]string, 0, len(all))
	for _, j := range all {
		want = append(want, j.GetId())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d results, want each of %d exactly once", len(got), len(want))
	}
}

func TestSubmitFullQueueAfterSubmitWait(t *testing.T) {
	live := testLive()
	live.SubmitWait = 30 * time.Millisecond
	tr := mustTracing(t)
	p, err := New(Options{Live: sized(live, 1, 2), Runner: fakeRunner{}, Sink: &slowSink{}, Tracing: tr, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	// Not started: nothing leaves the queue.
	submitAll(t, p, []*jobsv1.Job{{Id: "a", Type: 1}, {Id: "b", Type: 1}})
	start := time.Now()
	_, err = p.Submit(context.Background(), &jobsv1.Job{Id: "c", Type: 1})
	var full *FullError
	if !errors.As(err, &full) || err.Error() != "job queue full (2 jobs); try later" {
		t.Fatalf("Submit on a full queue: %v", err)
	}
	if waited := time.Since(start); waited < live.SubmitWait {
		t.Errorf("answered after %s; want at least SUBMIT_WAIT %s", waited, live.SubmitWait)
	}
	if got := p.Stats().Counters; got.Rejected != 1 || got.Submitted != 2 {
		t.Errorf("counters %+v", got)
	}
	// A waiting submit gets in when room appears.
	errc := make(chan error, 1)
	p.Update(func(l *config.Live) error { l.SubmitWait = 10 * time.Second; return nil }) //nolint:errcheck
	go func() { _, err := p.Submit(context.Background(), &jobsv1.Job{Id: "d", Type: 1}); errc <- err }()
	p.Start()
	if err := <-errc; err != nil {
		t.Errorf("waiting Submit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Submit(context.Background(), &jobsv1.Job{Id: "e", Type: 1}); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Submit after shutdown: %v", err)
	}
	if got := p.Stats().Counters.Delivered; got != 3 {
		t.Errorf("%d delivered; want 3", got)
	}
}

// Forwarder retry: the consumer is not there when results are ready; once
// it starts, every result arrives exactly once.
func TestForwarderRetriesUntilConsumerStarts(t *testing.T) {
	addr := freeAddr(t)
	cc, err := consumer.New(addr, mustTracing(t), quietLog, consumer.Options{InitialBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	tp := newTestPool(t, Options{Live: testLive(), Runner: fakeRunner{}, Sink: cc})
	jobs := checkout("late")
	submitAll(t, tp.Pool, jobs)
	fakes.Eventually(t, 5*time.Second, func() bool { return cc.FailedAttempts() >= 3 }, "delivery retried")
	fc := fakes.StartConsumer(t, addr, time.Millisecond)
	fc.WaitFor(t, len(jobs), 10*time.Second)
	waitDelivered(t, tp.Pool, uint64(len(jobs)))
	for _, j := range jobs {
		if n := fc.Counts()[j.GetId()]; n != 1 {
			t.Errorf("job %s delivered %d times", j.GetId(), n)
		}
	}
	var retried bool
	for _, s := range tp.spans(t, spans.ResultDeliver) {
		if n, _ := attr(s, spans.DeliveryAttempts); n != "1" {
			retried = true
		}
	}
	if !retried {
		t.Error("no result.deliver span shows more than one attempt")
	}
}

// Shutdown delivers every accepted job's result before returning.
func TestShutdownDrainsAcceptedJobs(t *testing.T) {
	tr := mustTracing(t)
	sink := &slowSink{delay: 2 * time.Millisecond}
	p, err := New(Options{Live: testLive(), Runner: fakeRunner{vendor: 10 * time.Millisecond}, Sink: sink, Tracing: tr, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	jobs := checkout("bye")
	submitAll(t, p, jobs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(sink.delivered()); got != len(jobs) {
		t.Fatalf("%d of %d results delivered by shutdown", got, len(jobs))
	}
}

// At the shutdown deadline, hung work is cut and reported, not waited for.
func TestShutdownDeadlineAbandonsHungWork(t *testing.T) {
	tr := mustTracing(t)
	hang := runnerFunc(func(ctx context.Context, _ *jobsv1.Job) error { <-ctx.Done(); return ctx.Err() })
	p, err := New(Options{Live: sized(testLive(), 1, 10), Runner: hang, Sink: &slowSink{}, Tracing: tr, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	submitAll(t, p, checkout("stuck")[:3])
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = p.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 queued jobs") {
		t.Fatalf("Shutdown at the deadline: %v; want it to report 2 queued jobs", err)
	}
}

// Fix 4: a hung vendor call ends at VENDOR_TIMEOUT with ok=false, its
// result is still delivered, and the worker moves on to the next job.
func TestVendorTimeoutFreesTheWorker(t *testing.T) {
	v := fakes.StartVendor(t)
	v.Answer(func(string) (time.Duration, int) { return fakes.Hang, 0 })
	tr := mustTracing(t)
	live := testLive()
	live.VendorTimeout = 30 * time.Millisecond
	sink := &slowSink{}
	tp := newTestPool(t, Options{Live: sized(live, 1, 10), Sink: sink,
		Runner: work.New(tr, vendor.New(v.URL, nil), work.Options{})})
	submitAll(t, tp.Pool, []*jobsv1.Job{
		{Id: "hung", Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Target: "/v1/payment/authorize"},
		{Id: "next", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Target: "k"},
	})
	waitDelivered(t, tp.Pool, 2)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	hung, next := sink.results["hung"], sink.results["next"]
	if hung.GetOk() || hung.GetError() != "vendor timeout after 30ms" {
		t.Errorf("hung vendor job's result: ok=%v error=%q", hung.GetOk(), hung.GetError())
	}
	if w := hung.GetWork().AsDuration(); w < 30*time.Millisecond {
		t.Errorf("hung job's work took %s, less than the timeout", w)
	}
	if !next.GetOk() {
		t.Errorf("the next job failed: %q", next.GetError())
	}
	if c := tp.Stats().Counters; c.Failed != 1 || c.Completed != 2 {
		t.Errorf("counters %+v", c)
	}
}
