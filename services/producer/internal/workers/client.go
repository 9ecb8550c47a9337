// Package workers is the producer's client of the worker pool.
package workers

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/grpcclient"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// maxSubmitWait is the longest SUBMIT_WAIT the worker pool accepts (its
// config.MaxSubmitWait): on a full queue the pool may rightly hold a Submit
// that long before it answers RESOURCE_EXHAUSTED.
const maxSubmitWait = time.Minute

// SubmitTimeout bounds one Submit call. It must outlast the longest
// SUBMIT_WAIT, or with a full queue and a long SUBMIT_WAIT every call would
// end in our own DEADLINE_EXCEEDED before the pool could say "queue full";
// the 5 s on top covers the round trip. It still ends a call to a pool that
// hangs.
const SubmitTimeout = maxSubmitWait + 5*time.Second

// Client submits jobs to jobs.v1.WorkerPool.
type Client struct {
	conn *grpc.ClientConn
	pool jobsv1.WorkerPoolClient
	tp   *tracing.Provider
	now  func() time.Time
}

// New returns a client of the pool at addr. It connects lazily: the pool
// being down is an error per Submit, not at start.
func New(addr string, tp *tracing.Provider) (*Client, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcclient.ReconnectWithin(2*time.Second),
		tp.GRPCDialOption(nil))
	if err != nil {
		return nil, fmt.Errorf("worker pool client for %s: %w", addr, err)
	}
	return &Client{conn: conn, pool: jobsv1.NewWorkerPoolClient(conn), tp: tp, now: time.Now}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Submit stamps job's submitted_at and sends it. The job.submit span it
// makes is the root of the job's trace, whatever ctx holds, and covers the
// Submit RPC (whose client span is its child). It returns the trace ID ("" when
// tracing is off).
func (c *Client) Submit(ctx context.Context, job *jobsv1.Job) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("submit %s: %w", job.GetId(), err)
	}
	// A fresh context so the span has no parent; ctx still cancels the call.
	rctx, cancel := context.WithTimeout(context.Background(), SubmitTimeout)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()

	sctx, span := c.tp.StartSpan(rctx, spans.JobSubmit)
	defer span.Finish()
	span.SetTag(spans.JobID, job.GetId())
	span.SetTag(spans.JobType, jobs.TypeName(job.GetType()))
	span.SetTag(spans.JobPriority, jobs.PriorityName(job.GetPriority()))
	span.SetTag(spans.JobTarget, job.GetTarget())
	span.SetTag(spans.JobScenario, job.GetScenario())
	span.SetIntTag(spans.JobSequence, int(job.GetSequence()))
	if job.GetBatch() != "" {
		span.SetTag(spans.JobBatch, job.GetBatch())
	}

	job.SubmittedAt = timestamppb.New(c.now())
	if _, err := c.pool.Submit(sctx, &jobsv1.SubmitRequest{Job: job}); err != nil {
		st := status.Convert(err)
		span.SetTag(tracing.TagError, st.Code().String()+": "+st.Message())
		return span.TraceID(), fmt.Errorf("submit %s: %w", job.GetId(), err)
	}
	return span.TraceID(), nil
}
