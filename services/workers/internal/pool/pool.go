// Package pool is the worker pool of the incident: a bounded job queue
// (optionally split into priority lanes), N workers, the results channel
// between the workers and the forwarders, and the forwarders that hand
// each result to the consumer. With the default of one forwarder, results
// go one at a time, in order: the incident's serial consumer path.
//
// Each job's stay is one pool.job span, a child of the producer's root
// span (carried in the job's trace context), covered end to end by its
// children: queue.wait, worker.process, result.send (where the hidden
// bottleneck shows: a worker blocked on a full results channel),
// results.channel.wait and result.deliver (see jobtrace.go).
//
// The pool knows nothing of gRPC or HTTP: it runs jobs with a Runner and
// delivers results to a Sink.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/zoobzio/tracez"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

// Runner does one job's work; see work.Runner.
type Runner interface {
	Run(ctx context.Context, job *jobsv1.Job, p work.Params) error
}

// Sink delivers a result to the consumer, retrying as it sees fit; see
// consumer.Client.
type Sink interface {
	Deliver(ctx context.Context, r *jobsv1.Result) (attempts int, err error)
}

// HandledChecker is a Sink that can also say which results the consumer
// handled (consumer.Client, through the consumer's Status). At the
// shutdown deadline the pool asks it about the deliveries it cut: a cut
// Deliver may still have been handled, and then the result was delivered,
// not abandoned.
type HandledChecker interface {
	Handled(ctx context.Context, jobIDs []string) (map[string]bool, error)
}

// confirmBudget bounds the question to the consumer at the shutdown
// deadline: the deadline has passed, so it must be short.
const confirmBudget = time.Second

// Options configure a Pool.
type Options struct {
	// Live is the settings at start, the pool's size (Workers, QueueSize)
	// included; Update changes them.
	Live    config.Live
	Runner  Runner
	Sink    Sink
	Tracing *tracing.Provider
	Log     *slog.Logger
	// OverflowCap bounds the non-blocking mode's overflow per lane; zero
	// means 1000 per worker at start (it does not follow a live WORKERS).
	OverflowCap int
}

// Pool is the worker pool. Start it, Submit jobs, Shutdown to drain.
type Pool struct {
	queue     *jobQueue
	results   *resultBuffer
	runner    Runner
	sink      Sink
	tr        *tracing.Provider
	log       *slog.Logger
	rec       recorder
	workerSet workerSet
	held      heldJobs

	// cutMu guards cut: the deliveries the shutdown deadline cancelled,
	// whose fate abandonWork settles with the consumer.
	cutMu sync.Mutex
	cut   []cutDelivery

	liveMu sync.Mutex // serializes Update
	live   atomic.Pointer[config.Live]

	// abandon is cancelled at the shutdown deadline: running work and
	// deliveries are cut, and the workers and forwarders stop waiting.
	abandon       context.Context
	abandonNow    context.CancelFunc
	startOnce     sync.Once
	workersDone   chan struct{}
	forwarderDone chan struct{}
	shuttingDown  atomic.Bool

	// fwdMu guards the set of forwarders, resized live by Update.
	fwdMu sync.Mutex
	// fwdRetire holds one channel per running forwarder; closing it lets
	// that forwarder finish the result in hand and stop.
	fwdRetire  []chan struct{}
	fwdStarted bool
	// fwdFrozen: shutdown began, the count no longer changes (the
	// forwarders stop once the results channel is drained).
	fwdFrozen bool
	fwdWG     sync.WaitGroup
	// fwdRunning counts forwarder goroutines alive, retired ones included
	// until they return.
	fwdRunning atomic.Int32
}

// New checks the options and builds a pool; Start runs it.
func New(o Options) (*Pool, error) {
	if o.Runner == nil || o.Sink == nil || o.Tracing == nil || o.Log == nil {
		return nil, errors.New("pool: Runner, Sink, Tracing and Log are required")
	}
	if err := o.Live.Validate(); err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	if o.OverflowCap <= 0 {
		o.OverflowCap = 1000 * o.Live.Workers
	}
	p := &Pool{
		queue:         newJobQueue(o.Live.QueueSize, o.Live.Workers, o.Live.PriorityLanes),
		results:       newResultBuffer(o.Live.ResultsBuffer, o.Live.ResultSend, o.OverflowCap),
		runner:        o.Runner,
		sink:          o.Sink,
		tr:            o.Tracing,
		log:           o.Log,
		workersDone:   make(chan struct{}),
		forwarderDone: make(chan struct{}),
	}
	live := o.Live
	p.live.Store(&live)
	p.abandon, p.abandonNow = context.WithCancel(context.Background())
	return p, nil
}

// Workers is the number of workers (WORKERS), live: retired workers
// finishing their last job are not counted.
func (p *Pool) Workers() int { return p.Settings().Workers }

// QueueSize is the job queue's capacity per lane (QUEUE_SIZE), live.
func (p *Pool) QueueSize() int { return p.Settings().QueueSize }

// Settings returns the live settings.
func (p *Pool) Settings() config.Live { return *p.live.Load() }

// Update changes the live settings: change edits a copy, which is
// validated and applied as a whole, or not at all. It returns the settings
// before and after.
func (p *Pool) Update(change func(*config.Live) error) (before, after config.Live, err error) {
	p.liveMu.Lock()
	defer p.liveMu.Unlock()
	before = *p.live.Load()
	after = before
	if err := change(&after); err != nil {
		return before, before, err
	}
	if err := after.Validate(); err != nil {
		return before, before, err
	}
	p.live.Store(&after)
	p.resize(before, after)
	if after.ResultsBuffer != before.ResultsBuffer {
		p.results.setCapacity(after.ResultsBuffer)
	}
	if after.ResultSend != before.ResultSend {
		p.results.setMode(after.ResultSend)
	}
	if after.PriorityLanes != before.PriorityLanes {
		p.queue.setPrioritize(after.PriorityLanes)
	}
	if after.Forwarders != before.Forwarders {
		p.fwdMu.Lock()
		p.resizeForwarders(after.Forwarders)
		p.fwdMu.Unlock()
	}
	return before, after, nil
}

// Start runs the workers and the forwarders.
func (p *Pool) Start() {
	p.startOnce.Do(func() {
		p.startWorkers()
		p.fwdMu.Lock()
		p.fwdStarted = true
		p.resizeForwarders(p.Settings().Forwarders)
		p.fwdMu.Unlock()
		// The count stays at least 1 until freezeForwarders, so Wait does
		// not return while the set can still grow.
		go func() { p.fwdWG.Wait(); close(p.forwarderDone) }()
	})
}

// resizeForwarders starts or retires forwarders until n run. A retired
// forwarder delivers the result it holds, if any, then stops; the others
// take whatever it would have taken. Caller holds fwdMu.
func (p *Pool) resizeForwarders(n int) {
	if !p.fwdStarted || p.fwdFrozen {
		return
	}
	for len(p.fwdRetire) < n {
		retire := make(chan struct{})
		p.fwdRetire = append(p.fwdRetire, retire)
		p.fwdRunning.Add(1)
		p.fwdWG.Go(func() { defer p.fwdRunning.Add(-1); p.forward(retire) })
	}
	for len(p.fwdRetire) > n {
		last := len(p.fwdRetire) - 1
		close(p.fwdRetire[last])
		p.fwdRetire = p.fwdRetire[:last]
	}
}

// freezeForwarders fixes the set of forwarders for the shutdown.
func (p *Pool) freezeForwarders() {
	p.fwdMu.Lock()
	p.fwdFrozen = true
	p.fwdMu.Unlock()
}

// Done is closed when the workers and the forwarders have stopped.
func (p *Pool) Done() <-chan struct{} { return p.forwarderDone }

// Accepting reports whether Submit takes jobs (false once shutdown began).
func (p *Pool) Accepting() bool { return !p.shuttingDown.Load() }

// Submit puts job on the queue, waiting up to the live SUBMIT_WAIT for
// room (*FullError after that; ErrShuttingDown once Shutdown began). A job
// whose ID the pool holds already is not queued again: ErrAlreadyHeld. ctx
// is the Submit call's: its cancellation ends the wait, and its span is the
// parent of the job's spans when the job carries no trace context of its
// own. It returns the number of queued jobs, this one included.
func (p *Pool) Submit(ctx context.Context, job *jobsv1.Job) (int, error) {
	if !p.held.add(job.GetId()) {
		p.rec.update(func(c *Counters) { c.AlreadyHeld++ })
		p.log.DebugContext(ctx, "job already held; nothing queued", spans.JobID, job.GetId(),
			spans.JobAttempt, job.GetAttempt())
		return 0, ErrAlreadyHeld
	}
	it := &queued{
		ctx:  p.jobContext(ctx, job),
		job:  job,
		lane: slow,
	}
	if jobs.IsFast(job.GetType()) {
		it.lane = fast
	}
	a, err := p.queue.push(ctx, it, p.Settings().SubmitWait, p.accept)
	if err != nil {
		p.held.remove(job.GetId())
		p.rec.update(func(c *Counters) { c.Rejected++ })
		return 0, err
	}
	p.rec.update(func(c *Counters) { c.Submitted++ })
	p.log.DebugContext(ctx, "job queued", spans.JobID, job.GetId(), spans.JobType, jobs.TypeName(job.GetType()),
		spans.JobAttempt, job.GetAttempt(), spans.QueueLane, a.lane, spans.QueueDepth, a.ahead)
	return a.depth, nil
}

// accept starts the job's pool.job and queue.wait spans; it runs under the
// queue's lock.
func (p *Pool) accept(it *queued, a acceptance) {
	it.accepted = time.Now()
	p.startJobSpans(it, a, it.accepted)
}

// process runs one job and hands its result to the results channel.
func (p *Pool) process(workerID int, it *queued) {
	dequeued := time.Now()
	tracing.FinishAt(it.wait, dequeued)
	job := it.job
	live := p.Settings()

	ctx, release := p.bind(it.ctx)
	ctx, span := p.tr.StartSpanAt(ctx, spans.WorkerProcess, dequeued)
	span.SetIntTag(spans.WorkerID, workerID)
	span.SetIntTag(spans.PoolWorkers, p.Workers())
	jobs.Tag(span, job)
	err := p.runner.Run(ctx, job, work.Params{
		CacheLatency:     live.CacheLatency,
		DBAcquireLatency: live.DBAcquireLatency,
		DBQueryLatency:   live.DBQueryLatency,
		VendorTimeout:    live.VendorTimeout,
	})
	finished := time.Now()
	if err != nil {
		span.SetTag(tracing.TagError, err.Error())
	}
	tracing.FinishAt(span, finished)
	release()

	result := &jobsv1.Result{
		Job:        job,
		Ok:         err == nil,
		WorkerId:   uint32(workerID),
		QueueWait:  durationpb.New(dequeued.Sub(it.accepted)),
		Work:       durationpb.New(finished.Sub(dequeued)),
		FinishedAt: timestamppb.New(finished),
	}
	if err != nil {
		result.Error = truncate(err.Error(), maxResultError)
	}
	p.rec.update(func(c *Counters) {
		c.Completed++
		c.completedByTypeID[typeIndex(job.GetType())]++
		if err != nil {
			c.Failed++
		}
	})
	p.rec.sample(job.GetType(), func(s *typeSamples) {
		s.queueWait.add(dequeued.Sub(it.accepted))
		s.work.add(finished.Sub(dequeued))
	})
	p.log.DebugContext(ctx, "job done", spans.JobID, job.GetId(), spans.JobType, jobs.TypeName(job.GetType()),
		spans.WorkerID, workerID, "ok", err == nil, "work", finished.Sub(dequeued))

	p.send(workerID, finished, &delivery{
		ctx:      it.ctx,
		span:     it.span,
		result:   result,
		jobID:    job.GetId(),
		jobType:  job.GetType(),
		accepted: it.accepted,
	}, it.lane)
}

// send hands the result to the forwarders. This is the incident's hidden
// bottleneck: with a small channel and a slow consumer, the worker waits
// here instead of taking the next job. The result.send span runs from the
// end of the work (start) until the result is in the channel.
func (p *Pool) send(workerID int, start time.Time, d *delivery, jobLane int) {
	lane, laneName := slow, LaneShared
	if p.Settings().PriorityLanes {
		laneName = LaneSlow
		if jobLane == fast {
			lane, laneName = fast, LaneFast
		}
	}
	d.laneName = laneName
	_, span := p.tr.StartSpanAt(d.ctx, spans.ResultSend, start)
	rep := p.results.send(d, lane)
	// From here d belongs to the forwarders; its fields set by the send
	// are only read.
	span.SetTag(tracing.TagSpanKind, tracing.KindProducer)
	tagMessaging(span, spans.DestinationResults, d.jobID)
	span.SetTag(spans.MessagingOperationType, spans.MessagingOperationSend)
	span.SetTag(spans.JobID, d.jobID)
	span.SetIntTag(spans.WorkerID, workerID)
	span.SetTag(spans.ResultSendMode, rep.mode)
	span.SetTag(spans.ResultsLane, laneName)
	span.SetIntTag(spans.ResultsBufferLen, rep.bufLen)
	span.SetIntTag(spans.ResultsBufferCap, rep.bufCap)
	span.SetIntTag(spans.ResultsOverflowLen, rep.overflowLen)
	span.SetBoolTag(spans.ChannelBlocked, rep.blocked)
	span.SetIntTag(spans.BlockDurationMS, int(rep.blockedFor.Milliseconds()))
	span.SetIntTag(spans.WaitedBehindCount, rep.aheadCount)
	if rep.blocked {
		span.SetTag(spans.WaitedBehindJobs, strings.Join(rep.ahead, ","))
	}
	if rep.fallback {
		span.SetBoolTag(spans.ResultSendFallback, true)
	}
	// It ends the moment the result entered the channel, where
	// results.channel.wait begins.
	tracing.FinishAt(span, rep.enqueued)

	spilled := rep.mode == config.SendNonblocking && !rep.blocked && rep.bufLen+rep.overflowLen >= rep.bufCap
	p.rec.update(func(c *Counters) {
		if rep.blocked {
			c.BlockedSends++
			c.blockedTotal += rep.blockedFor
		}
		if rep.fallback {
			c.FallbackSends++
		}
		if spilled {
			c.OverflowSends++
		}
	})
	p.rec.sample(d.jobType, func(s *typeSamples) { s.sendBlock.add(rep.blockedFor) })
	if rep.blocked {
		p.log.DebugContext(d.ctx, "result send blocked", spans.JobID, d.jobID, spans.WorkerID, workerID,
			"blocked", rep.blockedFor, spans.WaitedBehindJobs, strings.Join(rep.ahead, ","))
	}
}

// forward is one forwarder: it delivers results to the consumer one at a
// time, until the results channel is closed and drained or it is retired.
// Several forwarders deliver concurrently, so results may then reach the
// consumer out of order; each is still taken, and delivered, once.
func (p *Pool) forward(retire <-chan struct{}) {
	for {
		select {
		case <-retire:
			return
		default:
		}
		d, ok := p.results.receive(p.abandon.Done(), retire)
		if !ok {
			return
		}
		p.deliver(d)
	}
}

// deliver takes one result from the channel to the consumer: it closes
// the result's results.channel.wait, delivers it under result.deliver and
// ends the job's pool.job once the consumer acknowledged it.
func (p *Pool) deliver(d *delivery) {
	taken := time.Now()
	p.finishChannelWait(d, taken, "")
	d.result.SendBlock = durationpb.New(d.sendBlock)
	ctx, span := p.tr.StartSpanAt(d.ctx, spans.ResultDeliver, taken)
	span.SetTag(tracing.TagSpanKind, tracing.KindConsumer)
	tagMessaging(span, spans.DestinationResults, d.jobID)
	span.SetTag(spans.MessagingOperationType, spans.MessagingOperationProcess)
	span.SetTag(spans.JobID, d.jobID)
	span.SetTag(spans.JobType, jobs.TypeName(d.jobType))
	span.SetIntTag(spans.ChannelWaitMS, int(taken.Sub(d.enqueued).Milliseconds()))
	span.SetIntTag(spans.ResultsForwarders, p.Settings().Forwarders)
	dctx, release := p.bind(ctx)
	attempts, err := p.sink.Deliver(dctx, d.result)
	release()
	done := time.Now()
	span.SetIntTag(spans.DeliveryAttempts, attempts)
	p.rec.update(func(c *Counters) { c.DeliveryRetries += uint64(max(attempts-1, 0)) })

	if err != nil && p.abandon.Err() != nil {
		// Cut by the shutdown deadline. The consumer may have handled it
		// all the same; abandonWork asks and then ends the spans.
		p.cutMu.Lock()
		p.cut = append(p.cut, cutDelivery{d: d, span: span, at: done, err: err})
		p.cutMu.Unlock()
		p.log.DebugContext(ctx, "result delivery cut by the shutdown deadline", spans.JobID, d.jobID, "err", err)
		return
	}
	if err != nil {
		why := "result rejected by the consumer; dropped: " + err.Error()
		span.SetTag(tracing.TagError, err.Error())
		tracing.FinishAt(span, done)
		p.endJob(d.span, d.jobID, done, why)
		p.rec.update(func(c *Counters) { c.DeliveryFailed++ })
		p.log.ErrorContext(ctx, "result rejected by the consumer; dropped", spans.JobID, d.jobID, "err", err)
		return
	}
	tracing.FinishAt(span, done)
	p.endJob(d.span, d.jobID, done, "")
	p.rec.update(func(c *Counters) { c.Delivered++ })
	p.rec.sample(d.jobType, func(s *typeSamples) { s.endToEnd.add(done.Sub(d.accepted)) })
	p.log.InfoContext(ctx, "result delivered",
		spans.JobID, d.jobID, spans.JobType, jobs.TypeName(d.jobType), "ok", d.result.GetOk(),
		spans.WorkerID, d.result.GetWorkerId(),
		"queue_wait", d.result.GetQueueWait().AsDuration(), "work", d.result.GetWork().AsDuration(),
		"send_block", d.sendBlock, "channel_wait", taken.Sub(d.enqueued),
		"end_to_end", done.Sub(d.accepted), spans.DeliveryAttempts, attempts)
}

// cutDelivery is a delivery the shutdown deadline cancelled: its
// result.deliver span is still open.
type cutDelivery struct {
	d    *delivery
	span *tracez.ActiveSpan
	at   time.Time
	err  error
}

// bind returns ctx (a job's context, which has no cancellation) cancelled
// at the shutdown deadline.
func (p *Pool) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.abandon, cancel)
	return ctx, func() { stop(); cancel() }
}

// StopAccepting makes Submit answer ErrShuttingDown, waking the Submits
// that wait for room; the queued jobs still run.
func (p *Pool) StopAccepting() {
	p.shuttingDown.Store(true)
	// Fix the worker set first: once the queue is closed and empty the
	// workers stop, and none may start after that.
	p.workerSet.freeze()
	p.queue.close()
}

// Shutdown stops taking jobs, lets the workers finish the queued ones and
// the forwarders deliver every result. If ctx ends first, running work and
// deliveries are cut and what was left is logged and returned as an error.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.StopAccepting()
	p.Start() // a pool that never started still drains what it accepted
	select {
	case <-p.workersDone:
		p.freezeForwarders()
		p.results.close()
	case <-ctx.Done():
		return p.abandonWork()
	}
	select {
	case <-p.forwarderDone:
		p.log.Info("worker pool drained", "delivered", p.Stats().Counters.Delivered)
		return nil
	case <-ctx.Done():
		return p.abandonWork()
	}
}

// abandonedAtShutdown is the error of the spans the shutdown deadline cut
// short: queue.wait of jobs never run, results.channel.wait of results no
// forwarder took, result.deliver of deliveries the consumer did not
// confirm, and the pool.job of each of those jobs.
const abandonedAtShutdown = "abandoned at shutdown"

// abandonWork cuts everything at the shutdown deadline and accounts for
// what is lost: queued jobs never run, results still in the results
// channel, and results whose delivery was cut, unless the consumer says it
// handled them (then they were delivered). It ends every open span of
// those jobs with an error saying so, and reports them in one line and the
// error.
func (p *Pool) abandonWork() error {
	p.freezeForwarders()
	// From here no worker takes a job and no forwarder a result; running
	// work and deliveries in progress are cancelled.
	p.abandonNow()
	queued := p.queue.drain()
	now := time.Now()
	for _, it := range queued {
		it.wait.SetTag(tracing.TagError, abandonedAtShutdown)
		tracing.FinishAt(it.wait, now)
		p.endJob(it.span, it.job.GetId(), now, abandonedAtShutdown+": never run")
	}
	p.results.abort()
	p.results.close()
	// Everything the workers and forwarders wait on is now cancelled; they
	// return promptly. Only then is the channel's content final: a worker
	// cut mid-job still sends its (failed) result.
	<-p.workersDone
	<-p.forwarderDone
	left := p.results.discard()
	now = time.Now()
	for _, d := range left {
		p.finishChannelWait(d, now, abandonedAtShutdown)
		p.endJob(d.span, d.jobID, now, abandonedAtShutdown+": result never delivered")
	}
	confirmed, cutLost := p.settleCut()
	p.rec.update(func(c *Counters) {
		c.AbandonedJobs += uint64(len(queued))
		c.Abandoned += uint64(len(left) + cutLost)
		c.Delivered += uint64(confirmed)
		c.DeliveredAtDeadline += uint64(confirmed)
	})
	undelivered := cutLost + len(left)
	p.log.Warn("shutdown deadline hit; work abandoned", "queued_jobs", len(queued),
		"undelivered_results", undelivered, "in_delivery", cutLost, "in_results_channel", len(left),
		"delivered_at_deadline", confirmed)
	return fmt.Errorf("worker pool: shutdown deadline hit with %d queued jobs and %d undelivered results", len(queued), undelivered)
}

// settleCut asks the consumer which of the deliveries cut at the deadline
// it handled: those were delivered (the acknowledgement was what got cut),
// the others are abandoned. Without an answer, all are abandoned. It ends
// their spans and returns how many went each way.
func (p *Pool) settleCut() (delivered, abandoned int) {
	p.cutMu.Lock()
	cut := p.cut
	p.cut = nil
	p.cutMu.Unlock()
	if len(cut) == 0 {
		return 0, 0
	}
	handled := map[string]bool{}
	var askErr error
	if hc, ok := p.sink.(HandledChecker); ok {
		ids := make([]string, len(cut))
		for i, c := range cut {
			ids[i] = c.d.jobID
		}
		ctx, cancel := context.WithTimeout(context.Background(), confirmBudget)
		handled, askErr = hc.Handled(ctx, ids)
		cancel()
		if askErr != nil {
			p.log.Warn("could not ask the consumer about the deliveries cut at the shutdown deadline; counting them abandoned",
				"deliveries", len(cut), "err", askErr)
		}
	}
	for _, c := range cut {
		if handled[c.d.jobID] {
			delivered++
			c.span.SetBoolTag(spans.DeliveryConfirmedByStatus, true)
			tracing.FinishAt(c.span, c.at)
			p.endJob(c.d.span, c.d.jobID, c.at, "")
			continue
		}
		abandoned++
		c.span.SetTag(tracing.TagError, abandonedAtShutdown+": "+c.err.Error())
		tracing.FinishAt(c.span, c.at)
		p.endJob(c.d.span, c.d.jobID, c.at, abandonedAtShutdown+": result delivery cut")
	}
	return delivered, abandoned
}

// Stats is the pool part of /stats.
type Stats struct {
	Workers WorkersStats `json:"workers"`
	// Held counts the jobs the pool holds now, from Submit to the
	// consumer's acknowledgement: a re-submission of one is already_held.
	Held      int                  `json:"held"`
	Queue     QueueStats           `json:"queue"`
	Results   ResultsStats         `json:"results"`
	Counters  Counters             `json:"counters"`
	Latencies map[string]Latencies `json:"latencies"`
}

// Stats returns a snapshot.
func (p *Pool) Stats() Stats {
	s := Stats{Workers: p.workerSet.stats(), Held: p.held.len(), Queue: p.queue.stats()}
	s.Results = p.results.stats(s.Queue.PriorityLanes)
	s.Counters, s.Latencies = p.rec.snapshot()
	return s
}

// maxResultError is the consumer's limit on Result.error: longer text would
// be rejected there as InvalidArgument, which is final, and the result lost.
const maxResultError = 1024

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "…"
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
