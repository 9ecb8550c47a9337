package e2e

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

var services = []string{stack.Producer, stack.Workers, stack.VendorMock, stack.Consumer}

// A flood of Submits at about 100 times what the system can take (the
// consumer's 20 results/s with the defaults) is shed, not queued without
// bound: the pool answers RESOURCE_EXHAUSTED and counts each refusal, the
// jobs it accepted are all delivered exactly once, memory stays bounded,
// and a checkout burst right after completes.
func TestFloodIsShedCountedAndRecovered(t *testing.T) {
	const (
		rate     = 2000.0 // Submits per second
		duration = 3 * time.Second
		// A refused Submit waits SUBMIT_WAIT (1s) for room first, so it
		// takes about rate callers to keep the rate offered.
		callers = 2500
	)
	c := dialStack(t)
	workersBefore, consumerBefore := statsOf(t, stack.Workers), statsOf(t, stack.Consumer)
	rssBefore := rss(t, stack.Workers)

	jobs := newJobs(runPrefix("flood"), int(rate*duration.Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	var peak float64
	stopSampling := sampleRSS(t, stack.Workers, &peak)
	load := runPaced(ctx, c, jobs, rate, callers)
	offered := time.Since(began)
	stopSampling()

	shed := load.refused["ResourceExhausted"]
	t.Logf("flood: %d Submits sent in %s (%.0f/s), all answered after %s: %d accepted, refused %v; workers RSS %.0f MiB before, peak %.0f MiB",
		len(jobs), load.sentIn.Round(time.Millisecond), float64(len(jobs))/load.sentIn.Seconds(), offered.Round(time.Millisecond),
		len(load.accepted), load.refused, rssBefore, peak)
	if len(load.refused) != 1 || shed == 0 {
		t.Errorf("refusals %v; want RESOURCE_EXHAUSTED only (load shed), and some", load.refused)
	}
	if len(load.accepted) == 0 || len(load.accepted) > len(jobs)/4 {
		t.Errorf("%d of %d accepted; want the pool's share, far from all", len(load.accepted), len(jobs))
	}
	workersAfter := statsOf(t, stack.Workers)
	if got := workersAfter.Counters.Rejected - workersBefore.Counters.Rejected; got != uint64(shed) {
		t.Errorf("workers /stats counted %d rejections; the callers got %d RESOURCE_EXHAUSTED", got, shed)
	}
	if got := workersAfter.Counters.Submitted - workersBefore.Counters.Submitted; got != uint64(len(load.accepted)) {
		t.Errorf("workers /stats counted %d submitted; %d Submits were accepted", got, len(load.accepted))
	}
	if peak > 256 {
		t.Errorf("workers RSS peaked at %.0f MiB during the flood; the compose limit is 256 MiB", peak)
	}

	// Every accepted job is handled, once.
	drain := time.Now()
	if left := c.awaitDone(t, load.accepted, 2*time.Minute); len(left) > 0 {
		t.Fatalf("%d of %d accepted jobs never reached the consumer, e.g. %v", len(left), len(load.accepted), left[:min(5, len(left))])
	}
	consumerAfter := statsOf(t, stack.Consumer)
	if got := consumerAfter.Handled - consumerBefore.Handled; got != uint64(len(load.accepted)) {
		t.Errorf("the consumer handled %d results for %d accepted jobs", got, len(load.accepted))
	}
	t.Logf("backlog of %d jobs drained %s after the flood; consumer duplicates +%d",
		len(load.accepted), time.Since(drain).Round(100*time.Millisecond), consumerAfter.Duplicates-consumerBefore.Duplicates)

	// Recovered: the incident's burst completes as usual.
	res := checkout(t)
	if res.Completed != res.Total {
		t.Errorf("after the flood a burst completed %d of %d jobs", res.Completed, res.Total)
	}
}

// Jaeger goes away for 30 s under steady load and comes back. Nothing
// waits for it: throughput stays what it was, memory stays bounded (spans
// are queued up to a fixed size, then dropped and counted), and every span
// the consumer made for the test's jobs is accounted for, one by one: it
// was exported before Jaeger stopped (and went with its memory), it is in
// Jaeger now, or the consumer counted it lost. A span dropped silently
// fails the test, whatever else was dropped and counted.
//
// An outage as long as the exporter's 30 s export timeout turns the
// oldest queued batch into counted losses (export_failed) instead of a
// late delivery, which the test accepts just as well. HB_E2E_JAEGER_OUTAGE
// changes the outage's length.
func TestJaegerDownUnderSteadyLoad(t *testing.T) {
	outage := 30 * time.Second
	if v := os.Getenv("HB_E2E_JAEGER_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HB_E2E_JAEGER_OUTAGE=%q: %v", v, err)
		}
		outage = d
	}
	const (
		rate   = 15.0 // jobs/s, below the consumer's 20/s
		window = 6 * time.Second
		warmup = 2 * time.Second
	)
	c := dialStack(t)
	total := warmup + window + outage + window
	jobs := newJobs(runPrefix("steady"), int(rate*total.Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), total+time.Minute)
	defer cancel()

	// From a consumer with no span of an earlier test still on its way,
	// every span it makes until the end is one of this test's.
	consumerBefore := quietTracing(t, stack.Consumer)
	tracingBefore := map[string]tracingStats{}
	for _, s := range services {
		tracingBefore[s] = statsOf(t, s).Tracing
	}
	tracingBefore[stack.Consumer] = consumerBefore.Tracing
	began := time.Now()
	loadDone := make(chan *pacedLoad, 1)
	go func() { loadDone <- runPaced(ctx, c, jobs, rate, 8) }()

	handledAt := func() (uint64, time.Time) { return statsOf(t, stack.Consumer).Handled, time.Now() }
	sleepUntil := func(d time.Duration) { time.Sleep(time.Until(began.Add(d))) }

	sleepUntil(warmup)
	h0, t0 := handledAt()
	sleepUntil(warmup + window)
	h1, t1 := handledAt()
	rssAtStop := map[string]float64{}
	for _, s := range services {
		rssAtStop[s] = rss(t, s)
	}
	if err := sys.StopProcess(stack.Jaeger, false); err != nil {
		t.Fatalf("stopping Jaeger: %v", err)
	}
	outageBegan := time.Now()
	peaks := map[string]*float64{}
	var stops []func()
	for _, s := range services {
		peaks[s] = new(float64)
		stops = append(stops, sampleRSS(t, s, peaks[s]))
	}
	time.Sleep(time.Until(outageBegan.Add(outage)))
	h2, t2 := handledAt()
	for _, stop := range stops {
		stop()
	}
	// Nothing is exported while Jaeger is down: what the consumer
	// exported so far went to the Jaeger that stopped, and is gone.
	exportedToTheStopped := statsOf(t, stack.Consumer).Tracing.Exported - consumerBefore.Tracing.Exported
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := sys.StartProcess(sctx, stack.Jaeger); err != nil {
		t.Fatalf("starting Jaeger again: %v", err)
	}
	outageEnded := time.Now()
	time.Sleep(window)
	h3, t3 := handledAt()
	load := <-loadDone

	up := float64(h1-h0) / t1.Sub(t0).Seconds()
	down := float64(h2-h1) / t2.Sub(t1).Seconds()
	after := float64(h3-h2) / t3.Sub(t2).Seconds()
	t.Logf("throughput (results/s at the consumer, %.0f/s offered): Jaeger up %.1f, down for %s %.1f, back %.1f", rate, up, outage, down, after)
	if down < 0.85*up || after < 0.85*up {
		t.Errorf("throughput fell with Jaeger down: %.1f/s up, %.1f/s down, %.1f/s after", up, down, after)
	}
	if len(load.refused) > 0 {
		t.Errorf("Submits refused under steady load: %v", load.refused)
	}
	for _, s := range services {
		t.Logf("%s RSS: %.0f MiB when Jaeger stopped, peak %.0f MiB during the outage", s, rssAtStop[s], *peaks[s])
		// The span queues are bounded (8192 each): a few MiB of spans.
		if *peaks[s] > rssAtStop[s]+64 || *peaks[s] > 200 {
			t.Errorf("%s RSS grew from %.0f to %.0f MiB during the outage", s, rssAtStop[s], *peaks[s])
		}
	}

	// Every job handled, then every consumer span of the test accounted for.
	load.mu.Lock()
	accepted := append([]testJob(nil), load.accepted...)
	load.mu.Unlock()
	if left := c.awaitDone(t, accepted, time.Minute); len(left) > 0 {
		t.Fatalf("%d of the %d jobs were never handled: %v", len(left), len(accepted), left[:min(5, len(left))])
	}
	acc := settleConsumerSpans(t, consumerBefore, exportedToTheStopped, outageBegan.Add(-time.Minute))
	t.Logf("consumer spans of the test's %d jobs: %d made; %d exported before Jaeger stopped (gone with it), %d in Jaeger after it came back, %d counted lost (dropped + export_failed)",
		len(accepted), acc.made, acc.exportedBefore, acc.inJaeger, acc.lost)
	if missing := acc.made - acc.exportedBefore - acc.inJaeger - acc.lost; missing > 0 {
		t.Errorf("%d consumer spans are neither in Jaeger nor counted lost: dropped without a trace", missing)
	}
	var during []testJob
	for _, j := range accepted {
		if at := j.job.GetSubmittedAt().AsTime(); at.After(outageBegan) && at.Before(outageEnded) {
			during = append(during, j)
		}
	}
	t.Logf("of them, the %d jobs submitted during the outage have %d result.process spans in Jaeger", len(during), resultProcessesIn(t, during))
	for _, s := range services {
		st := statsOf(t, s).Tracing
		b := tracingBefore[s]
		t.Logf("%s tracing: +%d exported, +%d dropped, +%d export_failed", s, st.Exported-b.Exported, st.Dropped-b.Dropped, st.ExportFailed-b.ExportFailed)
	}
}

// quietTracing waits until the service has no span on its way to the
// collector (its span counters stay still for longer than a batch
// timeout) and returns its stats then.
func quietTracing(t *testing.T, name string) serviceStats {
	t.Helper()
	const still = 1500 * time.Millisecond // the batch timeout is 1 s
	sum := func(s serviceStats) uint64 {
		return s.Tracing.Bridged + s.Tracing.Exported + s.Tracing.Dropped + s.Tracing.ExportFailed
	}
	last := statsOf(t, name)
	since := time.Now()
	deadline := since.Add(30 * time.Second)
	for time.Since(since) < still {
		if time.Now().After(deadline) {
			t.Fatalf("%s kept making or exporting spans for 30 s before the test: is some load still running?", name)
		}
		time.Sleep(250 * time.Millisecond)
		if s := statsOf(t, name); sum(s) != sum(last) {
			last, since = s, time.Now()
		}
	}
	return last
}

// spanAccount says where the consumer's spans went.
type spanAccount struct {
	made           int // by the consumer's own counts of what it did
	exportedBefore int // to the Jaeger that stopped
	inJaeger       int // in the Jaeger that came back
	lost           int // counted: dropped + export_failed
}

// settleConsumerSpans accounts for the consumer's spans since before: the
// ones it made (each handled result leaves a Deliver server span, a
// result.wait and a result.process; each duplicate a server span and a
// result.process; each retry asked for a server span; each wait given up
// a server span and a result.wait) against those exported to the Jaeger
// that stopped, those in Jaeger now (since from) and those counted lost.
// It waits for late exports until every span is accounted for, or 60 s.
func settleConsumerSpans(t *testing.T, before serviceStats, exportedBefore uint64, from time.Time) spanAccount {
	t.Helper()
	j := newJaeger(sys.JaegerURL())
	// Exporters retry with backoff (up to the 30 s export timeout) and
	// reconnect within 5 s: allow that, and more.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := statsOf(t, stack.Consumer)
		acc := spanAccount{
			made: int(3*(st.Handled-before.Handled) + 2*(st.Duplicates-before.Duplicates) +
				(st.RetriesAsked - before.RetriesAsked) + 2*(st.CancelledWaits-before.CancelledWaits) +
				3*(st.Ledger.WriteFailures-before.Ledger.WriteFailures)),
			exportedBefore: int(exportedBefore),
			lost:           int(st.Tracing.Dropped - before.Tracing.Dropped + st.Tracing.ExportFailed - before.Tracing.ExportFailed),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := j.spansOf(ctx, stack.Consumer, from)
		cancel()
		if err != nil {
			t.Fatalf("counting the consumer's spans in Jaeger: %v", err)
		}
		acc.inJaeger = n
		// Spans only ever arrive and counted losses only ever grow: once
		// everything is accounted for, it stays so.
		if acc.made <= acc.exportedBefore+acc.inJaeger+acc.lost || time.Now().After(deadline) {
			return acc
		}
		time.Sleep(time.Second)
	}
}

// resultProcessesIn counts the jobs whose trace in Jaeger has a
// result.process.
func resultProcessesIn(t *testing.T, jobs []testJob) int {
	t.Helper()
	j := newJaeger(sys.JaegerURL())
	n := 0
	for _, job := range jobs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tr, ok, err := j.trace(ctx, job.traceID)
		cancel()
		if err == nil && ok && len(tr.named(spans.ResultProcess)) > 0 {
			n++
		}
	}
	return n
}

// sampleRSS records the highest RSS of a service into *peak until the
// returned stop is called.
func sampleRSS(t *testing.T, name string, peak *float64) (stop func()) {
	t.Helper()
	pid := sys.Pid(name)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := rssOf(pid); err == nil && v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
