package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

const textWidth = 100

// writeText prints the findings: the capacity of each stage, the three
// discoveries of the incident write-up, the root-cause chain and the
// verdict, the fixes with their predicted effect, the traces to open.
func writeText(w io.Writer, f *Findings, st style) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	para := func(indent, s string) { p("%s\n", wrapText(indent, s, textWidth, indent)) }

	p("%s\n", st.bold(fmt.Sprintf("Bottleneck report: service %s, %s (%s)", f.Service, f.Window.Label, formatSpan(f.Window))))
	p("Jaeger %s · %d traces (contract %s)", f.Jaeger, f.Traces, f.Contract)
	if f.Truncated {
		p(" %s", st.yellow(fmt.Sprintf("(the newest %d only: raise --limit to read the whole window)", f.Limit)))
	}
	p("\n")
	p("%s\n", periodLine(f))
	p("%s\n", jobsLine(f.Jobs))
	p("%s\n\n", configLine(f.Config))

	writeCapacity(w, f, st)

	// 1. Blocked result sends.
	b := &f.Blocking
	p("%s\n", st.bold("1. Blocked result sends"))
	switch {
	case b.Sends == 0:
		para("   ", "No result.send spans in this window.")
	case b.Blocked == 0:
		para("   ", st.green(fmt.Sprintf("Found 0 blocked result sends (of %d).", b.Sends))+" Workers never waited to hand off a result.")
	default:
		para("   ", st.red(fmt.Sprintf("Found %d blocked result sends", b.Blocked))+fmt.Sprintf(" (of %d); the longest waited %s (%s on worker %s).",
			b.Sends, formatMS(b.Longest.MS), jobLabel(b.Longest.JobType, b.Longest.JobID), orDash(b.Longest.WorkerID)))
		para("   ", fmt.Sprintf("Workers spent %s of their busy time blocked sending results, not processing jobs.", formatShare(b.WorkerTimeBlocked)))
	}
	if b.Sends > 0 {
		p("\n")
		t := table{header: []string{"worker", "sends", "blocked", "blocked time", "processing", "time blocked"}, right: []bool{false, true, true, true, true, true}}
		for _, wb := range b.PerWorker {
			share := cell{text: formatShare(wb.BlockedShare)}
			if wb.Blocked > 0 {
				share.paint = st.red
			}
			t.add(cell{text: wb.WorkerID}, cell{text: strconv.Itoa(wb.Sends)}, cell{text: strconv.Itoa(wb.Blocked)},
				cell{text: formatMS(wb.BlockedMS)}, cell{text: formatMS(wb.ProcessMS)}, share)
		}
		t.write(w, "   ", st)
	}
	p("\n")

	// 2. Operation disparity.
	p("%s\n", st.bold("2. Operation disparity"))
	if len(f.Operations) == 0 {
		para("   ", "No spans of the trace contract in this window.")
	} else {
		t := table{header: []string{"operation", "count", "avg", "p50", "p99", "max"}, right: []bool{false, true, true, true, true, true}}
		for _, o := range f.Operations {
			t.add(plain(o.Operation, strconv.Itoa(o.Count), formatMS(o.AvgMS), formatMS(o.P50MS), formatMS(o.P99MS), formatMS(o.MaxMS))...)
		}
		t.write(w, "   ", st)
	}
	if v, c := f.Operation(spans.VendorAPI), f.Operation(spans.CacheRead); v != nil && c != nil && f.VendorCacheRatio > 0 {
		p("\n")
		para("   ", st.bold(fmt.Sprintf("Vendor APIs are %s slower than cache reads", formatRatio(f.VendorCacheRatio)))+
			fmt.Sprintf(" (avg %s over %d calls vs %s over %d).", formatMS(v.AvgMS), v.Count, formatMS(c.AvgMS), c.Count))
	}
	if f.Vendor.Calls > 0 {
		para("   ", fmt.Sprintf("vendor-mock: %d of %d calls degraded (%s), fault preset %q.", f.Vendor.Degraded, f.Vendor.Calls, formatShare(f.Vendor.DegradedShare), f.Vendor.Preset))
	}
	p("\n")

	// 3. Head-of-line blocking.
	h := &f.HeadOfLine
	p("%s\n", st.bold("3. Head-of-line blocking"))
	rule := fmt.Sprintf("%s their own work (and at least %s) for a worker", formatRatio(h.MinRatio), formatMS(h.MinWaitMS))
	switch {
	case h.FastJobs == 0:
		para("   ", "No fast jobs (cache-read, database) were worked on in this window.")
	case h.Stuck == 0:
		para("   ", st.green(fmt.Sprintf("None of %d fast jobs waited %s.", h.FastJobs, rule))+
			fmt.Sprintf(" The slowest took %s end to end; fast jobs' p99 is %s.", formatMS(h.WorstEndToEndMS), formatMS(f.FastLatency.P99MS)))
	default:
		para("   ", st.red(fmt.Sprintf("%d of %d fast jobs", h.Stuck, h.FastJobs))+fmt.Sprintf(" (cache-read, database) waited %s, queued behind other jobs or blocked handing off their result; the worst waited %s. Fast jobs' p99 end to end is %s.", rule, formatMS(h.WorstWaitMS), formatMS(f.FastLatency.P99MS)))
		p("\n")
		t := table{
			header: []string{"job", "type", "work", "queued", "send blocked", "for consumer", "end to end", "waited behind"},
			right:  []bool{false, false, true, true, true, true, true, false},
		}
		for _, s := range h.Worst {
			t.add(cell{text: orDash(s.JobID)}, cell{text: s.JobType}, cell{text: formatMS(s.WorkMS)},
				cell{text: formatMS(s.QueueWaitMS), paint: st.red}, cell{text: formatMS(s.SendBlockMS), paint: st.red},
				cell{text: formatMS(s.DeliveryWaitMS)}, cell{text: formatMS(s.EndToEndMS)}, cell{text: behindText(s)})
		}
		t.write(w, "   ", st)
	}
	p("\n")

	// Root cause and verdict.
	v := &f.Verdict
	p("%s\n", st.bold("Root cause"))
	for i, c := range v.Chain {
		p("%s\n", wrapText(fmt.Sprintf("   %d. ", i+1), c, textWidth, "      "))
	}
	summary := v.Summary
	if v.Healthy {
		summary = st.green(summary)
	} else {
		summary = st.bold(summary)
	}
	p("%s\n", wrapText("   → ", summary, textWidth, "     "))
	if len(v.Symptoms) > 0 {
		p("%s\n", wrapText("     ", "Upstream, these are its symptoms, not causes:", textWidth, "     "))
		for _, s := range v.Symptoms {
			p("%s\n", wrapText("       - ", s, textWidth, "         "))
		}
	}
	for _, n := range v.Notes {
		p("%s\n", wrapText("   Note: ", n, textWidth, "         "))
	}
	p("\n")

	writeFixes(w, f, st)

	if len(f.Links) > 0 {
		p("\n%s\n", st.bold("Worst traces"))
		t := table{header: []string{"trace", "why"}}
		for _, l := range f.Links {
			t.add(cell{text: l.URL}, cell{text: l.Why})
		}
		t.write(w, "   ", st)
	}
}

// writeCapacity prints the stage table and the verdict line.
func writeCapacity(w io.Writer, f *Findings, st style) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s\n", st.bold("Capacity"))
	t := table{
		header: []string{"stage", "arrivals/s", "done/s", "service", "p99", "servers", "busy", "wait", "waiting", "capacity/s"},
		right:  []bool{false, true, true, true, true, true, true, true, true, true},
	}
	v := &f.Verdict
	for _, s := range f.Stages {
		name := cell{text: s.Name}
		if s.Name == v.Stage {
			name = cell{text: "▶ " + s.Name, paint: st.red}
		} else {
			name.text = "  " + s.Name
		}
		service, p99, servers, busy, capacity := "—", "—", "—", formatShare(s.Utilization), "—"
		switch s.Kind {
		case analysis.KindServer:
			if s.Samples > 0 {
				service, p99 = formatMS(s.ServiceMSAvg), formatMS(s.ServiceMSP99)
			}
			servers = strconv.Itoa(s.Servers)
			if s.CapacityPerS > 0 {
				capacity = formatRate(s.CapacityPerS)
			}
		case analysis.KindBuffer:
			servers = strconv.Itoa(s.Slots) + " slots"
			busy += " full"
		case analysis.KindGate:
			busy += " shed"
		}
		if s.Inferred {
			servers += "~"
		}
		busyCell := cell{text: busy}
		if s.Utilization >= 0.9 {
			busyCell.paint = st.red
		}
		t.add(name, cell{text: formatRate(s.ArrivalsPerS)}, cell{text: formatRate(s.CompletionsPerS)}, cell{text: service}, cell{text: p99},
			cell{text: servers}, busyCell, cell{text: formatMS(s.WaitMSAvg)}, cell{text: strconv.FormatFloat(s.QueueLenAvg, 'f', 1, 64)}, cell{text: capacity})
	}
	t.write(w, "   ", st)
	p("%s\n", wrapText("   ", "Rates are per second of the period read; service is the pure service time (the work, not the waits); busy is λ·S/c for a server, the mean fill for a buffer, the share shed at admission; wait is the time spent waiting for the stage, waiting = λ·wait (Little's law); ~ = inferred from what the spans did. The vendor is a part of the workers' work.", textWidth, "   "))
	p("\n")
	line := v.Summary
	if v.Healthy {
		line = st.green(line)
	} else {
		line = st.bold(line)
	}
	p("%s\n\n", wrapText("   → ", line, textWidth, "     "))
}

// writeFixes prints each fix with the requests that apply it live, then
// what each would do next to what was measured and what the model gives
// for the current settings.
func writeFixes(w io.Writer, f *Findings, st style) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	para := func(indent, s string) { p("%s\n", wrapText(indent, s, textWidth, indent)) }
	v := &f.Verdict
	p("%s\n", st.bold("Fix"))
	if len(v.Fixes) == 0 {
		para("   ", "Nothing to fix in this window.")
	}
	labels := make([]string, len(v.Fixes))
	n := 0
	for i, fx := range v.Fixes {
		var settings []string
		for _, c := range fx.Changes {
			settings = append(settings, c.Service+" "+c.Setting+"="+c.Value)
		}
		head := "      or "
		labels[i] = fmt.Sprintf("%d, or", n)
		if !fx.Alternative {
			n++
			head = fmt.Sprintf("   %d. ", n)
			labels[i] = fmt.Sprintf("%d.", n)
		}
		p("%s%s\n", head, st.yellow(strings.Join(settings, " + ")))
		para("      ", fx.Why+".")
		for _, c := range fx.Changes {
			p("        %s\n", c.Curl)
		}
	}
	if len(v.Fixes) > 0 {
		para("   ", "Or set them in the services' environment (README, Configuration).")
	}
	writePredictions(w, f, labels, st)
}

// writePredictions prints the predictions table: the measurement, the
// model of the current settings (its fit), and each fix under the same
// model, so a prediction reads against the model's own baseline.
func writePredictions(w io.Writer, f *Findings, labels []string, st style) {
	mf, v := f.ModelFit, &f.Verdict
	if mf == nil && len(v.Fixes) == 0 {
		return
	}
	type row struct {
		label                                     string
		handled, failed, shed, p99, wait, blocked float64
		limit                                     string
		hasSim                                    bool
	}
	limit := func(stage string, c float64) string {
		if stage == "" || c <= 0 {
			return ""
		}
		return stage + " " + formatRate(c) + "/s"
	}
	rows := []row{}
	method := "the capacity model"
	if mf != nil {
		method = "simulation of this window's arrivals: " + mf.Method + ", " + strconv.Itoa(mf.SimulatedJobs) + " jobs"
		rows = append(rows,
			row{"now, measured", mf.MeasuredThroughputPerS, mf.MeasuredFailedPerS, mf.MeasuredShedPerS, mf.MeasuredFastP99MS, mf.MeasuredFastWaitP99MS, mf.MeasuredBlockedShare, limit(v.LimitStage, v.CapacityPerS), true},
			row{"now, simulated", mf.SimulatedThroughputPerS, mf.SimulatedFailedPerS, mf.SimulatedShedPerS, mf.SimulatedFastP99MS, mf.SimulatedFastWaitP99MS, mf.SimulatedBlockedShare, "", true})
	}
	for i, fx := range v.Fixes {
		pr := fx.Predicted
		if i == 0 {
			method = pr.Method
			if mf != nil && pr.Method != "capacity model" {
				method += " of this window's arrivals: " + mf.Method + ", " + strconv.Itoa(mf.SimulatedJobs) + " jobs"
			}
		}
		rows = append(rows, row{"fix " + labels[i], pr.ThroughputPerS, pr.FailedPerS, pr.RejectedPerS, pr.FastP99MS, pr.FastWaitP99MS, pr.BlockedShare,
			limit(pr.BottleneckStage, pr.CapacityPerS), pr.Method != "capacity model"})
	}
	var anyFailed, anyShed bool
	for _, r := range rows {
		anyFailed = anyFailed || r.failed >= 0.005
		anyShed = anyShed || r.shed >= 0.005
	}
	header := []string{"", "handled/s"}
	if anyFailed {
		header = append(header, "failed/s")
	}
	if anyShed {
		header = append(header, "shed/s")
	}
	header = append(header, "fast p99", "fast wait", "blocked", "limit then")
	right := make([]bool, len(header))
	for i := 1; i < len(header)-1; i++ {
		right[i] = true
	}
	t := table{header: header, right: right}
	for _, r := range rows {
		cells := []cell{{text: r.label}, {text: formatRate(r.handled)}}
		if anyFailed {
			cells = append(cells, cell{text: formatRate(r.failed)})
		}
		if anyShed {
			cells = append(cells, cell{text: formatRate(r.shed)})
		}
		sim := func(s string) string {
			if !r.hasSim {
				return "—"
			}
			return s
		}
		p99 := formatMS(r.p99)
		if r.p99 <= 0 {
			p99 = "—" // no fast job both arrived and was handled
		}
		cells = append(cells, cell{text: sim(p99)}, cell{text: sim(formatMS(r.wait))}, cell{text: sim(formatShare(r.blocked))}, cell{text: orDash(r.limit)})
		t.add(cells...)
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	title := "Predicted effect"
	if len(v.Fixes) == 0 {
		title = "Model fit"
	}
	p("\n%s\n", wrapText("   ", st.bold(title)+" ("+method+"):", textWidth, "   "))
	t.write(w, "   ", st)
	p("%s\n", wrapText("   ", "handled/s counts failed jobs too; fast p99 is cache-read and database jobs end to end; fast wait their p99 wait for a worker (queued, and blocked handing the result over); blocked the workers' busy time spent blocked sending; limit then the stage with the least capacity. Read a prediction against the simulated row: the difference between the measured and the simulated rows is the model's error.", textWidth, "   "))
}

func periodLine(f *Findings) string {
	pd := f.Period
	until := "the last completion"
	if pd.EndsAt == "window" {
		until = "the end of the window (load still arriving)"
	}
	s := fmt.Sprintf("Period: %s, from the first arrival read to %s", formatSeconds(pd.Seconds), until)
	switch {
	case pd.BusyPeriods > 1 && pd.SustainedSeconds == 0:
		s += fmt.Sprintf("; the arrivals came in %d bursts, the pipeline busy for %s of it", pd.BusyPeriods, formatSeconds(pd.ActiveSeconds))
	case pd.BusyPeriods > 1:
		s += fmt.Sprintf("; the arrivals came in %d busy periods, %s of sustained load", pd.BusyPeriods, formatSeconds(pd.SustainedSeconds))
	}
	if pd.Truncated {
		s += "; only the newest traces were read, so rates are over this part of the window"
	}
	return s
}

func jobsLine(j analysis.JobCounts) string {
	var parts []string
	for _, typ := range []string{analysis.TypeCacheRead, analysis.TypeDatabase, analysis.TypeVendorAPI} {
		if n := j.ByType[typ]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, typ))
		}
	}
	var others []string
	for typ := range j.ByType {
		if typ != analysis.TypeCacheRead && typ != analysis.TypeDatabase && typ != analysis.TypeVendorAPI {
			others = append(others, typ)
		}
	}
	slices.Sort(others)
	for _, typ := range others {
		parts = append(parts, fmt.Sprintf("%d %s", j.ByType[typ], typ))
	}
	s := fmt.Sprintf("%d jobs", j.Total)
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	s += fmt.Sprintf(" · %d delivered · %d failed · %d shed", j.Delivered, j.Failed, j.Rejected)
	if j.Lost > 0 {
		s += fmt.Sprintf(" · %d lost", j.Lost)
	}
	if j.InFlight > 0 {
		s += fmt.Sprintf(" · %d in flight", j.InFlight)
	}
	if j.HandledEarlier > 0 {
		s += fmt.Sprintf(" · and %d handled that arrived earlier", j.HandledEarlier)
	}
	return s
}

func configLine(c analysis.Config) string {
	mark := func(name, s string) string {
		if c.IsInferred(name) {
			return s + "~"
		}
		return s
	}
	timeout := "none"
	if c.VendorTimeoutMS > 0 {
		timeout = formatMS(c.VendorTimeoutMS)
	}
	return fmt.Sprintf("Seen in spans (~ inferred): %s workers · queue %s · results buffer %s · result send %s · priority lanes %s · vendor timeout %s · %s · consumer %s at a time",
		mark("workers", strconv.Itoa(c.Workers)), mark("queue_capacity", strconv.Itoa(c.QueueCapacity)), mark("results_buffer_cap", strconv.Itoa(c.ResultsBufferCap)),
		mark("result_send_mode", orDash(c.ResultSendMode)), mark("priority_lanes", orDash(c.PriorityLanes)), timeout,
		mark("forwarders", plural(c.Forwarders, "forwarder", "forwarders")), mark("consumer_concurrency", strconv.Itoa(c.ConsumerConcurrency)))
}

// behindText says what a stuck job waited behind: how many jobs, and
// which of them were vendor calls.
func behindText(s StuckJob) string {
	n := len(s.WaitedBehind)
	if n == 0 {
		return "—"
	}
	text := fmt.Sprintf("%d jobs", n)
	if n == 1 {
		text = "1 job"
	}
	if v := s.VendorJobsBehind; len(v) > 0 {
		const shown = 2
		text += fmt.Sprintf(", %d vendor: %s", len(v), strings.Join(v[:min(shown, len(v))], ", "))
		if len(v) > shown {
			text += ", …"
		}
	}
	return text
}

func formatSpan(w Window) string {
	const clock = "15:04:05"
	layout := clock
	if w.Start.YearDay() != w.End.YearDay() || w.Start.Year() != w.End.Year() {
		layout = "2006-01-02 " + clock
	}
	return w.Start.Format("2006-01-02 "+clock) + " – " + w.End.Format(layout) + " UTC"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Comparison is the --compare --json document.
type Comparison struct {
	SchemaVersion int      `json:"schema_version"`
	A             Findings `json:"a"`
	B             Findings `json:"b"`
}

// writeCompare prints two windows side by side with the change from A to B.
func writeCompare(w io.Writer, a, b *Findings, st style) {
	fmt.Fprintf(w, "%s\n", st.bold(fmt.Sprintf("Bottleneck compare: service %s, Jaeger %s", a.Service, a.Jaeger)))
	fmt.Fprintf(w, "A: %s (%s)\nB: %s (%s)\n\n", a.Window.Label, formatSpan(a.Window), b.Window.Label, formatSpan(b.Window))

	t := table{header: []string{"", "A", "B", "change"}, right: []bool{false, true, true, true}}
	row := func(name string, m metric) {
		va, oka := m.get(a)
		vb, okb := m.get(b)
		change := cell{text: "—"}
		if oka && okb {
			change = m.change(va, vb, st)
		}
		t.add(cell{text: name}, cell{text: m.showOrDash(va, oka)}, cell{text: m.showOrDash(vb, okb)}, change)
	}
	op := func(name string, pick func(*analysis.OperationStats) float64) func(*Findings) (float64, bool) {
		return func(f *Findings) (float64, bool) {
			if o := f.Operation(name); o != nil {
				return pick(o), true
			}
			return 0, false
		}
	}
	avg := func(o *analysis.OperationStats) float64 { return o.AvgMS }
	p99 := func(o *analysis.OperationStats) float64 { return o.P99MS }
	always := func(get func(*Findings) float64) func(*Findings) (float64, bool) {
		return func(f *Findings) (float64, bool) { return get(f), true }
	}

	row("traces", metric{get: always(func(f *Findings) float64 { return float64(f.Traces) }), show: showCount, neutral: true})
	row("offered jobs/s", metric{get: always(func(f *Findings) float64 { return f.Verdict.OfferedPerS }), show: formatRate, neutral: true})
	row("handled jobs/s", metric{get: always(func(f *Findings) float64 { return f.Verdict.ThroughputPerS }), show: formatRate, higherBetter: true})
	row("shed jobs/s", metric{get: always(func(f *Findings) float64 { return f.Verdict.ShedPerS }), show: formatRate})
	row("fast-job p99", metric{get: func(f *Findings) (float64, bool) { return f.FastLatency.P99MS, f.FastLatency.Count > 0 }, show: showMS})
	row("blocked result sends", metric{get: always(func(f *Findings) float64 { return float64(f.Blocking.Blocked) }), show: showCount})
	row("longest block", metric{get: func(f *Findings) (float64, bool) {
		if f.Blocking.Longest == nil {
			return 0, f.Blocking.Sends > 0
		}
		return f.Blocking.Longest.MS, true
	}, show: showMS})
	row("worker time blocked", metric{get: always(func(f *Findings) float64 { return f.Blocking.WorkerTimeBlocked }), show: showShare, points: true})
	row("vendor.api avg", metric{get: op(spans.VendorAPI, avg), show: showMS})
	row("vendor.api p99", metric{get: op(spans.VendorAPI, p99), show: showMS})
	row("cache.read avg", metric{get: op(spans.CacheRead, avg), show: showMS})
	row("cache.read p99", metric{get: op(spans.CacheRead, p99), show: showMS})
	row("vendor/cache ratio", metric{get: func(f *Findings) (float64, bool) { return f.VendorCacheRatio, f.VendorCacheRatio > 0 }, show: showRatio, neutral: true})
	row("fast jobs stuck", metric{get: always(func(f *Findings) float64 { return float64(f.HeadOfLine.Stuck) }), show: showCount})
	row("worst fast-job wait", metric{get: always(func(f *Findings) float64 { return f.HeadOfLine.WorstWaitMS }), show: showMS})
	row("slowest fast job", metric{get: always(func(f *Findings) float64 { return f.HeadOfLine.WorstEndToEndMS }), show: showMS})
	t.write(w, "", st)

	fmt.Fprintf(w, "\n%s\n", wrapText("A: ", verdictTag(a)+a.Verdict.Summary, textWidth, "   "))
	fmt.Fprintf(w, "%s\n", wrapText("B: ", verdictTag(b)+b.Verdict.Summary, textWidth, "   "))
}

// verdictTag is "[consumer, capacity] " for a verdict that names a stage.
func verdictTag(f *Findings) string {
	if f.Verdict.Kind == analysis.KindNone || f.Verdict.Kind == "" {
		return "[none] "
	}
	return "[" + f.Verdict.Stage + ", " + f.Verdict.Kind + "] "
}

// metric is one row of the comparison. Lower is better unless neutral or
// higherBetter.
type metric struct {
	get          func(*Findings) (float64, bool)
	show         func(float64) string
	neutral      bool
	higherBetter bool
	points       bool // a share: show the change in percentage points
}

func (m metric) change(a, b float64, st style) cell {
	d := b - a
	if d == 0 {
		return cell{text: "="}
	}
	sign := "+"
	if d < 0 {
		sign = "−"
	}
	var text string
	if m.points {
		// A change of a share reads best in percentage points.
		text = sign + strconv.FormatFloat(max(d, -d)*100, 'f', 0, 64) + " pts"
	} else {
		text = sign + m.show(max(d, -d))
		if a != 0 {
			text += fmt.Sprintf(" (%s%.0f%%)", sign, max(d, -d)/a*100)
		}
	}
	c := cell{text: text}
	if !m.neutral {
		if (d < 0) != m.higherBetter {
			c.paint = st.green
		} else {
			c.paint = st.red
		}
	}
	return c
}

func (m metric) showOrDash(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return m.show(v)
}

func showCount(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func showMS(v float64) string    { return formatMS(v) }
func showShare(v float64) string { return formatShare(v) }
func showRatio(v float64) string { return formatRatio(v) }
