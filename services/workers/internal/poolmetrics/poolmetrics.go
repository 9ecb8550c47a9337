// Package poolmetrics publishes the worker pool's gauges and counters as
// OpenTelemetry observable instruments, read from the pool's Stats at each
// scrape of /metrics. They are the numbers a dashboard of the incident
// would have shown: the queue, how many workers are busy, the results
// channel's fill, jobs completed. "Busy" counts a worker blocked handing
// off its result the same as one doing work; pool.workers.blocked is there
// to show the difference, and the traces show why.
package poolmetrics

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/pool"
)

// Source is what the instruments read; *pool.Pool implements it.
type Source interface {
	Stats() pool.Stats
	Workers() int
	IdleWorkers() int
}

// Instrument names (OTel style; Prometheus shows dots as underscores and
// adds _total to counters, _seconds_total to the blocked time).
const (
	Workers              = "pool.workers"
	WorkersBusy          = "pool.workers.busy"
	WorkersBlocked       = "pool.workers.blocked"
	QueueDepth           = "pool.queue.depth"
	QueueCapacity        = "pool.queue.capacity"
	ResultsLength        = "pool.results.length"
	ResultsCapacity      = "pool.results.capacity"
	ResultsOverflow      = "pool.results.overflow.length"
	JobsSubmitted        = "pool.jobs.submitted"
	JobsRejected         = "pool.jobs.rejected"
	JobsCompleted        = "pool.jobs.completed"
	JobsFailed           = "pool.jobs.failed"
	ResultsDelivered     = "pool.results.delivered"
	ResultsBlockedSends  = "pool.results.blocked_sends"
	ResultsBlockedTime   = "pool.results.blocked_time"
	ResultsDeliveryRetry = "pool.results.delivery_retries"
)

// Register adds the pool's instruments to meter. One callback reads Stats
// once per collection for all of them.
func Register(meter metric.Meter, src Source) (metric.Registration, error) {
	var err error
	g := func(name, unit, desc string) metric.Int64ObservableGauge {
		if err != nil {
			return nil
		}
		var inst metric.Int64ObservableGauge
		inst, err = meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return inst
	}
	c := func(name, unit, desc string) metric.Int64ObservableCounter {
		if err != nil {
			return nil
		}
		var inst metric.Int64ObservableCounter
		inst, err = meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return inst
	}
	workers := g(Workers, "{worker}", "Worker goroutines (WORKERS).")
	busy := g(WorkersBusy, "{worker}", "Workers not waiting for a job: working, or blocked sending a result.")
	blocked := g(WorkersBlocked, "{worker}", "Workers blocked sending a result to a full results channel right now.")
	qDepth := g(QueueDepth, "{job}", "Jobs waiting in the job queue.")
	qCap := g(QueueCapacity, "{job}", "Job queue slots (both lanes when priority lanes are on).")
	rLen := g(ResultsLength, "{result}", "Results in the results channel.")
	rCap := g(ResultsCapacity, "{result}", "Results channel slots per lane (RESULTS_BUFFER).")
	rOver := g(ResultsOverflow, "{result}", "Results in the non-blocking mode's overflow buffer.")
	submitted := c(JobsSubmitted, "{job}", "Jobs Submit accepted into the job queue.")
	rejected := c(JobsRejected, "{job}", "Submits refused (queue full, shutting down).")
	completed := c(JobsCompleted, "{job}", "Jobs run, ok or not, by job.type.")
	failed := c(JobsFailed, "{job}", "Jobs whose work failed.")
	delivered := c(ResultsDelivered, "{result}", "Results the consumer accepted.")
	blockedSends := c(ResultsBlockedSends, "{send}", "Result sends that had to wait for room in the results channel.")
	blockedTime := meterFloatCounter(meter, &err, ResultsBlockedTime, "s", "Time workers spent blocked sending results.")
	retries := c(ResultsDeliveryRetry, "{attempt}", "Delivery attempts retried.")
	if err != nil {
		return nil, fmt.Errorf("pool metrics: %w", err)
	}

	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := src.Stats()
		n := src.Workers()
		o.ObserveInt64(workers, int64(n))
		o.ObserveInt64(busy, int64(max(0, n-src.IdleWorkers())))
		o.ObserveInt64(blocked, int64(s.Results.BlockedNow))
		o.ObserveInt64(qDepth, int64(s.Queue.Depth))
		o.ObserveInt64(qCap, int64(s.Queue.Capacity))
		o.ObserveInt64(rLen, int64(s.Results.Len))
		o.ObserveInt64(rCap, int64(s.Results.Cap))
		o.ObserveInt64(rOver, int64(s.Results.OverflowLen))
		k := s.Counters
		o.ObserveInt64(submitted, int64(k.Submitted))
		o.ObserveInt64(rejected, int64(k.Rejected))
		for typ, v := range k.CompletedByType {
			o.ObserveInt64(completed, int64(v), metric.WithAttributes(attribute.String("job.type", typ)))
		}
		o.ObserveInt64(failed, int64(k.Failed))
		o.ObserveInt64(delivered, int64(k.Delivered))
		o.ObserveInt64(blockedSends, int64(k.BlockedSends))
		o.ObserveFloat64(blockedTime, float64(k.BlockedMSTotal)/1000)
		o.ObserveInt64(retries, int64(k.DeliveryRetries))
		return nil
	}, workers, busy, blocked, qDepth, qCap, rLen, rCap, rOver,
		submitted, rejected, completed, failed, delivered, blockedSends, blockedTime, retries)
	if err != nil {
		return nil, fmt.Errorf("pool metrics: %w", err)
	}
	return reg, nil
}

func meterFloatCounter(meter metric.Meter, errp *error, name, unit, desc string) metric.Float64ObservableCounter {
	if *errp != nil {
		return nil
	}
	inst, err := meter.Float64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	*errp = err
	return inst
}
