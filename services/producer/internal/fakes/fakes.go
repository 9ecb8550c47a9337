// Package fakes holds test doubles of the worker pool and the consumer,
// served over real loopback gRPC so the producer's clients are tested as
// they run.
package fakes

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// Pool is a fake jobs.v1.WorkerPool that records what it was sent.
type Pool struct {
	jobsv1.UnimplementedWorkerPoolServer

	mu    sync.Mutex
	jobs  []*jobsv1.Job
	calls []*jobsv1.Job
	// Refuse, when set, decides per job whether Submit fails.
	refuse func(*jobsv1.Job) error
	// held, when set, decides per job whether Submit answers already_held.
	held func(*jobsv1.Job) bool
	// accepted is called for every accepted job (e.g. to complete it in a Sink).
	accepted func(*jobsv1.Job)
	// deadlines is, per call, the time left before the caller's deadline
	// when the call arrived (0 for none).
	deadlines []time.Duration
}

// Deadlines returns, per Submit call in arrival order, how long the caller
// gave it: the time left before its deadline on arrival (0 for none).
func (p *Pool) Deadlines() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.deadlines...)
}

// SetRefuse sets the function that makes Submit fail for some jobs.
func (p *Pool) SetRefuse(f func(*jobsv1.Job) error) {
	p.mu.Lock()
	p.refuse = f
	p.mu.Unlock()
}

// SetHeld sets the function that makes Submit answer already_held (and
// queue nothing) for some jobs.
func (p *Pool) SetHeld(f func(*jobsv1.Job) bool) {
	p.mu.Lock()
	p.held = f
	p.mu.Unlock()
}

// Calls returns every Submit's job in arrival order, refused and held
// ones included.
func (p *Pool) Calls() []*jobsv1.Job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*jobsv1.Job(nil), p.calls...)
}

// OnAccept sets what happens to each accepted job.
func (p *Pool) OnAccept(f func(*jobsv1.Job)) {
	p.mu.Lock()
	p.accepted = f
	p.mu.Unlock()
}

// Submit implements jobs.v1.WorkerPool.
func (p *Pool) Submit(ctx context.Context, req *jobsv1.SubmitRequest) (*jobsv1.SubmitResponse, error) {
	var left time.Duration
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	p.mu.Lock()
	refuse, accepted, held := p.refuse, p.accepted, p.held
	p.deadlines = append(p.deadlines, left)
	p.calls = append(p.calls, proto.Clone(req.GetJob()).(*jobsv1.Job))
	p.mu.Unlock()
	if refuse != nil {
		if err := refuse(req.GetJob()); err != nil {
			return nil, err
		}
	}
	if held != nil && held(req.GetJob()) {
		return &jobsv1.SubmitResponse{AlreadyHeld: true}, nil
	}
	p.mu.Lock()
	p.jobs = append(p.jobs, proto.Clone(req.GetJob()).(*jobsv1.Job))
	p.mu.Unlock()
	if accepted != nil {
		accepted(req.GetJob())
	}
	return &jobsv1.SubmitResponse{}, nil
}

// Jobs returns the accepted jobs in arrival order.
func (p *Pool) Jobs() []*jobsv1.Job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*jobsv1.Job(nil), p.jobs...)
}

// Sink is a fake jobs.v1.ResultSink whose Status reports the jobs Complete
// was called for.
type Sink struct {
	jobsv1.UnimplementedResultSinkServer

	mu    sync.Mutex
	done  map[string]handled
	polls int
	sizes []int
	down  error
}

type handled struct {
	at time.Time
	ok bool
}

// Complete marks id as handled now, successfully.
func (s *Sink) Complete(id string) { s.CompleteAt(id, time.Now(), true) }

// CompleteAt marks id as handled at t, with the result's ok.
func (s *Sink) CompleteAt(id string, t time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = map[string]handled{}
	}
	s.done[id] = handled{t, ok}
}

// SetDown makes Status fail with err (nil: answer again).
func (s *Sink) SetDown(err error) {
	s.mu.Lock()
	s.down = err
	s.mu.Unlock()
}

// Sizes returns how many IDs each Status call asked about.
func (s *Sink) Sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// Polls counts Status calls.
func (s *Sink) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// Status implements jobs.v1.ResultSink.
func (s *Sink) Status(_ context.Context, req *jobsv1.StatusRequest) (*jobsv1.StatusResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	s.sizes = append(s.sizes, len(req.GetJobIds()))
	if s.down != nil {
		return nil, s.down
	}
	resp := &jobsv1.StatusResponse{}
	for _, id := range req.GetJobIds() {
		js := &jobsv1.JobStatus{JobId: id}
		if h, ok := s.done[id]; ok {
			js.Done, js.Ok, js.CompletedAt = true, h.ok, timestamppb.New(h.at)
		}
		resp.Jobs = append(resp.Jobs, js)
	}
	return resp, nil
}

// Serve starts a gRPC server on a loopback port with the given services
// registered and returns its address; it stops when the test ends.
func Serve(t testing.TB, pool *Pool, sink *Sink) string {
	t.Helper()
	addr, _ := ServeAt(t, "127.0.0.1:0", pool, sink)
	return addr
}

// ServeAt is Serve on addr; stop ends the server before the test does
// (a pool that goes away, to be served again on the same address).
func ServeAt(t testing.TB, addr string, pool *Pool, sink *Sink) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	if pool != nil {
		jobsv1.RegisterWorkerPoolServer(g, pool)
	}
	if sink != nil {
		jobsv1.RegisterResultSinkServer(g, sink)
	}
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	return l.Addr().String(), g.Stop
}
