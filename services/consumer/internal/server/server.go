// Package server is the consumer's server side: the jobs.v1.ResultSink gRPC
// service that takes results from the worker pool, and the HTTP endpoints
// that show and change how it works.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoobzio/tracez"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/ledger"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/sink"
)

const (
	recentWindow = 1024 // outcomes kept for percentiles
	slowestShown = 5    // slowest fast jobs in /stats
)

// Settings are the knobs /admin/config changes at run time.
type Settings struct {
	ProcessDelay time.Duration
	Concurrency  int
}

// Options build a Server.
type Options struct {
	Tracing  *tracing.Provider
	Log      *slog.Logger
	Settings Settings
	// Ledger records handled jobs durably (required); the server does not
	// close it.
	Ledger *ledger.Ledger
	// Sleep stands for the work of handling one result (nil = time.Sleep);
	// tests replace it to control and observe processing.
	Sleep func(time.Duration)
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Server implements jobs.v1.ResultSink and the consumer's HTTP endpoints.
type Server struct {
	jobsv1.UnimplementedResultSinkServer

	tp     *tracing.Provider
	log    *slog.Logger
	sleep  func(time.Duration)
	now    func() time.Time
	slots  *sink.Slots
	ledger *ledger.Ledger
	book   *sink.Book

	// cancelled counts results whose caller gave up while waiting for a slot.
	cancelled atomic.Uint64
	// retriesAsked counts deliveries answered ABORTED because an earlier
	// attempt still held the job.
	retriesAsked atomic.Uint64

	mu       sync.Mutex // guards settings and keeps slots' limit in step with it
	settings Settings
}

// New returns a server; opts.Settings must be valid (config.Load checks them).
func New(opts Options) *Server {
	s := &Server{
		tp:       opts.Tracing,
		log:      opts.Log,
		sleep:    opts.Sleep,
		now:      opts.Now,
		slots:    sink.NewSlots(opts.Settings.Concurrency),
		ledger:   opts.Ledger,
		book:     sink.NewBook(recentWindow),
		settings: opts.Settings,
	}
	if s.sleep == nil {
		s.sleep = time.Sleep
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// GRPCServer returns a gRPC server with ResultSink registered. Status is
// polled by the producer, so it is not traced.
func (s *Server) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	skip := func(method string) bool { return method == jobsv1.ResultSink_Status_FullMethodName }
	g := grpc.NewServer(append([]grpc.ServerOption{s.tp.GRPCServerOption(skip)}, opts...)...)
	jobsv1.RegisterResultSinkServer(g, s)
	return g
}

// Settings returns the current run-time settings.
func (s *Server) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// Deliver takes one result: it waits for a slot (result.wait), handles the
// result (result.process), records it in the ledger and replies. The reply
// comes only once the outcome is on disk: a result acknowledged is a result
// the consumer will remember after a restart. A job already handled is
// answered duplicate=true and not handled again. A job an earlier attempt
// still holds is answered ABORTED: that attempt may yet give up waiting for
// a slot, and a duplicate=true answer would make the caller drop a result
// nobody handled. A ledger that cannot be read or written answers
// UNAVAILABLE. The workers retry ABORTED and UNAVAILABLE.
func (s *Server) Deliver(ctx context.Context, req *jobsv1.DeliverRequest) (*jobsv1.DeliverResponse, error) {
	if err := validateDeliver(req); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	res := req.GetResult()
	job := res.GetJob()
	arrived := s.now()

	claim, err := s.ledger.Claim(job.GetId())
	if err != nil {
		s.log.ErrorContext(ctx, "ledger unreadable; asked the caller to retry", spans.JobID, job.GetId(), "err", err)
		return nil, status.Errorf(codes.Unavailable, "result for job %s not taken: %v; retry", job.GetId(), err)
	}
	switch claim {
	case ledger.Claimed:
	case ledger.InProgress:
		s.retriesAsked.Add(1)
		s.log.InfoContext(ctx, "result is being handled by an earlier attempt; asked the caller to retry",
			spans.JobID, job.GetId(), "type", jobs.TypeName(job.GetType()))
		return nil, status.Errorf(codes.Aborted, "result for job %s is being handled by an earlier attempt; retry", job.GetId())
	default: // ledger.Handled
		pctx, span := s.tp.StartSpan(ctx, spans.ResultProcess)
		tagJob(span, job)
		span.SetBoolTag(spans.Duplicate, true)
		span.SetBoolTag(spans.ResultOK, res.GetOk())
		if err := s.ledger.Duplicate(); err != nil {
			// The result itself is recorded; only the counter is not.
			s.log.WarnContext(pctx, "duplicate not counted", spans.JobID, job.GetId(), "err", err)
		}
		span.Finish()
		s.log.InfoContext(pctx, "duplicate result ignored", spans.JobID, job.GetId(), "type", jobs.TypeName(job.GetType()))
		return &jobsv1.DeliverResponse{Duplicate: true}, nil
	}

	concurrency := s.Settings().Concurrency
	wctx, wait := s.tp.StartSpan(ctx, spans.ResultWait)
	wait.SetIntTag(spans.ConsumerConcurrency, concurrency)
	release, ahead, err := s.slots.Acquire(wctx, job.GetId())
	wait.SetIntTag(spans.WaitedBehindCount, ahead.Count)
	if len(ahead.IDs) > 0 {
		wait.SetTag(spans.WaitedBehindJobs, strings.Join(ahead.IDs, ","))
	}
	if err != nil {
		// Not handled: forget the claim so that the forwarder's retry is.
		s.ledger.Forget(job.GetId())
		s.cancelled.Add(1)
		wait.SetTag(tracing.TagError, "gave up waiting for a consumer slot: "+err.Error())
		wait.Finish()
		s.log.WarnContext(wctx, "result abandoned while waiting for a slot", spans.JobID, job.GetId(), "err", err)
		return nil, status.FromContextError(err).Err()
	}
	wait.Finish()
	defer release()
	consumerWait := s.now().Sub(arrived)

	// result.process ends after the ledger's record (deferred), so it
	// covers the time the record says the job was handled.
	pctx, proc := s.tp.StartSpan(ctx, spans.ResultProcess)
	defer proc.Finish()
	tagJob(proc, job)
	proc.SetIntTag(spans.ConsumerConcurrency, s.Settings().Concurrency)
	// The result is taken: handling runs to the end even if the caller goes
	// away, so a retry finds it done instead of handling it twice.
	s.sleep(s.Settings().ProcessDelay)

	// The job's end to end runs until the ledger recorded it: that is when
	// it became handled, and the time Status reports (the end of the
	// job's root span).
	submitted := job.GetSubmittedAt()
	endToEndAt := func(done time.Time) time.Duration {
		if !submitted.IsValid() {
			return 0
		}
		return done.Sub(submitted.AsTime())
	}
	work := res.GetWork().AsDuration()
	fast := jobs.IsFast(job.GetType())
	done, err := s.ledger.Complete(ledger.Outcome{
		JobID: job.GetId(), Type: jobs.TypeName(job.GetType()), OK: res.GetOk(),
		FastJobWaited: func(done time.Time) bool { return sink.FastJobWaited(fast, work, endToEndAt(done)) },
	})
	if err != nil {
		// Not recorded, so not acknowledged: the workers retry, and the
		// retry is handled again (Complete dropped the claim).
		proc.SetTag(tracing.TagError, "result handled but not recorded: "+err.Error())
		s.log.ErrorContext(pctx, "result handled but not recorded; asked the caller to retry", spans.JobID, job.GetId(), "err", err)
		return nil, status.Errorf(codes.Unavailable, "result for job %s handled but not recorded: %v; retry", job.GetId(), err)
	}

	endToEnd := endToEndAt(done)
	proc.SetBoolTag(spans.Duplicate, false)
	proc.SetBoolTag(spans.ResultOK, res.GetOk())
	if !res.GetOk() && res.GetError() != "" {
		proc.SetTag(spans.ResultError, res.GetError())
	}
	proc.SetIntTag(spans.QueueWaitMS, millis(res.GetQueueWait().AsDuration()))
	proc.SetIntTag(spans.WorkMS, millis(work))
	proc.SetIntTag(spans.SendBlockMS, millis(res.GetSendBlock().AsDuration()))
	proc.SetIntTag(spans.EndToEndMS, millis(endToEnd))
	proc.SetIntTag(spans.ConsumerWaitMS, millis(consumerWait))

	traceID, _ := tracing.SpanContext(pctx)
	s.book.Record(sink.Outcome{
		JobID: job.GetId(), Type: jobs.TypeName(job.GetType()), Target: job.GetTarget(), Fast: fast,
		OK: res.GetOk(), EndToEnd: endToEnd, Work: work, TraceID: traceID,
	})
	s.logResult(pctx, res, fast, work, endToEnd)
	return &jobsv1.DeliverResponse{}, nil
}

// logResult writes the one line per result that makes head-of-line blocking
// visible without a tracing UI: a 2 ms cache read that took seconds.
func (s *Server) logResult(ctx context.Context, res *jobsv1.Result, fast bool, work, endToEnd time.Duration) {
	waited := max(endToEnd-work, 0)
	attrs := []any{
		spans.JobID, res.GetJob().GetId(),
		"type", jobs.TypeName(res.GetJob().GetType()),
		"work", short(work),
		"end_to_end", short(endToEnd),
		"waited", short(waited),
	}
	if !res.GetOk() {
		attrs = append(attrs, "ok", false, "error", res.GetError())
	}
	if sink.FastJobWaited(fast, work, endToEnd) {
		attrs = append(attrs, "flag", "⚠ fast job waited "+short(waited).String())
	}
	s.log.InfoContext(ctx, "result", attrs...)
}

// Status says which of the given jobs were handled, from the ledger, so it
// answers for jobs handled before a restart. Unknown IDs (never seen, or
// forgotten beyond DEDUP_CAPACITY) are not done; a malformed ID (the
// Deliver rule) fails the whole call, naming its index.
func (s *Server) Status(_ context.Context, req *jobsv1.StatusRequest) (*jobsv1.StatusResponse, error) {
	ids := req.GetJobIds()
	if len(ids) > jobs.MaxStatusIDs {
		return nil, status.Errorf(codes.InvalidArgument, "job_ids: at most %d per call, got %d", jobs.MaxStatusIDs, len(ids))
	}
	for i, id := range ids {
		if err := validateJobID(id); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "job_ids[%d]: %v", i, err)
		}
	}
	recs, err := s.ledger.LookupAll(ids)
	if err != nil {
		s.log.Error("ledger unreadable for Status", "err", err)
		return nil, status.Errorf(codes.Unavailable, "%v; retry", err)
	}
	resp := &jobsv1.StatusResponse{Jobs: make([]*jobsv1.JobStatus, 0, len(ids))}
	for _, id := range ids {
		js := &jobsv1.JobStatus{JobId: id}
		if r, ok := recs[id]; ok {
			js.Done, js.Ok, js.CompletedAt = true, r.OK, timestamppb.New(r.CompletedAt)
		}
		resp.Jobs = append(resp.Jobs, js)
	}
	return resp, nil
}

// tagJob sets the job's attributes and the attempt the result came from.
func tagJob(span *tracez.ActiveSpan, job *jobsv1.Job) {
	jobs.Tag(span, job)
	if job.GetAttempt() != 0 {
		span.SetIntTag(spans.JobAttempt, int(job.GetAttempt()))
	}
}

func millis(d time.Duration) int { return int(d.Round(time.Millisecond) / time.Millisecond) }

// short rounds d for a log line: 2ms, 1.84s, 450µs.
func short(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(100 * time.Microsecond)
	}
}

// Handler serves /healthz, /stats and /admin/config. None of them is traced:
// they are polled and would bury the jobs' traces.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Unhealthy while the ledger cannot be written: results are refused
	// (UNAVAILABLE) until it can.
	mux.Handle("GET /healthz", healthcheck.Handler("consumer", s.ledger.Healthy))
	mux.HandleFunc("GET /stats", s.handleStats)
	mux.HandleFunc("GET /admin/config", s.handleGetConfig)
	mux.HandleFunc("PUT /admin/config", s.handlePutConfig)
	return httpjson.Routes(mux)
}

// Summary is the account of handled results. The counts come from the
// ledger and survive restarts; the percentiles and slowest jobs are over the
// last recent_window results this process handled.
type Summary struct {
	Handled    uint64               `json:"handled"`
	Duplicates uint64               `json:"duplicates"`
	ByType     map[string]TypeStats `json:"by_type"`
	// SlowestFastJobs are the recent fast jobs with the longest end-to-end
	// times: the ones that waited behind slow vendor calls.
	SlowestFastJobs []sink.Outcome `json:"slowest_fast_jobs"`
	RecentWindow    int            `json:"recent_window"`
}

// TypeStats is one job type's share.
type TypeStats struct {
	Handled  uint64           `json:"handled"`
	Failed   uint64           `json:"failed"`
	Flagged  uint64           `json:"fast_jobs_waited,omitempty"`
	EndToEnd sink.Percentiles `json:"end_to_end_recent"`
}

func (s *Server) summary() Summary {
	counts := s.ledger.Counts()
	recent := s.book.Recent(slowestShown)
	sum := Summary{
		Handled: counts.Handled, Duplicates: counts.Duplicates, ByType: map[string]TypeStats{},
		SlowestFastJobs: recent.SlowestFastJobs, RecentWindow: recent.Window,
	}
	for typ, c := range counts.ByType {
		sum.ByType[typ] = TypeStats{Handled: c.Handled, Failed: c.Failed, Flagged: c.FastJobsWaited, EndToEnd: recent.EndToEnd[typ]}
	}
	return sum
}

// Stats is the /stats document.
type Stats struct {
	Summary
	InFlight       int    `json:"in_flight"`
	Waiting        int    `json:"waiting"`
	CancelledWaits uint64 `json:"cancelled_waits"`
	// RetriesAsked counts deliveries answered ABORTED ("retry") because an
	// earlier attempt for the same job was still waiting or being handled.
	RetriesAsked uint64 `json:"retries_asked"`
	// RememberedIDs is the number of job IDs in the ledger (at most
	// DEDUP_CAPACITY); Ledger has the details.
	RememberedIDs int           `json:"remembered_ids"`
	Ledger        ledger.Stats  `json:"ledger"`
	Config        configView    `json:"config"`
	Tracing       tracing.Stats `json:"tracing"`
}

// Stats returns what /stats shows.
func (s *Server) Stats() Stats {
	held, waiting := s.slots.Usage()
	return Stats{
		Summary:        s.summary(),
		InFlight:       held,
		Waiting:        waiting,
		CancelledWaits: s.cancelled.Load(),
		RetriesAsked:   s.retriesAsked.Load(),
		RememberedIDs:  s.ledger.Len(),
		Ledger:         s.ledger.Stats(),
		Config:         s.configView(),
		Tracing:        s.tp.Stats(),
	}
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, s.Stats())
}

// configView is the JSON of /admin/config.
type configView struct {
	ProcessDelay  string `json:"process_delay"`
	Concurrency   int    `json:"concurrency"`
	DedupCapacity int    `json:"dedup_capacity"`
}

func (s *Server) configView() configView {
	st := s.Settings()
	return configView{ProcessDelay: st.ProcessDelay.String(), Concurrency: st.Concurrency, DedupCapacity: s.ledger.Stats().Capacity}
}

func (s *Server) handleGetConfig(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, s.configView())
}

// configPatch is a PUT /admin/config body; absent fields stay as they are.
type configPatch struct {
	ProcessDelay *string `json:"process_delay"`
	Concurrency  *int    `json:"concurrency"`
}

func (s *Server) handlePutConfig(w http.ResponseWriter, r *http.Request) {
	var p configPatch
	if err := httpjson.Decode(w, r, &p, 0); err != nil {
		httpjson.WriteError(w, err)
		return
	}
	if err := s.apply(p); err != nil {
		httpjson.WriteError(w, err)
		return
	}
	st := s.Settings()
	s.log.InfoContext(r.Context(), "config changed", "process_delay", st.ProcessDelay, "concurrency", st.Concurrency)
	httpjson.Write(w, http.StatusOK, s.configView())
}

// apply validates the whole patch first, so a bad field changes nothing.
func (s *Server) apply(p configPatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.settings
	if p.ProcessDelay != nil {
		d, err := envconfig.ParseDuration(*p.ProcessDelay)
		if err != nil || d < 0 || d > config.MaxProcessDelay {
			return httpjson.BadRequest("process_delay %q: want a duration from 0s to %s, like \"50ms\"", *p.ProcessDelay, config.MaxProcessDelay)
		}
		next.ProcessDelay = d
	}
	if p.Concurrency != nil {
		if c := *p.Concurrency; c < config.MinConcurrency || c > config.MaxConcurrency {
			return httpjson.BadRequest("concurrency %d: want %d to %d", c, config.MinConcurrency, config.MaxConcurrency)
		}
		next.Concurrency = *p.Concurrency
	}
	s.settings = next
	s.slots.SetLimit(next.Concurrency)
	return nil
}
