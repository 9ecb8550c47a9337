// Package work does the jobs: simulated cache reads and database queries
// with the incident's latencies, and real HTTP calls to the vendor API.
// Each kind of work makes the child spans of worker.process.
package work

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// Vendor calls the vendor API; see vendor.Client.
type Vendor interface {
	Call(ctx context.Context, path, jobID string, timeout time.Duration) (status int, err error)
}

// Params are the live settings a job runs with; they may change between
// jobs (PUT /admin/config).
type Params struct {
	CacheLatency     envconfig.Range
	DBAcquireLatency envconfig.Range
	DBQueryLatency   envconfig.Range
	VendorTimeout    time.Duration // 0 = none
}

// Options replace the runner's sources of time and chance (tests).
type Options struct {
	// Sleep waits d or until ctx ends. Nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand picks latencies within their ranges. Nil means a randomly
	// seeded source.
	Rand *rand.Rand
}

// Runner runs jobs. It is safe for concurrent use by the workers.
type Runner struct {
	tr     *tracing.Provider
	vendor Vendor
	sleep  func(context.Context, time.Duration) error

	mu  sync.Mutex // guards rng: *rand.Rand is not safe for concurrent use
	rng *rand.Rand
}

// New returns a runner whose vendor-api jobs call v.
func New(tr *tracing.Provider, v Vendor, o Options) *Runner {
	r := &Runner{tr: tr, vendor: v, sleep: o.Sleep, rng: o.Rand}
	if r.sleep == nil {
		r.sleep = sleep
	}
	if r.rng == nil {
		r.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return r
}

// Run does job's work. ctx holds the worker.process span. The error is the
// job's failure, reported in its Result.
func (r *Runner) Run(ctx context.Context, job *jobsv1.Job, p Params) error {
	switch job.GetType() {
	case jobsv1.JobType_JOB_TYPE_CACHE_READ:
		ctx, span := r.tr.StartSpan(ctx, spans.CacheRead)
		defer span.Finish()
		span.SetTag(spans.CacheKey, job.GetTarget())
		return r.pause(ctx, span, p.CacheLatency)
	case jobsv1.JobType_JOB_TYPE_DATABASE:
		return r.query(ctx, job, p)
	case jobsv1.JobType_JOB_TYPE_VENDOR_API:
		return r.callVendor(ctx, job, p)
	}
	return fmt.Errorf("job type %s cannot be run", jobs.TypeName(job.GetType()))
}

func (r *Runner) query(ctx context.Context, job *jobsv1.Job, p Params) error {
	ctx, span := r.tr.StartSpan(ctx, spans.DatabaseQuery)
	defer span.Finish()
	span.SetTag(spans.DBQuery, job.GetTarget())

	actx, acquire := r.tr.StartSpan(ctx, spans.PoolAcquire)
	err := r.pause(actx, acquire, p.DBAcquireLatency)
	acquire.Finish()
	if err != nil {
		span.SetTag(tracing.TagError, err.Error())
		return err
	}
	qctx, execute := r.tr.StartSpan(ctx, spans.QueryExecute)
	err = r.pause(qctx, execute, p.DBQueryLatency)
	execute.Finish()
	if err != nil {
		span.SetTag(tracing.TagError, err.Error())
	}
	return err
}

func (r *Runner) callVendor(ctx context.Context, job *jobsv1.Job, p Params) error {
	ctx, span := r.tr.StartSpan(ctx, spans.VendorAPI)
	defer span.Finish()
	span.SetTag(spans.VendorPath, job.GetTarget())
	span.SetIntTag(spans.VendorTimeoutMS, int(p.VendorTimeout.Milliseconds()))
	status, err := r.vendor.Call(ctx, job.GetTarget(), job.GetId(), p.VendorTimeout)
	if status != 0 {
		span.SetIntTag(spans.HTTPStatus, status)
	}
	if err != nil {
		span.SetTag(tracing.TagError, err.Error())
	}
	return err
}

// tagger is the part of *tracez.ActiveSpan that pause needs.
type tagger interface{ SetTag(key, value string) }

// pause sleeps for a uniformly random time within g.
func (r *Runner) pause(ctx context.Context, span tagger, g envconfig.Range) error {
	if err := r.sleep(ctx, r.pick(g)); err != nil {
		err = fmt.Errorf("work abandoned: %w", err)
		span.SetTag(tracing.TagError, err.Error())
		return err
	}
	return nil
}

func (r *Runner) pick(g envconfig.Range) time.Duration {
	if g.Max <= g.Min {
		return g.Min
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return g.Min + time.Duration(r.rng.Int64N(int64(g.Max-g.Min)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
