package output

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

// WriteText writes the run as tables for a terminal.
func WriteText(w io.Writer, run *result.Run) error {
	var b strings.Builder
	header(&b, run)
	mainTable(&b, run)
	dashboards(&b, run)
	links(&b, run)
	notes(&b, run)
	legend(&b, run)
	_, err := io.WriteString(w, b.String())
	return err
}

func header(b *strings.Builder, run *result.Run) {
	where := "the experiment's own stack"
	if run.Stack.Mode == result.ModeTarget {
		where = "a running stack"
	}
	wall := time.Duration(run.WallSeconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(b, "Experiment %q: %d rows on %s, %s", run.Plan.Name, len(run.Rows), where, wall)
	if run.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	if d := strings.TrimSpace(run.Plan.Description); d != "" {
		fmt.Fprintf(b, "%s\n", d)
	}
	b.WriteString("\n")
}

func mainTable(b *strings.Builder, run *result.Run) {
	t, marks := resultsTable(run)
	t.write(b, "")
	for _, m := range marks {
		b.WriteString(m + "\n")
	}
}

// Footnotes of the main table's marks.
const (
	markLimited = "* the machine, not the configuration, may have limited this row: see the notes"
	markFilling = "† the results buffer was still filling when the window closed, so no worker blocked yet: see the notes"
)

// resultsTable is the main table, for the terminal and the page alike, and
// the footnotes of the marks it uses. A row the machine may have limited
// has its delivered rate starred; one whose results buffer was still
// filling has its blocked share marked †. refused/s are the pool's
// refusals, skipped/s the jobs the producer shed without submitting them.
func resultsTable(run *result.Run) (*table, []string) {
	t := &table{
		header: []string{"row", "offered/s", "delivered/s", "refused/s", "skipped/s", "fast p50", "fast p99", "blocked", "bottleneck"},
		right:  []bool{false, true, true, true, true, true, true, true, false},
	}
	limited, filling := false, false
	for _, r := range run.Rows {
		limited = limited || (status(r) == "" && r.Harness.Limited)
		filling = filling || (status(r) == "" && r.ResultsBuffer.Filling())
	}
	mark := func(v string, on, any bool, m string) string {
		switch {
		case on:
			return v + m
		case any:
			return v + " " // keeps the columns in line
		}
		return v
	}
	for _, r := range run.Rows {
		if s := status(r); s != "" {
			t.add(r.Name, s+": "+shorten(r.Error, 80))
			continue
		}
		t.add(r.Name, Rate(r.OfferedPerS), mark(Rate(r.DeliveredPerS), r.Harness.Limited, limited, "*"),
			Rate(r.RefusedPerS), Rate(r.ShedPerS), Millis(r.Fast.P50MS), Millis(r.Fast.P99MS),
			mark(Percent(r.Blocked.Share), r.ResultsBuffer.Filling(), filling, "†"), Bottleneck(r.Bottleneck))
	}
	var marks []string
	if limited {
		marks = append(marks, markLimited)
	}
	if filling {
		marks = append(marks, markFilling)
	}
	return t, marks
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// dashboards is the second table: the "standard metrics" that looked fine.
func dashboards(b *strings.Builder, run *result.Run) {
	t := dashboardTable(run)
	if len(t.rows) == 0 {
		return
	}
	b.WriteString("\nWhat the dashboards showed: CPU (% of one core) and memory of each process\n")
	t.write(b, "")
}

func dashboardTable(run *result.Run) *table {
	procs := processNames(run)
	t := &table{header: append(append([]string{"row"}, procs...), "machine busy")}
	t.right = make([]bool, len(t.header))
	for i := 1; i < len(t.right); i++ {
		t.right[i] = true
	}
	for _, r := range run.Rows {
		if status(r) != "" {
			continue
		}
		cells := []string{r.Name}
		for _, p := range procs {
			cells = append(cells, procCell(r.Processes[p]))
		}
		busy := na
		if v := r.Harness.MachineBusyPercent; v != nil {
			busy = fmt.Sprintf("%.0f%%", *v)
		}
		t.add(append(cells, busy)...)
	}
	return t
}

func processNames(run *result.Run) []string {
	names := []string{"producer", "workers", "vendor-mock", "consumer"}
	for _, r := range run.Rows {
		if _, ok := r.Processes["jaeger"]; ok {
			return append(names, "jaeger")
		}
	}
	return names
}

func procCell(p result.Process) string {
	cpu, rss := na, na
	if p.CPUPercent != nil {
		cpu = fmt.Sprintf("%.0f%%", *p.CPUPercent)
	}
	if p.RSSMB != nil {
		rss = fmt.Sprintf("%.0f MB", *p.RSSMB)
	}
	if cpu == na && rss == na {
		return na
	}
	return cpu + " " + rss
}

func links(b *strings.Builder, run *result.Run) {
	t := &table{header: []string{"row", "job", "end to end", "trace"}, right: []bool{false, false, true, false}}
	saved := false
	for _, r := range run.Rows {
		if w := r.Fast.Worst; w != nil {
			t.add(r.Name, w.Type, millis(w.EndToEndMS), w.URL)
			saved = saved || w.File != ""
		}
	}
	if saved {
		t.header = append(t.header, "saved")
		t.right = append(t.right, false)
		i := 0
		for _, r := range run.Rows {
			if w := r.Fast.Worst; w != nil {
				t.rows[i] = append(t.rows[i], w.File)
				i++
			}
		}
	}
	if len(t.rows) == 0 {
		return
	}
	b.WriteString("\nThe slowest fast job of each row:\n")
	t.write(b, "")
	switch {
	case saved:
		b.WriteString("(the saved files open in any Jaeger UI: Search, JSON File)\n")
	case run.Stack.Mode == result.ModeOwn:
		b.WriteString("(the experiment's Jaeger stopped with it: run with --keep to open these links, or --traces DIR to save them)\n")
	}
}

// Notes lists what a reader should know about the rows: errors, applied
// recommendations, failed jobs, harness warnings and the verdicts.
func Notes(run *result.Run) []string {
	var lines []string
	for _, r := range run.Rows {
		if r.Error != "" {
			lines = append(lines, fmt.Sprintf("%s: %s: %s", r.Name, r.Status, r.Error))
		}
		if r.AppliedFix != "" {
			lines = append(lines, fmt.Sprintf("%s: applies the fix the analysis recommended for %s: %s", r.Name, r.RecommendedBy, r.AppliedFix))
		}
		if f, d := r.FailedPerS, r.DeliveredPerS; f != nil && d != nil && *f > 0 && *f >= 0.01**d {
			lines = append(lines, fmt.Sprintf("%s: %.1f of the %.1f results/s delivered were failed jobs", r.Name, *f, *d))
		}
		for _, w := range r.Harness.Warnings {
			lines = append(lines, fmt.Sprintf("%s: %s", r.Name, w))
		}
		if v := r.Bottleneck.Verdict; v != "" {
			if len(r.Bottleneck.Fixes) > 0 {
				v = strings.TrimSuffix(v, ".") + ". The model recommends " + r.Bottleneck.Fixes[0].Summary + "."
			}
			lines = append(lines, fmt.Sprintf("%s: %s", r.Name, v))
		}
	}
	if run.Stack.Analysis != "" && !anyAvailable(run) {
		lines = append(lines, "bottleneck: "+run.Stack.Analysis)
	}
	return lines
}

func anyAvailable(run *result.Run) bool {
	for _, r := range run.Rows {
		if r.Bottleneck.Available {
			return true
		}
	}
	return false
}

func notes(b *strings.Builder, run *result.Run) {
	lines := Notes(run)
	if len(lines) == 0 {
		return
	}
	b.WriteString("\nNotes:\n")
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
}

func legend(b *strings.Builder, run *result.Run) {
	b.WriteString("\nRows:\n")
	t := &table{header: []string{"row", "load", "settings"}, right: []bool{false, false, false}}
	for _, r := range run.Rows {
		t.add(r.Name, r.Workload.Text, Settings(r))
	}
	t.write(b, "")
	b.WriteString(`
offered/s: the load asked of the producer. delivered/s: results the consumer handled. refused/s: jobs
the pool refused (queue full for SUBMIT_WAIT). skipped/s: jobs the producer shed without submitting
them (its submissions in flight were at their cap). fast p50/p99: cache-read and database jobs, from
submission to the consumer. blocked: the share of the workers' time spent waiting to hand over a
result. bottleneck: the capacity model's verdict on the row's traces.
`)
}

// WritePlan shows what a plan would run (--check): each row's load, time
// and settings, and about how long the run takes.
func WritePlan(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	var total time.Duration
	t := &table{header: []string{"row", "load", "warm-up + window", "settings"}, right: make([]bool, 4)}
	for _, r := range p.Rows {
		total += r.Warmup + r.Duration + rowOverhead
		row := result.Row{}
		for _, s := range settings.Scoped(r.Profile...) {
			row.Settings = append(row.Settings, s.Key()+"="+s.Value)
		}
		settingsText := Settings(row)
		if r.RecommendedBy != "" {
			settingsText = "the fix recommended for " + r.RecommendedBy
			if len(row.Settings) > 0 {
				settingsText += ", then " + Settings(row)
			}
		}
		t.add(r.Name, r.Workload.String(), r.Warmup.String()+" + "+r.Duration.String(), settingsText)
	}
	fmt.Fprintf(&b, "Plan %q (%s): %d rows, about %s on the experiment's own stack\n\n", p.Name, p.File, len(p.Rows), total.Round(time.Second))
	t.write(&b, "")
	_, err := io.WriteString(w, b.String())
	return err
}
