// Package fakes holds the test doubles of the workers' neighbours: a
// consumer that is a real gRPC ResultSink, slow and (by default) serial
// like the real one, and a vendor API on a real HTTP server whose answers
// tests set.
package fakes

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// Consumer is a ResultSink that handles a fixed number of results at a
// time (one, like the real consumer's default), taking Delay for each, and
// records every delivery.
type Consumer struct {
	jobsv1.UnimplementedResultSinkServer
	Delay time.Duration

	slots  chan struct{} // one per result handled at once
	mu     sync.Mutex
	counts map[string]int
	order  []*jobsv1.Result
	// inFlight counts Deliver calls in progress, those waiting for a
	// slot included: how many the workers make at once.
	inFlight, maxInFlight int
	srv                   *grpc.Server
	addr                  string
}

// StartConsumer serves a serial consumer on addr ("127.0.0.1:0" for any
// port) until the test ends.
func StartConsumer(t testing.TB, addr string, delay time.Duration) *Consumer {
	t.Helper()
	return StartConcurrentConsumer(t, addr, delay, 1)
}

// StartConcurrentConsumer serves a consumer that handles up to concurrency
// results at once.
func StartConcurrentConsumer(t testing.TB, addr string, delay time.Duration, concurrency int) *Consumer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("fake consumer: %v", err)
	}
	c := &Consumer{Delay: delay, slots: make(chan struct{}, concurrency), counts: map[string]int{},
		srv: grpc.NewServer(), addr: l.Addr().String()}
	jobsv1.RegisterResultSinkServer(c.srv, c)
	go c.srv.Serve(l) //nolint:errcheck // ends with Stop
	t.Cleanup(c.srv.Stop)
	return c
}

// Addr is the consumer's address.
func (c *Consumer) Addr() string { return c.addr }

// Deliver records r after Delay.
func (c *Consumer) Deliver(ctx context.Context, req *jobsv1.DeliverRequest) (*jobsv1.DeliverResponse, error) {
	c.mu.Lock()
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	c.slots <- struct{}{}
	defer func() { <-c.slots }()
	if c.Delay > 0 {
		time.Sleep(c.Delay)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := req.GetResult().GetJob().GetId()
	c.counts[id]++
	c.order = append(c.order, req.GetResult())
	return &jobsv1.DeliverResponse{Duplicate: c.counts[id] > 1}, nil
}

// MaxInFlight is the most Deliver calls that were in progress at once
// since the start or the last ResetMaxInFlight.
func (c *Consumer) MaxInFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxInFlight
}

// ResetMaxInFlight starts a new MaxInFlight measurement.
func (c *Consumer) ResetMaxInFlight() {
	c.mu.Lock()
	c.maxInFlight = c.inFlight
	c.mu.Unlock()
}

// Results returns the deliveries so far, in order.
func (c *Consumer) Results() []*jobsv1.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*jobsv1.Result(nil), c.order...)
}

// Counts returns how often each job's result was delivered.
func (c *Consumer) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		m[k] = v
	}
	return m
}

// WaitFor polls until n results arrived, failing the test after timeout.
func (c *Consumer) WaitFor(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() bool { return len(c.Results()) >= n }, "consumer got %d results", n)
}

// Eventually polls cond every few milliseconds until it holds, failing the
// test with msg after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Vendor is a vendor API on a real HTTP server. Answer decides each call;
// by default every call answers 200 at once.
type Vendor struct {
	*httptest.Server
	mu     sync.Mutex
	answer func(path string) (delay time.Duration, status int)
	calls  int
}

// Hang is a delay that lasts until the caller gives up.
const Hang = time.Duration(-1)

// StartVendor serves a vendor until the test ends.
func StartVendor(t testing.TB) *Vendor {
	v := &Vendor{answer: func(string) (time.Duration, int) { return 0, http.StatusOK }}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.Close)
	return v
}

// Answer sets how calls are answered.
func (v *Vendor) Answer(f func(path string) (delay time.Duration, status int)) {
	v.mu.Lock()
	v.answer = f
	v.mu.Unlock()
}

// Calls counts the calls so far.
func (v *Vendor) Calls() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls
}

func (v *Vendor) serve(w http.ResponseWriter, r *http.Request) {
	// The server notices a client that gave up (r.Context() ends) only
	// once the request body has been read.
	io.Copy(io.Discard, r.Body) //nolint:errcheck // the body is not used
	v.mu.Lock()
	v.calls++
	delay, status := v.answer(r.URL.Path)
	v.mu.Unlock()
	switch {
	case delay == Hang:
		<-r.Context().Done()
		return
	case delay > 0:
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"ok":true}`)) //nolint:errcheck // the caller may be gone
}
