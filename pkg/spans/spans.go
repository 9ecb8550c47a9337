// Package spans names the spans and attributes of the project's trace
// contract. The services emit them; the report, the end-to-end tests and
// the README read them. Renaming one here is a breaking change for all of
// those, which is why they live in one place.
//
// The shape of one job's trace (contract v2; see the README's trace tree):
//
//	producer  <scenario> <type>          root: the job's whole life, submission → confirmed by the consumer
//	producer    job.submit               one per attempt (kind producer); job.attempt, link to the attempt before
//	producer      gRPC WorkerPool/Submit (client, then the workers' server span: both short)
//	workers     pool.job                 the workers hold the job: accept → result acknowledged (kind consumer)
//	workers       queue.wait             in the job queue
//	workers       worker.process         the work (cache.read | database.query | vendor.api)
//	workers       result.send            handing the result to the results channel (kind producer)
//	workers       results.channel.wait   in the results channel, until a forwarder takes it
//	workers       result.deliver         a forwarder delivering it (kind consumer)
//	consumer        gRPC ResultSink/Deliver > result.wait, result.process
//
// Within the workers, pool.job's children cover it end to end: every
// millisecond of the job there is in a span that says what it waited for.
// Traces of contract v1 (before pool.job and results.channel.wait; root
// job.submit covering only the Submit call) are still read by the report.
package spans

import "strings"

// Span names, in the order a job meets them.
const (
	// producer: one Submit attempt of a job (kind producer), a child of
	// the job's root. In contract v1 traces it was the root itself.
	JobSubmit = "job.submit"

	// workers: the job's whole stay in the worker pool, from accept to
	// the consumer's acknowledgement of its result (or the pool giving
	// up on it). Parent of queue.wait, worker.process, result.send,
	// results.channel.wait and result.deliver.
	PoolJob = "pool.job"
	// workers: accept → dequeue.
	QueueWait = "queue.wait"
	// workers: the job's own work; parent of one of the four below.
	WorkerProcess = "worker.process"
	CacheRead     = "cache.read"
	DatabaseQuery = "database.query" // children: PoolAcquire, QueryExecute
	PoolAcquire   = "pool.acquire"
	QueryExecute  = "query.execute"
	VendorAPI     = "vendor.api" // child: the HTTP client span to vendor-mock
	// workers: the worker handing its result to the results channel. A
	// blocked send here is the incident's hidden bottleneck.
	ResultSend = "result.send"
	// workers: the result sitting in the results channel, from the moment
	// its send completed until a forwarder took it.
	ResultsChannelWait = "results.channel.wait"
	// workers: the forwarder taking the result from the channel and
	// delivering it to the consumer (child: the gRPC client span).
	ResultDeliver = "result.deliver"

	// vendor-mock: inside the HTTP server span.
	VendorHandle = "vendor.handle"

	// consumer: waiting for one of the consumer's CONCURRENCY slots.
	ResultWait = "result.wait"
	// consumer: handling one result (PROCESS_DELAY).
	ResultProcess = "result.process"
)

// JobRootName is the name of a job's root span: the scenario and the job
// type, e.g. "checkout cache-read", so a list of traces tells jobs apart
// while the names stay few (scenarios × 3 types). The target is an
// attribute (job.target), never part of the name.
func JobRootName(scenario, jobType string) string {
	if scenario == "" {
		scenario = "job"
	}
	return scenario + " " + jobType
}

// IsJobRootName reports whether name is one JobRootName makes: a
// scenario and a job type separated by one space.
func IsJobRootName(name string) bool {
	scenario, typ, ok := strings.Cut(name, " ")
	return ok && scenario != "" && typ != "" && !strings.Contains(typ, " ")
}

// Attributes of the job, set on the root, job.submit, pool.job,
// worker.process and result.process.
const (
	JobID       = "job.id"
	JobType     = "job.type"     // cache-read | database | vendor-api
	JobPriority = "job.priority" // low | normal | high | critical
	JobTarget   = "job.target"   // cache key, query name or vendor path
	JobBatch    = "job.batch"    // checkout burst ID
	JobScenario = "job.scenario" // checkout | steady
	JobSequence = "job.sequence" // place in the burst, 1-based

	// JobAttempt is the attempt a span belongs to (1-based): on
	// job.submit, and on pool.job and result.process of that attempt.
	JobAttempt = "job.attempt"
	// JobAttempts is, on the root, how many Submit attempts were made.
	JobAttempts = "job.attempts"
	// JobOutcome is, on the root, how the job's life ended: one of the
	// Outcome* values.
	JobOutcome = "job.outcome"
)

// Values of job.outcome on the root span.
const (
	OutcomeDelivered = "delivered" // the consumer handled it (result.ok true)
	OutcomeFailed    = "failed"    // the consumer handled it, but the job's work failed (result.ok false)
	OutcomeRejected  = "rejected"  // load shed: the pool refused its first Submit (RESOURCE_EXHAUSTED), or the producer skipped it (submit.outcome on the root says so); not a failure
	OutcomeLost      = "lost"      // never confirmed after the last attempt (error status)
	OutcomeAbandoned = "abandoned" // unconfirmed when the producer stopped (error status)
	OutcomeInvalid   = "invalid"   // refused as invalid by the pool (INVALID_ARGUMENT): never retried (error status)
)

// Attributes of job.submit (one attempt).
const (
	// SubmitOutcome says what the pool answered: one of the Submit* values.
	SubmitOutcome = "submit.outcome"
)

// Values of submit.outcome.
const (
	SubmitAccepted    = "accepted"     // queued
	SubmitAlreadyHeld = "already_held" // a re-submission of a job the pool still holds: nothing queued
	SubmitRejected    = "rejected"     // RESOURCE_EXHAUSTED: queue full for SUBMIT_WAIT (load shed)
	SubmitUnavailable = "unavailable"  // the pool did not answer (down, restarting, timed out)
	SubmitInvalid     = "invalid"      // INVALID_ARGUMENT: never retried

	// The producer generated the job but never submitted it: load it shed
	// itself. Set on the job's root (job.outcome rejected), which is then
	// the trace's only span: there was no attempt, so no job.submit.
	SubmitSkippedBacklog     = "skipped_backlog"     // its submissions waiting on the pool were at their cap (/stats steady.skipped_backlog)
	SubmitSkippedUnconfirmed = "skipped_unconfirmed" // too many jobs waited for the consumer's confirmation (/stats delivery.refused_full)
)

// Attributes of the waits. Every wait span says what it waited behind.
const (
	QueueDepth    = "queue.depth"    // jobs ahead in the queue at accept
	QueueLane     = "queue.lane"     // fast | slow when priority lanes are on, else shared
	QueueCapacity = "queue.capacity" // job queue slots per lane (QUEUE_SIZE)
	// WaitedBehindCount and WaitedBehindJobs name what a wait was behind:
	// the jobs ahead in a queue, or whose results filled the channel.
	WaitedBehindCount = "waited_behind.count"
	WaitedBehindJobs  = "waited_behind.job_ids" // comma-separated, at most 10

	WorkerID = "worker.id"
	// PoolWorkers is WORKERS, on pool.job and worker.process.
	PoolWorkers = "pool.workers"

	ChannelBlocked     = "channel.blocked"      // true when the send had to wait
	BlockDurationMS    = "block.duration_ms"    // how long it waited
	ResultsBufferLen   = "results.buffer.len"   // channel length when the send began (result.send) or the result entered (results.channel.wait)
	ResultsBufferCap   = "results.buffer.cap"   // channel capacity (RESULTS_BUFFER)
	ResultSendMode     = "result.send.mode"     // blocking | nonblocking
	ResultsOverflowLen = "results.overflow.len" // non-blocking mode's overflow buffer
	ResultSendFallback = "result.send.fallback" // true: a non-blocking send blocked because the overflow was full
	ResultsLane        = "results.lane"         // fast | slow with priority lanes on, else shared

	ChannelWaitMS    = "results.channel_wait_ms" // result.deliver: time the result sat in the channel
	DeliveryAttempts = "delivery.attempts"
	// DeliveryConfirmedByStatus is true on a result.deliver that the
	// shutdown deadline cut, but whose result the consumer's Status says
	// it handled: delivered, not abandoned.
	DeliveryConfirmedByStatus = "delivery.confirmed_by_status"
	ResultsForwarders         = "results.forwarders"   // FORWARDERS, on result.deliver
	ConsumerConcurrency       = "consumer.concurrency" // CONCURRENCY, on result.wait and result.process
)

// OpenTelemetry messaging attributes (semantic conventions): the job queue
// and the results channel are the two queues of the pipeline.
const (
	MessagingSystem           = "messaging.system"
	MessagingDestination      = "messaging.destination.name"
	MessagingOperationType    = "messaging.operation.type" // send | receive | process
	MessagingMessageID        = "messaging.message.id"
	MessagingSystemValue      = "hidden-bottleneck"
	DestinationJobs           = "jobs"    // the workers' job queue
	DestinationResults        = "results" // the results channel
	MessagingOperationSend    = "send"
	MessagingOperationProcess = "process"
)

// Attributes of the work.
const (
	CacheKey        = "cache.key"
	DBQuery         = "db.query"
	VendorPath      = "vendor.path"
	VendorTimeoutMS = "vendor.timeout_ms"
	HTTPStatus      = "http.status_code"
)

// Attributes of vendor.handle.
const (
	FaultPreset            = "fault.preset"
	FaultRule              = "fault.rule" // "global" or the route prefix whose rule applied
	FaultDegraded          = "fault.degraded"
	FaultInjectedLatencyMS = "fault.injected_latency_ms"
	FaultError             = "fault.error" // true when an error status was injected
	FaultHang              = "fault.hang"  // true when the call was made to hang
)

// Attributes of result.process: the job's whole story, as the consumer saw
// it. The root carries job.end_to_end_ms too.
const (
	Duplicate      = "result.duplicate"
	QueueWaitMS    = "job.queue_wait_ms"
	WorkMS         = "job.work_ms"
	SendBlockMS    = "job.send_block_ms"
	EndToEndMS     = "job.end_to_end_ms" // submitted → handled by the consumer
	ResultOK       = "result.ok"
	ResultError    = "result.error" // why the job failed (the consumer itself did fine, so no error status)
	ConsumerWaitMS = "consumer.wait_ms"
)
