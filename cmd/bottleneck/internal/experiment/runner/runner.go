// Package runner measures the rows of a plan one after the other: it puts
// the system in the row's configuration with nothing in flight, starts the
// row's load, warms up, measures a window, stops the load, lets the
// window's spans reach Jaeger, reads a trace sample and asks the capacity
// model for its verdict. The system, the trace source and the model are
// interfaces, so the logic is tested with fakes and a fake clock.
package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// System is the stack under test.
type System interface {
	// Prepare gives the system env's settings, with no load running and
	// nothing in flight from an earlier row.
	Prepare(ctx context.Context, env settings.Env) error
	// StartLoad makes the producer generate w; StopLoad stops it.
	StartLoad(ctx context.Context, w plan.Workload) error
	StopLoad(ctx context.Context) error
	// Snapshot reads every counter and process sample now.
	Snapshot(ctx context.Context) (measure.Snapshot, error)
	// Settle ends a row (after StopLoad): once it returns, the spans of
	// the row's window are in Jaeger.
	Settle(ctx context.Context) error
}

// Sampler reads a window's traces.
type Sampler interface {
	Sample(ctx context.Context, start, end time.Time) (measure.TraceSample, error)
}

// Phases of a row, as the progress line shows them.
const (
	PhaseStarting = "starting"
	PhaseWarmup   = "warming up"
	PhaseMeasure  = "measuring"
	PhaseTraces   = "reading traces"
)

// Observer follows the run; the progress line is one.
type Observer interface {
	RowStarted(i, n int, row plan.Row)
	// Phase reports progress within row i; live is a short current
	// reading ("delivered 19.8/s"), or "".
	Phase(i int, phase string, elapsed, total time.Duration, live string)
	RowDone(i int, r result.Row)
}

// FatalError means the system can no longer run rows (a process died):
// the run stops, and the remaining rows are skipped.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// Runner runs plans.
type Runner struct {
	System   System
	Sampler  Sampler
	Analyzer diagnose.Analyzer
	Observer Observer // may be nil
	// Base is what every row gets before the plan's settings (the own
	// stack's quieter logs and short shutdown).
	Base settings.Env
	// UI is the base URL of trace links.
	UI string
	// CPUs is the machine's CPU count, for the harness checks.
	CPUs int
	// Tick is how often the progress line is refreshed while a row warms
	// up or is measured; 0 refreshes only at phase changes.
	Tick time.Duration
	// SaveTrace, when set, keeps the slowest fast job's trace of a row
	// and says where (--traces).
	SaveTrace func(row string, t jaegerapi.Trace) (string, error)
	// Now and Sleep are the clock; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// rowState is what later rows may need of an earlier one.
type rowState struct {
	env    settings.Env       // everything the row ran with, Base included
	own    []settings.Setting // the row's settings without Base, in order
	fixes  []diagnose.Fix
	status string
}

// Run measures every row of p in order and returns their results. Rows
// that fail are reported as failed and the run goes on; a FatalError or a
// cancelled ctx ends it, and the rows not run are reported skipped. The
// error is the one that ended the run early, or nil.
func (r *Runner) Run(ctx context.Context, p *plan.Plan) ([]result.Row, error) {
	states := map[string]*rowState{}
	out := make([]result.Row, 0, len(p.Rows))
	var stop error
	for i, row := range p.Rows {
		if stop != nil {
			res := r.skeleton(row)
			res.Status, res.Error = result.StatusSkipped, "not run: "+stop.Error()
			out = append(out, res)
			continue
		}
		if r.Observer != nil {
			r.Observer.RowStarted(i, len(p.Rows), row)
		}
		res, st, err := r.runRow(ctx, i, row, states)
		states[row.Name] = st
		out = append(out, res)
		if r.Observer != nil {
			r.Observer.RowDone(i, res)
		}
		var fatal *FatalError
		switch {
		case ctx.Err() != nil:
			stop = fmt.Errorf("interrupted")
		case errors.As(err, &fatal):
			stop = fatal
		}
	}
	return out, stop
}

func (r *Runner) skeleton(row plan.Row) result.Row {
	return result.Row{
		Name: row.Name, Description: row.Description, RecommendedBy: row.RecommendedBy,
		Workload: workload(row.Workload), Settings: []string{}, Processes: map[string]result.Process{},
		WarmupSeconds: row.Warmup.Seconds(),
		Bottleneck:    result.Bottleneck{Fixes: []result.Fix{}},
		Harness:       result.Harness{Warnings: []string{}},
	}
}

// runRow measures one row. The error is also in the result; it is
// returned so that Run can tell a fatal one.
func (r *Runner) runRow(ctx context.Context, i int, row plan.Row, states map[string]*rowState) (result.Row, *rowState, error) {
	res := r.skeleton(row)
	st := &rowState{status: result.StatusFailed}
	fail := func(err error) (result.Row, *rowState, error) {
		res.Status, res.Error = result.StatusFailed, err.Error()
		if ctx.Err() != nil {
			res.Status, res.Error = result.StatusSkipped, "interrupted"
		}
		st.status = res.Status
		return res, st, err
	}

	var own []settings.Setting
	if row.RecommendedBy != "" {
		from := states[row.RecommendedBy]
		switch {
		case from == nil || from.status != result.StatusMeasured:
			res.Status = result.StatusSkipped
			res.Error = fmt.Sprintf("row %q, whose recommended fix this row applies, was not measured", row.RecommendedBy)
			st.status = res.Status
			return res, st, nil
		case len(from.fixes) == 0:
			res.Status = result.StatusSkipped
			res.Error = fmt.Sprintf("the analysis of row %q recommended no fix", row.RecommendedBy)
			st.status = res.Status
			return res, st, nil
		}
		fix := from.fixes[0]
		own = append(slices.Clone(from.own), fix.Settings...)
		res.AppliedFix = fix.Summary
	}
	own = settings.Scoped(append(own, row.Profile...)...)
	env := r.Base.Clone()
	if env == nil {
		env = settings.Env{}
	}
	env.Apply(own...)
	st.env, st.own = env, own
	for _, s := range own {
		res.Settings = append(res.Settings, s.Key()+"="+s.Value)
	}
	if err := env.Check(); err != nil {
		return fail(fmt.Errorf("settings: %w", err))
	}

	r.phase(i, PhaseStarting, 0, 0, "")
	if err := r.System.Prepare(ctx, env); err != nil {
		return fail(err)
	}
	if err := r.System.StartLoad(ctx, row.Workload); err != nil {
		return fail(err)
	}
	// From here on the load runs: stop it on every way out.
	stopped := false
	stopLoad := func() error {
		if stopped {
			return nil
		}
		stopped = true
		return r.System.StopLoad(context.WithoutCancel(ctx))
	}
	defer stopLoad()

	if err := r.wait(ctx, i, PhaseWarmup, row.Warmup, nil); err != nil {
		return fail(err)
	}
	a, err := r.System.Snapshot(ctx)
	if err != nil {
		return fail(fmt.Errorf("reading the counters at the window's start: %w", err))
	}
	if err := r.wait(ctx, i, PhaseMeasure, row.Duration, &a); err != nil {
		return fail(err)
	}
	b, err := r.System.Snapshot(ctx)
	if err != nil {
		return fail(fmt.Errorf("reading the counters at the window's end: %w", err))
	}
	if err := stopLoad(); err != nil {
		return fail(fmt.Errorf("stopping the load: %w", err))
	}
	measurement(&res, row.Workload, a, b, r.CPUs)

	r.phase(i, PhaseTraces, 0, 0, "")
	if err := r.System.Settle(ctx); err != nil {
		return fail(err)
	}
	res.Status, st.status = result.StatusMeasured, result.StatusMeasured
	sample, err := r.Sampler.Sample(ctx, a.At, b.At)
	if err != nil {
		res.Harness.Warnings = append(res.Harness.Warnings, "no trace sample: "+err.Error())
		res.Bottleneck.Note = "no traces: " + err.Error()
		return res, st, nil
	}
	latencies(&res, sample, r.UI)
	if r.SaveTrace != nil && sample.Worst != nil && res.Fast.Worst != nil {
		if path, err := r.SaveTrace(row.Name, *sample.Worst); err != nil {
			res.Harness.Warnings = append(res.Harness.Warnings, "saving the slowest fast job's trace: "+err.Error())
		} else {
			res.Fast.Worst.File = path
		}
	}
	d := r.Analyzer.Diagnose(sample)
	res.Bottleneck = d.Bottleneck
	if res.Bottleneck.Fixes == nil {
		res.Bottleneck.Fixes = []result.Fix{}
	}
	st.fixes = d.Fixes
	return res, st, nil
}

// wait sleeps d in ticks, refreshing the progress line; while measuring
// (since != nil) the line shows the delivered rate so far.
func (r *Runner) wait(ctx context.Context, i int, phase string, d time.Duration, since *measure.Snapshot) error {
	start := r.now()
	r.phase(i, phase, 0, d, "")
	for {
		elapsed := r.now().Sub(start)
		left := d - elapsed
		if left <= 0 {
			return nil
		}
		step := left
		if r.Tick > 0 && r.Observer != nil {
			step = min(step, r.Tick)
		}
		if err := r.sleep(ctx, step); err != nil {
			return err
		}
		live := ""
		if since != nil && r.Tick > 0 && r.Observer != nil && r.now().Sub(start) < d {
			if s, err := r.System.Snapshot(ctx); err == nil {
				if secs := s.At.Sub(since.At).Seconds(); secs > 0 {
					live = fmt.Sprintf("delivered %.1f/s", float64(s.Counters.Consumer.Handled-since.Counters.Consumer.Handled)/secs)
				}
			}
		}
		r.phase(i, phase, min(r.now().Sub(start), d), d, live)
	}
}

func (r *Runner) phase(i int, phase string, elapsed, total time.Duration, live string) {
	if r.Observer != nil {
		r.Observer.Phase(i, phase, elapsed, total, live)
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Summary says in one line how a plan's rows ended: "13 measured" or
// "11 measured, 1 failed, 1 skipped".
func Summary(rows []result.Row) string {
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range []string{result.StatusMeasured, result.StatusFailed, result.StatusSkipped} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
