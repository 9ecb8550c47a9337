package consumer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// sink answers each Deliver with the next code of its script, then OK.
type sink struct {
	jobsv1.UnimplementedResultSinkServer
	script []codes.Code
	calls  atomic.Int32
	// statusCalls is only touched by the one test that calls Status.
	statusCalls []int
}

func (s *sink) Deliver(context.Context, *jobsv1.DeliverRequest) (*jobsv1.DeliverResponse, error) {
	n := int(s.calls.Add(1)) - 1
	if n < len(s.script) {
		return nil, status.Error(s.script[n], "scripted")
	}
	return &jobsv1.DeliverResponse{}, nil
}

// Status says the jobs whose IDs start with "done" were handled, and
// counts the IDs it was asked about per call.
func (s *sink) Status(_ context.Context, req *jobsv1.StatusRequest) (*jobsv1.StatusResponse, error) {
	s.statusCalls = append(s.statusCalls, len(req.GetJobIds()))
	resp := &jobsv1.StatusResponse{}
	for _, id := range req.GetJobIds() {
		resp.Jobs = append(resp.Jobs, &jobsv1.JobStatus{JobId: id, Done: strings.HasPrefix(id, "done")})
	}
	return resp, nil
}

func client(t *testing.T, script ...codes.Code) (*Client, *sink) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{script: script}
	srv := grpc.NewServer()
	jobsv1.RegisterResultSinkServer(srv, s)
	go srv.Serve(l) //nolint:errcheck // ends with Stop
	t.Cleanup(srv.Stop)
	tr, err := tracing.Setup(context.Background(), tracing.Options{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(l.Addr().String(), tr, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, s
}

var result = &jobsv1.Result{Job: &jobsv1.Job{Id: "j"}}

func TestDeliverRetriesWhileUnavailable(t *testing.T) {
	c, s := client(t, codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted)
	attempts, err := c.Deliver(context.Background(), result)
	if err != nil || attempts != 5 || s.calls.Load() != 5 || c.FailedAttempts() != 4 {
		t.Fatalf("Deliver = %d, %v after %d calls", attempts, err, s.calls.Load())
	}
}

// The consumer answers Aborted while a first attempt of the same result
// is still in progress (say, one that timed out here but runs on there):
// the retry then finds it done, deduplicated by job ID.
func TestDeliverRetriesAbortedUntilTheFirstAttemptEnds(t *testing.T) {
	c, s := client(t, codes.Aborted, codes.Aborted, codes.Aborted)
	attempts, err := c.Deliver(context.Background(), result)
	if err != nil || attempts != 4 || s.calls.Load() != 4 {
		t.Fatalf("Deliver = %d, %v after %d calls; want success at the 4th attempt", attempts, err, s.calls.Load())
	}
}

func TestDeliverStopsOnPermanentError(t *testing.T) {
	c, s := client(t, codes.Unavailable, codes.InvalidArgument)
	attempts, err := c.Deliver(context.Background(), result)
	if !IsPermanent(err) || attempts != 2 || s.calls.Load() != 2 {
		t.Fatalf("Deliver = %d, %v after %d calls; want a permanent error after 2", attempts, err, s.calls.Load())
	}
}

func TestDeliverGivesUpWhenContextEnds(t *testing.T) {
	script := make([]codes.Code, 1000)
	for i := range script {
		script[i] = codes.Unavailable
	}
	c, _ := client(t, script...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.Deliver(ctx, result)
	if err == nil || IsPermanent(err) {
		t.Fatalf("Deliver with an ending context = %v", err)
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	for range 1000 {
		if j := jitter(100 * time.Millisecond); j < 50*time.Millisecond || j > 100*time.Millisecond {
			t.Fatalf("jitter(100ms) = %s", j)
		}
	}
}

// Handled asks Status in calls of at most 1000 IDs and reports the done ones.
func TestHandledAsksStatusInBatches(t *testing.T) {
	c, s := client(t)
	ids := make([]string, 0, 2500)
	for i := range 2500 {
		prefix := "open"
		if i%2 == 0 {
			prefix = "done"
		}
		ids = append(ids, fmt.Sprintf("%s-%d", prefix, i))
	}
	got, err := c.Handled(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1250 || !got["done-0"] || got["open-1"] {
		t.Errorf("Handled reported %d jobs (done-0 %v, open-1 %v); want the 1250 done ones", len(got), got["done-0"], got["open-1"])
	}
	if fmt.Sprint(s.statusCalls) != "[1000 1000 500]" {
		t.Errorf("Status calls of %v IDs; want [1000 1000 500]", s.statusCalls)
	}
}
