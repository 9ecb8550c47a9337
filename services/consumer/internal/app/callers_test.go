package app

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// clock is a settable time for callers: "quiet" passes only when a test
// says so, whatever the machine's load.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sink is a ResultSink whose Deliver holds until release is closed.
type sink struct {
	jobsv1.UnimplementedResultSinkServer
	entered chan struct{}
	release chan struct{}
}

func (s *sink) Deliver(context.Context, *jobsv1.DeliverRequest) (*jobsv1.DeliverResponse, error) {
	s.entered <- struct{}{}
	<-s.release
	return &jobsv1.DeliverResponse{}, nil
}

func (s *sink) Status(context.Context, *jobsv1.StatusRequest) (*jobsv1.StatusResponse, error) {
	return &jobsv1.StatusResponse{}, nil
}

// serve runs a gRPC server on loopback with calls as its stats handler and
// returns a connected client.
func serve(t *testing.T, calls *callers, s *sink) (jobsv1.ResultSinkClient, *grpc.ClientConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.StatsHandler(calls))
	jobsv1.RegisterResultSinkServer(g, s)
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return jobsv1.NewResultSinkClient(conn), conn
}

// lingerAsync runs linger and delivers its answer.
func lingerAsync(ctx context.Context, calls *callers, quiet time.Duration) <-chan string {
	out := make(chan string, 1)
	go func() { out <- calls.linger(ctx, quiet) }()
	return out
}

// waitFor polls cond; the callers' counts change on the server's
// goroutines, after the client's call has returned.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stillWaiting checks that linger has not returned; lingerPoll ticks pass
// meanwhile, so a wrong early return would show.
func stillWaiting(t *testing.T, done <-chan string, why string) {
	t.Helper()
	select {
	case got := <-done:
		t.Fatalf("linger returned %q while %s", got, why)
	case <-time.After(20 * lingerPoll):
	}
}

func answer(t *testing.T, done <-chan string) string {
	t.Helper()
	select {
	case got := <-done:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("linger did not return")
		return ""
	}
}

func TestLingerReturnsAtOnceWithoutCallers(t *testing.T) {
	calls := newCallers(nil)
	if got := answer(t, lingerAsync(context.Background(), calls, time.Hour)); got != callersGone {
		t.Errorf("linger without a caller = %q, want %q", got, callersGone)
	}
}

// The consumer serves a caller that is at work — a call in progress, or
// calls within quiet of each other — and stops waiting once it leaves.
func TestLingerWaitsWhileACallerWorksThenForItsLeaving(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	calls := newCallers(clk.now)
	s := &sink{entered: make(chan struct{}), release: make(chan struct{})}
	client, conn := serve(t, calls, s)

	delivered := make(chan error, 1)
	go func() {
		_, err := client.Deliver(context.Background(), &jobsv1.DeliverRequest{})
		delivered <- err
	}()
	<-s.entered
	done := lingerAsync(context.Background(), calls, time.Second)
	clk.advance(time.Hour) // long past quiet, but a call is in progress
	stillWaiting(t, done, "a Deliver is in progress")

	close(s.release)
	if err := <-delivered; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to end", func() bool { calls.mu.Lock(); defer calls.mu.Unlock(); return calls.inFlight == 0 })
	// Just called: not quiet yet.
	stillWaiting(t, done, "the caller called less than a second ago")
	if _, err := client.Status(context.Background(), &jobsv1.StatusRequest{}); err != nil {
		t.Fatal(err)
	}
	clk.advance(999 * time.Millisecond)
	stillWaiting(t, done, "the caller called 999ms ago")

	_ = conn.Close()
	if got := answer(t, done); got != callersGone {
		t.Errorf("linger after the caller left = %q, want %q", got, callersGone)
	}
}

// A caller connected but idle for quiet does not hold the consumer.
func TestLingerStopsForAnIdleCaller(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	calls := newCallers(clk.now)
	client, _ := serve(t, calls, &sink{})
	if _, err := client.Status(context.Background(), &jobsv1.StatusRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to end", func() bool { calls.mu.Lock(); defer calls.mu.Unlock(); return calls.inFlight == 0 })
	done := lingerAsync(context.Background(), calls, time.Second)
	stillWaiting(t, done, "the caller called just now")
	clk.advance(time.Second)
	if got := answer(t, done); got != callersQuiet {
		t.Errorf("linger with an idle caller = %q, want %q", got, callersQuiet)
	}
}

// However busy its callers, the consumer stops waiting at the deadline.
func TestLingerEndsWithItsContext(t *testing.T) {
	calls := newCallers(nil)
	s := &sink{entered: make(chan struct{}), release: make(chan struct{})}
	client, _ := serve(t, calls, s)
	go func() { _, _ = client.Deliver(context.Background(), &jobsv1.DeliverRequest{}) }()
	<-s.entered
	defer close(s.release)
	ctx, cancel := context.WithCancel(context.Background())
	done := lingerAsync(ctx, calls, time.Millisecond)
	stillWaiting(t, done, "a Deliver is in progress")
	cancel()
	if got := answer(t, done); got != callersLate {
		t.Errorf("linger at its deadline = %q, want %q", got, callersLate)
	}
}
