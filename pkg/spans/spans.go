// Package spans names the spans and attributes of the project's trace
// contract. The services emit them; the report, the end-to-end tests and
// the README read them. Renaming one here is a breaking change for all of
// those, which is why they live in one place.
package spans

// Span names, in the order a job meets them.
const (
	// producer: root of every job's trace; covers the Submit call.
	JobSubmit = "job.submit"

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

// Attributes of the job, set on job.submit, worker.process and result.process.
const (
	JobID       = "job.id"
	JobType     = "job.type"     // cache-read | database | vendor-api
	JobPriority = "job.priority" // low | normal | high | critical
	JobTarget   = "job.target"   // cache key, query name or vendor path
	JobBatch    = "job.batch"    // checkout burst ID
	JobScenario = "job.scenario" // checkout | steady
	JobSequence = "job.sequence" // place in the burst, 1-based
)

// Attributes of the waits. Every wait span says what it waited behind.
const (
	QueueDepth = "queue.depth" // jobs ahead in the queue at accept
	QueueLane  = "queue.lane"  // fast | slow when priority lanes are on, else shared
	// WaitedBehindCount and WaitedBehindJobs name what a wait was behind:
	// the jobs ahead in a queue, or whose results filled the channel.
	WaitedBehindCount = "waited_behind.count"
	WaitedBehindJobs  = "waited_behind.job_ids" // comma-separated, at most 10

	WorkerID = "worker.id"

	ChannelBlocked     = "channel.blocked"      // true when the send had to wait
	BlockDurationMS    = "block.duration_ms"    // how long it waited
	ResultsBufferLen   = "results.buffer.len"   // channel length when the send began
	ResultsBufferCap   = "results.buffer.cap"   // channel capacity (RESULTS_BUFFER)
	ResultSendMode     = "result.send.mode"     // blocking | nonblocking
	ResultsOverflowLen = "results.overflow.len" // non-blocking mode's overflow buffer
	ResultSendFallback = "result.send.fallback" // true: a non-blocking send blocked because the overflow was full
	ResultsLane        = "results.lane"         // fast | slow with priority lanes on, else shared

	ChannelWaitMS    = "results.channel_wait_ms" // result.deliver: time the result sat in the channel
	DeliveryAttempts = "delivery.attempts"
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

// Attributes of result.process: the job's whole story, as the consumer saw it.
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
