package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

// gateRunner holds each job until the test releases it by ID, and counts
// the jobs running at once.
type gateRunner struct {
	mu       sync.Mutex
	gates    map[string]chan struct{}
	running  map[string]bool
	most     int
	released bool // every gate open, present and future
}

func newGateRunner() *gateRunner {
	return &gateRunner{gates: map[string]chan struct{}{}, running: map[string]bool{}}
}

func (g *gateRunner) gate(id string) chan struct{} {
	c, ok := g.gates[id]
	if !ok {
		c = make(chan struct{})
		if g.released {
			close(c)
		}
		g.gates[id] = c
	}
	return c
}

func (g *gateRunner) Run(ctx context.Context, job *jobsv1.Job, _ work.Params) error {
	g.mu.Lock()
	gate := g.gate(job.GetId())
	g.running[job.GetId()] = true
	g.most = max(g.most, len(g.running))
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.running, job.GetId())
		g.mu.Unlock()
	}()
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release lets the jobs with these IDs finish (or start and finish at once).
func (g *gateRunner) release(ids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		close(g.gate(id))
	}
}

// releaseAll opens every gate, now and for every job to come.
func (g *gateRunner) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released {
		return
	}
	g.released = true
	for _, c := range g.gates {
		select {
		case <-c:
		default:
			close(c)
		}
	}
}

// runningIDs lists the jobs running now, sorted.
func (g *gateRunner) runningIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ids []string
	for id := range g.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// resetMost starts counting the most jobs running at once afresh.
func (g *gateRunner) resetMost() {
	g.mu.Lock()
	g.most = len(g.running)
	g.mu.Unlock()
}

func (g *gateRunner) mostAtOnce() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.most
}

// gateSink is a consumer that takes nothing until it is opened.
type gateSink struct {
	slowSink
	open chan struct{}
}

func (s *gateSink) Deliver(ctx context.Context, r *jobsv1.Result) (int, error) {
	select {
	case <-s.open:
	case <-ctx.Done():
		return 1, ctx.Err()
	}
	return s.slowSink.Deliver(ctx, r)
}

func jobsOf(prefix string, t jobsv1.JobType, n int) []*jobsv1.Job {
	out := make([]*jobsv1.Job, n)
	for i := range out {
		out[i] = &jobsv1.Job{Id: fmt.Sprintf("%s%d", prefix, i+1), Type: t, Target: "/v1/fraud/check"}
	}
	return out
}

func idsOf(js []*jobsv1.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.GetId()
	}
	return out
}

// snapshot describes the pool when a failure message is formatted, not
// when the check was set up.
type snapshot struct{ p *Pool }

func (s snapshot) String() string {
	st := s.p.Stats()
	submits, idle := s.p.queue.waiting()
	return fmt.Sprintf("workers %+v (%d goroutines, %d idle), queue %d/%d (%d Submits waiting), %d vendor jobs running, %d blocked sends",
		st.Workers, s.p.workerSet.running.Load(), idle, st.Queue.Depth, st.Queue.Capacity, submits,
		st.Queue.VendorJobsRunning, st.Results.BlockedNow)
}

// recv waits for a value on c, failing the test after a generous while.
func recv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing came within 10s")
		panic("unreachable")
	}
}

func setSize(t *testing.T, p *Pool, workers, queueSize int) {
	t.Helper()
	if _, _, err := p.Update(func(l *config.Live) error {
		if workers > 0 {
			l.Workers = workers
		}
		if queueSize > 0 {
			l.QueueSize = queueSize
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// workerIDs returns the worker.id of each delivered result, by job ID.
func workerIDs(s *slowSink) map[string]uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]uint32{}
	for id, r := range s.results {
		out[id] = r.GetWorkerId()
	}
	return out
}

// Growing the pool starts the new workers at once: jobs waiting in the
// queue start running without any job finishing first.
func TestGrowStartsWorkersAtOnce(t *testing.T) {
	g := newGateRunner()
	sink := &slowSink{}
	tp := newTestPool(t, Options{Live: sized(testLive(), 1, 20), Runner: g, Sink: sink})
	t.Cleanup(g.releaseAll)
	js := jobsOf("c", jobsv1.JobType_JOB_TYPE_CACHE_READ, 6)
	submitAll(t, tp.Pool, js)
	fakes.Eventually(t, 10*time.Second, func() bool { return len(g.runningIDs()) == 1 }, "one job running; now %v", snapshot{tp.Pool})

	setSize(t, tp.Pool, 4, 0)
	fakes.Eventually(t, 10*time.Second, func() bool { return len(g.runningIDs()) == 4 }, "4 jobs running after growing to 4 workers; now %v", snapshot{tp.Pool})
	if w := tp.Stats().Workers; w.Count != 4 || w.Retiring != 0 {
		t.Errorf("workers stats %+v; want 4 on duty", w)
	}
	if got := tp.Workers(); got != 4 {
		t.Errorf("Workers() = %d; want the live 4", got)
	}
	g.releaseAll()
	waitDelivered(t, tp.Pool, 6)
	seen := map[uint32]bool{}
	for _, id := range workerIDs(sink) {
		seen[id] = true
	}
	for id := range seen {
		if id < 1 || id > 4 {
			t.Errorf("worker.id %d with 4 workers; want 1..4", id)
		}
	}
	if len(seen) != 4 {
		t.Errorf("jobs ran on workers %v; want all 4", seen)
	}
}

// Shrinking retires the highest worker IDs after the job in hand: nothing
// running is cut, and from then on one worker runs the jobs, one at a time.
func TestShrinkRetiresWorkersAfterTheJobInHand(t *testing.T) {
	g := newGateRunner()
	sink := &slowSink{}
	tp := newTestPool(t, Options{Live: sized(testLive(), 4, 40), Runner: g, Sink: sink})
	t.Cleanup(g.releaseAll)
	first := jobsOf("a", jobsv1.JobType_JOB_TYPE_CACHE_READ, 4)
	submitAll(t, tp.Pool, first)
	fakes.Eventually(t, 10*time.Second, func() bool { return len(g.runningIDs()) == 4 }, "4 jobs running; now %v", snapshot{tp.Pool})

	setSize(t, tp.Pool, 1, 0)
	if w := tp.Stats().Workers; w.Count != 1 || w.Retiring != 3 {
		t.Errorf("workers stats %+v right after shrinking to 1; want 1 on duty, 3 retiring", w)
	}
	later := jobsOf("b", jobsv1.JobType_JOB_TYPE_CACHE_READ, 6)
	submitAll(t, tp.Pool, later)
	if got := g.runningIDs(); !slices.Equal(got, idsOf(first)) {
		t.Fatalf("running %v after the shrink; want the 4 jobs in hand, uncut", got)
	}
	g.release(idsOf(first)...)
	waitDelivered(t, tp.Pool, 4)
	fakes.Eventually(t, 10*time.Second, func() bool { return tp.workerSet.running.Load() == 1 }, "3 retired workers stopped; now %v", snapshot{tp.Pool})
	if w := tp.Stats().Workers; w.Count != 1 || w.Retiring != 0 {
		t.Errorf("workers stats %+v after the retired workers stopped", w)
	}
	g.resetMost()
	g.releaseAll()
	waitDelivered(t, tp.Pool, 10)
	if most := g.mostAtOnce(); most != 1 {
		t.Errorf("%d jobs ran at once with 1 worker", most)
	}
	ids := workerIDs(sink)
	for _, j := range first {
		if ids[j.GetId()] == 0 {
			t.Errorf("job in hand %s not delivered", j.GetId())
		}
	}
	for _, j := range later {
		if w := ids[j.GetId()]; w != 1 {
			t.Errorf("job %s ran on worker %d after the shrink to 1; want worker 1", j.GetId(), w)
		}
	}
	if c := tp.Stats().Counters; c.Completed != 10 || c.Failed != 0 {
		t.Errorf("counters %+v: a job in hand was cut", c)
	}
}

// A retired worker blocked handing over its result finishes the send: no
// result is dropped, and the worker stops only once it got rid of it.
func TestShrinkWhileWorkersAreBlockedSending(t *testing.T) {
	live := sized(testLive(), 4, 40)
	live.ResultsBuffer = 1
	sink := &gateSink{open: make(chan struct{})}
	tp := newTestPool(t, Options{Live: live, Runner: fakeRunner{}, Sink: sink})
	t.Cleanup(func() {
		select {
		case <-sink.open:
		default:
			close(sink.open)
		}
	})
	// One result with the forwarder (held by the sink), one in the
	// channel, four workers blocked sending.
	js := jobsOf("s", jobsv1.JobType_JOB_TYPE_CACHE_READ, 6)
	submitAll(t, tp.Pool, js)
	fakes.Eventually(t, 10*time.Second, func() bool { return tp.Stats().Results.BlockedNow == 4 }, "4 workers blocked sending; now %v", snapshot{tp.Pool})

	setSize(t, tp.Pool, 1, 0)
	st := tp.Stats()
	if st.Results.BlockedNow != 4 || st.Workers.Count != 1 || st.Workers.Retiring != 3 {
		t.Fatalf("after shrinking: %d blocked sends, workers %+v; want 4 still blocked, 1 on duty, 3 retiring", st.Results.BlockedNow, st.Workers)
	}
	if r := tp.workerSet.running.Load(); r != 4 {
		t.Fatalf("%d worker goroutines; a retired worker left while blocked sending", r)
	}
	close(sink.open)
	waitDelivered(t, tp.Pool, 6)
	fakes.Eventually(t, 10*time.Second, func() bool { return tp.workerSet.running.Load() == 1 }, "the retired workers stopped; now %v", snapshot{tp.Pool})
	got := sink.delivered()
	slices.Sort(got)
	if want := idsOf(js); !slices.Equal(got, want) {
		t.Fatalf("delivered %v; want each of %v once", got, want)
	}
	if c := tp.Stats().Counters; c.BlockedSends < 4 {
		t.Errorf("%d blocked sends counted; want at least 4", c.BlockedSends)
	}
}

// Growing back before retired workers have stopped keeps them on: no
// second goroutine under one worker.id, and IDs stay within 1..WORKERS.
func TestGrowKeepsRetiringWorkersOn(t *testing.T) {
	g := newGateRunner()
	sink := &slowSink{}
	tp := newTestPool(t, Options{Live: sized(testLive(), 4, 40), Runner: g, Sink: sink})
	t.Cleanup(g.releaseAll)
	submitAll(t, tp.Pool, jobsOf("a", jobsv1.JobType_JOB_TYPE_CACHE_READ, 6))
	fakes.Eventually(t, 10*time.Second, func() bool { return len(g.runningIDs()) == 4 }, "4 jobs running; now %v", snapshot{tp.Pool})

	setSize(t, tp.Pool, 2, 0)
	setSize(t, tp.Pool, 6, 0)
	// Workers 3 and 4 are kept on; 5 and 6 start and take the 2 queued jobs.
	fakes.Eventually(t, 10*time.Second, func() bool { return len(g.runningIDs()) == 6 }, "6 jobs running; now %v", snapshot{tp.Pool})
	if r := tp.workerSet.running.Load(); r != 6 {
		t.Fatalf("%d worker goroutines for 6 workers", r)
	}
	if w := tp.Stats().Workers; w.Count != 6 || w.Retiring != 0 {
		t.Fatalf("workers stats %+v; want 6 on duty", w)
	}
	g.releaseAll()
	submitAll(t, tp.Pool, jobsOf("b", jobsv1.JobType_JOB_TYPE_CACHE_READ, 30))
	waitDelivered(t, tp.Pool, 36)
	if r := tp.workerSet.running.Load(); r != 6 {
		t.Errorf("%d worker goroutines for 6 workers", r)
	}
	for job, id := range workerIDs(sink) {
		if id < 1 || id > 6 {
			t.Errorf("job %s ran on worker.id %d; want 1..6", job, id)
		}
	}
}

// Idle workers retire at once, without waiting for a job.
func TestShrinkRetiresIdleWorkersAtOnce(t *testing.T) {
	tp := newTestPool(t, Options{Live: sized(testLive(), 8, 40), Runner: fakeRunner{}, Sink: &slowSink{}})
	fakes.Eventually(t, 10*time.Second, func() bool { _, idle := tp.queue.waiting(); return idle == 8 }, "8 idle workers; now %v", snapshot{tp.Pool})
	setSize(t, tp.Pool, 2, 0)
	fakes.Eventually(t, 10*time.Second, func() bool { return tp.workerSet.running.Load() == 2 }, "6 idle workers retired; now %v", snapshot{tp.Pool})
	if _, idle := tp.queue.waiting(); idle != 2 {
		t.Errorf("%d idle workers; want 2", idle)
	}
	submitAll(t, tp.Pool, checkout("after"))
	waitDelivered(t, tp.Pool, 20)
}

// A larger queue admits the Submits waiting for room at once, in the order
// they came; the ones that still do not fit keep waiting.
func TestQueueGrowAdmitsWaitingSubmitsInOrder(t *testing.T) {
	live := sized(testLive(), 1, 2)
	live.SubmitWait = time.Minute
	sink := &slowSink{}
	tr := mustTracing(t)
	p, err := New(Options{Live: live, Runner: fakeRunner{}, Sink: sink, Tracing: tr, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	// Not started yet: nothing leaves the queue until the test says so.
	js := jobsOf("q", jobsv1.JobType_JOB_TYPE_CACHE_READ, 5)
	submitAll(t, p, js[:2])
	admitted := make(chan string, 3)
	for i, j := range js[2:] {
		go func() {
			if _, err := p.Submit(context.Background(), j); err != nil {
				t.Errorf("submit %s: %v", j.GetId(), err)
			}
			admitted <- j.GetId()
		}()
		waitFor(t, func() bool { s, _ := p.queue.waiting(); return s == i+1 })
	}

	setSize(t, p, 0, 4)
	// Which of the two returns first is up to the scheduler; the order
	// they joined the queue in shows in the delivery order below.
	if got := []string{recv(t, admitted), recv(t, admitted)}; !slices.Contains(got, "q3") || !slices.Contains(got, "q4") {
		t.Fatalf("%v admitted; want q3 and q4 (the longest waiting)", got)
	}
	if s, _ := p.queue.waiting(); s != 1 {
		t.Fatalf("%d Submits waiting after growing to 4; want 1 (q5)", s)
	}
	if d := p.Stats().Queue.Depth; d != 4 {
		t.Fatalf("queue depth %d; want 4", d)
	}
	setSize(t, p, 0, 5)
	if got := recv(t, admitted); got != "q5" {
		t.Fatalf("%s admitted; want q5", got)
	}

	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// One worker, one forwarder: the delivery order is the queue's order.
	if got := sink.delivered(); !slices.Equal(got, idsOf(js)) {
		t.Fatalf("delivered in order %v; want %v", got, idsOf(js))
	}
}

// A smaller queue drops nothing: the surplus drains, and Submits wait (or
// are refused) until the queue is below the new capacity.
func TestQueueShrinkKeepsQueuedJobs(t *testing.T) {
	live := sized(testLive(), 1, 10)
	sink := &slowSink{}
	tr := mustTracing(t)
	p, err := New(Options{Live: live, Runner: fakeRunner{}, Sink: sink, Tracing: tr, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	js := jobsOf("k", jobsv1.JobType_JOB_TYPE_CACHE_READ, 8)
	submitAll(t, p, js)

	if _, _, err := p.Update(func(l *config.Live) error { l.QueueSize = 2; l.SubmitWait = 0; return nil }); err != nil {
		t.Fatal(err)
	}
	if q := p.Stats().Queue; q.Depth != 8 || q.Capacity != 2 {
		t.Fatalf("queue after shrinking to 2: depth %d, capacity %d; want 8 (nothing dropped), 2", q.Depth, q.Capacity)
	}
	_, err = p.Submit(context.Background(), &jobsv1.Job{Id: "refused", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ})
	var full *FullError
	if !errors.As(err, &full) || full.Capacity != 2 {
		t.Fatalf("Submit over the new capacity: %v; want a FullError naming capacity 2", err)
	}

	// A Submit that waits gets in once the queue drained below 2.
	p.Update(func(l *config.Live) error { l.SubmitWait = time.Minute; return nil }) //nolint:errcheck
	type answer struct {
		depth int
		err   error
	}
	waiting := make(chan answer, 1)
	go func() {
		d, err := p.Submit(context.Background(), &jobsv1.Job{Id: "patient", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ})
		waiting <- answer{d, err}
	}()
	waitFor(t, func() bool { s, _ := p.queue.waiting(); return s == 1 })
	p.Start()
	a := recv(t, waiting)
	if a.err != nil || a.depth > 2 {
		t.Fatalf("waiting Submit: depth %d, %v; want admitted into a queue of at most 2", a.depth, a.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want := append(idsOf(js), "patient")
	if got := sink.delivered(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v; want %v", got, want)
	}
	if c := p.Stats().Counters; c.Submitted != 9 || c.Rejected != 1 || c.Delivered != 9 {
		t.Errorf("counters %+v", c)
	}
}

// With lanes on, the cap on workers holding vendor jobs is WORKERS-1 of
// the live count: it rises when the pool grows and falls when it shrinks,
// without cutting the vendor jobs already running.
func TestLanesVendorCapFollowsWorkers(t *testing.T) {
	live := sized(testLive(), 2, 40)
	live.PriorityLanes = true
	live.ResultsBuffer = 100
	g := newGateRunner()
	sink := &slowSink{}
	tp := newTestPool(t, Options{Live: live, Runner: g, Sink: sink})
	t.Cleanup(g.releaseAll)
	vendor := jobsOf("v", jobsv1.JobType_JOB_TYPE_VENDOR_API, 5)
	submitAll(t, tp.Pool, vendor)
	vendorRunning := func() int { return tp.Stats().Queue.VendorJobsRunning }
	fakes.Eventually(t, 10*time.Second, func() bool { return vendorRunning() == 1 }, "1 vendor job running with 2 workers; now %v", snapshot{tp.Pool})

	setSize(t, tp.Pool, 4, 0)
	fakes.Eventually(t, 10*time.Second, func() bool { return vendorRunning() == 3 }, "3 vendor jobs running with 4 workers; now %v", snapshot{tp.Pool})
	// The fourth worker is kept for fast jobs.
	fast := &jobsv1.Job{Id: "c1", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ}
	g.release(fast.GetId())
	submitAll(t, tp.Pool, []*jobsv1.Job{fast})
	waitDelivered(t, tp.Pool, 1)

	setSize(t, tp.Pool, 2, 0)
	if n := len(g.runningIDs()); n != 3 {
		t.Fatalf("%d vendor jobs running right after the shrink; want the 3 in hand, uncut", n)
	}
	g.release(g.runningIDs()...)
	// The retired workers stop; of the 2 left, one takes a vendor job and
	// the other stays idle with a vendor job still queued: the cap is 1.
	fakes.Eventually(t, 10*time.Second, func() bool {
		_, idle := tp.queue.waiting()
		return tp.workerSet.running.Load() == 2 && idle == 1 && vendorRunning() == 1
	}, "2 workers, 1 vendor job running, 1 idle; now %v", snapshot{tp.Pool})
	if d := tp.Stats().Queue.Lanes[LaneSlow].Depth; d != 1 {
		t.Fatalf("slow lane depth %d; want 1 vendor job held back by the cap", d)
	}
	g.releaseAll()
	waitDelivered(t, tp.Pool, 6)
}

// A job handed to an idle worker at the moment it is retired is still that
// worker's: it runs it before it stops, rather than the job being lost.
func TestQueueRetiredWorkerKeepsAJobHandedOver(t *testing.T) {
	q := newJobQueue(10, 1, false)
	retire := make(chan struct{})
	got := make(chan *queued, 1)
	go func() {
		it, _ := q.popUnless(nil, retire)
		got <- it
	}()
	waitFor(t, func() bool { _, w := q.waiting(); return w == 1 })
	// Under the queue's lock, the worker cannot look before both have
	// happened: it wakes with a job and its retire channel closed.
	q.mu.Lock()
	q.enqueue(qjob("j", fast), func(*queued, acceptance) {})
	q.settle()
	close(retire)
	q.mu.Unlock()
	if it := <-got; it == nil || it.job.Id != "j" {
		t.Fatalf("retired worker came back with %v; want job j, handed over before the retirement took effect", it)
	}
}

// Retiring an idle worker wakes it, and it leaves the idle list: the next
// job waits in the queue for a worker still on duty instead of being
// handed to one that left.
func TestQueueRetireWakesAnIdleWorker(t *testing.T) {
	q := newJobQueue(10, 1, false)
	retire := make(chan struct{})
	left := make(chan bool)
	go func() {
		_, ok := q.popUnless(nil, retire)
		left <- !ok
	}()
	waitFor(t, func() bool { _, w := q.waiting(); return w == 1 })
	close(retire)
	if !<-left {
		t.Fatal("retired idle worker took a job from an empty queue")
	}
	if _, w := q.waiting(); w != 0 {
		t.Fatalf("%d idle workers listed after the only one retired", w)
	}
	pushAll(t, q, qjob("j", fast))
	if d := q.stats().Depth; d != 1 {
		t.Fatalf("queue depth %d; the job went to a retired worker", d)
	}
}

// queue.wait learns the capacity a job met, which changes at run time.
func TestQueueAcceptanceCarriesTheLiveCapacity(t *testing.T) {
	q := newJobQueue(2, 1, false)
	if a := pushAll(t, q, qjob("a", fast)); a[0].capacity != 2 {
		t.Fatalf("capacity %d at accept; want 2", a[0].capacity)
	}
	q.setCapacity(5)
	if a := pushAll(t, q, qjob("b", fast)); a[0].capacity != 5 || a[0].depth != 2 {
		t.Fatalf("capacity %d, depth %d at accept; want 5, 2", a[0].capacity, a[0].depth)
	}
}

// Once an idle worker is retired it gets no new job, even if one arrives
// before the worker woke up to leave: the job waits for a worker on duty.
func TestQueueRetiredIdleWorkerGetsNoNewJob(t *testing.T) {
	q := newJobQueue(10, 1, false)
	retire := make(chan struct{})
	got := make(chan *queued, 1)
	go func() {
		it, _ := q.popUnless(nil, retire)
		got <- it
	}()
	waitFor(t, func() bool { _, w := q.waiting(); return w == 1 })
	// Under the queue's lock, the worker cannot leave before the job
	// arrives: it is still listed as idle, but retired.
	q.mu.Lock()
	close(retire)
	q.enqueue(qjob("j", fast), func(*queued, acceptance) {})
	q.settle()
	q.mu.Unlock()
	if it := <-got; it != nil {
		t.Fatalf("retired worker was handed %s", it.job.Id)
	}
	if d := q.stats().Depth; d != 1 {
		t.Fatalf("queue depth %d; want the job still queued", d)
	}
	if _, w := q.waiting(); w != 0 {
		t.Fatalf("%d idle workers listed; the retired one should be gone", w)
	}
}
