// Package consumer is the workers' client of the result consumer: it
// delivers one result with jobs.v1.ResultSink/Deliver, retrying while the
// consumer is unavailable so that no result is lost.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// Options tune the retries. Zero values take the defaults.
type Options struct {
	// InitialBackoff is the wait after the first failed attempt (default
	// 50ms); each further failure doubles it up to MaxBackoff (default 2s).
	// The actual wait is drawn uniformly from [wait/2, wait] so that a
	// consumer coming back is not hit in lockstep.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// AttemptTimeout bounds one Deliver call (default 30s); a consumer that
	// hangs is then retried like an unavailable one (it dedupes by job ID).
	AttemptTimeout time.Duration
}

func (o *Options) defaults() {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = max(2*time.Second, o.InitialBackoff)
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
}

// Client delivers results to the consumer.
type Client struct {
	conn *grpc.ClientConn
	rpc  jobsv1.ResultSinkClient
	opts Options
	log  *slog.Logger

	failed atomic.Uint64
}

// FailedAttempts counts Deliver calls that failed, retried or not.
func (c *Client) FailedAttempts() uint64 { return c.failed.Load() }

// New makes a client of the consumer at addr. The connection is lazy
// (grpc.NewClient): the workers may start before the consumer, and the
// first deliveries are simply retried until it answers.
func New(addr string, tr *tracing.Provider, log *slog.Logger, o Options) (*Client, error) {
	o.defaults()
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// gRPC's own reconnect backoff grows to 2 minutes by default: a
		// consumer back after an outage would sit idle that long. Cap it
		// like the delivery retries.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  o.InitialBackoff,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   o.MaxBackoff,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
		// Status is asked at the shutdown deadline about cut deliveries,
		// outside any job's trace: traced, each question would be a
		// trace of its own.
		tr.GRPCDialOption(func(method string) bool { return method == jobsv1.ResultSink_Status_FullMethodName }),
	)
	if err != nil {
		return nil, fmt.Errorf("consumer client for %s: %w", addr, err)
	}
	return &Client{conn: conn, rpc: jobsv1.NewResultSinkClient(conn), opts: o, log: log}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// PermanentError is an answer that retrying cannot change (the consumer
// rejected the result).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "consumer rejected the result: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Deliver sends r, retrying with capped exponential backoff and jitter
// while the consumer is unavailable, until it is accepted, rejected for
// good (*PermanentError) or ctx ends. It reports how many attempts it made.
func (c *Client) Deliver(ctx context.Context, r *jobsv1.Result) (attempts int, err error) {
	wait := c.opts.InitialBackoff
	for attempts = 1; ; attempts++ {
		actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
		_, err = c.rpc.Deliver(actx, &jobsv1.DeliverRequest{Result: r})
		cancel()
		if err == nil {
			return attempts, nil
		}
		c.failed.Add(1)
		if ctx.Err() != nil {
			return attempts, fmt.Errorf("deliver result of job %s: gave up after %d attempts: %w", r.GetJob().GetId(), attempts, context.Cause(ctx))
		}
		if !retryable(status.Code(err)) {
			return attempts, &PermanentError{Err: err}
		}
		level := slog.LevelDebug
		if attempts == 1 {
			level = slog.LevelWarn
		}
		c.log.Log(ctx, level, "result not accepted yet; retrying", spans.JobID, r.GetJob().GetId(), "attempt", attempts,
			"code", status.Code(err).String(), "err", err)
		if err := sleep(ctx, jitter(wait)); err != nil {
			return attempts, fmt.Errorf("deliver result of job %s: gave up after %d attempts: %w", r.GetJob().GetId(), attempts, err)
		}
		wait = min(2*wait, c.opts.MaxBackoff)
	}
}

// Handled asks the consumer's Status which of ids it has handled, in calls
// of at most jobs.MaxStatusIDs. One failed call fails the question: an
// answer for some IDs only would count the others as not handled.
func (c *Client) Handled(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for batch := range slices.Chunk(ids, jobs.MaxStatusIDs) {
		resp, err := c.rpc.Status(ctx, &jobsv1.StatusRequest{JobIds: batch})
		if err != nil {
			return nil, fmt.Errorf("consumer status of %d jobs: %w", len(ids), err)
		}
		for _, st := range resp.GetJobs() {
			if st.GetDone() {
				out[st.GetJobId()] = true
			}
		}
	}
	return out, nil
}

// retryable lists the codes that mean "not now" rather than "not this".
// Aborted is the consumer's answer while an earlier attempt of the same
// result is still being processed there: the retry finds it done.
func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// IsPermanent reports whether err is a rejection that retrying won't fix.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
