package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

func attrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func TestSpansJoinTheCallersTrace(t *testing.T) {
	h := start(t, Options{})
	ctx, root := h.tp.StartSpan(context.Background(), "test.forwarder")
	req := result("checkout-b1-01", jobsv1.JobType_JOB_TYPE_CACHE_READ)
	req.Result.Job.Attempt = 2
	if _, err := h.client.Deliver(ctx, req); err != nil {
		t.Fatal(err)
	}
	// Status is polled: it must leave no span.
	if _, err := h.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	root.Finish()
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.tp.ForceFlush(fctx); err != nil {
		t.Fatal(err)
	}

	got := h.exp.GetSpans()
	byKind := func(name string, kind trace.SpanKind) tracetest.SpanStub {
		t.Helper()
		var found []tracetest.SpanStub
		for _, s := range got {
			if s.Name == name && (kind == trace.SpanKindUnspecified || s.SpanKind == kind) {
				found = append(found, s)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d spans named %s, want 1 (all: %v)", len(found), name, names(got))
		}
		return found[0]
	}
	server := byKind("jobs.v1.ResultSink/Deliver", trace.SpanKindServer)
	client := byKind("jobs.v1.ResultSink/Deliver", trace.SpanKindClient)
	wait := byKind(spans.ResultWait, trace.SpanKindUnspecified)
	proc := byKind(spans.ResultProcess, trace.SpanKindUnspecified)
	for _, s := range got {
		if s.Name == "jobs.v1.ResultSink/Status" && s.SpanKind == trace.SpanKindServer {
			t.Errorf("Status was traced by the consumer")
		}
	}

	tid := root.TraceID()
	if server.Parent.SpanID() != client.SpanContext.SpanID() {
		t.Errorf("server span's parent is not the client span")
	}
	for _, s := range []tracetest.SpanStub{wait, proc} {
		if s.SpanContext.TraceID().String() != tid {
			t.Errorf("%s is in trace %s, want the caller's %s", s.Name, s.SpanContext.TraceID(), tid)
		}
		if s.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("%s's parent is %s, want the gRPC server span %s", s.Name, s.Parent.SpanID(), server.SpanContext.SpanID())
		}
	}
	if proc.StartTime.Before(wait.EndTime) {
		t.Errorf("result.process must start after result.wait ends")
	}

	w := attrs(wait)
	if w[spans.WaitedBehindCount] != "0" || w[spans.ConsumerConcurrency] != "1" {
		t.Errorf("result.wait %s = %q, %s = %q; want 0 and 1", spans.WaitedBehindCount, w[spans.WaitedBehindCount],
			spans.ConsumerConcurrency, w[spans.ConsumerConcurrency])
	}
	p := attrs(proc)
	for k, want := range map[string]string{
		spans.JobID: "checkout-b1-01", spans.JobType: "cache-read", spans.JobPriority: "normal",
		spans.JobTarget: "user:premium_customer", spans.JobBatch: "b1", spans.JobScenario: "checkout",
		spans.JobSequence: "1", spans.ResultOK: "true", spans.Duplicate: "false",
		spans.WorkMS: "2", spans.QueueWaitMS: "1", spans.SendBlockMS: "40",
		spans.JobAttempt: "2", spans.ConsumerConcurrency: "1",
	} {
		if p[k] != want {
			t.Errorf("result.process %s = %q, want %q", k, p[k], want)
		}
	}
	for _, k := range []string{spans.EndToEndMS, spans.ConsumerWaitMS} {
		if _, ok := p[k]; !ok {
			t.Errorf("result.process lacks %s", k)
		}
	}
}

func TestWaitSpanNamesWhatItWaitedBehind(t *testing.T) {
	g := newGate()
	h := start(t, Options{Sleep: g.sleep})
	wg := deliverAll(t, h, "slow-1")
	waitFor(t, "slow-1 held", h.usageIs(1, 0))
	wg2 := deliverAll(t, h, "fast-2")
	waitFor(t, "fast-2 waiting", h.usageIs(1, 1))
	close(g.open)
	wg.Wait()
	wg2.Wait()
	if err := h.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range h.exp.GetSpans() {
		if s.Name != spans.ResultWait {
			continue
		}
		if a := attrs(s); a[spans.WaitedBehindCount] == "1" {
			if a[spans.WaitedBehindJobs] != "slow-1" {
				t.Errorf("waited behind %q, want slow-1", a[spans.WaitedBehindJobs])
			}
			return
		}
	}
	t.Fatal("no result.wait span with waited_behind.count=1")
}

func names(ss []tracetest.SpanStub) []string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return n
}

// The time Status reports for a job (where the producer ends its root) is
// the ledger's record, and result.process covers it: it starts before the
// job was handled and ends after the record was written. Its
// job.end_to_end_ms runs to that same time.
func TestResultProcessCoversTheRecordedCompletion(t *testing.T) {
	h := start(t, Options{})
	req := result("checkout-b1-02", jobsv1.JobType_JOB_TYPE_CACHE_READ)
	submitted := time.Now().Add(-300 * time.Millisecond)
	req.Result.Job.SubmittedAt = timestamppb.New(submitted)
	if _, err := h.client.Deliver(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	st, err := h.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: []string{"checkout-b1-02"}})
	if err != nil || !st.GetJobs()[0].GetDone() {
		t.Fatalf("Status = %v, %v", st, err)
	}
	completed := st.GetJobs()[0].GetCompletedAt().AsTime()
	if err := h.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var proc *tracetest.SpanStub
	for _, s := range h.exp.GetSpans() {
		if s.Name == spans.ResultProcess {
			proc = &s
		}
	}
	if proc == nil {
		t.Fatal("no result.process span")
	}
	if completed.Before(proc.StartTime) || completed.After(proc.EndTime) {
		t.Errorf("completed_at %s is outside result.process [%s, %s]", completed.Format(time.StampMicro),
			proc.StartTime.Format(time.StampMicro), proc.EndTime.Format(time.StampMicro))
	}
	want := fmt.Sprint(completed.Sub(submitted).Round(time.Millisecond).Milliseconds())
	if got := attrs(*proc)[spans.EndToEndMS]; got != want {
		t.Errorf("result.process %s = %s; completed_at - submitted_at = %s ms", spans.EndToEndMS, got, want)
	}
}
