package report

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Thresholds decide what counts as a finding.
type Thresholds struct {
	// A fast job is stuck when its wait for a worker is at least
	// StuckRatio times its own work and at least StuckMinWait.
	StuckRatio   float64
	StuckMinWait time.Duration
	// VendorSlowP99 marks the vendor as slow even without degraded calls.
	VendorSlowP99 time.Duration
	// WorstCases is how many stuck jobs to list.
	WorstCases int
}

// DefaultThresholds: 10x and 100 ms, as in the incident (2 ms cache reads
// waiting for hundreds of ms); vendor calls are 100–300 ms when healthy.
func DefaultThresholds() Thresholds {
	return Thresholds{StuckRatio: 10, StuckMinWait: 100 * time.Millisecond, VendorSlowP99: 500 * time.Millisecond, WorstCases: 5}
}

// Meta describes where traces came from; it is copied into the Findings.
type Meta struct {
	Jaeger  string // query API base URL
	UI      string // base URL for trace links; Jaeger when empty
	Service string
	Window  Window
	Limit   int
	// Admin is where the fixes' curl commands point.
	Admin analysis.AdminURLs
	Thresholds
}

// Analyze turns the traces of one window into Findings: the capacity
// model's analysis, and the incident write-up's three discoveries and
// root-cause chain told from it. It is pure: no I/O, no clock.
func Analyze(traces []jaegerapi.Trace, m Meta) Findings {
	return AnalyzeWithCompletions(traces, nil, m)
}

// AnalyzeWithCompletions is Analyze with the second search of the window
// too: the traces of the jobs the consumer handled in it (see Collect).
func AnalyzeWithCompletions(traces, completions []jaegerapi.Trace, m Meta) Findings {
	a := analysis.Analyze(traces, analysis.Options{
		WindowStart: m.Window.Start, WindowEnd: m.Window.End, Limit: m.Limit, Admin: m.Admin, Completions: completions,
		Thresholds: analysis.Thresholds{StuckRatio: m.StuckRatio, StuckMinWait: m.StuckMinWait, WorstCases: m.WorstCases},
	})
	f := fromAnalysis(&a, traces, m)
	f.CompletionTraces = len(completions)
	return f
}

func fromAnalysis(a *analysis.Analysis, traces []jaegerapi.Trace, m Meta) Findings {
	ui := strings.TrimRight(cmp.Or(m.UI, m.Jaeger), "/")
	f := Findings{
		SchemaVersion: SchemaVersion,
		Jaeger:        m.Jaeger,
		Service:       m.Service,
		Window:        m.Window,
		Traces:        len(traces),
		Limit:         m.Limit,
		Truncated:     a.Period.Truncated,
		Contract:      a.Contract,
		Period:        a.Period,
		Jobs:          a.Jobs,
		Config:        a.Config,
		Stages:        a.Stages,
		WorkerTime:    a.WorkerTime,
		FastLatency:   a.Fast,
		ModelFit:      a.ModelFit,
		Blocking:      sendBlocking(a.JobList),
		Operations:    a.Operations,
		Vendor:        a.Vendor,
		Consumer:      consumerThroughput(a),
		HeadOfLine:    HeadOfLine{HeadOfLine: a.HeadOfLine, Worst: []StuckJob{}},
	}
	if f.Operations == nil {
		f.Operations = []analysis.OperationStats{}
	}
	for _, s := range a.HeadOfLine.Worst {
		f.HeadOfLine.Worst = append(f.HeadOfLine.Worst, StuckJob{StuckJob: s, URL: traceURL(ui, s.TraceID)})
	}
	if v, c := a.Operation(spans.VendorAPI), a.Operation(spans.CacheRead); v != nil && c != nil && c.AvgMS > 0 {
		f.VendorCacheRatio = v.AvgMS / c.AvgMS
	}
	f.Verdict = Verdict{Verdict: a.Verdict}
	f.Verdict.Chain = chain(&f, m.Thresholds)
	f.Links = links(&f, a, ui)
	return f
}

// sendBlocking is discovery 1, over every job read.
func sendBlocking(jobs []analysis.Job) SendBlocking {
	b := SendBlocking{PerWorker: []WorkerBlocking{}}
	perWorker := map[string]*WorkerBlocking{}
	worker := func(id string) *WorkerBlocking {
		id = cmp.Or(id, "unknown")
		w := perWorker[id]
		if w == nil {
			w = &WorkerBlocking{WorkerID: id}
			perWorker[id] = w
		}
		return w
	}
	var processMS float64
	for i := range jobs {
		j := &jobs[i]
		if j.Earlier {
			continue // sent before the window
		}
		if j.WorkEnd > 0 && j.WorkerID != "" {
			worker(j.WorkerID).ProcessMS += j.WorkMS()
			processMS += j.WorkMS()
		}
		if j.SendStart == 0 {
			continue
		}
		b.Sends++
		w := worker(j.WorkerID)
		w.Sends++
		if !j.Blocked {
			continue
		}
		w.Blocked++
		w.BlockedMS += j.SendBlockMS
		b.Blocked++
		b.BlockedMS += j.SendBlockMS
		if b.Longest == nil || j.SendBlockMS > b.Longest.MS {
			b.Longest = &BlockedSend{MS: j.SendBlockMS, TraceID: j.TraceID, JobID: j.ID, JobType: j.Type, WorkerID: j.WorkerID}
		}
	}
	for _, w := range perWorker {
		if busy := w.BlockedMS + w.ProcessMS; busy > 0 {
			w.BlockedShare = w.BlockedMS / busy
		}
		b.PerWorker = append(b.PerWorker, *w)
	}
	slices.SortFunc(b.PerWorker, func(x, y WorkerBlocking) int { return analysis.CompareIDs(x.WorkerID, y.WorkerID) })
	if busy := b.BlockedMS + processMS; busy > 0 {
		b.WorkerTimeBlocked = b.BlockedMS / busy
	}
	return b
}

func consumerThroughput(a *analysis.Analysis) ConsumerThroughput {
	s := a.Stage(analysis.StageConsumer)
	c := ConsumerThroughput{AvgMS: s.ServiceMSAvg, MaxPerSecond: s.CapacityPerS}
	var waits []float64
	for i := range a.JobList {
		j := &a.JobList[i]
		if j.Handled() {
			c.Results++
			waits = append(waits, j.ChannelWaitMS()+j.ConsumerWait)
		}
	}
	if len(waits) > 0 {
		var sum float64
		for _, w := range waits {
			sum += w
		}
		c.DeliveryWaitAvgMS = sum / float64(len(waits))
		c.DeliveryWaitMaxMS = slices.Max(waits)
	}
	return c
}

// Operation returns the stats of one span name, nil when absent.
func (f *Findings) Operation(name string) *analysis.OperationStats {
	for i := range f.Operations {
		if f.Operations[i].Operation == name {
			return &f.Operations[i]
		}
	}
	return nil
}

// Stage returns the stage called name, nil when absent.
func (f *Findings) Stage(name string) *analysis.Stage {
	for i := range f.Stages {
		if f.Stages[i].Name == name {
			return &f.Stages[i]
		}
	}
	return nil
}

func traceURL(ui, traceID string) string { return ui + "/trace/" + traceID }

// links picks the traces worth opening: the longest blocked send, the
// worst stuck fast jobs, the slowest fast job, the slowest vendor call.
func links(f *Findings, a *analysis.Analysis, ui string) []TraceLink {
	out := []TraceLink{}
	add := func(id, why string) {
		if id == "" || slices.ContainsFunc(out, func(l TraceLink) bool { return l.TraceID == id }) {
			return
		}
		out = append(out, TraceLink{TraceID: id, URL: traceURL(ui, id), Why: why})
	}
	if l := f.Blocking.Longest; l != nil {
		add(l.TraceID, "longest blocked result send ("+analysis.FormatMS(l.MS)+", "+jobLabel(l.JobType, l.JobID)+")")
	}
	for _, s := range f.HeadOfLine.Worst[:min(3, len(f.HeadOfLine.Worst))] {
		add(s.TraceID, jobLabel(s.JobType, s.JobID)+" waited "+analysis.FormatMS(s.WaitMS)+" for a worker, for "+analysis.FormatMS(s.WorkMS)+" of work")
	}
	var slowestFast, slowestVendor *analysis.Job
	for i := range a.JobList {
		j := &a.JobList[i]
		if j.Earlier {
			continue
		}
		if j.Fast() && j.Handled() && (slowestFast == nil || j.EndToEndMS > slowestFast.EndToEndMS) {
			slowestFast = j
		}
		if j.HasVendor && (slowestVendor == nil || j.VendorMS > slowestVendor.VendorMS) {
			slowestVendor = j
		}
	}
	if j := slowestFast; j != nil && len(out) == 0 {
		add(j.TraceID, "slowest fast job ("+jobLabel(j.Type, j.ID)+", "+analysis.FormatMS(j.EndToEndMS)+" end to end)")
	}
	if j := slowestVendor; j != nil {
		add(j.TraceID, "slowest vendor call ("+analysis.FormatMS(j.VendorMS)+")")
	}
	return out
}
