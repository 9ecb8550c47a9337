package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// traceWait bounds how long a finished burst's traces may take to be
// complete in Jaeger: the services export every ~1 s; 20 s leaves room for a
// loaded CI machine without ever being needed on a good day.
const traceWait = 20 * time.Second

// jobComplete says whether a checkout job's trace holds every span the
// contract promises for its type, under one root, with no parent missing.
func jobComplete(jobType string) func(*trace) error {
	want := []string{spans.JobRootName("checkout", jobType), spans.JobSubmit, spans.PoolJob, spans.QueueWait, spans.WorkerProcess,
		spans.ResultSend, spans.ResultsChannelWait, spans.ResultDeliver, spans.ResultProcess}
	switch jobType {
	case "cache-read":
		want = append(want, spans.CacheRead)
	case "database":
		want = append(want, spans.DatabaseQuery, spans.PoolAcquire, spans.QueryExecute)
	case "vendor-api":
		want = append(want, spans.VendorAPI, spans.VendorHandle)
	}
	return func(t *trace) error {
		var missing []string
		for _, name := range want {
			if len(t.named(name)) == 0 {
				missing = append(missing, name)
			}
		}
		switch {
		case len(missing) > 0:
			return fmt.Errorf("%s job: no %s span", jobType, strings.Join(missing, ", "))
		case len(t.orphan) > 0:
			o := t.orphan[0]
			return fmt.Errorf("%d span(s) with a missing parent, e.g. %s %s (parent %s)", len(t.orphan), o.service, o.OperationName, o.parentID)
		case len(t.roots) != 1:
			return fmt.Errorf("%d roots, want 1", len(t.roots))
		}
		return nil
	}
}

// awaitBurst waits until every job trace of the burst with one of the types
// (all when none) is complete.
func awaitBurst(t *testing.T, res checkoutResult, types ...string) map[string]*trace {
	t.Helper()
	ids := res.traceIDs(types...)
	if len(ids) == 0 {
		t.Fatalf("burst %s has no %v jobs", res.Batch, types)
	}
	got, err := pollBurst(res, ids, traceWait)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func pollBurst(res checkoutResult, ids []string, timeout time.Duration) (map[string]*trace, error) {
	return pollTraces(ids, timeout, func(tr *trace) error { return jobComplete(res.job(tr.id).Type)(tr) })
}

func TestVendorJobIsOneTraceAcrossAllFourServices(t *testing.T) {
	res := checkout(t)
	traces := awaitBurst(t, res, "vendor-api")
	wantServices := []string{stack.Consumer, stack.Producer, stack.VendorMock, stack.Workers}
	for id, tr := range traces {
		job := res.job(id)
		if got := tr.services(); !slices.Equal(got, wantServices) {
			t.Errorf("job %s: services %v, want %v\n%s", job.ID, got, wantServices, tr)
			continue
		}
		root := tr.roots[0]
		if want := spans.JobRootName("checkout", "vendor-api"); root.service != stack.Producer || root.OperationName != want {
			t.Errorf("job %s: root is %s %s, want producer %s\n%s", job.ID, root.service, root.OperationName, want, tr)
		}
		if got := root.stringTag(spans.JobID); got != job.ID {
			t.Errorf("root %s = %q, want the job's id %q", spans.JobID, got, job.ID)
		}
		for _, c := range []struct {
			span  string
			chain []string
		}{
			{spans.VendorHandle, []string{stack.Producer, stack.Workers, stack.VendorMock}},
			{spans.ResultProcess, []string{stack.Producer, stack.Workers, stack.Consumer}},
		} {
			for _, s := range tr.named(c.span) {
				if got := serviceChain(s); !slices.Equal(got, c.chain) {
					t.Errorf("job %s: %s is reached through %v, want %v\n%s", job.ID, c.span, got, c.chain, tr)
				}
			}
		}
	}
	if t.Failed() {
		return
	}
	for _, tr := range traces {
		t.Logf("one of the vendor-api traces:\n%s", tr)
		break
	}
}

// With the incident's settings the results channel (4 slots) fills while
// the consumer takes 50 ms a result: workers block sending results, and cache
// reads that take a few ms wait far longer than that.
func TestDefaultsBlockResultSendsAndHoldBackCacheReads(t *testing.T) {
	// The defaults, explicitly: another test may have just changed them.
	setWorkersConfig(t, map[string]any{"results_buffer": 4, "result_send": "blocking", "priority_lanes": "off", "vendor_timeout": "0"})
	res := checkout(t)
	traces := awaitBurst(t, res)

	blocked, sends := 0, 0
	for _, tr := range traces {
		for _, s := range tr.named(spans.ResultSend) {
			sends++
			if b, _ := s.boolTag(spans.ChannelBlocked); b {
				blocked++
			}
		}
	}
	if blocked == 0 {
		t.Errorf("none of %d %s spans has %s=true; with RESULTS_BUFFER=WORKERS some sends must block.\n%s",
			sends, spans.ResultSend, spans.ChannelBlocked, summary(res, traces))
	}

	// Head-of-line blocking, measured per cache read: from submit until its
	// result was handed off, against the read itself.
	var lines []string
	held := 0
	for _, id := range res.traceIDs("cache-read") {
		tr := traces[id]
		read, send := tr.named(spans.CacheRead)[0], tr.named(spans.ResultSend)[0]
		took := send.end().Sub(tr.roots[0].start())
		ratio := float64(took) / float64(max(read.duration(), time.Microsecond))
		if ratio > 5 {
			held++
		}
		lines = append(lines, fmt.Sprintf("  %s %-28s cache.read %-8s submit→handoff %-9s (%.0fx)",
			res.job(id).ID, res.job(id).Target, read.duration().Round(time.Microsecond), took.Round(time.Microsecond), ratio))
	}
	t.Logf("%d of %d result sends blocked; cache reads:\n%s", blocked, sends, strings.Join(lines, "\n"))
	if held == 0 {
		t.Errorf("no cache read was held back more than 5x its own duration; head-of-line blocking should show with the defaults:\n%s",
			strings.Join(lines, "\n"))
	}
}

func TestBiggerResultsBufferAtRunTimeUnblocksSends(t *testing.T) {
	setWorkersConfig(t, map[string]any{"results_buffer": 400})
	res := checkout(t)
	traces := awaitBurst(t, res)
	sends := 0
	for _, tr := range traces {
		for _, s := range tr.named(spans.ResultSend) {
			sends++
			if b, _ := s.boolTag(spans.ChannelBlocked); b {
				t.Errorf("job %s: %s blocked with results_buffer 400:\n%s", res.job(tr.id).ID, spans.ResultSend, tr)
			}
			if c, _ := s.tag(spans.ResultsBufferCap); fmt.Sprint(c) != "400" {
				t.Errorf("job %s: %s %s=%v, want 400 (did the change apply?)", res.job(tr.id).ID, spans.ResultSend, spans.ResultsBufferCap, c)
			}
		}
	}
	if sends < len(res.Jobs) {
		t.Errorf("%d %s spans for %d jobs", sends, spans.ResultSend, len(res.Jobs))
	}
}

func TestVendorPresetsChangeVendorSpans(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		setVendorPreset(t, "healthy")
		res := checkout(t)
		traces := awaitBurst(t, res, "vendor-api")
		for _, tr := range traces {
			for _, s := range tr.named(spans.VendorHandle) {
				degraded, ok := s.boolTag(spans.FaultDegraded)
				if !ok || degraded || s.stringTag(spans.FaultPreset) != "healthy" {
					t.Errorf("healthy preset, but %s has %s=%v (set: %v), %s=%q:\n%s", spans.VendorHandle,
						spans.FaultDegraded, degraded, ok, spans.FaultPreset, s.stringTag(spans.FaultPreset), tr)
				}
			}
		}
	})
	t.Run("flaky", func(t *testing.T) {
		setVendorPreset(t, "flaky")
		// 30% of calls fail, 4 vendor calls a burst: a burst without any
		// error happens 24% of the time, eight in a row almost never.
		var seen []string
		for burst := 1; burst <= 8; burst++ {
			res := checkout(t)
			traces := awaitBurst(t, res, "vendor-api")
			errs := 0
			for _, tr := range traces {
				for _, s := range tr.spans {
					if s.service == stack.VendorMock && s.isError() {
						errs++
					}
				}
				seen = append(seen, tr.String())
			}
			if errs > 0 {
				t.Logf("burst %d: %d vendor-mock spans with error status", burst, errs)
				return
			}
		}
		t.Errorf("8 bursts with the flaky preset and no vendor-mock span with error status:\n%s", strings.Join(seen, "\n"))
	})
}

// Jaeger restarts in the middle of a burst (and, being in-memory, forgets
// everything); the services must neither wedge nor stop exporting.
func TestSpansKeepArrivingAfterJaegerRestarts(t *testing.T) {
	during := make(chan error, 1)
	go func() {
		_, err := runCheckout()
		during <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sys.Restart(ctx, stack.Jaeger); err != nil {
		t.Fatalf("restarting Jaeger: %v", err)
	}
	if err := <-during; err != nil {
		t.Fatalf("the burst running while Jaeger restarted: %v", err)
	}
	// The next burst's spans may meet exporters still backing off from the
	// outage; what matters is that complete traces arrive again soon after.
	deadline := time.Now().Add(45 * time.Second)
	var last error
	for burst := 1; time.Now().Before(deadline); burst++ {
		res := checkout(t)
		_, last = pollBurst(res, res.traceIDs(), min(10*time.Second, time.Until(deadline)))
		if last == nil {
			t.Logf("burst %d after the restart: all %d traces complete", burst, len(res.Jobs))
			return
		}
	}
	t.Fatalf("no complete burst in Jaeger within 45s of its restart; last one: %v", last)
}

// summary lists a burst's traces briefly for failure messages.
func summary(res checkoutResult, traces map[string]*trace) string {
	var b strings.Builder
	for _, j := range res.Jobs {
		tr := traces[j.TraceID]
		if tr == nil {
			fmt.Fprintf(&b, "  %s %-10s (no trace)\n", j.ID, j.Type)
			continue
		}
		fmt.Fprintf(&b, "  %s %-10s %-28s %3d spans %s\n", j.ID, j.Type, j.Target, len(tr.spans), tr.extent().Round(time.Millisecond))
		for _, s := range tr.named(spans.ResultSend) {
			fmt.Fprintf(&b, "      %s %s\n", s.OperationName, interestingTags(s))
		}
	}
	return b.String()
}

// Slack for comparing span ends in Jaeger: it keeps microseconds, and a
// start and a duration each truncated can put the end of a span that ends
// at the very nanosecond its parent ends a microsecond past it.
const jaegerRounding = 2 * time.Microsecond

// rootOverhangBound bounds how long a job's trace goes on after its root
// ended at the consumer's record of the job: the rest of the ledger's
// fsync, the Deliver answer's way back and the workers' pool.job ending
// (a few ms on a quiet machine). It is generous for a loaded 2-core one
// and still far below a root ended at the wrong event (a poll, 100 ms
// apart, or the first submission, seconds before).
const rootOverhangBound = 250 * time.Millisecond

// The trace contract, checked on every job of a burst with the incident's
// settings: one root per job, named after the scenario and the job type so
// the three types are told apart in a list of traces; within each service
// no span outlives its parent; within the workers, pool.job's children
// cover it with gaps summing to under 2 ms; the root lasts as long as the
// job took end to end, and ends when the consumer recorded the job: within
// its result.process, and at most rootOverhangBound before the trace's
// last span ends.
func TestEveryJobTraceKeepsTheContract(t *testing.T) {
	setWorkersConfig(t, map[string]any{"results_buffer": 4, "result_send": "blocking", "priority_lanes": "off", "vendor_timeout": "0"})
	res := checkout(t)
	traces := awaitBurst(t, res)

	rootNames := map[string]string{} // job type → root name
	var gaps, overhangs []time.Duration
	for _, j := range res.Jobs {
		tr := traces[j.TraceID]
		root := tr.roots[0]
		if root.service != stack.Producer {
			t.Errorf("job %s: the root is a %s span\n%s", j.ID, root.service, tr)
			continue
		}
		if prev, ok := rootNames[j.Type]; ok && prev != root.OperationName {
			t.Errorf("%s jobs have roots named %q and %q", j.Type, prev, root.OperationName)
		}
		rootNames[j.Type] = root.OperationName
		if root.stringTag(spans.JobOutcome) != spans.OutcomeDelivered || root.stringTag(spans.JobID) != j.ID || root.isError() {
			t.Errorf("job %s: root %s=%q %s=%q error=%v; want delivered, the job's ID, no error\n%s", j.ID,
				spans.JobOutcome, root.stringTag(spans.JobOutcome), spans.JobID, root.stringTag(spans.JobID), root.isError(), tr)
		}

		// No parent ends before its child, nor starts after it, in one service.
		for _, s := range tr.spans {
			p := s.parent
			if p == nil || p.service != s.service {
				continue
			}
			if s.start().Before(p.start().Add(-jaegerRounding)) || s.end().After(p.end().Add(jaegerRounding)) {
				t.Errorf("job %s: %s %s (+%s, %s) is not within its parent %s (+%s, %s)\n%s", j.ID, s.service, s.OperationName,
					s.start().Sub(root.start()), s.duration(), p.OperationName, p.start().Sub(root.start()), p.duration(), tr)
			}
		}

		// The workers' part is covered end to end.
		for _, pj := range tr.named(spans.PoolJob) {
			var kids []*span
			for _, c := range pj.children {
				if c.service == stack.Workers {
					kids = append(kids, c)
				}
			}
			slices.SortFunc(kids, func(a, b *span) int { return a.start().Compare(b.start()) })
			gap, at := time.Duration(0), pj.start()
			for _, k := range kids {
				gap += max(k.start().Sub(at), 0)
				at = maxTime(at, k.end())
			}
			gap += max(pj.end().Sub(at), 0)
			gaps = append(gaps, gap)
			if gap >= 2*time.Millisecond {
				t.Errorf("job %s: %s of the workers' %s is covered by no span (want < 2ms)\n%s", j.ID, gap, spans.PoolJob, tr)
			}
			if pj.parent != root {
				t.Errorf("job %s: pool.job hangs under %v, not the root\n%s", j.ID, pj.parent, tr)
			}
		}

		// The root lasts as long as the job took end to end.
		e2e, ok := root.intTag(spans.EndToEndMS)
		if !ok {
			t.Errorf("job %s: root has no %s\n%s", j.ID, spans.EndToEndMS, tr)
			continue
		}
		if d := root.duration() - time.Duration(e2e)*time.Millisecond; d.Abs() > 5*time.Millisecond {
			t.Errorf("job %s: root lasts %s, its %s is %d", j.ID, root.duration(), spans.EndToEndMS, e2e)
		}
		for _, p := range tr.named(spans.ResultProcess) {
			if dup, _ := p.boolTag(spans.Duplicate); dup {
				continue
			}
			if handled, ok := p.intTag(spans.EndToEndMS); ok {
				if d := root.duration() - time.Duration(handled)*time.Millisecond; d.Abs() > 5*time.Millisecond {
					t.Errorf("job %s: root lasts %s, the consumer measured %d ms end to end", j.ID, root.duration(), handled)
				}
			}
			// The root ends at the consumer's record of the job, which
			// result.process covers: not before the consumer took the
			// result, not after it finished with it.
			if root.end().Before(p.start()) || root.end().After(p.end().Add(jaegerRounding)) {
				t.Errorf("job %s: the root ends at +%s, outside the consumer's result.process (+%s, %s)\n%s", j.ID,
					root.duration(), p.start().Sub(root.start()), p.duration(), tr)
			}
		}
		// Nothing of the job goes on long after its root ended.
		last := root
		for _, s := range tr.spans {
			if s.end().After(last.end()) {
				last = s
			}
		}
		overhang := last.end().Sub(root.end())
		overhangs = append(overhangs, overhang)
		if overhang > rootOverhangBound {
			t.Errorf("job %s: %s %s ends %s after the root (want at most %s)\n%s", j.ID, last.service, last.OperationName,
				overhang, rootOverhangBound, tr)
		}
	}
	if len(rootNames) != 3 || len(distinct(rootNames)) != 3 {
		t.Errorf("root names per job type %v; want three different names", rootNames)
	}
	slices.Sort(gaps)
	if len(gaps) > 0 {
		t.Logf("uncovered time per job in the workers over %d jobs: median %s, p90 %s, max %s; roots %v",
			len(gaps), gaps[len(gaps)/2], gaps[len(gaps)*9/10], gaps[len(gaps)-1], rootNames)
	}
	slices.Sort(overhangs)
	if len(overhangs) > 0 {
		t.Logf("the trace after its root's end, over %d jobs: median %s, p90 %s, max %s",
			len(overhangs), overhangs[len(overhangs)/2], overhangs[len(overhangs)*9/10], overhangs[len(overhangs)-1])
	}
}

func distinct(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
