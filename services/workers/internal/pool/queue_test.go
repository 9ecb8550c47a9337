package pool

import (
	"context"
	"testing"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

func qjob(id string, lane int) *queued {
	t := jobsv1.JobType_JOB_TYPE_CACHE_READ
	if lane == slow {
		t = jobsv1.JobType_JOB_TYPE_VENDOR_API
	}
	return &queued{job: &jobsv1.Job{Id: id, Type: t}, lane: lane}
}

func pushAll(t *testing.T, q *jobQueue, its ...*queued) []acceptance {
	t.Helper()
	var out []acceptance
	for _, it := range its {
		a, err := q.push(context.Background(), it, 0, func(*queued, acceptance) {})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestQueueOrderAndWaitedBehind(t *testing.T) {
	q := newJobQueue(10, 2, false)
	acc := pushAll(t, q, qjob("v1", slow), qjob("c1", fast), qjob("v2", slow), qjob("c2", fast))
	last := acc[3]
	if last.lane != LaneShared || last.ahead != 3 || last.depth != 4 || len(last.behind) != 3 ||
		last.behind[0] != "v1" || last.behind[1] != "c1" || last.behind[2] != "v2" {
		t.Fatalf("lanes off: acceptance %+v", last)
	}
	// Lanes off: strict arrival order.
	for _, want := range []string{"v1", "c1", "v2", "c2"} {
		it, _ := q.pop(nil)
		if it.job.Id != want {
			t.Fatalf("popped %s, want %s", it.job.Id, want)
		}
		q.done(it)
	}

	q = newJobQueue(10, 2, true)
	acc = pushAll(t, q, qjob("v1", slow), qjob("v2", slow), qjob("c1", fast))
	if a := acc[2]; a.lane != LaneFast || a.ahead != 0 {
		t.Fatalf("lanes on: fast job behind %+v", a)
	}
	// Lanes on: fast first, then one vendor job (2 workers: one reserved).
	it, _ := q.pop(nil)
	if it.job.Id != "c1" {
		t.Fatalf("popped %s first, want c1", it.job.Id)
	}
	v1, _ := q.pop(nil)
	if v1.job.Id != "v1" {
		t.Fatalf("popped %s, want v1", v1.job.Id)
	}
	got := make(chan *queued)
	go func() { it, _ := q.pop(nil); got <- it }()
	select {
	case it := <-got:
		t.Fatalf("a second vendor job (%s) was handed out with one worker reserved", it.job.Id)
	case <-time.After(20 * time.Millisecond):
	}
	q.done(v1)
	if it := <-got; it.job.Id != "v2" {
		t.Fatalf("popped %s, want v2", it.job.Id)
	}
}

func TestQueueFullAndClosed(t *testing.T) {
	q := newJobQueue(1, 1, false)
	pushAll(t, q, qjob("a", fast))
	if _, err := q.push(context.Background(), qjob("b", fast), 0, func(*queued, acceptance) {}); err == nil {
		t.Fatal("push into a full queue succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.push(ctx, qjob("b", fast), time.Hour, func(*queued, acceptance) {}); err == nil {
		t.Fatal("push with a cancelled context succeeded")
	}
	q.close()
	if _, err := q.push(context.Background(), qjob("c", fast), 0, func(*queued, acceptance) {}); err != ErrShuttingDown {
		t.Fatalf("push after close: %v", err)
	}
	if it, ok := q.pop(nil); !ok || it.job.Id != "a" {
		t.Fatal("closed queue did not hand out its last job")
	}
	if _, ok := q.pop(nil); ok {
		t.Fatal("closed, empty queue handed out a job")
	}
}
