package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/workers"
)

type rig struct {
	*Tracker
	pool *fakes.Pool
	sink *fakes.Sink
	tp   *tracing.Provider
	exp  *tracetest.InMemoryExporter
	addr string
	stop func() // stops the fake pool's server
}

// newRig wires a tracker to a fake pool and a fake consumer over loopback
// gRPC, through the producer's real clients, and runs its poller every
// millisecond. By default the pool accepts every job and the consumer
// never handles one.
func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "producer", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	pool, sink := &fakes.Pool{}, &fakes.Sink{}
	addr, stop := fakes.ServeAt(t, "127.0.0.1:0", pool, sink)
	wc, err := workers.New(addr, tp)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := consumer.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wc.Close(); _ = cc.Close() })
	o.Pool, o.Consumer, o.Tracing = wc, cc, tp
	if o.PollEvery == 0 {
		o.PollEvery = time.Millisecond
	}
	tr := New(o)
	done := make(chan error, 1)
	go func() { done <- tr.Run() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tr.Stop(ctx)
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &rig{Tracker: tr, pool: pool, sink: sink, tp: tp, exp: exp, addr: addr, stop: stop}
}

func job(id string, typ jobsv1.JobType) *jobsv1.Job {
	target := "user:premium_customer"
	if typ == jobsv1.JobType_JOB_TYPE_VENDOR_API {
		target = "/v1/payment/authorize"
	}
	return &jobsv1.Job{Id: id, Type: typ, Target: target, Priority: jobsv1.Priority_PRIORITY_HIGH,
		Scenario: "checkout", Sequence: 4, Batch: "ab12cd34"}
}

func (r *rig) submit(t *testing.T, j *jobsv1.Job) *Ticket {
	t.Helper()
	k, err := r.Submit(context.Background(), j, slog.LevelInfo)
	if err != nil {
		t.Fatalf("Submit %s: %v", j.GetId(), err)
	}
	return k
}

func wait(t *testing.T, k *Ticket) Result {
	t.Helper()
	select {
	case <-k.Done():
		return k.Result()
	case <-time.After(10 * time.Second):
		p := k.Progress()
		t.Fatalf("job not final after 10s: %d attempts, accepted %v, last error %q", p.Attempts, p.Accepted, p.LastErr)
		return Result{}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// spansOf flushes and returns the job's spans by name, in start order.
func (r *rig) spansOf(t *testing.T, traceID string) map[string][]tracetest.SpanStub {
	t.Helper()
	if err := r.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := r.exp.GetSpans()
	slices.SortFunc(all, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	out := map[string][]tracetest.SpanStub{}
	for _, s := range all {
		if s.SpanContext.TraceID().String() == traceID {
			out[s.Name] = append(out[s.Name], s)
		}
	}
	return out
}

func attrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// The root is the job's whole life: it starts when the job is first
// submitted (its submitted_at), ends when the consumer handled it (its
// completed_at), is named after the scenario and type, and the job carries
// its trace context to the pool.
func TestRootSpansTheJobsLife(t *testing.T) {
	r := newRig(t, Options{})
	handledAfter := 300 * time.Millisecond
	r.pool.OnAccept(func(j *jobsv1.Job) {
		r.sink.CompleteAt(j.GetId(), j.GetSubmittedAt().AsTime().Add(handledAfter), true)
	})
	k := r.submit(t, job("checkout-ab12cd34-04", jobsv1.JobType_JOB_TYPE_VENDOR_API))
	res := wait(t, k)
	if res.Outcome != spans.OutcomeDelivered || res.Attempts != 1 || !res.Accepted || res.EndToEnd != handledAfter {
		t.Fatalf("result %+v; want delivered after 1 attempt, end to end %s", res, handledAfter)
	}

	got := r.spansOf(t, k.TraceID())
	rootName := spans.JobRootName("checkout", "vendor-api")
	if len(got[rootName]) != 1 || len(got[spans.JobSubmit]) != 1 {
		t.Fatalf("spans %v; want one %q root and one job.submit", got, rootName)
	}
	root, submit := got[rootName][0], got[spans.JobSubmit][0]
	if root.Parent.IsValid() {
		t.Errorf("the root has parent %s; want none", root.Parent.SpanID())
	}
	sent := r.pool.Jobs()[0]
	if !root.StartTime.Equal(sent.GetSubmittedAt().AsTime()) {
		t.Errorf("root starts %v, the job's submitted_at is %v", root.StartTime, sent.GetSubmittedAt().AsTime())
	}
	if d := root.EndTime.Sub(root.StartTime); d != handledAfter {
		t.Errorf("root lasts %s; want the job's end-to-end time %s", d, handledAfter)
	}
	if root.Status.Code == codes.Error {
		t.Errorf("a delivered job's root has error %q", root.Status.Description)
	}
	for k, want := range map[string]string{
		spans.JobID: "checkout-ab12cd34-04", spans.JobType: "vendor-api", spans.JobPriority: "high",
		spans.JobTarget: "/v1/payment/authorize", spans.JobBatch: "ab12cd34", spans.JobSequence: "4", spans.JobScenario: "checkout",
		spans.JobAttempts: "1", spans.JobOutcome: spans.OutcomeDelivered, spans.EndToEndMS: "300",
	} {
		if got := attrs(root)[k]; got != want {
			t.Errorf("root %s = %q, want %q", k, got, want)
		}
	}

	if submit.Parent.SpanID() != root.SpanContext.SpanID() || submit.SpanKind != trace.SpanKindProducer {
		t.Errorf("job.submit: parent %s kind %v; want the root, producer", submit.Parent.SpanID(), submit.SpanKind)
	}
	for k, want := range map[string]string{
		spans.JobAttempt: "1", spans.SubmitOutcome: spans.SubmitAccepted, spans.JobID: "checkout-ab12cd34-04",
		spans.MessagingSystem: spans.MessagingSystemValue, spans.MessagingDestination: spans.DestinationJobs,
		spans.MessagingOperationType: spans.MessagingOperationSend, spans.MessagingMessageID: "checkout-ab12cd34-04",
	} {
		if got := attrs(submit)[k]; got != want {
			t.Errorf("job.submit %s = %q, want %q", k, got, want)
		}
	}
	if len(submit.Links) != 0 {
		t.Errorf("the first attempt links to %v; want nothing", submit.Links)
	}
	// The gRPC client span hangs under the attempt.
	for _, s := range r.exp.GetSpans() {
		if s.SpanKind == trace.SpanKindClient && strings.Contains(s.Name, "WorkerPool/Submit") && s.Parent.SpanID() != submit.SpanContext.SpanID() {
			t.Errorf("gRPC client span's parent is %s, not job.submit", s.Parent.SpanID())
		}
	}
	// The job carries the root's context, for pool.job to hang under.
	want := fmt.Sprintf("00-%s-%s-01", root.SpanContext.TraceID(), root.SpanContext.SpanID())
	if tp := sent.GetTraceContext()["traceparent"]; tp != want || sent.GetAttempt() != 1 {
		t.Errorf("the job was sent with traceparent %q attempt %d; want %q (the root), 1", tp, sent.GetAttempt(), want)
	}
}

// A job the consumer does not confirm within RETRY_AFTER is re-submitted:
// same ID, same submitted_at and trace context, the attempt counted up.
// Every attempt is a job.submit under the one root, linked to the one
// before; the pool answers already_held while it still has the job.
func TestUnconfirmedJobIsResubmittedUnderTheSameRoot(t *testing.T) {
	r := newRig(t, Options{RetryAfter: 20 * time.Millisecond})
	r.pool.SetHeld(func(j *jobsv1.Job) bool { return j.GetAttempt() > 1 })
	k := r.submit(t, job("j1", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	eventually(t, "a third attempt", func() bool { return len(r.pool.Calls()) >= 3 })
	r.sink.Complete("j1")
	res := wait(t, k)
	if res.Outcome != spans.OutcomeDelivered || res.Attempts < 3 {
		t.Fatalf("result %+v; want delivered after 3 or more attempts", res)
	}

	calls := r.pool.Calls()
	for i, c := range calls {
		if c.GetId() != "j1" || c.GetAttempt() != uint32(i+1) ||
			!c.GetSubmittedAt().AsTime().Equal(calls[0].GetSubmittedAt().AsTime()) ||
			c.GetTraceContext()["traceparent"] != calls[0].GetTraceContext()["traceparent"] {
			t.Errorf("attempt %d sent as %v; want job j1, attempt %d, the first attempt's submitted_at and trace context", i+1, c, i+1)
		}
	}
	got := r.spansOf(t, k.TraceID())
	root := got[spans.JobRootName("checkout", "cache-read")][0]
	submits := got[spans.JobSubmit]
	if len(submits) != res.Attempts || attrs(root)[spans.JobAttempts] != fmt.Sprint(res.Attempts) {
		t.Fatalf("%d job.submit spans, root job.attempts %q; want %d", len(submits), attrs(root)[spans.JobAttempts], res.Attempts)
	}
	for i, s := range submits {
		a := attrs(s)
		wantOutcome := spans.SubmitAlreadyHeld
		if i == 0 {
			wantOutcome = spans.SubmitAccepted
		}
		if s.Parent.SpanID() != root.SpanContext.SpanID() || a[spans.JobAttempt] != fmt.Sprint(i+1) || a[spans.SubmitOutcome] != wantOutcome {
			t.Errorf("job.submit #%d: parent %s, job.attempt %s, submit.outcome %s; want the root, %d, %s",
				i+1, s.Parent.SpanID(), a[spans.JobAttempt], a[spans.SubmitOutcome], i+1, wantOutcome)
		}
		if i > 0 && (len(s.Links) != 1 || s.Links[0].SpanContext.SpanID() != submits[i-1].SpanContext.SpanID()) {
			t.Errorf("job.submit #%d links to %v; want the attempt before", i+1, s.Links)
		}
		if s.EndTime.After(root.EndTime) {
			t.Errorf("job.submit #%d ends after the root", i+1)
		}
	}
	st, _ := r.Stats()
	if st.Resubmissions != uint64(res.Attempts-1) || st.AlreadyHeld != uint64(res.Attempts-1) || st.Confirmed != 1 || st.Attempts != uint64(res.Attempts) {
		t.Errorf("stats %+v", st)
	}
}

// After its last attempt and RETRY_AFTER more, an unconfirmed job is lost:
// its root ends with an error status saying so.
func TestJobNeverConfirmedIsLostAfterItsLastAttempt(t *testing.T) {
	r := newRig(t, Options{RetryAfter: 10 * time.Millisecond, MaxAttempts: 3})
	k := r.submit(t, job("lost", jobsv1.JobType_JOB_TYPE_DATABASE))
	res := wait(t, k)
	if res.Outcome != spans.OutcomeLost || res.Attempts != 3 || !strings.Contains(res.Reason, "after 3 attempts") {
		t.Fatalf("result %+v; want lost after 3 attempts", res)
	}
	if n := len(r.pool.Calls()); n != 3 {
		t.Errorf("the pool got %d Submits; want MAX_ATTEMPTS 3", n)
	}
	root := r.spansOf(t, k.TraceID())[spans.JobRootName("checkout", "database")][0]
	if root.Status.Code != codes.Error || !strings.HasPrefix(root.Status.Description, "lost: not confirmed by the consumer after 3 attempts") {
		t.Errorf("root status %v %q; want an error saying the job was lost", root.Status.Code, root.Status.Description)
	}
	if a := attrs(root); a[spans.JobOutcome] != spans.OutcomeLost || a[spans.JobAttempts] != "3" {
		t.Errorf("root outcome %q attempts %q", a[spans.JobOutcome], a[spans.JobAttempts])
	}
	st, byType := r.Stats()
	if st.Lost != 1 || st.Outstanding != 0 || byType.Failed["database"] != 1 || byType.Accepted["database"] != 1 {
		t.Errorf("stats %+v, by type %+v", st, byType)
	}
}

// A full queue sheds load: the job is not retried (that would amplify the
// overload), its outcome is rejected, and that is not an error.
func TestShedJobIsNotRetried(t *testing.T) {
	r := newRig(t, Options{RetryAfter: 10 * time.Millisecond})
	r.pool.SetRefuse(func(*jobsv1.Job) error {
		return status.Error(grpccodes.ResourceExhausted, "job queue full (40 jobs); try later")
	})
	k := r.submit(t, job("shed", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	res := wait(t, k)
	if res.Outcome != spans.OutcomeRejected || res.Attempts != 1 || res.Accepted {
		t.Fatalf("result %+v; want rejected after 1 attempt", res)
	}
	got := r.spansOf(t, k.TraceID())
	root, submit := got[spans.JobRootName("checkout", "cache-read")][0], got[spans.JobSubmit][0]
	if root.Status.Code == codes.Error || attrs(root)[spans.JobOutcome] != spans.OutcomeRejected {
		t.Errorf("root: status %v, outcome %q; want no error, rejected", root.Status.Code, attrs(root)[spans.JobOutcome])
	}
	if submit.Status.Code != codes.Error || !strings.Contains(submit.Status.Description, "ResourceExhausted") ||
		attrs(submit)[spans.SubmitOutcome] != spans.SubmitRejected {
		t.Errorf("job.submit: status %v %q, outcome %q; want the refused call marked", submit.Status.Code, submit.Status.Description, attrs(submit)[spans.SubmitOutcome])
	}
	st, byType := r.Stats()
	if st.Shed != 1 || st.Resubmissions != 0 || byType.Shed["cache-read"] != 1 {
		t.Errorf("stats %+v, by type %+v", st, byType)
	}
	if n := len(r.pool.Calls()); n != 1 {
		t.Errorf("the pool got %d Submits; want 1", n)
	}
}

// A job the pool accepted, then lost in a crash, is owed delivery: when its
// re-submission to the restarted pool meets a full queue, that is not load
// shedding. It is retried soon (long before RETRY_AFTER), and delivered
// once there is room; nothing is counted shed.
func TestJobRefusedAfterItWasAcceptedIsRetriedNotShed(t *testing.T) {
	r := newRig(t, Options{RetryAfter: time.Hour})
	k := r.submit(t, job("owed", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	var mu sync.Mutex
	refusals := 2
	r.pool.SetRefuse(func(*jobsv1.Job) error {
		mu.Lock()
		defer mu.Unlock()
		if refusals > 0 {
			refusals--
			return status.Error(grpccodes.ResourceExhausted, "job queue full (1 jobs); try later")
		}
		return nil
	})
	r.pool.OnAccept(func(j *jobsv1.Job) { r.sink.Complete(j.GetId()) })
	// The pool restarts, smaller: the job is re-submitted on reconnection.
	r.stop()
	fakes.ServeAt(t, r.addr, r.pool, r.sink)

	res := wait(t, k)
	if res.Outcome != spans.OutcomeDelivered || res.Attempts != 4 || !res.Accepted {
		t.Fatalf("result %+v; want delivered at the fourth attempt", res)
	}
	got := r.spansOf(t, k.TraceID())
	for i, want := range []string{spans.SubmitAccepted, spans.SubmitRejected, spans.SubmitRejected, spans.SubmitAccepted} {
		if o := attrs(got[spans.JobSubmit][i])[spans.SubmitOutcome]; o != want {
			t.Errorf("attempt %d: submit.outcome %q, want %q", i+1, o, want)
		}
	}
	root := got[spans.JobRootName("checkout", "cache-read")][0]
	if root.Status.Code == codes.Error || attrs(root)[spans.JobOutcome] != spans.OutcomeDelivered {
		t.Errorf("root: status %v %q, outcome %q; want delivered, no error", root.Status.Code, root.Status.Description, attrs(root)[spans.JobOutcome])
	}
	st, byType := r.Stats()
	if st.Shed != 0 || byType.Shed["cache-read"] != 0 || st.ResubmissionsRefused != 2 || st.Requeued != 1 || st.Confirmed != 1 {
		t.Errorf("stats %+v, by type %+v; want nothing shed, 2 re-submissions refused, 1 requeued", st, byType)
	}
}

// A job the pool accepted and whose re-submissions keep meeting a full
// queue is lost after MAX_ATTEMPTS, with an error saying why: never
// reported as shed, and never given up before its last attempt.
func TestJobRefusedAfterItWasAcceptedIsLostAfterItsLastAttempt(t *testing.T) {
	r := newRig(t, Options{RetryAfter: 10 * time.Millisecond, MaxAttempts: 3})
	r.pool.SetRefuse(func(j *jobsv1.Job) error {
		if j.GetAttempt() > 1 {
			return status.Error(grpccodes.ResourceExhausted, "job queue full (1 jobs); try later")
		}
		return nil
	})
	k := r.submit(t, job("full", jobsv1.JobType_JOB_TYPE_DATABASE))
	res := wait(t, k)
	if res.Outcome != spans.OutcomeLost || res.Attempts != 3 || !strings.Contains(res.Reason, "queue was full") {
		t.Fatalf("result %+v; want lost after 3 attempts, the queue full", res)
	}
	root := r.spansOf(t, k.TraceID())[spans.JobRootName("checkout", "database")][0]
	if root.Status.Code != codes.Error || !strings.Contains(root.Status.Description, "queue was full") {
		t.Errorf("root status %v %q; want an error saying the job was lost to a full queue", root.Status.Code, root.Status.Description)
	}
	st, byType := r.Stats()
	if st.Lost != 1 || st.Shed != 0 || st.ResubmissionsRefused != 2 || byType.Failed["database"] != 1 || byType.Shed["database"] != 0 {
		t.Errorf("stats %+v, by type %+v; want 1 lost, none shed, 2 re-submissions refused", st, byType)
	}
}

// A job the pool refuses as invalid is final, and an error.
func TestInvalidJobIsNotRetried(t *testing.T) {
	r := newRig(t, Options{RetryAfter: 10 * time.Millisecond})
	r.pool.SetRefuse(func(*jobsv1.Job) error { return status.Error(grpccodes.InvalidArgument, "job.target: required") })
	k := r.submit(t, job("bad", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if res := wait(t, k); res.Outcome != spans.OutcomeInvalid || res.Attempts != 1 {
		t.Fatalf("result %+v; want invalid after 1 attempt", res)
	}
	root := r.spansOf(t, k.TraceID())[spans.JobRootName("checkout", "cache-read")][0]
	if root.Status.Code != codes.Error || !strings.Contains(root.Status.Description, "job.target: required") {
		t.Errorf("root status %v %q", root.Status.Code, root.Status.Description)
	}
}

// A pool that does not answer is tried again soon, not after RETRY_AFTER.
func TestUnreachablePoolIsRetriedSoon(t *testing.T) {
	r := newRig(t, Options{RetryAfter: time.Hour})
	var mu sync.Mutex
	failures := 2
	r.pool.SetRefuse(func(*jobsv1.Job) error {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return status.Error(grpccodes.Unavailable, "worker pool is shutting down")
		}
		return nil
	})
	r.pool.OnAccept(func(j *jobsv1.Job) { r.sink.Complete(j.GetId()) })
	k := r.submit(t, job("soon", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	res := wait(t, k)
	if res.Outcome != spans.OutcomeDelivered || res.Attempts != 3 {
		t.Fatalf("result %+v; want delivered at the third attempt", res)
	}
	got := r.spansOf(t, k.TraceID())[spans.JobSubmit]
	for i, want := range []string{spans.SubmitUnavailable, spans.SubmitUnavailable, spans.SubmitAccepted} {
		if o := attrs(got[i])[spans.SubmitOutcome]; o != want {
			t.Errorf("attempt %d: submit.outcome %q, want %q", i+1, o, want)
		}
	}
	if st, _ := r.Stats(); st.Unavailable != 2 {
		t.Errorf("stats %+v; want 2 unavailable", st)
	}
}

// A pool that went away and came back (a restart) may have lost what it
// held: its jobs are re-submitted as soon as it is seen again, long before
// RETRY_AFTER.
func TestReconnectedPoolGetsItsJobsAgain(t *testing.T) {
	r := newRig(t, Options{RetryAfter: time.Hour})
	k := r.submit(t, job("restart", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if n := len(r.pool.Calls()); n != 1 {
		t.Fatalf("%d Submits before the restart; want 1", n)
	}
	r.stop()
	fakes.ServeAt(t, r.addr, r.pool, r.sink)
	eventually(t, "the job re-submitted to the restarted pool", func() bool { return len(r.pool.Calls()) == 2 })
	r.sink.Complete("restart")
	if res := wait(t, k); res.Outcome != spans.OutcomeDelivered || res.Attempts != 2 {
		t.Fatalf("result %+v; want delivered after 2 attempts", res)
	}
}

// The consumer handles the job while a re-submission is out: the root
// waits for that attempt, so no job.submit outlives it, and the job ends
// delivered.
func TestConfirmationDuringAnAttempt(t *testing.T) {
	r := newRig(t, Options{RetryAfter: 10 * time.Millisecond})
	r.pool.SetRefuse(func(j *jobsv1.Job) error {
		if j.GetAttempt() == 2 {
			r.sink.Complete(j.GetId())
			time.Sleep(50 * time.Millisecond) // the poller confirms meanwhile
		}
		return nil
	})
	r.pool.SetHeld(func(j *jobsv1.Job) bool { return j.GetAttempt() > 1 })
	k := r.submit(t, job("racy", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	res := wait(t, k)
	if res.Outcome != spans.OutcomeDelivered || res.Attempts != 2 {
		t.Fatalf("result %+v; want delivered after 2 attempts", res)
	}
	got := r.spansOf(t, k.TraceID())
	root, submits := got[spans.JobRootName("checkout", "cache-read")][0], got[spans.JobSubmit]
	if last := submits[len(submits)-1]; last.EndTime.After(root.EndTime) {
		t.Errorf("job.submit #%d ends %s after the root", len(submits), last.EndTime.Sub(root.EndTime))
	}
}

// Stopping waits for the consumer to confirm what it can, then ends every
// other job's root as abandoned, with an error status: no root is left
// unexported.
func TestStopAbandonsWhatTheConsumerDidNotConfirm(t *testing.T) {
	r := newRig(t, Options{})
	confirmed := r.submit(t, job("late", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	abandoned := r.submit(t, job("never", jobsv1.JobType_JOB_TYPE_VENDOR_API))
	go func() {
		time.Sleep(20 * time.Millisecond)
		r.sink.Complete("late")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, confirmed); res.Outcome != spans.OutcomeDelivered {
		t.Errorf("the job handled during the drain: %+v; want delivered", res)
	}
	res := wait(t, abandoned)
	if res.Outcome != spans.OutcomeAbandoned {
		t.Fatalf("the job never handled: %+v; want abandoned", res)
	}
	root := r.spansOf(t, abandoned.TraceID())[spans.JobRootName("checkout", "vendor-api")][0]
	if root.Status.Code != codes.Error || !strings.HasPrefix(root.Status.Description, "abandoned") {
		t.Errorf("root status %v %q; want an error saying abandoned", root.Status.Code, root.Status.Description)
	}
	if _, err := r.Submit(context.Background(), job("after", jobsv1.JobType_JOB_TYPE_CACHE_READ), slog.LevelInfo); !errors.Is(err, ErrStopping) {
		t.Errorf("Submit after Stop: %v; want ErrStopping", err)
	}
	if st, _ := r.Stats(); st.Abandoned != 1 || st.Confirmed != 1 || st.Outstanding != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The jobs waiting for confirmation are bounded; one more is refused and
// counted, not tracked.
func TestOutstandingJobsAreBounded(t *testing.T) {
	r := newRig(t, Options{MaxOutstanding: 2})
	r.submit(t, job("a", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	r.submit(t, job("b", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if _, err := r.Submit(context.Background(), job("c", jobsv1.JobType_JOB_TYPE_CACHE_READ), slog.LevelInfo); !errors.Is(err, ErrFull) {
		t.Fatalf("third Submit: %v; want ErrFull", err)
	}
	if st, _ := r.Stats(); st.RefusedFull != 1 || st.Outstanding != 2 {
		t.Errorf("stats %+v", st)
	}
	if n := len(r.pool.Calls()); n != 2 {
		t.Errorf("the pool got %d Submits; want 2", n)
	}
}

// One poller asks about every outstanding job, at most 1000 IDs a call.
func TestOnePollerAsksInBatches(t *testing.T) {
	r := newRig(t, Options{PollEvery: time.Hour}) // rounds are run by hand
	for i := range 2500 {
		if _, err := r.Submit(context.Background(), job(fmt.Sprintf("j%04d", i), jobsv1.JobType_JOB_TYPE_CACHE_READ), slog.LevelDebug); err != nil {
			t.Fatal(err)
		}
	}
	r.round()
	if got := r.sink.Sizes(); fmt.Sprint(got) != "[1000 1000 500]" {
		t.Errorf("one round asked about %v IDs per call; want [1000 1000 500]", got)
	}
	for i := range 2500 {
		r.sink.Complete(fmt.Sprintf("j%04d", i))
	}
	r.round()
	if st, _ := r.Stats(); st.Confirmed != 2500 || st.Outstanding != 0 {
		t.Errorf("stats %+v; want all 2500 confirmed by one round", st)
	}
}

// A job the consumer handled with a failed result ends failed: an error on
// the root, since the job did not do its work.
func TestFailedWorkEndsTheRootWithAnError(t *testing.T) {
	r := newRig(t, Options{})
	r.pool.OnAccept(func(j *jobsv1.Job) { r.sink.CompleteAt(j.GetId(), time.Now(), false) })
	k := r.submit(t, job("failing", jobsv1.JobType_JOB_TYPE_VENDOR_API))
	if res := wait(t, k); res.Outcome != spans.OutcomeFailed || !res.Done() {
		t.Fatalf("result %+v; want failed (done)", res)
	}
	root := r.spansOf(t, k.TraceID())[spans.JobRootName("checkout", "vendor-api")][0]
	if root.Status.Code != codes.Error || attrs(root)[spans.JobOutcome] != spans.OutcomeFailed {
		t.Errorf("root status %v outcome %q", root.Status.Code, attrs(root)[spans.JobOutcome])
	}
}

// While the consumer cannot be asked, jobs stay outstanding; one warning
// says so, and one line says when it answers again.
func TestConsumerDownKeepsJobsOutstanding(t *testing.T) {
	r := newRig(t, Options{PollEvery: time.Hour})
	r.submit(t, job("waiting", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	r.sink.SetDown(status.Error(grpccodes.Unavailable, "consumer down"))
	r.sink.Complete("waiting")
	r.round()
	r.round()
	if st, _ := r.Stats(); st.Outstanding != 1 || st.StatusPollsFailed != 2 {
		t.Fatalf("stats %+v; want the job outstanding after 2 failed polls", st)
	}
	r.sink.SetDown(nil)
	r.round()
	if st, _ := r.Stats(); st.Outstanding != 0 || st.Confirmed != 1 {
		t.Errorf("stats %+v; want the job confirmed once the consumer answers", st)
	}
}
