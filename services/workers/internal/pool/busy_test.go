package pool

import (
	"context"
	"testing"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// holdSink holds every delivery until the gate opens.
type holdSink struct{ gate chan struct{} }

func (g holdSink) Deliver(ctx context.Context, _ *jobsv1.Result) (int, error) {
	select {
	case <-g.gate:
		return 1, nil
	case <-ctx.Done():
		return 1, ctx.Err()
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func idleEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A worker blocked on a full results channel is not idle: a dashboard
// counts it busy. IdleWorkers must agree with the blocked count.
func TestIdleWorkersCountsBlockedWorkersAsBusy(t *testing.T) {
	live := testLive()
	live.Workers, live.ResultsBuffer = 4, 1
	gate := make(chan struct{})
	p := newTestPool(t, Options{Live: live, Runner: fakeRunner{}, Sink: holdSink{gate: gate}})
	idleEventually(t, "4 idle workers at start", func() bool { return p.IdleWorkers() == 4 })

	// One result in the forwarder's hands, one in the channel, four
	// workers blocked sending theirs.
	submitAll(t, p.Pool, checkout("busy")[:6])
	idleEventually(t, "4 workers blocked", func() bool { return p.Stats().Results.BlockedNow == 4 })
	if got := p.IdleWorkers(); got != 0 {
		t.Errorf("IdleWorkers = %d while every worker is blocked sending; want 0", got)
	}

	close(gate)
	waitDelivered(t, p.Pool, 6)
	idleEventually(t, "4 idle workers after the gate opened", func() bool { return p.IdleWorkers() == 4 })
}
