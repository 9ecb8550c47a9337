package workers

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
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

// Submit reports already_held, and what the pool refused, as it is.
func TestSubmitAnswers(t *testing.T) {
	c, pool, _, _ := setup(t)
	a, err := c.Submit(context.Background(), job())
	if err != nil || a.AlreadyHeld {
		t.Fatalf("Submit = %+v, %v; want accepted", a, err)
	}
	if a.Generation == 0 {
		t.Errorf("an answer on generation 0: the connection it came on was not counted")
	}
	pool.SetHeld(func(*jobsv1.Job) bool { return true })
	if a, err := c.Submit(context.Background(), job()); err != nil || !a.AlreadyHeld {
		t.Fatalf("Submit of a held job = %+v, %v; want already_held", a, err)
	}
	pool.SetRefuse(func(*jobsv1.Job) error { return status.Error(grpccodes.ResourceExhausted, "queue full") })
	_, err = c.Submit(context.Background(), job())
	if status.Code(err) != grpccodes.ResourceExhausted || !strings.Contains(err.Error(), "checkout-ab12cd34-04") {
		t.Fatalf("err %v: want ResourceExhausted, wrapped with the job ID", err)
	}
}

// The generation grows when the pool's connection is lost and made again
// (a restart), not with every call.
func TestGenerationGrowsWhenThePoolComesBack(t *testing.T) {
	tp, _ := tracing.Setup(context.Background(), tracing.Options{Disabled: true})
	pool := &fakes.Pool{}
	addr, stop := fakes.ServeAt(t, "127.0.0.1:0", pool, nil)
	c, err := New(addr, tp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.Submit(context.Background(), job())
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Submit(context.Background(), job())
	if err != nil || again.Generation != first.Generation {
		t.Fatalf("second Submit on generation %d (err %v); want %d, the same connection", again.Generation, err, first.Generation)
	}
	stop()
	if _, err := c.Submit(context.Background(), job()); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Submit to a stopped pool: %v; want Unavailable", err)
	}
	fakes.ServeAt(t, addr, pool, nil)
	// Nothing is submitted: the client notices the pool by itself.
	deadline := time.Now().Add(10 * time.Second)
	for c.Generation() <= first.Generation {
		if time.Now().After(deadline) {
			t.Fatalf("generation still %d 10s after the pool came back", c.Generation())
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	a, err := c.Submit(context.Background(), job())
	if status.Code(err) != grpccodes.Unavailable || a.Generation != 0 {
		t.Errorf("Submit = %+v, %v; want Unavailable on generation 0", a, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Submit(ctx, job()); status.Code(err) != grpccodes.Canceled {
		t.Errorf("cancelled ctx: err %v, want Canceled", err)
	}
}
