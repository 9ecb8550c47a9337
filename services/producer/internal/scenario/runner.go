package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
)

// Options build a Runner.
type Options struct {
	// Jobs submits jobs and follows them until the consumer confirms them.
	Jobs    *tracker.Tracker
	Log     *slog.Logger
	Control *Control
	// Tracing records the steady jobs the producer skips (nil: not
	// traced); the tracker traces the jobs it submits.
	Tracing *tracing.Provider
	// MaxInFlight bounds the steady jobs' first submissions waiting on the
	// pool at once (0: DefaultMaxInFlight).
	MaxInFlight int
	// Seed seeds steady load's choices (0 = random).
	Seed uint64
	// Now and NewTicker are the clock (nil = the real one); tests drive
	// steady load with fakes.
	Now       func() time.Time
	NewTicker func(d time.Duration) (<-chan time.Time, func())
}

const (
	// steadyTick is how often steady load checks what is due; the Pacer
	// sends several jobs per tick at high rates.
	steadyTick = 10 * time.Millisecond
	// DefaultMaxInFlight bounds the first submissions of steady jobs
	// waiting on the worker pool at once. A Submit to a full queue waits
	// SUBMIT_WAIT (1 s by default) before the pool refuses it, so offering
	// N jobs/s takes about N × SUBMIT_WAIT submissions in flight: 2,048
	// carry 1,000 jobs/s with room for a 2 s wait. Each costs about 18 KB
	// (its goroutine's 8 KB stack; 10 KB of heap for the gRPC call, the
	// spans and the tracker's entry: measured with the pool holding every
	// Submit, docs/producer-consumer.md), so all of them about 37 MB, inside
	// the producer's 128 MB with room for the garbage collector. Beyond
	// it, jobs are skipped, and each skipped job is traced (see skipped):
	// the traces still show the load offered.
	DefaultMaxInFlight = 2048
)

// Runner generates the load its Control says, submits jobs and counts what
// happened. Checkout may also be called directly (POST /admin/checkout),
// concurrently with Run: every burst has its own batch.
type Runner struct {
	jobs      *tracker.Tracker
	log       *slog.Logger
	control   *Control
	now       func() time.Time
	newTicker func(time.Duration) (<-chan time.Time, func())
	seed      uint64
	runID     string
	tp        *tracing.Provider

	steadySeq atomic.Uint64
	inFlight  chan struct{}
	wg        sync.WaitGroup // steady submissions in flight
	counts    counters
}

// NewRunner returns a runner; Options.Jobs and Control are required.
func NewRunner(o Options) *Runner {
	r := &Runner{
		jobs:      o.Jobs,
		log:       o.Log,
		control:   o.Control,
		now:       o.Now,
		newTicker: o.NewTicker,
		seed:      o.Seed,
		runID:     fmt.Sprintf("%08x", rand.Uint32()),
		tp:        o.Tracing,
		inFlight:  make(chan struct{}, cmp.Or(max(o.MaxInFlight, 0), DefaultMaxInFlight)),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.newTicker == nil {
		r.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if r.seed == 0 {
		r.seed = rand.Uint64()
	}
	return r
}

// Control is the load the runner follows.
func (r *Runner) Control() *Control { return r.control }

// Drain waits for the first submissions of steady jobs in flight, until
// ctx ends; the tracker then drains what they started.
func (r *Runner) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("steady submissions still in flight: %w", ctx.Err())
	}
}

// Run generates load until ctx ends, following Control: switching scenario
// at run time stops one and starts the other.
func (r *Runner) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		load, changed := r.control.Get()
		r.log.Info("scenario", "name", load.Scenario, "rate", load.Rate, "mix", load.Mix.String(),
			"checkout_every", load.CheckoutEvery, "checkout_timeout", load.CheckoutTimeout)
		switch load.Scenario {
		case NameCheckout:
			r.runCheckouts(ctx)
		case NameSteady:
			r.runSteady(ctx)
		default:
			select {
			case <-ctx.Done():
			case <-changed:
			}
		}
	}
	return nil
}

// runCheckouts runs a burst now and then every CheckoutEvery, until the
// scenario changes or ctx ends. CheckoutEvery 0 runs one burst.
func (r *Runner) runCheckouts(ctx context.Context) {
	var last time.Time
	ran := false
	for {
		load, changed := r.control.Get()
		if load.Scenario != NameCheckout {
			return
		}
		if !ran || (load.CheckoutEvery > 0 && !r.now().Before(last.Add(load.CheckoutEvery))) {
			last, ran = r.now(), true
			r.Checkout(ctx, load.CheckoutTimeout)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		var (
			next  <-chan time.Time
			timer *time.Timer
		)
		if load.CheckoutEvery > 0 {
			timer = time.NewTimer(last.Add(load.CheckoutEvery).Sub(r.now()))
			next = timer.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-next:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// runSteady submits jobs at the load's rate and mix until the scenario
// changes or ctx ends; rate and mix changes apply at once. STEADY_DURATION
// counts from the start of the scenario or from a change of the duration.
func (r *Runner) runSteady(ctx context.Context) {
	load, changed := r.control.Get()
	start := r.now()
	pacer := NewPacer(start, load.Rate)
	gen := NewGenerator(r.seed+r.steadySeq.Load(), load.Mix)
	ticks, stop := r.newTicker(steadyTick)
	defer stop()
	finished := false

	// follow applies the current load; false means steady load is over.
	follow := func() bool {
		next, nc := r.control.Get()
		if next.Scenario != NameSteady {
			return false
		}
		now := r.now()
		pacer.SetRate(now, next.Rate)
		gen.SetMix(next.Mix)
		if next.SteadyDuration != load.SteadyDuration {
			start, finished = now, false
		}
		load, changed = next, nc
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			if !follow() {
				return
			}
		case now := <-ticks:
			// A change made before this tick applies to it.
			select {
			case <-changed:
				if !follow() {
					return
				}
			default:
			}
			if load.SteadyDuration > 0 && now.Sub(start) >= load.SteadyDuration {
				if !finished {
					finished = true
					r.log.Info("steady load finished", "duration", load.SteadyDuration, "generated", r.steadySeq.Load())
				}
				continue
			}
			behind := pacer.Skipped()
			for range pacer.Due(now) {
				r.launch(ctx, gen.Next())
			}
			r.counts.paceSkipped.Add(pacer.Skipped() - behind)
		}
	}
}

// launch submits one steady job without waiting for it.
func (r *Runner) launch(ctx context.Context, spec Spec) {
	n := r.steadySeq.Add(1)
	job := &jobsv1.Job{
		Id: fmt.Sprintf("steady-%s-%d", r.runID, n), Type: spec.Type, Target: spec.Target,
		Priority: spec.Priority, Scenario: NameSteady, Sequence: uint32(n),
	}
	select {
	case r.inFlight <- struct{}{}:
	default:
		r.counts.backlogSkipped.Add(1)
		r.skipped(job, spans.SubmitSkippedBacklog)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.inFlight }()
		// Stopping the generator must not cut a submission already
		// started. A job refused here (the tracker is full or stopping) is
		// counted there.
		_, err := r.jobs.Submit(context.WithoutCancel(ctx), job, slog.LevelDebug)
		if errors.Is(err, tracker.ErrFull) {
			r.skipped(job, spans.SubmitSkippedUnconfirmed)
		}
	}()
}

// skipped traces a steady job the producer generated but did not submit:
// a root span of its own, begun and ended now, with job.outcome rejected
// and submit.outcome saying why (no job.submit: no Submit was made). Load
// the producer sheds itself is still load offered, and whoever reads the
// traces (the capacity model, the console) counts it as arrived and shed,
// as it counts the jobs the pool refuses.
func (r *Runner) skipped(job *jobsv1.Job, why string) {
	if r.tp == nil {
		return
	}
	typ := jobs.TypeName(job.GetType())
	now := r.now()
	_, root := r.tp.StartSpanAt(context.Background(), spans.JobRootName(job.GetScenario(), typ), now)
	root.SetTag(spans.JobID, job.GetId())
	root.SetTag(spans.JobType, typ)
	root.SetTag(spans.JobPriority, jobs.PriorityName(job.GetPriority()))
	root.SetTag(spans.JobTarget, job.GetTarget())
	root.SetTag(spans.JobScenario, job.GetScenario())
	root.SetIntTag(spans.JobSequence, int(job.GetSequence()))
	root.SetIntTag(spans.JobAttempts, 0)
	root.SetTag(spans.JobOutcome, spans.OutcomeRejected)
	root.SetTag(spans.SubmitOutcome, why)
	tracing.FinishAt(root, now)
}
