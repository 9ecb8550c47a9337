// Package pool is the worker pool of the incident: a bounded job queue
// (optionally split into priority lanes), N workers, the results channel
// between the workers and the forwarders, and the forwarders that hand
// each result to the consumer. With the default of one forwarder, results
// go one at a time, in order: the incident's serial consumer path.
//
// Each job leaves four sibling spans under the Submit server span:
// queue.wait, worker.process, result.send (where the hidden bottleneck
// shows: a worker blocked on a full results channel) and result.deliver.
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
// room (*FullError after that; ErrShuttingDown once Shutdown began). ctx is
// the Submit call's: its cancellation ends the wait, and the spans it
// carries become the parents of the job's spans. It returns the number of
// queued jobs, this one included.
func (p *Pool) Submit(ctx context.Context, job *jobsv1.Job) (int, error) {
	it := &queued{
		ctx:  context.WithoutCancel(ctx),
		job:  job,
		lane: slow,
	}
	if jobs.IsFast(job.GetType()) {
		it.lane = fast
	}
	a, err := p.queue.push(ctx, it, p.Settings().SubmitWait, p.accept)
	if err != nil {
		p.rec.update(func(c *Counters) { c.Rejected++ })
		return 0, err
	}
	p.rec.update(func(c *Counters) { c.Submitted++ })
	p.log.DebugContext(ctx, "job queued", spans.JobID, job.GetId(), spans.JobType, jobs.TypeName(job.GetType()),
		spans.QueueLane, a.lane, spans.QueueDepth, a.ahead)
	return a.depth, nil
}

// accept starts the job's queue.wait span; it runs under the queue's lock.
func (p *Pool) accept(it *queued, a acceptance) {
	it.accepted = time.Now()
	_, span := p.tr.StartSpan(it.ctx, spans.QueueWait)
	tagJob(span, it.job)
	span.SetIntTag(spans.QueueDepth, a.ahead)
	span.SetTag(spans.QueueLane, a.lane)
	span.SetIntTag(spans.WaitedBehindCount, a.ahead)
	span.SetTag(spans.WaitedBehindJobs, strings.Join(a.behind, ","))
	it.wait = span
}

// process runs one job and hands its result to the results channel.
func (p *Pool) process(workerID int, it *queued) {
	dequeued := time.Now()
	it.wait.Finish()
	job := it.job
	live := p.Settings()

	ctx, release := p.bind(it.ctx)
	ctx, span := p.tr.StartSpan(ctx, spans.WorkerProcess)
	span.SetIntTag(spans.WorkerID, workerID)
	tagJob(span, job)
	err := p.runner.Run(ctx, job, work.Params{
		CacheLatency:     live.CacheLatency,
		DBAcquireLatency: live.DBAcquireLatency,
		DBQueryLatency:   live.DBQueryLatency,
		VendorTimeout:    live.VendorTimeout,
	})
	if err != nil {
		span.SetTag(tracing.TagError, err.Error())
	}
	span.Finish()
	release()
	finished := time.Now()

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

	p.send(workerID, it, &delivery{
		ctx:      it.ctx,
		result:   result,
		jobID:    job.GetId(),
		jobType:  job.GetType(),
		accepted: it.accepted,
	})
}

// send hands the result to the forwarders. This is the incident's hidden
// bottleneck: with a small channel and a slow consumer, the worker waits
// here instead of taking the next job.
func (p *Pool) send(workerID int, it *queued, d *delivery) {
	lane, laneName := slow, LaneShared
	if p.Settings().PriorityLanes {
		laneName = LaneSlow
		if it.lane == fast {
			lane, laneName = fast, LaneFast
		}
	}
	_, span := p.tr.StartSpan(it.ctx, spans.ResultSend)
	rep := p.results.send(d, lane)
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
	span.Finish()

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
		p.log.DebugContext(it.ctx, "result send blocked", spans.JobID, d.jobID, spans.WorkerID, workerID,
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

func (p *Pool) deliver(d *delivery) {
	taken := time.Now()
	d.result.SendBlock = durationpb.New(d.sendBlock)
	ctx, span := p.tr.StartSpan(d.ctx, spans.ResultDeliver)
	span.SetTag(spans.JobID, d.jobID)
	span.SetTag(spans.JobType, jobs.TypeName(d.jobType))
	span.SetIntTag(spans.ChannelWaitMS, int(taken.Sub(d.enqueued).Milliseconds()))
	dctx, release := p.bind(ctx)
	attempts, err := p.sink.Deliver(dctx, d.result)
	release()
	span.SetIntTag(spans.DeliveryAttempts, attempts)
	abandoned := err != nil && p.abandon.Err() != nil
	switch {
	case abandoned:
		span.SetTag(tracing.TagError, abandonedAtShutdown+": "+err.Error())
	case err != nil:
		span.SetTag(tracing.TagError, err.Error())
	}
	span.Finish()

	delivered := time.Now()
	p.rec.update(func(c *Counters) {
		c.DeliveryRetries += uint64(max(attempts-1, 0))
		switch {
		case err == nil:
			c.Delivered++
		case abandoned:
			c.Abandoned++
		default:
			c.DeliveryFailed++
		}
	})
	switch {
	case err == nil:
		p.rec.sample(d.jobType, func(s *typeSamples) { s.endToEnd.add(delivered.Sub(d.accepted)) })
		p.log.InfoContext(ctx, "result delivered",
			spans.JobID, d.jobID, spans.JobType, jobs.TypeName(d.jobType), "ok", d.result.GetOk(),
			spans.WorkerID, d.result.GetWorkerId(),
			"queue_wait", d.result.GetQueueWait().AsDuration(), "work", d.result.GetWork().AsDuration(),
			"send_block", d.sendBlock, "channel_wait", taken.Sub(d.enqueued),
			"end_to_end", delivered.Sub(d.accepted), spans.DeliveryAttempts, attempts)
	case abandoned:
		// abandonWork logs one summary line; a line per result would
		// flood the log at the worst moment.
		p.log.DebugContext(ctx, "result not delivered before the shutdown deadline", spans.JobID, d.jobID, "err", err)
	default:
		p.log.ErrorContext(ctx, "result rejected by the consumer; dropped", spans.JobID, d.jobID, "err", err)
	}
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
// short: queue.wait of jobs never run, result.deliver of results in
// delivery.
const abandonedAtShutdown = "abandoned at shutdown"

// abandonWork cuts everything at the shutdown deadline and accounts for
// what is lost: queued jobs never run (their queue.wait spans end with an
// error), results cut in delivery (counted by deliver) and results still
// in the results channel. It reports them in one line and the error.
func (p *Pool) abandonWork() error {
	p.freezeForwarders()
	before := p.rec.abandoned()
	// From here no worker takes a job and no forwarder a result; running
	// work and deliveries in progress are cancelled.
	p.abandonNow()
	queued := p.queue.drain()
	for _, it := range queued {
		it.wait.SetTag(tracing.TagError, abandonedAtShutdown)
		it.wait.Finish()
	}
	p.results.abort()
	p.results.close()
	// Everything the workers and forwarders wait on is now cancelled; they
	// return promptly. Only then is the channel's content final: a worker
	// cut mid-job still sends its (failed) result.
	<-p.workersDone
	<-p.forwarderDone
	inChannel := uint64(p.results.discard())
	p.rec.update(func(c *Counters) {
		c.AbandonedJobs += uint64(len(queued))
		c.Abandoned += inChannel
	})
	inDelivery := p.rec.abandoned() - before - inChannel
	undelivered := inDelivery + inChannel
	p.log.Warn("shutdown deadline hit; work abandoned", "queued_jobs", len(queued),
		"undelivered_results", undelivered, "in_delivery", inDelivery, "in_results_channel", inChannel)
	return fmt.Errorf("worker pool: shutdown deadline hit with %d queued jobs and %d undelivered results", len(queued), undelivered)
}

// Stats is the pool part of /stats.
type Stats struct {
	Workers   WorkersStats         `json:"workers"`
	Queue     QueueStats           `json:"queue"`
	Results   ResultsStats         `json:"results"`
	Counters  Counters             `json:"counters"`
	Latencies map[string]Latencies `json:"latencies"`
}

// Stats returns a snapshot.
func (p *Pool) Stats() Stats {
	s := Stats{Workers: p.workerSet.stats(), Queue: p.queue.stats()}
	s.Results = p.results.stats(s.Queue.PriorityLanes)
	s.Counters, s.Latencies = p.rec.snapshot()
	return s
}

func tagJob(span interface {
	SetTag(string, string)
	SetIntTag(string, int)
}, job *jobsv1.Job) {
	span.SetTag(spans.JobID, job.GetId())
	span.SetTag(spans.JobType, jobs.TypeName(job.GetType()))
	span.SetTag(spans.JobPriority, jobs.PriorityName(job.GetPriority()))
	span.SetTag(spans.JobTarget, job.GetTarget())
	if job.GetBatch() != "" {
		span.SetTag(spans.JobBatch, job.GetBatch())
	}
	if job.GetScenario() != "" {
		span.SetTag(spans.JobScenario, job.GetScenario())
	}
	if job.GetSequence() != 0 {
		span.SetIntTag(spans.JobSequence, int(job.GetSequence()))
	}
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
