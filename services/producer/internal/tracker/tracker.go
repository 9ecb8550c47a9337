// Package tracker gives the producer at-least-once delivery: it keeps every
// job it submitted until the consumer confirms it, re-submits jobs that go
// unconfirmed (same ID, the attempt counted up), and reports a job lost only
// after its last attempt.
//
// It also owns each job's trace: a root span named after the scenario and
// the job type ("checkout cache-read") that lasts from the first submission
// until the consumer handled the job (its end is the consumer's
// completed_at), with one job.submit span per attempt under it, each linked
// to the attempt before. The job carries the root's trace context, so the
// worker pool's spans hang under the root too, whatever the attempt.
//
// One poller asks the consumer about every outstanding job, in batches,
// about every 100 ms; the same loop starts the re-submissions that are due.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zoobzio/tracez"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/workers"
)

// Pool sends one attempt of a job to the worker pool; see workers.Client.
type Pool interface {
	Submit(ctx context.Context, job *jobsv1.Job) (workers.Answer, error)
	// Generation counts the pool connections that became ready so far.
	Generation() uint64
}

// Consumer says which jobs the consumer handled; see consumer.Client.
type Consumer interface {
	Status(ctx context.Context, ids []string) ([]*jobsv1.JobStatus, error)
}

// Defaults and limits of the settings.
const (
	DefaultRetryAfter     = 30 * time.Second
	DefaultMaxAttempts    = 10
	DefaultPollEvery      = 100 * time.Millisecond
	DefaultMaxOutstanding = 10000

	MinRetryAfter  = 100 * time.Millisecond
	MaxRetryAfter  = 10 * time.Minute
	MinMaxAttempts = 1
	MaxMaxAttempts = 100
)

const (
	// retryBackoffCap bounds the doubling of RETRY_AFTER.
	retryBackoffCap = 8
	// soonFirst and soonMax pace the retries of a Submit the pool did
	// not answer, and of a re-submission a full queue refused: soon at
	// first, then at most every 5 s. A pool seen again (a new connection)
	// makes them due at once.
	soonFirst = 250 * time.Millisecond
	soonMax   = 5 * time.Second
	// pollTimeout bounds one round of Status calls.
	pollTimeout = 2 * time.Second
	// maxRetriesInFlight bounds the re-submissions running at once; more
	// due ones wait for the next round.
	maxRetriesInFlight = 64
	// stopReserve is left of the shutdown deadline after the drain, for
	// the units stopped after the tracker.
	stopReserve = 250 * time.Millisecond
)

// Errors of Submit.
var (
	// ErrFull: MaxOutstanding jobs are waiting for confirmation; the job
	// was not submitted (and is counted in refused_full).
	ErrFull = errors.New("too many jobs waiting for the consumer's confirmation; job not submitted")
	// ErrStopping: the producer is shutting down.
	ErrStopping = errors.New("producer is stopping; job not submitted")
)

// Options configure a Tracker. Pool, Consumer and Tracing are required.
type Options struct {
	Pool     Pool
	Consumer Consumer
	Tracing  *tracing.Provider
	Log      *slog.Logger
	// RetryAfter is how long an accepted job may stay unconfirmed before
	// it is re-submitted; it doubles with each answered attempt, up to 8×.
	RetryAfter time.Duration
	// MaxAttempts bounds the Submits of one job.
	MaxAttempts int
	// PollEvery is how often the consumer is asked (default 100 ms).
	PollEvery time.Duration
	// MaxOutstanding bounds the jobs waiting for confirmation.
	MaxOutstanding int
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Tracker keeps the jobs until the consumer confirms them. Run polls;
// Submit adds jobs; Stop drains.
type Tracker struct {
	pool       Pool
	consumer   Consumer
	tp         *tracing.Provider
	log        *slog.Logger
	retryAfter time.Duration
	maxAtt     int
	pollEvery  time.Duration
	maxOut     int
	now        func() time.Time

	mu       sync.Mutex
	jobs     map[string]*entry // outstanding: not final yet
	stopping bool
	counts   counters
	pollDown bool // the last poll failed (logged once per outage)

	// attempts is the context of every attempt the tracker starts; Stop
	// cancels it once the drain is over.
	attempts      context.Context
	stopAttempts  context.CancelFunc
	inFlight      sync.WaitGroup // attempts running, first ones included
	retrySlots    chan struct{}
	quit          chan struct{}
	quitOnce      sync.Once
	stoppedPoller chan struct{}
}

// New returns a tracker; Run starts its poller.
func New(o Options) *Tracker {
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.PollEvery <= 0 {
		o.PollEvery = DefaultPollEvery
	}
	if o.MaxOutstanding <= 0 {
		o.MaxOutstanding = DefaultMaxOutstanding
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{
		pool: o.Pool, consumer: o.Consumer, tp: o.Tracing, log: o.Log,
		retryAfter: o.RetryAfter, maxAtt: o.MaxAttempts, pollEvery: o.PollEvery, maxOut: o.MaxOutstanding, now: o.Now,
		jobs:          map[string]*entry{},
		retrySlots:    make(chan struct{}, maxRetriesInFlight),
		quit:          make(chan struct{}),
		stoppedPoller: make(chan struct{}),
	}
	t.counts.init()
	t.attempts, t.stopAttempts = context.WithCancel(context.Background())
	return t
}

// entry is one job, from its first submission until it is final.
type entry struct {
	job   *jobsv1.Job // as sent; only an attempt touches it, one at a time
	typ   string
	root  *tracez.ActiveSpan
	start time.Time  // first submission: the root's start, job.submitted_at
	level slog.Level // of the per-attempt log lines

	attempts    int  // Submits made
	answered    int  // of them answered accepted or already_held
	requeued    int  // of them after the first, answered accepted: queued again
	soon        int  // consecutive Submits unanswered, or refused after an accept
	accepted    bool // the pool accepted it at least once
	generation  uint64
	lastErr     string
	lastOutcome string    // submit.outcome of the latest attempt
	last        submitRef // the latest attempt's job.submit
	lastEnd     time.Time // when the latest attempt returned
	inflight    bool
	next        time.Time // when the next attempt (or giving up) is due

	final bool
	res   Result
	done  chan struct{}
}

type submitRef struct{ traceID, spanID string }

// Result is how a job's life ended.
type Result struct {
	// Outcome is one of spans.Outcome*.
	Outcome  string
	Attempts int
	// Accepted: the pool accepted it at some attempt.
	Accepted bool
	// Requeued counts the attempts after the first that the pool
	// accepted: it queued the job again, having lost it (a crash or
	// restart) or not answered before. Re-submissions answered
	// already_held (the pool still had the job) are not counted.
	Requeued int
	// For delivered and failed jobs: when the consumer handled it, and
	// how long that was after the first submission.
	CompletedAt time.Time
	EndToEnd    time.Duration
	// Reason says why a job was not delivered.
	Reason string
}

// Done reports whether the consumer handled the job (ok or not).
func (r Result) Done() bool {
	return r.Outcome == spans.OutcomeDelivered || r.Outcome == spans.OutcomeFailed
}

// Ticket follows one submitted job.
type Ticket struct {
	e       *entry
	t       *Tracker
	traceID string
}

// TraceID is the job's trace ("" when tracing is off).
func (k *Ticket) TraceID() string { return k.traceID }

// Done is closed once the job's life ended (see Result).
func (k *Ticket) Done() <-chan struct{} { return k.e.done }

// Result is how the job ended; valid once Done is closed.
func (k *Ticket) Result() Result {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	return k.e.res
}

// Progress is where a job not final yet stands.
type Progress struct {
	Attempts int
	Requeued int // as in Result
	Accepted bool
	LastErr  string // of the latest Submit that failed
}

// Progress says, for a job not final yet, how many attempts were made,
// whether the pool accepted it, and the last Submit error.
func (k *Ticket) Progress() Progress {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	return Progress{Attempts: k.e.attempts, Requeued: k.e.requeued, Accepted: k.e.accepted, LastErr: k.e.lastErr}
}

// Submit starts tracking job: it opens the job's root span, stamps
// submitted_at and the trace context, and makes the first attempt before
// returning. ctx bounds that attempt only (a burst's deadline, a
// shutdown): the job is tracked, and re-submitted, after it. level is the
// level of the job's per-attempt log lines.
func (t *Tracker) Submit(ctx context.Context, job *jobsv1.Job, level slog.Level) (*Ticket, error) {
	typ := jobs.TypeName(job.GetType())
	t.mu.Lock()
	switch {
	case t.stopping:
		t.mu.Unlock()
		return nil, ErrStopping
	case len(t.jobs) >= t.maxOut:
		t.counts.refusedFull++
		t.mu.Unlock()
		return nil, fmt.Errorf("%w (%d)", ErrFull, t.maxOut)
	case t.jobs[job.GetId()] != nil:
		t.mu.Unlock()
		return nil, fmt.Errorf("job %s is already tracked", job.GetId())
	}
	start := t.now()
	rctx, root := t.tp.StartSpanAt(context.Background(), spans.JobRootName(job.GetScenario(), typ), start)
	jobs.Tag(root, job)
	job.SubmittedAt = timestamppb.New(start)
	job.TraceContext = t.tp.Inject(rctx)
	e := &entry{job: job, typ: typ, root: root, start: start, level: level, inflight: true, done: make(chan struct{})}
	t.jobs[job.GetId()] = e
	t.inFlight.Add(1)
	t.mu.Unlock()

	actx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.attempts, cancel)
	t.attempt(actx, e)
	stop()
	cancel()
	return &Ticket{e: e, t: t, traceID: root.TraceID()}, nil
}

// answer classifies a Submit's outcome as submit.outcome says it.
func answer(a workers.Answer, err error) string {
	switch {
	case err == nil && a.AlreadyHeld:
		return spans.SubmitAlreadyHeld
	case err == nil:
		return spans.SubmitAccepted
	}
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return spans.SubmitRejected
	case codes.InvalidArgument:
		return spans.SubmitInvalid
	default:
		// Down, restarting, timed out, cut by our own deadline, or an
		// answer we do not understand: the job may or may not be there;
		// try again soon.
		return spans.SubmitUnavailable
	}
}

// attempt makes one Submit of e, recorded as a job.submit span under the
// root, and decides what comes next. The caller has set e.inflight and
// added to t.inFlight.
func (t *Tracker) attempt(ctx context.Context, e *entry) {
	defer t.inFlight.Done()
	t.mu.Lock()
	e.attempts++
	n, prev := e.attempts, e.last
	e.job.Attempt = uint32(n)
	t.counts.attempts++
	if n > 1 {
		t.counts.resubmissions++
	}
	t.mu.Unlock()

	// Under the root, cancelled with ctx.
	sctx, span := t.tp.StartSpanAt(e.root.Context(ctx), spans.JobSubmit, t.now())
	span.SetTag(tracing.TagSpanKind, tracing.KindProducer)
	span.SetTag(spans.MessagingSystem, spans.MessagingSystemValue)
	span.SetTag(spans.MessagingDestination, spans.DestinationJobs)
	span.SetTag(spans.MessagingOperationType, spans.MessagingOperationSend)
	span.SetTag(spans.MessagingMessageID, e.job.GetId())
	jobs.Tag(span, e.job)
	span.SetIntTag(spans.JobAttempt, n)
	if prev.spanID != "" {
		tracing.AddLink(span, prev.traceID, prev.spanID)
	}
	a, err := t.pool.Submit(sctx, e.job)
	outcome := answer(a, err)
	span.SetTag(spans.SubmitOutcome, outcome)
	if err != nil {
		st := status.Convert(err)
		span.SetTag(tracing.TagError, st.Code().String()+": "+st.Message())
	}
	end := t.now()
	tracing.FinishAt(span, end)

	t.mu.Lock()
	e.inflight = false
	e.lastOutcome = outcome
	e.last = submitRef{span.TraceID(), span.SpanID()}
	e.lastEnd = end
	e.generation = a.Generation
	if err != nil {
		e.lastErr = status.Convert(err).Message()
	}
	switch outcome {
	case spans.SubmitAccepted:
		if !e.accepted {
			t.counts.of(e.typ).accepted++
		}
		if n > 1 {
			e.requeued++
			t.counts.requeued++
		}
		e.accepted = true
		if e.final { // confirmed before this answer came back
			e.res.Accepted, e.res.Requeued = true, e.requeued
		}
	case spans.SubmitAlreadyHeld:
		t.counts.alreadyHeld++
	}
	var finish func()
	switch {
	case e.final:
		// Confirmed (or given up) while this attempt was out: now that
		// it returned, the root can end.
		finish = t.finishRoot(e)
	case outcome == spans.SubmitAccepted || outcome == spans.SubmitAlreadyHeld:
		e.answered++
		e.soon = 0
		e.next = end.Add(t.retryWait(e.answered))
	case outcome == spans.SubmitRejected && e.accepted:
		// The pool accepted the job before, and then lost it (a crash):
		// its re-submission met a full queue, e.g. of a pool restarted
		// smaller. This job is owed delivery, not shed: retry it like a
		// Submit the pool did not answer, until the last attempt.
		t.counts.refusedAgain++
		e.soon++
		e.next = end.Add(soonWait(e.soon))
	case outcome == spans.SubmitRejected:
		t.counts.shed++
		t.counts.of(e.typ).shed++
		finish = t.finalize(e, Result{Outcome: spans.OutcomeRejected, Reason: "load shed: the worker pool's queue was full (" + e.lastErr + ")"}, end, "")
	case outcome == spans.SubmitInvalid:
		t.counts.invalid++
		t.counts.of(e.typ).failed++
		finish = t.finalize(e, Result{Outcome: spans.OutcomeInvalid, Reason: "refused as invalid: " + e.lastErr}, end,
			"refused as invalid by the worker pool: "+e.lastErr)
	default:
		t.counts.unavailable++
		e.soon++
		e.next = end.Add(soonWait(e.soon))
	}
	t.mu.Unlock()
	if finish != nil {
		finish()
	}

	// sctx adds the trace and span IDs of this attempt's job.submit.
	attrs := []any{spans.JobID, e.job.GetId(), spans.JobAttempt, n, spans.SubmitOutcome, outcome,
		"seq", e.job.GetSequence(), "type", e.typ, "target", e.job.GetTarget()}
	switch {
	case outcome == spans.SubmitAccepted && n == 1:
		t.log.Log(sctx, e.level, "submitted", attrs...)
	case outcome == spans.SubmitAccepted:
		t.log.Log(sctx, max(e.level, slog.LevelInfo), "re-submitted: the worker pool queued it again", attrs...)
	case outcome == spans.SubmitAlreadyHeld:
		// A check after RETRY_AFTER, not a fault: the job is only slow.
		t.log.Log(sctx, e.level, "still held by the worker pool", attrs...)
	default:
		t.log.Log(sctx, max(e.level, slog.LevelInfo), "submit failed", append(attrs, "code", status.Code(err).String(), "err", err)...)
	}
}

// retryWait is how long an answered job may stay unconfirmed: RETRY_AFTER,
// doubling with each answered attempt, up to retryBackoffCap times.
func (t *Tracker) retryWait(answered int) time.Duration {
	return t.retryAfter * time.Duration(min(1<<min(answered-1, 30), retryBackoffCap))
}

// soonWait paces the retries of Submits the pool did not answer, and of
// re-submissions a full queue refused: the n-th in a row waits this long.
func soonWait(n int) time.Duration {
	return min(soonFirst<<min(n-1, 10), soonMax)
}

// finalize ends e's life with res at end (errText: the root's error
// status) and returns the function that finishes the root, to be called
// without the lock; nil while an attempt is still out (it finishes the
// root when it returns). Caller holds t.mu.
func (t *Tracker) finalize(e *entry, res Result, end time.Time, errText string) func() {
	res.Attempts = e.attempts
	res.Accepted = e.accepted
	res.Requeued = e.requeued
	e.final, e.res = true, res
	delete(t.jobs, e.job.GetId())
	if errText != "" {
		e.root.SetTag(tracing.TagError, errText)
	}
	if e.inflight {
		return nil
	}
	return t.finishRoot(e)
}

// finishRoot returns the function that ends e's root: at the consumer's
// completed_at for a handled job (never before the last attempt returned,
// so no job.submit outlives it), else at the last attempt's end. Caller
// holds t.mu; e is final and no attempt is out.
func (t *Tracker) finishRoot(e *entry) func() {
	res := e.res
	end := e.lastEnd
	if res.Done() {
		end = res.CompletedAt
		if e.lastEnd.After(end) {
			end = e.lastEnd
		}
	} else if res.Outcome == spans.OutcomeLost || res.Outcome == spans.OutcomeAbandoned {
		end = t.now()
	}
	root, done := e.root, e.done
	return func() {
		root.SetIntTag(spans.JobAttempts, res.Attempts)
		root.SetTag(spans.JobOutcome, res.Outcome)
		if res.Done() {
			root.SetIntTag(spans.EndToEndMS, int(res.EndToEnd.Round(time.Millisecond)/time.Millisecond))
		}
		tracing.FinishAt(root, end)
		close(done)
	}
}

// Run polls the consumer every PollEvery and starts the re-submissions
// that are due, until Stop has drained the jobs.
func (t *Tracker) Run() error {
	defer close(t.stoppedPoller)
	tick := time.NewTicker(t.pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.quit:
			return nil
		case <-tick.C:
			t.round()
		}
	}
}

// round is one poll: confirm what the consumer handled, then re-submit or
// give up on what is due.
func (t *Tracker) round() {
	t.mu.Lock()
	ids := make([]string, 0, len(t.jobs))
	for id := range t.jobs {
		ids = append(ids, id)
	}
	t.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	statuses, err := t.consumer.Status(ctx, ids)
	cancel()
	t.confirm(statuses)
	t.notePoll(err)
	t.dispatch()
}

// notePoll counts failed polls and logs the start and end of an outage
// once each, not every 100 ms.
func (t *Tracker) notePoll(err error) {
	t.mu.Lock()
	was := t.pollDown
	t.pollDown = err != nil
	if err != nil {
		t.counts.pollsFailed++
	}
	t.mu.Unlock()
	switch {
	case err != nil && !was:
		t.log.Warn("cannot ask the consumer which jobs it handled; jobs stay unconfirmed until it answers", "err", err)
	case err == nil && was:
		t.log.Info("the consumer answers again")
	}
}

// confirm ends the jobs the consumer handled.
func (t *Tracker) confirm(statuses []*jobsv1.JobStatus) {
	var finish []func()
	t.mu.Lock()
	for _, st := range statuses {
		e := t.jobs[st.GetJobId()]
		if e == nil || !st.GetDone() {
			continue
		}
		at := st.GetCompletedAt().AsTime()
		if st.GetCompletedAt() == nil {
			at = t.now()
		}
		res := Result{Outcome: spans.OutcomeDelivered, CompletedAt: at, EndToEnd: at.Sub(e.start)}
		errText := ""
		t.counts.confirmed++
		if !st.GetOk() {
			res.Outcome, res.Reason = spans.OutcomeFailed, "the job's work failed (result.ok=false)"
			errText = "job failed: the consumer handled its result, which says the work failed"
			t.counts.confirmedFailed++
		}
		if f := t.finalize(e, res, at, errText); f != nil {
			finish = append(finish, f)
		}
	}
	t.mu.Unlock()
	for _, f := range finish {
		f()
	}
}

// dispatch starts the attempts that are due and gives up on jobs whose
// last attempt's wait passed. A job is due when its wait passed, or when
// the pool was reconnected since its last answer (it may have restarted
// and lost the job).
func (t *Tracker) dispatch() {
	now := t.now()
	gen := t.pool.Generation()
	var due []*entry
	var finish []func()
	t.mu.Lock()
	if t.stopping {
		t.mu.Unlock()
		return
	}
	for _, e := range t.jobs {
		if e.inflight {
			continue
		}
		waited := !now.Before(e.next)
		if e.attempts >= t.maxAtt {
			if waited {
				t.counts.lost++
				t.counts.of(e.typ).failed++
				why := fmt.Sprintf("lost: not confirmed by the consumer after %d attempts (last: %s)", e.attempts, lastAnswer(e))
				if f := t.finalize(e, Result{Outcome: spans.OutcomeLost, Reason: why}, now, why); f != nil {
					finish = append(finish, f)
				}
			}
			continue
		}
		if waited || gen > e.generation {
			due = append(due, e)
		}
	}
	var launched []*entry
	for _, e := range due {
		select {
		case t.retrySlots <- struct{}{}:
		default:
			continue // the rest wait for the next round
		}
		e.inflight = true
		t.inFlight.Add(1)
		launched = append(launched, e)
	}
	t.mu.Unlock()
	for _, f := range finish {
		f()
	}
	for _, e := range launched {
		go func() {
			defer func() { <-t.retrySlots }()
			t.attempt(t.attempts, e)
		}()
	}
	if n := len(finish); n > 0 {
		t.log.Warn("jobs lost: not confirmed by the consumer after their last attempt", "jobs", n, "max_attempts", t.maxAtt)
	}
}

func lastAnswer(e *entry) string {
	switch e.lastOutcome {
	case spans.SubmitUnavailable:
		return "the worker pool did not answer: " + e.lastErr
	case spans.SubmitRejected:
		return "the worker pool's queue was full: " + e.lastErr
	}
	return "the worker pool accepted it, the consumer never reported it handled"
}

// Stop drains: no new job or attempt; it waits, until shortly before ctx's
// deadline, for the consumer to confirm the outstanding jobs, then ends
// the roots of the others with outcome abandoned, so none is left
// unexported, and stops the poller.
func (t *Tracker) Stop(ctx context.Context) error {
	t.mu.Lock()
	t.stopping = true
	t.mu.Unlock()
	wctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, dl.Add(-stopReserve))
		defer cancel()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for t.Outstanding() > 0 {
		select {
		case <-wctx.Done():
			break wait
		case <-t.stoppedPoller:
			break wait
		case <-tick.C:
		}
	}
	t.stopAttempts()
	t.inFlight.Wait() // cut attempts return promptly

	var finish []func()
	t.mu.Lock()
	now := t.now()
	for _, e := range t.jobs {
		t.counts.abandoned++
		why := fmt.Sprintf("abandoned: the producer stopped before the consumer confirmed it (%d attempts)", e.attempts)
		finish = append(finish, t.finalize(e, Result{Outcome: spans.OutcomeAbandoned, Reason: why}, now, why))
	}
	t.mu.Unlock()
	for _, f := range finish {
		f()
	}
	if len(finish) > 0 {
		t.log.Warn("jobs abandoned at shutdown: not confirmed by the consumer", "jobs", len(finish))
	}
	t.quitOnce.Do(func() { close(t.quit) })
	return nil
}

// Outstanding is the number of jobs waiting for confirmation.
func (t *Tracker) Outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.jobs)
}
