package app

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/stats"
)

// callers follows the consumer's gRPC clients: how many connections are
// open, how many calls are in progress and when the last one started or
// ended. It is a stats.Handler of the gRPC server.
//
// It exists for one shutdown case. The consumer is the end of the line:
// what it refuses, nobody else handles. When every service is told to stop
// at once — `bottleneck up` killed, whose children all get SIGTERM from the
// kernel; a pod deleted; `docker compose kill -s TERM` — a consumer that
// stopped taking results at once would leave the workers' drain nothing to
// deliver to: they would retry until their deadline and abandon the
// results, and the producer would wait for confirmations that cannot come.
// So on SIGTERM the consumer keeps serving while its callers are still at
// work (see linger). In an ordered stop (compose down, `up` stopped with
// Ctrl-C) its callers are gone first and it stops at once, as before.
type callers struct {
	now func() time.Time

	mu       sync.Mutex
	conns    int
	inFlight int
	last     time.Time // an RPC started or ended
}

func newCallers(now func() time.Time) *callers {
	if now == nil {
		now = time.Now
	}
	return &callers{now: now, last: now()}
}

func (c *callers) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (c *callers) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s.(type) {
	case *stats.Begin:
		c.mu.Lock()
		c.inFlight++
		c.last = c.now()
		c.mu.Unlock()
	case *stats.End:
		c.mu.Lock()
		c.inFlight--
		c.last = c.now()
		c.mu.Unlock()
	}
}

func (c *callers) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (c *callers) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.mu.Lock()
		c.conns++
		c.mu.Unlock()
	case *stats.ConnEnd:
		c.mu.Lock()
		c.conns--
		c.mu.Unlock()
	}
}

// Why linger stopped waiting.
const (
	callersGone  = "no caller connected"
	callersQuiet = "no call for a while"
	callersLate  = "shutdown deadline near"
)

// lingerPoll is how often linger looks at the callers.
const lingerPoll = 10 * time.Millisecond

// linger returns once no client is connected any more, or none has made a
// call for quiet (and no call is in progress), or ctx ends, and says which.
// Its callers still at work — the workers draining their results, the
// producer asking (every 100 ms) about jobs it waits for — keep it waiting;
// a client that is connected but idle does not, beyond quiet.
func (c *callers) linger(ctx context.Context, quiet time.Duration) string {
	tick := time.NewTicker(lingerPoll)
	defer tick.Stop()
	for {
		c.mu.Lock()
		conns, inFlight, idle := c.conns, c.inFlight, c.now().Sub(c.last)
		c.mu.Unlock()
		switch {
		case conns <= 0:
			return callersGone
		case inFlight <= 0 && idle >= quiet:
			return callersQuiet
		}
		select {
		case <-ctx.Done():
			return callersLate
		case <-tick.C:
		}
	}
}

// connected is the number of client connections open now.
func (c *callers) connected() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns
}
