// Package consumer is the producer's client of the result consumer: it asks
// which jobs were handled, so the producer knows which jobs it may forget
// and which to re-submit.
package consumer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/grpcclient"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// Client polls jobs.v1.ResultSink/Status. It is deliberately not traced:
// polling every 100 ms would bury the jobs' traces.
type Client struct {
	conn *grpc.ClientConn
	sink jobsv1.ResultSinkClient
}

// New returns a client of the consumer at addr; it connects lazily.
func New(addr string) (*Client, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcclient.ReconnectWithin(2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("consumer client for %s: %w", addr, err)
	}
	return &Client{conn: conn, sink: jobsv1.NewResultSinkClient(conn)}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Status asks about ids, in calls of at most jobs.MaxStatusIDs.
func (c *Client) Status(ctx context.Context, ids []string) ([]*jobsv1.JobStatus, error) {
	out := make([]*jobsv1.JobStatus, 0, len(ids))
	for batch := range slices.Chunk(ids, jobs.MaxStatusIDs) {
		resp, err := c.sink.Status(ctx, &jobsv1.StatusRequest{JobIds: batch})
		if err != nil {
			return out, fmt.Errorf("consumer status: %w", err)
		}
		out = append(out, resp.GetJobs()...)
	}
	return out, nil
}
