// Package workers is the producer's client of the worker pool.
package workers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/grpcclient"
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

// reconnectWithin caps the wait before the client notices a pool that came
// back: jobs the old pool held are re-submitted as soon as it is seen again
// (see Epoch), so this is part of the time a restart costs a burst.
const reconnectWithin = time.Second

// Client submits jobs to jobs.v1.WorkerPool.
type Client struct {
	conn *grpc.ClientConn
	pool jobsv1.WorkerPoolClient

	// mu guards ready and generation: the watcher and a successful Submit
	// both note a connection that became ready, whichever sees it first.
	mu         sync.Mutex
	ready      bool
	generation uint64

	stopWatch context.CancelFunc
	watching  sync.WaitGroup
}

// New returns a client of the pool at addr. It connects in the background:
// the pool being down is an error per Submit, not at start.
func New(addr string, tp *tracing.Provider) (*Client, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcclient.ReconnectWithin(reconnectWithin),
		tp.GRPCDialOption(nil))
	if err != nil {
		return nil, fmt.Errorf("worker pool client for %s: %w", addr, err)
	}
	c := &Client{conn: conn, pool: jobsv1.NewWorkerPoolClient(conn)}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopWatch = cancel
	c.watching.Go(func() { c.watch(ctx) })
	return c, nil
}

// Close releases the connection.
func (c *Client) Close() error {
	c.stopWatch()
	c.watching.Wait()
	return c.conn.Close()
}

// Generation counts the connections to the pool that became ready so far.
// When it grows, the connection was lost and made again: the pool may have
// restarted, and with it lost the jobs it held.
func (c *Client) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation
}

// noteState records the connection's state; a connection that became
// ready starts a new generation.
func (c *Client) noteState(s connectivity.State) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case s == connectivity.Ready && !c.ready:
		c.ready = true
		c.generation++
	case s != connectivity.Ready:
		c.ready = false
	}
	return c.generation
}

// watch follows the connection's state, and reconnects at once when it
// goes idle (gRPC otherwise waits for the next call), so a pool that
// restarted is noticed within reconnectWithin even when nothing is being
// submitted.
func (c *Client) watch(ctx context.Context) {
	for {
		s := c.conn.GetState()
		c.noteState(s)
		switch s {
		case connectivity.Idle:
			c.conn.Connect()
		case connectivity.Shutdown:
			return
		}
		if !c.conn.WaitForStateChange(ctx, s) {
			return
		}
	}
}

// Answer is what one Submit learned.
type Answer struct {
	// AlreadyHeld: the pool held the job already and queued nothing.
	AlreadyHeld bool
	// Generation is the connection generation (see Generation) the answer
	// came on: a later, greater one means the pool may have lost the job.
	Generation uint64
}

// Submit sends one attempt of job, bounded by SubmitTimeout and ctx. ctx's
// span (the attempt's job.submit) is the parent of the gRPC client span.
func (c *Client) Submit(ctx context.Context, job *jobsv1.Job) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, SubmitTimeout)
	defer cancel()
	resp, err := c.pool.Submit(ctx, &jobsv1.SubmitRequest{Job: job})
	if err != nil {
		return Answer{Generation: c.Generation()}, fmt.Errorf("submit %s: %w", job.GetId(), err)
	}
	// The answer proves a ready connection, perhaps before the watcher
	// saw it become ready: note it here, so the job is not taken for one
	// the pool held before a reconnection.
	return Answer{AlreadyHeld: resp.GetAlreadyHeld(), Generation: c.noteState(c.conn.GetState())}, nil
}
