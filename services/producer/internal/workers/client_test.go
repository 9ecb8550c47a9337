package workers

import (
	"context"
	"errors"
	"strings"
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
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
)

func setup(t *testing.T) (*Client, *fakes.Pool, *tracing.Provider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "producer", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	pool := &fakes.Pool{}
	c, err := New(fakes.Serve(t, pool, nil), tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, pool, tp, exp
}

func job() *jobsv1.Job {
	return &jobsv1.Job{Id: "checkout-ab12cd34-04", Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Target: "/v1/payment/authorize",
		Priority: jobsv1.Priority_PRIORITY_CRITICAL, Scenario: "checkout", Sequence: 4, Batch: "ab12cd34"}
}

func TestSubmitIsTheRootOfTheJobsTrace(t *testing.T) {
	c, pool, tp, exp := setup(t)
	// Even a caller holding a span must not become the job's parent.
	ctx, outer := tp.StartSpan(context.Background(), "caller")
	defer outer.Finish()
	traceID, err := c.Submit(ctx, job())
	if err != nil {
		t.Fatal(err)
	}
	if traceID == "" || traceID == outer.TraceID() {
		t.Fatalf("trace ID %q: want a new trace, not the caller's %q", traceID, outer.TraceID())
	}
	got := pool.Jobs()
	if len(got) != 1 || got[0].GetSubmittedAt() == nil || time.Since(got[0].GetSubmittedAt().AsTime()) > time.Minute {
		t.Fatalf("pool got %v, want the job stamped with submitted_at", got)
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var root, client *tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch {
		case s.Name == spans.JobSubmit:
			root = &s
		case s.SpanKind == trace.SpanKindClient && strings.Contains(s.Name, "WorkerPool/Submit"):
			client = &s
		}
	}
	if root == nil || client == nil {
		t.Fatalf("want job.submit and the gRPC client span, got %v", exp.GetSpans())
	}
	if root.Parent.IsValid() {
		t.Errorf("job.submit has parent %s, want none (root)", root.Parent.SpanID())
	}
	if root.SpanContext.TraceID().String() != traceID {
		t.Errorf("job.submit in trace %s, Submit returned %s", root.SpanContext.TraceID(), traceID)
	}
	if client.Parent.SpanID() != root.SpanContext.SpanID() || client.SpanContext.TraceID() != root.SpanContext.TraceID() {
		t.Errorf("gRPC client span is not job.submit's child")
	}
	a := map[string]string{}
	for _, kv := range root.Attributes {
		a[string(kv.Key)] = kv.Value.Emit()
	}
	for k, want := range map[string]string{
		spans.JobID: "checkout-ab12cd34-04", spans.JobType: "vendor-api", spans.JobPriority: "critical",
		spans.JobTarget: "/v1/payment/authorize", spans.JobBatch: "ab12cd34", spans.JobSequence: "4", spans.JobScenario: "checkout",
	} {
		if a[k] != want {
			t.Errorf("job.submit %s = %q, want %q", k, a[k], want)
		}
	}
}

func TestSubmitErrorTagsTheSpan(t *testing.T) {
	c, pool, tp, exp := setup(t)
	pool.SetRefuse(func(*jobsv1.Job) error { return status.Error(grpccodes.ResourceExhausted, "queue full") })
	_, err := c.Submit(context.Background(), job())
	if status.Code(err) != grpccodes.ResourceExhausted || !strings.Contains(err.Error(), "checkout-ab12cd34-04") {
		t.Fatalf("err %v: want ResourceExhausted, wrapped with the job ID", err)
	}
	_ = tp.ForceFlush(context.Background())
	for _, s := range exp.GetSpans() {
		if s.Name == spans.JobSubmit {
			if s.Status.Code != codes.Error || !strings.Contains(s.Status.Description, "ResourceExhausted") {
				t.Errorf("job.submit status %+v, want Error naming ResourceExhausted", s.Status)
			}
			return
		}
	}
	t.Fatal("no job.submit span")
}

// With a full queue the pool holds a Submit for up to SUBMIT_WAIT (at most
// 1m, the workers' config.MaxSubmitWait) before answering
// RESOURCE_EXHAUSTED. A shorter client deadline would turn every such
// answer into DEADLINE_EXCEEDED.
func TestSubmitOutlastsTheLongestSubmitWait(t *testing.T) {
	c, pool, _, _ := setup(t)
	if _, err := c.Submit(context.Background(), job()); err != nil {
		t.Fatal(err)
	}
	const longestSubmitWait = time.Minute
	got := pool.Deadlines()
	if len(got) != 1 || got[0] <= longestSubmitWait || got[0] > SubmitTimeout {
		t.Errorf("the pool was given %v to answer; want more than the longest SUBMIT_WAIT (%v), at most %v",
			got, longestSubmitWait, SubmitTimeout)
	}
}

func TestSubmitToAPoolThatIsDownFailsQuickly(t *testing.T) {
	tp, _ := tracing.Setup(context.Background(), tracing.Options{Disabled: true})
	c, err := New("127.0.0.1:1", tp) // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Submit(context.Background(), job())
	if status.Code(err) != grpccodes.Unavailable {
		t.Errorf("err %v, want Unavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Submit(ctx, job()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err %v, want Canceled", err)
	}
}
