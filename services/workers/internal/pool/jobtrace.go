package pool

import (
	"context"
	"strings"
	"time"

	"github.com/zoobzio/tracez"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// A job's spans in the pool (trace contract v2):
//
//	pool.job                accept → the consumer acknowledged the result
//	  queue.wait            accept → a worker took it
//	  worker.process        the work
//	  result.send           handing the result to the results channel
//	  results.channel.wait  in the channel, until a forwarder took it
//	  result.deliver        the forwarder delivering it
//
// Each child starts at the very instant the one before it ended (the times
// are taken once and passed on: StartSpanAt, FinishAt), so the children
// cover pool.job without a gap and no child outlives it.

// startJobSpans starts pool.job and queue.wait at accept. It runs under
// the queue's lock, before any worker can see the job. it.ctx holds the
// job's parent (the producer's root, from the job's trace context) and is
// replaced by pool.job's context, under which every later span of the job
// hangs.
func (p *Pool) startJobSpans(it *queued, a acceptance, now time.Time) {
	jctx, job := p.tr.StartSpanAt(it.ctx, spans.PoolJob, now)
	job.SetTag(tracing.TagSpanKind, tracing.KindConsumer)
	tagMessaging(job, spans.DestinationJobs, it.job.GetId())
	job.SetTag(spans.MessagingOperationType, spans.MessagingOperationProcess)
	jobs.Tag(job, it.job)
	if n := it.job.GetAttempt(); n > 0 {
		job.SetIntTag(spans.JobAttempt, int(n))
	}
	job.SetIntTag(spans.PoolWorkers, p.Workers())
	it.ctx, it.span = jctx, job

	_, wait := p.tr.StartSpanAt(jctx, spans.QueueWait, now)
	tagMessaging(wait, spans.DestinationJobs, it.job.GetId())
	jobs.Tag(wait, it.job)
	wait.SetIntTag(spans.QueueDepth, a.ahead)
	wait.SetTag(spans.QueueLane, a.lane)
	wait.SetIntTag(spans.QueueCapacity, a.capacity)
	wait.SetIntTag(spans.WaitedBehindCount, a.ahead)
	wait.SetTag(spans.WaitedBehindJobs, strings.Join(a.behind, ","))
	it.wait = wait
}

// finishChannelWait records the result's stay in the results channel:
// from the moment its send completed (d.enqueued) until end, when a
// forwarder took it (or the shutdown deadline discarded it).
func (p *Pool) finishChannelWait(d *delivery, end time.Time, errText string) {
	_, w := p.tr.StartSpanAt(d.ctx, spans.ResultsChannelWait, d.enqueued)
	tagMessaging(w, spans.DestinationResults, d.jobID)
	w.SetTag(spans.JobID, d.jobID)
	w.SetTag(spans.JobType, jobs.TypeName(d.jobType))
	w.SetTag(spans.ResultsLane, d.laneName)
	w.SetIntTag(spans.ResultsBufferLen, d.entry.bufLen)
	w.SetIntTag(spans.ResultsBufferCap, d.entry.bufCap)
	if d.entry.nonblocking || d.entry.overflowLen > 0 {
		w.SetIntTag(spans.ResultsOverflowLen, d.entry.overflowLen)
	}
	w.SetIntTag(spans.WaitedBehindCount, d.entry.aheadCount)
	if len(d.entry.ahead) > 0 {
		w.SetTag(spans.WaitedBehindJobs, strings.Join(d.entry.ahead, ","))
	}
	if errText != "" {
		w.SetTag(tracing.TagError, errText)
	}
	tracing.FinishAt(w, end)
}

// endJob finishes pool.job at end (with an error saying why the pool gave
// up on the job, if it did) and lets the job ID go: a later Submit of it
// is work again.
func (p *Pool) endJob(span *tracez.ActiveSpan, jobID string, end time.Time, errText string) {
	if errText != "" {
		span.SetTag(tracing.TagError, errText)
	}
	tracing.FinishAt(span, end)
	p.held.remove(jobID)
}

// tagMessaging sets the OpenTelemetry messaging attributes of a span about
// one message (a job, or its result) in one of the pool's two queues.
func tagMessaging(span *tracez.ActiveSpan, destination, id string) {
	span.SetTag(spans.MessagingSystem, spans.MessagingSystemValue)
	span.SetTag(spans.MessagingDestination, destination)
	span.SetTag(spans.MessagingMessageID, id)
}

// jobContext is the context the job's spans hang under, without
// cancellation: the job outlives the Submit call that brought it.
func (p *Pool) jobContext(ctx context.Context, job *jobsv1.Job) context.Context {
	// The producer's root span, carried in the job, is pool.job's parent
	// (a message's creation context, in OpenTelemetry's messaging terms);
	// without one, the Submit server span in ctx is.
	return p.tr.Extract(context.WithoutCancel(ctx), job.GetTraceContext())
}
