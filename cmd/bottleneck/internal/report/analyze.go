package report

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Thresholds decide what counts as a finding.
type Thresholds struct {
	// A fast job is stuck when its end-to-end time is at least StuckRatio
	// times its own work and exceeds it by at least StuckMinWait.
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
	Thresholds
}

// operations lists the contract spans whose durations are compared, in the
// order a job meets them. Transport spans (gRPC, HTTP) are left out: they
// double the spans they wrap.
var operations = []string{
	spans.JobSubmit,
	spans.QueueWait,
	spans.WorkerProcess,
	spans.CacheRead,
	spans.DatabaseQuery,
	spans.PoolAcquire,
	spans.QueryExecute,
	spans.VendorAPI,
	spans.VendorHandle,
	spans.ResultSend,
	spans.ResultDeliver,
	spans.ResultWait,
	spans.ResultProcess,
}

// job is one trace seen as the story of its job.
type job struct {
	traceID   string
	id        string
	typ       string
	target    string
	failed    bool
	rootStart int64 // µs
	lastEnd   int64 // µs

	work, endToEnd       float64 // ms; valid when has*
	hasWork, hasEndToEnd bool
	queueWait, sendBlock float64 // ms
	channelWait          float64 // ms in the results channel (result.deliver)
	consumerWait         float64 // ms for a consumer slot (result.wait)
	delivered            bool
	waitedBehind         []string
}

// send is one result.send span joined with its worker.
type send struct {
	traceID, jobID, jobType, worker string
	blocked                         bool
	blockMS                         float64
}

// Analyze turns the traces of one window into Findings. It is pure: no
// I/O, no clock.
func Analyze(traces []jaegerapi.Trace, m Meta) Findings {
	ui := strings.TrimRight(cmp.Or(m.UI, m.Jaeger), "/")
	t := newTally()
	for i := range traces {
		t.addTrace(&traces[i])
	}

	f := Findings{
		SchemaVersion: SchemaVersion,
		Jaeger:        m.Jaeger,
		Service:       m.Service,
		Window:        m.Window,
		Traces:        len(traces),
		Limit:         m.Limit,
		Truncated:     m.Limit > 0 && len(traces) >= m.Limit,
		Jobs:          t.jobCounts(),
		Config: ObservedConfig{
			Workers:             len(t.processMS),
			ResultsBufferCap:    t.bufferCap,
			ResultSendMode:      mostCommon(t.sendModes),
			PriorityLanes:       lanesSetting(t.lanes),
			VendorTimeoutMS:     t.vendorTimeoutMS,
			ConsumerConcurrency: maxOverlap(t.consumerSpans),
		},
		Blocking:   sendBlocking(t.sends, t.processMS),
		Operations: operationStats(t.durations),
		Vendor:     VendorHealth{Calls: t.vendorCalls, Degraded: t.vendorDegraded, Preset: mostCommon(t.presets)},
	}
	if v, c := f.Operation(spans.VendorAPI), f.Operation(spans.CacheRead); v != nil && c != nil && c.AvgMS > 0 {
		f.VendorCacheRatio = v.AvgMS / c.AvgMS
	}
	if f.Vendor.Calls > 0 {
		f.Vendor.DegradedShare = float64(f.Vendor.Degraded) / float64(f.Vendor.Calls)
	}
	f.Consumer = t.consumer(f.Operation(spans.ResultProcess), f.Config.ConsumerConcurrency)
	f.HeadOfLine = headOfLine(t.jobs, t.jobTypes(), m.Thresholds, ui)
	f.Verdict = verdict(&f, m.Thresholds)
	f.Links = links(&f, traces, ui)
	return f
}

// tally gathers what the spans of a window say, trace by trace.
type tally struct {
	durations       map[string][]float64 // per contract span name, ms
	processMS       map[string]float64   // worker.process time per worker.id
	jobs            []job
	sends           []send
	bufferCap       int
	sendModes       map[string]int
	lanes           map[string]int
	presets         map[string]int
	vendorTimeoutMS float64
	vendorCalls     int
	vendorDegraded  int
	consumerSpans   [][2]int64 // result.process start, end (µs)
}

func newTally() *tally {
	return &tally{
		durations: map[string][]float64{}, processMS: map[string]float64{},
		sendModes: map[string]int{}, lanes: map[string]int{}, presets: map[string]int{},
	}
}

func (t *tally) addTrace(tr *jaegerapi.Trace) {
	if len(tr.Spans) == 0 {
		return
	}
	j := job{traceID: tr.TraceID, rootStart: math.MaxInt64}
	var resultSends []*jaegerapi.Span
	for i := range tr.Spans {
		s := &tr.Spans[i]
		j.rootStart = min(j.rootStart, s.StartTime)
		j.lastEnd = max(j.lastEnd, s.End())
		if slices.Contains(operations, s.OperationName) {
			t.durations[s.OperationName] = append(t.durations[s.OperationName], s.DurationMS())
		}
		if ids := s.TagString(spans.WaitedBehindJobs); ids != "" {
			j.waitedBehind = appendUnique(j.waitedBehind, splitIDs(ids)...)
		}
		if s.OperationName == spans.ResultSend {
			resultSends = append(resultSends, s) // needs the job's attributes first
			continue
		}
		t.addSpan(&j, s)
	}
	// Sends last: they take job.id and job.type from the job's other
	// spans, and their worker from a sibling worker.process.
	for _, s := range resultSends {
		t.addSend(tr, &j, s)
	}
	if !j.hasEndToEnd && j.delivered {
		j.endToEnd, j.hasEndToEnd = float64(j.lastEnd-j.rootStart)/1e3, true
	}
	t.jobs = append(t.jobs, j)
}

func (t *tally) addSpan(j *job, s *jaegerapi.Span) {
	switch s.OperationName {
	case spans.JobSubmit:
		j.fillJob(s)
		j.failed = j.failed || isError(s)
	case spans.WorkerProcess:
		j.fillJob(s)
		j.work, j.hasWork = s.DurationMS(), true
		if w := s.TagString(spans.WorkerID); w != "" {
			t.processMS[w] += s.DurationMS()
		}
	case spans.QueueWait:
		j.queueWait = s.DurationMS()
		if l := s.TagString(spans.QueueLane); l != "" {
			t.lanes[l]++
		}
	case spans.ResultDeliver:
		if v, ok := s.TagFloat(spans.ChannelWaitMS); ok {
			j.channelWait = max(j.channelWait, v)
		}
	case spans.ResultWait:
		j.consumerWait = max(j.consumerWait, s.DurationMS())
	case spans.VendorAPI:
		if v, ok := s.TagFloat(spans.VendorTimeoutMS); ok {
			t.vendorTimeoutMS = max(t.vendorTimeoutMS, v)
		}
	case spans.VendorHandle:
		t.vendorCalls++
		if s.TagBool(spans.FaultDegraded) {
			t.vendorDegraded++
		}
		if p := s.TagString(spans.FaultPreset); p != "" {
			t.presets[p]++
		}
	case spans.ResultProcess:
		t.consumerSpans = append(t.consumerSpans, [2]int64{s.StartTime, s.End()})
		if s.TagBool(spans.Duplicate) {
			return
		}
		j.fillJob(s)
		j.delivered = true
		if v, ok := s.TagFloat(spans.EndToEndMS); ok {
			j.endToEnd, j.hasEndToEnd = v, true
		}
		// job.work_ms is whole milliseconds; worker.process's duration,
		// when present, is exact.
		if v, ok := s.TagFloat(spans.WorkMS); ok && !j.hasWork {
			j.work, j.hasWork = v, true
		}
		if v, ok := s.TagFloat(spans.SendBlockMS); ok {
			j.sendBlock = max(j.sendBlock, v)
		}
		if v, ok := s.TagFloat(spans.QueueWaitMS); ok && j.queueWait == 0 {
			j.queueWait = v
		}
	}
}

func (t *tally) addSend(tr *jaegerapi.Trace, j *job, s *jaegerapi.Span) {
	sd := send{
		traceID: tr.TraceID,
		jobID:   cmp.Or(s.TagString(spans.JobID), j.id),
		jobType: cmp.Or(s.TagString(spans.JobType), j.typ),
		worker:  workerOf(tr, s),
		blocked: s.TagBool(spans.ChannelBlocked),
	}
	if sd.blocked {
		sd.blockMS = s.DurationMS()
		// block.duration_ms is whole milliseconds; a sub-millisecond block
		// reads 0 there, so the span's own duration stands in.
		if v, ok := s.TagFloat(spans.BlockDurationMS); ok && v > 0 {
			sd.blockMS = v
		}
		j.sendBlock = max(j.sendBlock, sd.blockMS)
	}
	t.sends = append(t.sends, sd)
	if c, ok := s.TagFloat(spans.ResultsBufferCap); ok {
		t.bufferCap = max(t.bufferCap, int(c))
	}
	if mode := s.TagString(spans.ResultSendMode); mode != "" {
		t.sendModes[mode]++
	}
}

func (t *tally) jobCounts() JobCounts {
	c := JobCounts{ByType: map[string]int{}}
	for _, j := range t.jobs {
		c.Total++
		c.ByType[cmp.Or(j.typ, "unknown")]++
		if j.delivered {
			c.Delivered++
		}
		if j.failed {
			c.Failed++
		}
	}
	return c
}

// jobTypes maps job IDs to their types, to tell which jobs a wait was
// behind.
func (t *tally) jobTypes() map[string]string {
	types := make(map[string]string, len(t.jobs))
	for _, j := range t.jobs {
		if j.id != "" {
			types[j.id] = j.typ
		}
	}
	return types
}

func (t *tally) consumer(process *OperationStats, concurrency int) ConsumerThroughput {
	var c ConsumerThroughput
	if process != nil {
		c.Results, c.AvgMS = process.Count, process.AvgMS
		if process.AvgMS > 0 {
			c.MaxPerSecond = float64(max(1, concurrency)) * 1000 / process.AvgMS
		}
	}
	var waits []float64
	for _, j := range t.jobs {
		if j.delivered {
			waits = append(waits, j.channelWait+j.consumerWait)
		}
	}
	if len(waits) > 0 {
		c.DeliveryWaitAvgMS = mean(waits)
		c.DeliveryWaitMaxMS = slices.Max(waits)
	}
	return c
}

// Operation returns the stats of one span name, nil when absent.
func (f *Findings) Operation(name string) *OperationStats {
	for i := range f.Operations {
		if f.Operations[i].Operation == name {
			return &f.Operations[i]
		}
	}
	return nil
}

func (j *job) fillJob(s *jaegerapi.Span) {
	j.id = cmp.Or(j.id, s.TagString(spans.JobID))
	j.typ = cmp.Or(j.typ, s.TagString(spans.JobType))
	j.target = cmp.Or(j.target, s.TagString(spans.JobTarget))
}

// workerOf finds the worker that sent a result. result.send may carry
// worker.id itself; otherwise it is a sibling of the worker.process of the
// same job under the Submit server span.
func workerOf(t *jaegerapi.Trace, s *jaegerapi.Span) string {
	if w := s.TagString(spans.WorkerID); w != "" {
		return w
	}
	parent, jobID := s.ParentID(), s.TagString(spans.JobID)
	var fallback string
	for i := range t.Spans {
		p := &t.Spans[i]
		if p.OperationName != spans.WorkerProcess {
			continue
		}
		w := p.TagString(spans.WorkerID)
		if parent != "" && p.ParentID() == parent {
			if jobID == "" || p.TagString(spans.JobID) == jobID {
				return w
			}
		}
		if jobID != "" && p.TagString(spans.JobID) == jobID {
			fallback = cmp.Or(fallback, w)
		}
	}
	return fallback
}

func sendBlocking(sends []send, processMS map[string]float64) SendBlocking {
	b := SendBlocking{Sends: len(sends)}
	perWorker := map[string]*WorkerBlocking{}
	for w, ms := range processMS {
		perWorker[w] = &WorkerBlocking{WorkerID: w, ProcessMS: ms}
	}
	for _, s := range sends {
		w := cmp.Or(s.worker, "unknown")
		wb := perWorker[w]
		if wb == nil {
			wb = &WorkerBlocking{WorkerID: w}
			perWorker[w] = wb
		}
		wb.Sends++
		if !s.blocked {
			continue
		}
		wb.Blocked++
		wb.BlockedMS += s.blockMS
		b.Blocked++
		b.BlockedMS += s.blockMS
		if b.Longest == nil || s.blockMS > b.Longest.MS {
			b.Longest = &BlockedSend{MS: s.blockMS, TraceID: s.traceID, JobID: s.jobID, JobType: s.jobType, WorkerID: s.worker}
		}
	}
	var totalProcess float64
	for _, wb := range perWorker {
		totalProcess += wb.ProcessMS
		if busy := wb.BlockedMS + wb.ProcessMS; busy > 0 {
			wb.BlockedShare = wb.BlockedMS / busy
		}
		b.PerWorker = append(b.PerWorker, *wb)
	}
	slices.SortFunc(b.PerWorker, func(x, y WorkerBlocking) int { return compareIDs(x.WorkerID, y.WorkerID) })
	if busy := b.BlockedMS + totalProcess; busy > 0 {
		b.WorkerTimeBlocked = b.BlockedMS / busy
	}
	return b
}

// compareIDs orders "2" before "10" and numbers before names.
func compareIDs(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return cmp.Compare(len(a), len(b))
	}
	return cmp.Compare(a, b)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func operationStats(durations map[string][]float64) []OperationStats {
	var out []OperationStats
	for _, op := range operations {
		d := durations[op]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		out = append(out, OperationStats{
			Operation: op,
			Count:     len(d),
			AvgMS:     mean(d),
			P50MS:     percentile(d, 0.50),
			P99MS:     percentile(d, 0.99),
			MaxMS:     d[len(d)-1],
		})
	}
	return out
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func headOfLine(all []job, typeOf map[string]string, th Thresholds, ui string) HeadOfLine {
	h := HeadOfLine{MinRatio: th.StuckRatio, MinWaitMS: msOf(th.StuckMinWait)}
	var stuck []StuckJob
	for _, j := range all {
		if !isFast(j.typ) || !j.hasWork {
			continue
		}
		h.FastJobs++
		if j.hasEndToEnd {
			h.WorstEndToEndMS = max(h.WorstEndToEndMS, j.endToEnd)
		}
		// Waiting for a worker is what slow jobs inflict on fast ones; the
		// wait for the consumer afterwards is the same for every result.
		wait := j.queueWait + j.sendBlock
		if wait < th.StuckRatio*j.work || wait < h.MinWaitMS {
			continue
		}
		sj := StuckJob{
			TraceID: j.traceID, URL: traceURL(ui, j.traceID),
			JobID: j.id, JobType: j.typ, Target: j.target,
			WorkMS: j.work, WaitMS: wait, QueueWaitMS: j.queueWait, SendBlockMS: j.sendBlock,
			DeliveryWaitMS: j.channelWait + j.consumerWait,
			WaitedBehind:   append([]string{}, j.waitedBehind...), VendorJobsBehind: []string{},
		}
		if j.hasEndToEnd {
			sj.EndToEndMS = j.endToEnd
		}
		for _, id := range j.waitedBehind {
			if typeOf[id] == typeVendorAPI {
				sj.VendorJobsBehind = append(sj.VendorJobsBehind, id)
			}
		}
		stuck = append(stuck, sj)
	}
	slices.SortFunc(stuck, func(a, b StuckJob) int {
		return cmp.Or(cmp.Compare(b.WaitMS, a.WaitMS), cmp.Compare(a.TraceID, b.TraceID))
	})
	h.Stuck = len(stuck)
	if len(stuck) > 0 {
		h.WorstWaitMS = stuck[0].WaitMS
	}
	h.Worst = stuck[:min(len(stuck), th.WorstCases)]
	return h
}

func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// Job type names as the spans carry them. pkg/jobs holds the same names,
// but importing it would pull the generated gRPC API (and grpc, protobuf)
// into the CLI for three strings.
const (
	typeCacheRead = "cache-read"
	typeDatabase  = "database"
	typeVendorAPI = "vendor-api"
)

// isFast: cache reads and database jobs are the fast ones priority lanes
// keep apart from vendor calls.
func isFast(typ string) bool { return typ == typeCacheRead || typ == typeDatabase }

func isError(s *jaegerapi.Span) bool {
	return s.TagBool("error") || s.TagString("otel.status_code") == "ERROR"
}

// maxOverlap is the largest number of intervals open at one instant.
func maxOverlap(iv [][2]int64) int {
	type edge struct {
		at    int64
		delta int
	}
	edges := make([]edge, 0, 2*len(iv))
	for _, i := range iv {
		edges = append(edges, edge{i[0], +1}, edge{i[1], -1})
	}
	// Ends before starts at the same instant: back-to-back is not overlap.
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	open, most := 0, 0
	for _, e := range edges {
		open += e.delta
		most = max(most, open)
	}
	return most
}

func lanesSetting(lanes map[string]int) string {
	switch {
	case lanes["fast"] > 0 || lanes["slow"] > 0:
		return "on"
	case len(lanes) > 0:
		return "off"
	}
	return ""
}

func mostCommon(counts map[string]int) string {
	best, n := "", 0
	for k, c := range counts {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	return best
}

func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func appendUnique(list []string, ids ...string) []string {
	for _, id := range ids {
		if !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return list
}

func traceURL(ui, traceID string) string { return ui + "/trace/" + traceID }

// links picks the traces worth opening: the longest blocked send, the
// worst stuck fast jobs, the slowest vendor call.
func links(f *Findings, traces []jaegerapi.Trace, ui string) []TraceLink {
	out := []TraceLink{}
	add := func(id, why string) {
		if id == "" || slices.ContainsFunc(out, func(l TraceLink) bool { return l.TraceID == id }) {
			return
		}
		out = append(out, TraceLink{TraceID: id, URL: traceURL(ui, id), Why: why})
	}
	if l := f.Blocking.Longest; l != nil {
		add(l.TraceID, "longest blocked result send ("+formatMS(l.MS)+", "+jobLabel(l.JobType, l.JobID)+")")
	}
	for _, s := range f.HeadOfLine.Worst[:min(3, len(f.HeadOfLine.Worst))] {
		add(s.TraceID, jobLabel(s.JobType, s.JobID)+" waited "+formatMS(s.WaitMS)+" for a worker, for "+formatMS(s.WorkMS)+" of work")
	}
	var slowest *jaegerapi.Span
	for ti := range traces {
		for si := range traces[ti].Spans {
			s := &traces[ti].Spans[si]
			if s.OperationName == spans.VendorAPI && (slowest == nil || s.Duration > slowest.Duration) {
				slowest = s
			}
		}
	}
	if slowest != nil {
		add(slowest.TraceID, "slowest vendor call ("+formatMS(slowest.DurationMS())+")")
	}
	return out
}
