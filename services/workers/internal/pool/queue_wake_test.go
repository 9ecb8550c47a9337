package pool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// startIdleWorkers parks n workers in pop and returns where their jobs go.
func startIdleWorkers(t *testing.T, q *jobQueue, n int) <-chan *queued {
	t.Helper()
	got := make(chan *queued, n)
	for range n {
		go func() {
			if it, ok := q.pop(nil); ok {
				got <- it
			}
		}()
	}
	waitFor(t, func() bool { _, w := q.waiting(); return w == n })
	t.Cleanup(q.close) // releases the workers still parked
	return got
}

// A push wakes one idle worker, the one that takes the job; the others
// sleep on.
func TestQueuePushWakesOneWorker(t *testing.T) {
	const idle = 50
	q := newJobQueue(100, idle, false)
	got := startIdleWorkers(t, q, idle)
	for i := range 3 {
		before := q.wakeupCount()
		pushAll(t, q, qjob(fmt.Sprint("j", i), fast))
		if it := <-got; it.job.Id != fmt.Sprint("j", i) {
			t.Fatalf("a worker got %s", it.job.Id)
		}
		// Let any other woken worker park again before counting.
		waitFor(t, func() bool { _, w := q.waiting(); return w == idle-1-i })
		if n := q.wakeupCount() - before; n != 1 {
			t.Fatalf("push %d woke %d of %d idle workers; want 1", i, n, idle-i)
		}
	}
}

// A pop wakes one waiting Submit, the first to wait, with its job in.
func TestQueuePopWakesOneSubmitterInArrivalOrder(t *testing.T) {
	const waiters = 20
	q := newJobQueue(1, 1, false)
	pushAll(t, q, qjob("first", fast))
	admitted := make(chan string, waiters)
	for i := range waiters {
		id := fmt.Sprint("s", i)
		lane := []int{fast, slow}[i%2] // both lanes share the room: order is across them
		go func() {
			if _, err := q.push(context.Background(), qjob(id, lane), time.Minute, func(*queued, acceptance) {}); err != nil {
				t.Error(err)
			}
			admitted <- id
		}()
		waitFor(t, func() bool { s, _ := q.waiting(); return s == i+1 })
	}
	before := q.wakeupCount()
	if it, _ := q.pop(nil); it.job.Id != "first" {
		t.Fatalf("popped %s", it.job.Id)
	}
	for i := range waiters {
		want := fmt.Sprint("s", i)
		if id := <-admitted; id != want {
			t.Fatalf("Submit %s got the freed slot; want %s (the longest waiting)", id, want)
		}
		// Let any other woken Submit park again before counting.
		waitFor(t, func() bool { s, _ := q.waiting(); return s == waiters-1-i })
		if n := q.wakeupCount() - before; n != 1 {
			t.Fatalf("pop %d woke %d of %d waiting Submits; want 1", i, n, waiters-i)
		}
		before = q.wakeupCount()
		if it, _ := q.pop(nil); it.job.Id != want {
			t.Fatalf("popped %s, want %s", it.job.Id, want)
		}
	}
}

// With lanes on, a vendor job wakes nobody while WORKERS-1 workers hold
// vendor jobs; a fast job wakes one worker; the vendor job goes to a
// worker when a vendor job ends.
func TestQueueLanesWakeOnlyAWorkerThatMayTakeTheJob(t *testing.T) {
	q := newJobQueue(10, 2, true) // one vendor job at a time
	pushAll(t, q, qjob("v1", slow))
	v1, _ := q.pop(nil)
	got := startIdleWorkers(t, q, 5)
	before := q.wakeupCount()
	pushAll(t, q, qjob("v2", slow))
	if n := q.wakeupCount() - before; n != 0 {
		t.Fatalf("a vendor job no worker may take woke %d workers", n)
	}
	pushAll(t, q, qjob("c1", fast))
	if it := <-got; it.job.Id != "c1" {
		t.Fatalf("worker got %s, want c1", it.job.Id)
	}
	if n := q.wakeupCount() - before; n != 1 {
		t.Fatalf("a fast job woke %d workers; want 1", n)
	}
	q.done(v1)
	if it := <-got; it.job.Id != "v2" {
		t.Fatalf("worker got %s, want v2", it.job.Id)
	}
	if n := q.wakeupCount() - before; n != 2 {
		t.Fatalf("the end of a vendor job woke %d workers; want 1", n-1)
	}
}

// A Submit that gives up leaves the line: the freed slot goes to the next.
func TestQueueSubmitterGivingUpLeavesTheLine(t *testing.T) {
	q := newJobQueue(1, 1, false)
	pushAll(t, q, qjob("first", fast))
	var full *FullError
	if _, err := q.push(context.Background(), qjob("late", fast), 5*time.Millisecond, func(*queued, acceptance) {}); !errors.As(err, &full) {
		t.Fatalf("push timed out with %v; want *FullError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error)
	go func() {
		_, err := q.push(ctx, qjob("cancelled", fast), time.Minute, func(*queued, acceptance) {})
		cancelled <- err
	}()
	waitFor(t, func() bool { s, _ := q.waiting(); return s == 1 })
	admitted := make(chan error)
	go func() {
		_, err := q.push(context.Background(), qjob("patient", fast), time.Minute, func(*queued, acceptance) {})
		admitted <- err
	}()
	waitFor(t, func() bool { s, _ := q.waiting(); return s == 2 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled push: %v", err)
	}
	q.pop(nil)
	if err := <-admitted; err != nil {
		t.Fatalf("patient push: %v", err)
	}
	if s, _ := q.waiting(); s != 0 {
		t.Fatalf("%d Submits still listed as waiting", s)
	}
	if it, _ := q.pop(nil); it.job.Id != "patient" {
		t.Fatalf("popped %s, want patient", it.job.Id)
	}
}

// Turning lanes on gives a vendor job waiting behind a full shared queue
// its own lane's room at once; closing refuses every waiting Submit and
// releases every idle worker.
func TestQueueConfigChangeAndCloseWakeWaiters(t *testing.T) {
	q := newJobQueue(2, 4, false)
	pushAll(t, q, qjob("c1", fast), qjob("c2", fast))
	vendor := make(chan error)
	go func() {
		_, err := q.push(context.Background(), qjob("v", slow), time.Minute, func(*queued, acceptance) {})
		vendor <- err
	}()
	waitFor(t, func() bool { s, _ := q.waiting(); return s == 1 })
	q.setPrioritize(true)
	if err := <-vendor; err != nil {
		t.Fatalf("vendor job after lanes on: %v", err)
	}

	refused := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := q.push(context.Background(), qjob("c", fast), time.Minute, func(*queued, acceptance) {})
			refused <- err
		}()
	}
	waitFor(t, func() bool { s, _ := q.waiting(); return s == 3 })
	q.close()
	for range 3 {
		if err := <-refused; !errors.Is(err, ErrShuttingDown) {
			t.Fatalf("waiting Submit at close: %v", err)
		}
	}
	for range 3 { // the queued jobs still go out, then the workers stop
		if _, ok := q.pop(nil); !ok {
			t.Fatal("closed queue did not hand out a queued job")
		}
	}
	stopped := make(chan bool)
	go func() { _, ok := q.pop(nil); stopped <- ok }()
	if ok := <-stopped; ok {
		t.Fatal("closed, empty queue handed out a job")
	}
}
