package scenario

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
)

// BurstJob is one job of a checkout burst, as the report shows it.
type BurstJob struct {
	ID       string `json:"id"`
	Sequence int    `json:"sequence"`
	Type     string `json:"type"`
	Target   string `json:"target"`
	TraceID  string `json:"trace_id,omitempty"`
	// Submitted is false while (or when) the worker pool never accepted
	// the job: shed, refused, or unreachable at every attempt so far.
	Submitted bool   `json:"submitted"`
	Error     string `json:"error,omitempty"`
	Done      bool   `json:"done"`
	OK        bool   `json:"ok"`
	// Attempts counts the Submits of the job so far; Outcome is its
	// job.outcome once its life ended (empty while it is outstanding).
	Attempts int `json:"attempts"`
	// Requeued counts its re-submissions the pool queued: it had lost the
	// job (a crash or restart) or not answered before. Re-submissions it
	// answered already_held (it still had the job, which was only slow)
	// are in Attempts, not here.
	Requeued   int     `json:"requeued"`
	Outcome    string  `json:"outcome,omitempty"`
	EndToEndMS float64 `json:"end_to_end_ms,omitempty"`

	fast bool
}

// BurstReport is the outcome of one checkout burst.
type BurstReport struct {
	Batch      string     `json:"batch"`
	Jobs       []BurstJob `json:"jobs"`
	Completed  int        `json:"completed"`
	Total      int        `json:"total"`
	DurationMS float64    `json:"duration_ms"`
	TimedOut   bool       `json:"timed_out"`
	// NotSubmitted counts jobs the worker pool never accepted (shed,
	// refused, unreachable) or that were never sent.
	NotSubmitted int `json:"not_submitted"`
	// Resubmitted counts jobs the pool queued again at a later attempt
	// (Requeued > 0): re-submitted after the pool lost them or did not
	// answer. A job only checked on after RETRY_AFTER (answered
	// already_held) is not counted: nothing went wrong with it.
	Resubmitted int `json:"resubmitted"`
	// Summary is the line printed for the burst.
	Summary string `json:"summary"`
	// SlowestFast is the line about the slowest fast job, if any completed.
	SlowestFast string `json:"slowest_fast,omitempty"`
}

// Checkout runs one checkout burst: it submits the 20 jobs in order, one
// log line each, then waits until the consumer confirmed every one or
// timeout passes, and logs the outcome ("all 20 jobs completed in 2.41s" or
// a TIMEOUT line) and the slowest fast job. A job counts once, whatever its
// attempts: the tracker re-submits jobs that go unconfirmed, and keeps
// following those still outstanding after the burst's line. Ending ctx
// stops submitting and waiting; a submission already started is finished.
func (r *Runner) Checkout(ctx context.Context, timeout time.Duration) BurstReport {
	batch := fmt.Sprintf("%08x", rand.Uint32())
	start := r.now()
	specs := Checkout()
	rep := BurstReport{Batch: batch, Total: len(specs), Jobs: make([]BurstJob, 0, len(specs))}
	r.counts.burstStarted()
	r.log.InfoContext(ctx, "checkout "+batch+": submitting "+fmt.Sprint(len(specs))+" jobs", "batch", batch)

	// Submissions outlive a shutdown (they finish, not vanish) but not the
	// burst: a hung pool must not hold a burst for 20 submit timeouts.
	sctx, cancelSubmits := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancelSubmits()
	tickets := make([]*tracker.Ticket, 0, len(specs))
	for i, s := range specs {
		if ctx.Err() != nil {
			break
		}
		job := &jobsv1.Job{
			Id: fmt.Sprintf("checkout-%s-%02d", batch, i+1), Type: s.Type, Target: s.Target, Priority: s.Priority,
			Scenario: NameCheckout, Sequence: uint32(i + 1), Batch: batch,
		}
		bj := BurstJob{ID: job.GetId(), Sequence: i + 1, Type: jobs.TypeName(s.Type), Target: s.Target, fast: jobs.IsFast(s.Type)}
		t, err := r.jobs.Submit(sctx, job, slog.LevelInfo)
		if err != nil {
			bj.Error = err.Error()
		} else {
			bj.TraceID = t.TraceID()
		}
		tickets = append(tickets, t)
		rep.Jobs = append(rep.Jobs, bj)
	}

	// The timeout counts from the first submission.
	wctx, cancel := context.WithTimeout(ctx, timeout-r.now().Sub(start))
	defer cancel()
	pending := 0
	for _, t := range tickets {
		if t == nil {
			continue
		}
		select {
		case <-t.Done():
		case <-wctx.Done():
		}
	}

	last := start
	for i, t := range tickets {
		j := &rep.Jobs[i]
		if t == nil {
			continue
		}
		select {
		case <-t.Done():
			res := t.Result()
			j.Attempts, j.Requeued, j.Submitted, j.Outcome = res.Attempts, res.Requeued, res.Accepted, res.Outcome
			if res.Done() {
				j.Done, j.OK = true, res.Outcome == spans.OutcomeDelivered
				j.EndToEndMS = millis(res.EndToEnd)
				last = maxTime(last, res.CompletedAt)
				rep.Completed++
			} else {
				j.Error = res.Reason
			}
		default:
			pending++
			p := t.Progress()
			j.Attempts, j.Requeued, j.Submitted = p.Attempts, p.Requeued, p.Accepted
			if !p.Accepted {
				j.Error = p.LastErr
			}
		}
		if j.Requeued > 0 {
			rep.Resubmitted++
		}
	}
	for _, j := range rep.Jobs {
		if !j.Submitted && !j.Done {
			rep.NotSubmitted++
		}
	}
	rep.NotSubmitted += len(specs) - len(rep.Jobs) // stopped before submitting them
	rep.TimedOut = pending > 0 && wctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	elapsed := last.Sub(start)
	if pending > 0 || rep.Completed == 0 {
		elapsed = r.now().Sub(start)
	}
	rep.DurationMS = millis(elapsed)

	rep.Summary = r.summarize(&rep, elapsed, timeout, ctx.Err() != nil)
	slowest, sj := slowestFast(&rep)
	rep.SlowestFast = slowest
	attrs := []any{"batch", batch, "completed", rep.Completed, "total", rep.Total, "duration", round(elapsed)}
	if rep.Resubmitted > 0 {
		attrs = append(attrs, "resubmitted", rep.Resubmitted)
	}
	switch {
	case rep.Completed == rep.Total:
		r.counts.burstEnded(rep, burstCompleted)
		r.log.InfoContext(ctx, rep.Summary, attrs...)
	case rep.TimedOut:
		r.counts.burstEnded(rep, burstTimedOut)
		r.log.WarnContext(ctx, rep.Summary, attrs...)
	default:
		r.counts.burstEnded(rep, burstIncomplete)
		r.log.WarnContext(ctx, rep.Summary, attrs...)
	}
	if sj != nil {
		r.log.InfoContext(ctx, slowest, "batch", batch, "job.id", sj.ID, "end_to_end", round(ms(sj.EndToEndMS)), "trace_id", sj.TraceID)
	}
	return rep
}

func (r *Runner) summarize(rep *BurstReport, elapsed, timeout time.Duration, stopped bool) string {
	head := "checkout " + rep.Batch + ": "
	switch {
	case rep.Completed == rep.Total && rep.Resubmitted > 0:
		return fmt.Sprintf("%sall %d jobs completed in %s (%d re-submitted after the worker pool lost them or did not answer)",
			head, rep.Total, round(elapsed), rep.Resubmitted)
	case rep.Completed == rep.Total:
		return fmt.Sprintf("%sall %d jobs completed in %s", head, rep.Total, round(elapsed))
	case rep.TimedOut:
		return fmt.Sprintf("%sTIMEOUT after %s: %d of %d jobs completed; missing %s", head, timeout, rep.Completed, rep.Total, missing(rep))
	case stopped:
		return fmt.Sprintf("%sstopped after %s: %d of %d jobs completed", head, round(elapsed), rep.Completed, rep.Total)
	default:
		return fmt.Sprintf("%s%d of %d jobs completed in %s; missing %s", head, rep.Completed, rep.Total, round(elapsed), missing(rep))
	}
}

// missing names the jobs not done — "checkout-…-04 (vendor-api
// /v1/payment/authorize)" — and counts those the pool refused, naming the
// first few.
func missing(rep *BurstReport) string {
	const named = 5
	var parts, refused []string
	for _, j := range rep.Jobs {
		switch {
		case j.Done:
		case j.Submitted && j.Outcome != "":
			parts = append(parts, fmt.Sprintf("%s (%s %s, %s after %d attempts)", j.ID, j.Type, j.Target, j.Outcome, j.Attempts))
		case j.Submitted:
			parts = append(parts, fmt.Sprintf("%s (%s %s)", j.ID, j.Type, j.Target))
		default:
			refused = append(refused, j.ID)
		}
	}
	if len(refused) > 0 {
		count, more := len(refused), ""
		if count > named {
			refused, more = refused[:named], ", …"
		}
		parts = append(parts, fmt.Sprintf("%d not accepted by the worker pool (%s%s)", count, strings.Join(refused, ", "), more))
	}
	if n := rep.Total - len(rep.Jobs); n > 0 {
		parts = append(parts, fmt.Sprintf("%d not submitted", n))
	}
	return strings.Join(parts, ", ")
}

// slowestFast describes the fast job that took longest end to end: in the
// incident, a 2 ms cache read that waited seconds behind vendor calls.
func slowestFast(rep *BurstReport) (string, *BurstJob) {
	var worst *BurstJob
	for i := range rep.Jobs {
		j := &rep.Jobs[i]
		if j.fast && j.Done && (worst == nil || j.EndToEndMS > worst.EndToEndMS) {
			worst = j
		}
	}
	if worst == nil {
		return "", nil
	}
	line := fmt.Sprintf("checkout %s: slowest fast job %s (#%d %s %s) took %s end to end",
		rep.Batch, worst.ID, worst.Sequence, worst.Type, worst.Target, round(ms(worst.EndToEndMS)))
	if worst.TraceID != "" {
		line += "; trace " + worst.TraceID
	}
	return line, worst
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// round shortens a duration for a log line: 2.41s, 350ms.
func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
