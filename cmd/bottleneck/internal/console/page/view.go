// Package page renders the console: one server-rendered HTML page whose
// live part (pipeline, verdict, dashboards against traces, timelines) is
// a fragment the page's script fetches once a second. Everything is
// rendered once per poll and shared by every viewer.
package page

import (
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/collect"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/timeline"
)

// Input is everything one render needs.
type Input struct {
	Snap      *collect.Snapshot
	Diagnosis diagnose.Diagnosis
	// DiagnosisWindow is the period the diagnosis covers.
	DiagnosisWindow time.Duration
	Timelines       timeline.Timelines
	// TraceLink turns a trace ID into the URL links use.
	TraceLink func(id string) string
	// JaegerUI is the base URL of Jaeger's real UI, or "" when Jaeger
	// serves the placeholder (or is unknown).
	JaegerUI string
	// SVG keeps the timeline's markup between renders (optional).
	SVG *SVGCache
}

// View is the template's data.
type View struct {
	Updated  string
	Seq      uint64
	Errors   []string
	Verdict  VerdictView
	Pipeline []StageView
	Said     Said
	Shows    Shows
	Timeline template.HTML
	Window   string
	Traces   TraceNote
	Settings Settings
}

// VerdictView is the verdict line and its fixes.
type VerdictView struct {
	Known   bool
	Healthy bool
	Stage   string // pipeline box ID highlighted
	Kind    string
	Text    string
	Chain   []string
	Source  string
	Period  string
	// Lag is how long ago the window of arrivals ended: their spans reach
	// Jaeger a few seconds late ("" when it ends now).
	Lag   string
	Fixes []FixView
}

// FixView is one fix button.
type FixView struct {
	ID, Label, Why, Service, Body, Predicted string
	Alternative                              bool
	// Curls are the ready commands that apply the fix without the
	// console, one per service it changes, the main one first.
	Curls []string
	Also  []FixView
	// AlsoJSON lists the other settings of the same fix, applied together:
	// [{"service": ..., "body": ...}].
	AlsoJSON string
}

// StageView is one box of the pipeline.
type StageView struct {
	ID, Title, Main, MainUnit string
	Lines                     []string
	// Fill is a 0..1 bar for buffers and busy shares; -1 hides it.
	Fill      float64
	FillLabel string
	Hot       bool // the stage the analysis names
	HotLabel  string
	// Model is the analysis' numbers for the stage over its window, when
	// it has them: utilization and capacity.
	Model string
	Down  bool
}

// Said is what the standard metrics (dashboards) say.
type Said struct {
	Services []ServiceMetrics
	Busy     string // "4/4"
	BusyNote string
	Period   string
	Known    bool
}

// ServiceMetrics is one service's process numbers.
type ServiceMetrics struct {
	Name     string
	CPU      string
	CPUFill  float64
	Memory   string
	Down     bool
	Goroutin string
}

// Shows is what the traces say over the same period.
type Shows struct {
	Known        bool
	BlockedShare string
	BlockedNote  string
	FastP99      string
	FastNote     string
	SlowestLink  string
	SlowestJob   string
	// BlockedBad and FastBad say when the numbers show trouble (red): a
	// twentieth of the busy time blocked; fast jobs' p99 at least 10x
	// their work and 100 ms.
	BlockedBad, FastBad bool
	Period              string
	BlockedSends        string
	Working             string
	ConsumerShare       string
}

// TraceNote describes the trace window under the timelines.
type TraceNote struct {
	Count     int
	Settled   string
	Truncated bool
	Fetched   uint64
	Evicted   uint64
}

// Settings are the services' current settings (shown beside the controls).
type Settings struct {
	Preset        string
	Workers       *collect.WorkersConfig
	Consumer      string
	Concurrency   int
	ProcessDelay  string
	Scenario      string
	Rate          float64
	Mix           string
	LastBurst     string
	ResultsBuffer int
	// Quick are the incident write-up's fixes, one click each (the same
	// as `bottleneck up --fix`), marked when already in force.
	Quick []QuickFix
}

// QuickFix is one of the incident's fixes on the workers.
type QuickFix struct {
	ID, Label, Body string
	InForce         bool
}

// Build turns a snapshot into the page's data.
func Build(in Input) View {
	s := in.Snap
	v := View{
		Updated: s.At.Format("15:04:05"),
		Seq:     s.Seq,
		Window:  fmtDur(in.Timelines.To.Sub(in.Timelines.From)),
	}
	for _, src := range append(slices.Clone(collect.ServiceNames), "jaeger") {
		if e, ok := s.Errors[src]; ok {
			v.Errors = append(v.Errors, src+": "+e)
		}
	}
	v.Verdict = verdictView(in.Diagnosis, in.DiagnosisWindow)
	if d := in.Diagnosis; !d.WindowEnd.IsZero() && s.At.After(d.WindowEnd) {
		v.Verdict.Lag = fmtDur(s.At.Sub(d.WindowEnd).Round(time.Second))
	}
	v.Pipeline = pipeline(s, in.Diagnosis)
	v.Said = said(s)
	v.Shows = shows(in.Timelines.Summary, in.TraceLink)
	svg := in.SVG
	if svg == nil {
		svg = &SVGCache{}
	}
	v.Timeline = svg.timelineSVG(in.Timelines, s.Window.SettledUntil, in.TraceLink)
	v.Traces = TraceNote{Count: len(s.Traces), Truncated: s.Window.Truncated > 0, Fetched: s.Window.Fetched, Evicted: s.Window.Evicted}
	if !s.Window.SettledUntil.IsZero() {
		v.Traces.Settled = fmtDur(s.At.Sub(s.Window.SettledUntil).Round(100 * time.Millisecond))
	}
	v.Settings = settings(s)
	return v
}

func verdictView(d diagnose.Diagnosis, period time.Duration) VerdictView {
	v := VerdictView{Known: d.Stage != "", Stage: boxOf(d.Stage), Kind: d.Kind, Text: d.Verdict,
		Chain: d.Chain, Source: d.Source, Period: fmtDur(period), Healthy: d.Stage == diagnose.StageNone}
	for i, f := range d.Fixes {
		v.Fixes = append(v.Fixes, fixView(f, fmt.Sprintf("fix-%d", i)))
	}
	return v
}

func fixView(f diagnose.Fix, id string) FixView {
	body, _ := json.Marshal(f.Body)
	fv := FixView{
		ID: id, Label: f.Setting + "=" + f.Value, Why: f.Why, Service: f.Service, Body: string(body),
		Alternative: f.Alternative,
	}
	if f.Curl != "" {
		fv.Curls = append(fv.Curls, f.Curl)
	}
	if f.PredictedThroughput > 0 {
		fv.Predicted = fmt.Sprintf("predicted: %.0f jobs/s", f.PredictedThroughput)
		if f.PredictedFastP99MS > 0 {
			fv.Predicted += ", fast-job p99 " + fmtMS(f.PredictedFastP99MS)
		}
	}
	type also struct {
		Service string         `json:"service"`
		Body    map[string]any `json:"body"`
	}
	var more []also
	for i, a := range f.Also {
		av := fixView(a, fmt.Sprintf("%s-also-%d", id, i))
		fv.Also = append(fv.Also, av)
		fv.Curls = append(fv.Curls, av.Curls...)
		more = append(more, also{a.Service, a.Body})
	}
	if len(more) > 0 {
		b, _ := json.Marshal(more)
		fv.AlsoJSON = string(b)
	}
	return fv
}

// boxOf maps an analysis stage to the pipeline box drawn for it: the
// vendor is part of the workers' work, admission is the producer's
// submissions meeting the queue.
func boxOf(stage string) string {
	switch stage {
	case diagnose.StageAdmission:
		return "producer"
	case diagnose.StageQueue:
		return "queue"
	case diagnose.StageWorkers, diagnose.StageVendor:
		return "workers"
	case diagnose.StageResults:
		return "results"
	case diagnose.StageDelivery:
		return "forwarders"
	case diagnose.StageConsumer:
		return "consumer"
	}
	return ""
}

func pipeline(s *collect.Snapshot, d diagnose.Diagnosis) []StageView {
	r := s.Rates
	hot := boxOf(d.Stage)
	boxes := []StageView{}

	p := StageView{ID: "producer", Title: "producer", Fill: -1, Main: "–", MainUnit: "jobs/s offered"}
	if s.Producer == nil {
		p.Down = true
	} else {
		p.Lines = append(p.Lines, "load: "+loadLine(s.Producer.Load))
	}
	if s.Workers != nil {
		p.Main = fmtRate(r.Arrivals)
		if r.Rejected > 0 {
			p.Lines = append(p.Lines, fmt.Sprintf("%s/s refused: queue full", fmtRate(r.Rejected)))
		} else {
			p.Lines = append(p.Lines, "none refused")
		}
	}
	boxes = append(boxes, p)

	q := StageView{ID: "queue", Title: "job queue", Fill: -1, Main: "–", MainUnit: "jobs waiting"}
	rc := StageView{ID: "results", Title: "results channel", Fill: -1, Main: "–", MainUnit: "results held"}
	w := StageView{ID: "workers", Title: "workers", Fill: -1, Main: "–", MainUnit: "working"}
	f := StageView{ID: "forwarders", Title: "forwarders", Fill: -1, Main: "–", MainUnit: "results/s delivered"}
	if ws := s.Workers; ws != nil {
		q.Main = fmt.Sprint(ws.Queue.Depth)
		q.MainUnit = fmt.Sprintf("of %d slots", ws.Queue.Capacity)
		q.Fill, q.FillLabel = ratio(ws.Queue.Depth, ws.Queue.Capacity), "fill"
		if ws.Queue.PriorityLanes {
			q.Lines = append(q.Lines, "priority lanes on")
		} else {
			q.Lines = append(q.Lines, "one lane, arrival order")
		}

		n := ws.Config.Workers
		blocked := ws.Results.BlockedNow
		busy := blocked
		if pm, ok := s.Process[collect.Workers]; ok && pm.PoolWorkers > 0 {
			busy = int(pm.PoolBusy)
		}
		working := max(0, busy-blocked)
		idle := max(0, n-busy)
		w.Main = fmt.Sprintf("%d", working)
		w.MainUnit = fmt.Sprintf("of %d working", n)
		w.Lines = append(w.Lines, fmt.Sprintf("%d blocked sending · %d idle", blocked, idle))
		w.Lines = append(w.Lines, fmt.Sprintf("%s jobs/s done", fmtRate(r.Completed)))
		w.Fill, w.FillLabel = ratio(blocked, n), "blocked now"

		rc.Main = fmt.Sprint(ws.Results.Len)
		rc.MainUnit = fmt.Sprintf("of %d slots", ws.Results.Cap)
		rc.Fill, rc.FillLabel = ratio(ws.Results.Len, ws.Results.Cap), "fill"
		rc.Lines = append(rc.Lines, "send: "+ws.Results.Mode)
		if ws.Results.OverflowLen > 0 {
			rc.Lines = append(rc.Lines, fmt.Sprintf("%d in overflow", ws.Results.OverflowLen))
		}

		f.Main = fmtRate(r.Delivered)
		f.Lines = append(f.Lines, fmt.Sprintf("%d forwarder(s), one result each at a time", ws.Config.Forwarders))
	} else {
		for _, b := range []*StageView{&q, &w, &rc, &f} {
			b.Down = true
		}
	}

	c := StageView{ID: "consumer", Title: "consumer", Fill: -1, Main: "–", MainUnit: "results/s handled"}
	if cs := s.Consumer; cs != nil {
		c.Main = fmtRate(r.Handled)
		delay, _ := time.ParseDuration(cs.Config.ProcessDelay)
		c.Lines = append(c.Lines, fmt.Sprintf("%s each, %d at a time", cs.Config.ProcessDelay, cs.Config.Concurrency))
		if delay > 0 && cs.Config.Concurrency > 0 {
			capacity := float64(cs.Config.Concurrency) / delay.Seconds()
			c.Lines = append(c.Lines, fmt.Sprintf("ceiling ~%s/s", fmtRate(capacity)))
			c.Fill, c.FillLabel = min(1, r.Handled/capacity), "utilization"
		}
		if cs.Waiting > 0 {
			c.Lines = append(c.Lines, fmt.Sprintf("%d waiting for a slot", cs.Waiting))
		}
	} else {
		c.Down = true
	}

	boxes = append(boxes, q, w, rc, f, c)
	for name, m := range d.Stages {
		id := boxOf(name)
		if id == "" || name == diagnose.StageVendor {
			continue
		}
		for i := range boxes {
			if boxes[i].ID == id && m.Servers > 0 {
				boxes[i].Model = fmt.Sprintf("model: %s/s in · ρ %.2f", fmtRate(m.ArrivalsPerS), m.Utilization)
			}
		}
	}
	for i := range boxes {
		if boxes[i].ID == hot {
			boxes[i].Hot = true
			boxes[i].HotLabel = "bottleneck"
			if d.Kind != "" && d.Kind != "none" {
				boxes[i].Lines = append([]string{"kind: " + d.Kind}, boxes[i].Lines...)
			}
			if d.Stage == diagnose.StageVendor {
				boxes[i].Lines = append([]string{"held by the vendor"}, boxes[i].Lines...)
			}
		}
	}
	return boxes
}

func loadLine(l collect.LoadView) string {
	switch l.Scenario {
	case "steady":
		return fmt.Sprintf("steady %s/s", fmtRate(l.Rate))
	case "checkout":
		return "checkout burst every " + l.CheckoutEvery
	}
	return l.Scenario
}

func said(s *collect.Snapshot) Said {
	var out Said
	for _, name := range collect.ServiceNames {
		m := ServiceMetrics{Name: name}
		p, ok := s.Process[name]
		if !ok {
			m.Down, m.CPU, m.Memory = true, "–", "–"
		} else {
			out.Known = true
			cpu := s.CPU[name]
			m.CPU = fmt.Sprintf("%.1f%%", cpu)
			m.CPUFill = min(1, cpu/100)
			m.Memory = fmt.Sprintf("%.0f MiB", p.RSSBytes/(1<<20))
			m.Goroutin = fmt.Sprintf("%.0f", p.Goroutines)
		}
		out.Services = append(out.Services, m)
	}
	out.Period = fmtDur(collect.DashboardPeriod)
	if p, ok := s.Process[collect.Workers]; ok && p.PoolWorkers > 0 {
		out.Busy = fmt.Sprintf("%.0f/%.0f", s.PeakBusy, s.PeakOf)
		out.BusyNote = fmt.Sprintf("workers busy at the peak of the last %s (now %.0f/%.0f)", out.Period, p.PoolBusy, p.PoolWorkers)
	} else {
		out.Busy = "–"
	}
	return out
}

func shows(sum timeline.Summary, link func(string) string) Shows {
	out := Shows{Period: fmtDur(sum.Period.Round(time.Second))}
	if sum.WorkingMS+sum.BlockedMS == 0 && sum.FastJobs == 0 {
		return out
	}
	out.Known = true
	out.BlockedShare = fmt.Sprintf("%.0f%%", 100*sum.BlockedShareOfBusy)
	out.BlockedBad = sum.BlockedShareOfBusy >= 0.05
	out.BlockedNote = fmt.Sprintf("of their busy time blocked handing off results (%d of %d sends blocked)", sum.BlockedSends, sum.Sends)
	if busy := sum.WorkingMS + sum.BlockedMS + sum.IdleMS; busy > 0 {
		out.Working = fmt.Sprintf("%.0f%%", 100*sum.WorkingMS/busy)
	}
	if sum.FastJobs > 0 {
		out.FastP99 = fmtMS(sum.FastP99MS)
		out.FastBad = sum.FastP99MS >= 100 && sum.FastP99MS >= 10*sum.FastWorkP50MS
		out.FastNote = fmt.Sprintf("end to end for %s of work (p50 %s, %d cache/database jobs)", fmtMS(sum.FastWorkP50MS), fmtMS(sum.FastP50MS), sum.FastJobs)
		out.SlowestLink = link(sum.SlowestFastTrace)
		out.SlowestJob = sum.SlowestFastJob
	}
	if sum.ConsumerCap > 0 {
		out.ConsumerShare = fmt.Sprintf("%.0f%%", 100*sum.ConsumerBusyMS/sum.ConsumerCap)
	}
	return out
}

func settings(s *collect.Snapshot) Settings {
	var st Settings
	if s.Vendor != nil {
		st.Preset = s.Vendor.Preset
	}
	if s.Workers != nil {
		c := s.Workers.Config
		st.Workers = &c
		buffer := 100 * c.Workers
		st.Quick = []QuickFix{
			{ID: "quick-buffer", Label: fmt.Sprintf("results buffer ×100 (%d)", buffer), Body: fmt.Sprintf(`{"results_buffer":%d}`, buffer), InForce: c.ResultsBuffer >= buffer},
			{ID: "quick-nonblocking", Label: "non-blocking send", Body: `{"result_send":"nonblocking"}`, InForce: c.ResultSend == "nonblocking"},
			{ID: "quick-lanes", Label: "priority lanes", Body: `{"priority_lanes":"on"}`, InForce: c.PriorityLanes == "on"},
			{ID: "quick-timeout", Label: "vendor timeout 300ms", Body: `{"vendor_timeout":"300ms"}`, InForce: c.VendorTimeout != "0" && c.VendorTimeout != ""},
		}
	}
	if s.Consumer != nil {
		st.Concurrency = s.Consumer.Config.Concurrency
		st.ProcessDelay = s.Consumer.Config.ProcessDelay
	}
	if s.Producer != nil {
		st.Scenario = s.Producer.Load.Scenario
		st.Rate = s.Producer.Load.Rate
		st.Mix = mixString(s.Producer.Load.Mix)
		if b := s.Producer.LastBurst; b != nil {
			st.LastBurst = b.Summary
		}
	}
	return st
}

func mixString(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"cache-read", "database", "vendor-api"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%g", k, v))
		}
	}
	return strings.Join(parts, ",")
}

func ratio(a, b int) float64 {
	if b <= 0 {
		return 0
	}
	return min(1, float64(a)/float64(b))
}

func fmtRate(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
