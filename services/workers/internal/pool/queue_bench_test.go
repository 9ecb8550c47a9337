package pool

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkQueueContended is the job queue under overload: many Submits
// blocked on a small full queue and a few workers taking jobs as fast as
// they can (no work), as in the capacity benchmark at load=max. One op is
// one job through push and pop.
func BenchmarkQueueContended(b *testing.B) {
	const capacity = 64
	for _, bc := range []struct {
		submitters, workers int
		lanes               bool
	}{
		{256, 8, false},
		{512, 8, false},
		{256, 8, true},
	} {
		b.Run(fmt.Sprintf("submitters=%d/workers=%d/lanes=%v", bc.submitters, bc.workers, bc.lanes), func(b *testing.B) {
			q := newJobQueue(capacity, bc.workers, bc.lanes)
			var workers sync.WaitGroup
			for range bc.workers {
				workers.Go(func() {
					for {
						it, ok := q.pop(nil)
						if !ok {
							return
						}
						q.done(it)
					}
				})
			}
			jobs := make(chan int, bc.submitters)
			go func() {
				for i := range b.N {
					jobs <- i
				}
				close(jobs)
			}()
			b.ResetTimer()
			var submitters sync.WaitGroup
			for range bc.submitters {
				submitters.Go(func() {
					for i := range jobs {
						lane := fast
						if i%5 == 0 {
							lane = slow // the default mix's share of vendor jobs
						}
						if _, err := q.push(context.Background(), qjob("j", lane), time.Hour, func(*queued, acceptance) {}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			submitters.Wait()
			q.close()
			workers.Wait()
			b.StopTimer()
			reportWakeups(b, q)
		})
	}
}

// reportWakeups reports the waiters woken per job: at most 2 (the worker
// that takes it, the Submit that fills its slot) when wake-ups are targeted.
func reportWakeups(b *testing.B, q *jobQueue) {
	b.ReportMetric(float64(q.wakeupCount())/float64(b.N), "wakeups/op")
}
