package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
)

var steady = plan.Workload{Steady: &plan.Steady{Rate: 100}}

// The counters of the window's end took a second longer to read than its
// start's (four HTTP calls to a loaded stack), and the CPU was read after
// them. Over the CPU readings' own interval the stack's share and the
// machine's agree; over the counters' interval the stack would look busier
// than the whole machine (the review's 13.1% stack in 11.5% busy).
func TestCPUSharesCoverTheSameTimeAsTheMachine(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	const cpus = 2
	snap := func(at, cpuAt time.Duration, stackCPU time.Duration) measure.Snapshot {
		elapsed := cpuAt
		return measure.Snapshot{
			At: t0.Add(at), CPUAt: t0.Add(cpuAt),
			Procs: map[string]measure.ProcSample{"workers": {CPU: stackCPU, HasCPU: true}},
			// The stack is all the machine does: busy = the stack's CPU.
			Machine: &measure.MachineSample{Busy: stackCPU, Total: cpus * elapsed},
		}
	}
	// 20% of one core, i.e. 10% of the machine, all along.
	cpuAt := func(d time.Duration) time.Duration { return d / 5 }
	a := snap(0, 100*time.Millisecond, cpuAt(100*time.Millisecond))
	b := snap(8*time.Second, 9100*time.Millisecond, cpuAt(9100*time.Millisecond))
	var row result.Row
	measurement(&row, steady, a, b, cpus)
	h := row.Harness
	if h.MachineBusyPercent == nil || h.StackCPUPercent == nil || *h.MachineBusyPercent != 10 || *h.StackCPUPercent != 10 {
		t.Fatalf("machine busy %v, stack %v: want both 10%%", deref(h.MachineBusyPercent), deref(h.StackCPUPercent))
	}
	if p := row.Processes["workers"].CPUPercent; p == nil || *p != 20 {
		t.Errorf("workers CPU %v, want 20%% of a core", deref(p))
	}
	for _, w := range h.Warnings {
		if strings.Contains(w, "exceeds the machine's busy time") {
			t.Errorf("warned %q for shares that agree", w)
		}
	}

	// Counters the kernel keeps apart can still disagree: say so.
	b.Machine.Busy -= time.Second
	row = result.Row{}
	measurement(&row, steady, a, b, cpus)
	if !strings.Contains(strings.Join(row.Harness.Warnings, "\n"), "exceeds the machine's busy time") {
		t.Errorf("stack %v above machine busy %v without a word: %q", deref(row.Harness.StackCPUPercent),
			deref(row.Harness.MachineBusyPercent), row.Harness.Warnings)
	}
}

func results(held, capacity, overflow, overflowCap int, mode, lanes string) measure.Counters {
	var c measure.Counters
	c.Workers.Results.Len, c.Workers.Results.Cap = held, capacity
	c.Workers.Results.OverflowLen, c.Workers.Results.OverflowCap = overflow, overflowCap
	c.Workers.Results.Mode = mode
	c.Workers.Config.PriorityLanes = lanes
	return c
}

// A 400-slot buffer filling at 30/s under steady overload: the row ended
// before it was full, so its 0% blocked is a passing state, and the row
// says when the buffer would have filled.
func TestRowSaysItsResultsBufferWasStillFilling(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	window := func(a, b measure.Counters) result.Row {
		b.Producer.Steady.Generated = 800 // the load was generated as planned
		var row result.Row
		measurement(&row, steady, measure.Snapshot{At: t0, Counters: a}, measure.Snapshot{At: t0.Add(8 * time.Second), Counters: b}, 2)
		return row
	}
	row := window(results(100, 400, 0, 4000, "blocking", "off"), results(340, 400, 0, 4000, "blocking", "off"))
	f := row.ResultsBuffer
	if f == nil || f.Held != 340 || f.Room != 400 || f.GrowthPerS != 30 || !f.Filling() || *f.FillingUntilS != 2 {
		t.Fatalf("buffer %+v: want 340 of 400, +30/s, full 2 s later", f)
	}
	if w := strings.Join(row.Harness.Warnings, "\n"); !strings.Contains(w, "still filling when the window closed (340 of 400 held, +30.0/s)") ||
		!strings.Contains(w, "only delays the blocking") || row.Harness.Limited {
		t.Errorf("warnings %q (limited %v)", w, row.Harness.Limited)
	}

	// Full: the blocked share is the steady state's.
	row = window(results(400, 400, 0, 4000, "blocking", "off"), results(400, 400, 0, 4000, "blocking", "off"))
	if row.ResultsBuffer.Filling() || len(row.Harness.Warnings) != 0 {
		t.Errorf("a full buffer: %+v, %q", row.ResultsBuffer, row.Harness.Warnings)
	}
	// The default 4 slots never fill for long: steady, no note.
	row = window(results(3, 4, 0, 4000, "blocking", "off"), results(4, 4, 0, 4000, "blocking", "off"))
	if row.ResultsBuffer.Filling() {
		t.Errorf("4 slots: %+v", row.ResultsBuffer)
	}
	// Non-blocking: the overflow is room too (per lane, two lanes).
	row = window(results(8, 4, 200, 4000, "nonblocking", "on"), results(8, 4, 440, 4000, "nonblocking", "on"))
	if f := row.ResultsBuffer; f.Room != 8008 || f.Held != 448 || !f.Filling() || *f.FillingUntilS != 252 {
		t.Errorf("non-blocking with lanes: %+v, want room 2×(4+4000), full 252 s later", f)
	}
	// Workers that do not say their capacity: nothing to tell.
	if row := window(measure.Counters{}, measure.Counters{}); row.ResultsBuffer != nil {
		t.Errorf("no capacity known: %+v", row.ResultsBuffer)
	}
}
