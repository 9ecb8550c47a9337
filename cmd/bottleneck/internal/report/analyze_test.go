package report

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

func testMeta() Meta {
	return Meta{
		Jaeger: "http://jaeger.test:16686", Service: Service, Limit: 1000, Thresholds: DefaultThresholds(),
		Window: LastWindow(5*time.Minute, time.UnixMicro(baseMicros).Add(5*time.Minute)),
	}
}

// incident is a small version of the incident: a degraded vendor job
// blocks its send, fast jobs queue behind it.
func incident() []jaegerapi.Trace {
	return []jaegerapi.Trace{
		jobTrace(0, jobSpec{id: "c1", typ: "cache-read", worker: "1", queueMS: 1, workMS: 2, bufferCap: 4}),
		jobTrace(1, jobSpec{id: "v1", typ: "vendor-api", worker: "2", queueMS: 1, workMS: 1500, blockMS: 300, bufferCap: 4, degraded: true}),
		jobTrace(2, jobSpec{id: "c2", typ: "cache-read", worker: "1", queueMS: 1200, workMS: 3, blockMS: 80, behind: "v1,c1", bufferCap: 4}),
		jobTrace(3, jobSpec{id: "d1", typ: "database", worker: "3", queueMS: 900, workMS: 30, behind: "v1", bufferCap: 4}),
		jobTrace(4, jobSpec{id: "v2", typ: "vendor-api", worker: "4", queueMS: 1, workMS: 200, bufferCap: 4}),
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestAnalyzeIncident(t *testing.T) {
	f := Analyze(incident(), testMeta())

	b := f.Blocking
	if b.Sends != 5 || b.Blocked != 2 || !near(b.BlockedMS, 380) {
		t.Errorf("sends %d, blocked %d, blocked ms %v; want 5, 2, 380", b.Sends, b.Blocked, b.BlockedMS)
	}
	if b.Longest == nil {
		t.Fatal("no longest blocked send")
	}
	if b.Longest.MS != 300 || b.Longest.JobID != "v1" || b.Longest.WorkerID != "2" || b.Longest.JobType != "vendor-api" {
		t.Errorf("longest = %+v, want v1's 300 ms on worker 2", b.Longest)
	}
	// blocked 380 / (380 + process 2+1500+3+30+200)
	if want := 380.0 / (380 + 1735); !near(b.WorkerTimeBlocked, want) {
		t.Errorf("worker time blocked = %v, want %v", b.WorkerTimeBlocked, want)
	}
	ids := []string{}
	for _, w := range b.PerWorker {
		ids = append(ids, w.WorkerID)
	}
	if !slices.Equal(ids, []string{"1", "2", "3", "4"}) {
		t.Errorf("workers = %v", ids)
	}
	if w1 := b.PerWorker[0]; w1.Sends != 2 || w1.Blocked != 1 || !near(w1.BlockedShare, 80.0/85) {
		t.Errorf("worker 1 = %+v", w1)
	}

	if f.Config.Workers != 4 || f.Config.ResultsBufferCap != 4 || f.Config.ResultSendMode != "blocking" || f.Config.ConsumerConcurrency != 1 {
		t.Errorf("config = %+v", f.Config)
	}
	if f.Jobs.Total != 5 || f.Jobs.Delivered != 5 || f.Jobs.ByType["cache-read"] != 2 || f.Jobs.ByType["vendor-api"] != 2 {
		t.Errorf("jobs = %+v", f.Jobs)
	}

	vendor, cache := f.Operation(spans.VendorAPI), f.Operation(spans.CacheRead)
	if vendor == nil || cache == nil || vendor.Count != 2 || cache.Count != 2 {
		t.Fatalf("operations = %+v", f.Operations)
	}
	if !near(vendor.AvgMS, (1499.9+199.9)/2) || !near(vendor.P99MS, 1499.9) || !near(vendor.P50MS, 199.9) {
		t.Errorf("vendor.api = %+v", vendor)
	}
	if !near(f.VendorCacheRatio, vendor.AvgMS/cache.AvgMS) || f.VendorCacheRatio < 100 {
		t.Errorf("ratio = %v", f.VendorCacheRatio)
	}
	if f.Vendor.Calls != 2 || f.Vendor.Degraded != 1 || f.Vendor.Preset != "degraded" {
		t.Errorf("vendor = %+v", f.Vendor)
	}

	h := f.HeadOfLine
	if h.FastJobs != 3 || h.Stuck != 2 || len(h.Worst) != 2 {
		t.Fatalf("head of line = %+v", h)
	}
	worst := h.Worst[0]
	if worst.JobID != "c2" || !slices.Equal(worst.WaitedBehind, []string{"v1", "c1"}) || !slices.Equal(worst.VendorJobsBehind, []string{"v1"}) {
		t.Errorf("worst = %+v", worst)
	}
	if worst.QueueWaitMS != 1200 || worst.SendBlockMS != 80 || worst.URL != "http://jaeger.test:16686/trace/"+worst.TraceID {
		t.Errorf("worst = %+v", worst)
	}

	// Five jobs a second apart are no burst and no overload: what the
	// model names is the fast jobs stuck behind the vendor jobs.
	v := f.Verdict
	if v.Kind != analysis.KindHeadOfLine || v.Stage != analysis.StageQueue || !v.Bottleneck || v.Healthy {
		t.Errorf("verdict %s/%s: %s", v.Stage, v.Kind, v.Summary)
	}
	if len(v.Chain) != 5 || !strings.HasPrefix(v.Chain[0], "Slow vendor: ") || !strings.HasPrefix(v.Chain[4], "Fast jobs stuck: 2 of 3") {
		t.Errorf("chain = %q", v.Chain)
	}
	if len(v.Fixes) == 0 || v.Fixes[0].Setting != "PRIORITY_LANES" || v.Fixes[0].Value != "on" {
		t.Errorf("fixes = %+v, want PRIORITY_LANES=on first", v.Fixes)
	}
	if len(f.Links) == 0 || f.Links[0].TraceID != b.Longest.TraceID {
		t.Errorf("links = %+v, want the longest block first", f.Links)
	}
}

func TestAnalyzeHealthy(t *testing.T) {
	traces := []jaegerapi.Trace{
		jobTrace(0, jobSpec{id: "c1", typ: "cache-read", worker: "1", queueMS: 1, workMS: 2, bufferCap: 400}),
		jobTrace(1, jobSpec{id: "v1", typ: "vendor-api", worker: "2", queueMS: 1, workMS: 150, bufferCap: 400}),
	}
	f := Analyze(traces, testMeta())
	if f.Blocking.Blocked != 0 || f.Blocking.Longest != nil || f.HeadOfLine.Stuck != 0 {
		t.Errorf("blocking %+v, head of line %+v", f.Blocking, f.HeadOfLine)
	}
	if !f.Verdict.Healthy || f.Verdict.Bottleneck || len(f.Verdict.Fixes) != 0 {
		t.Errorf("verdict = %+v", f.Verdict)
	}
}

func TestStuckThresholds(t *testing.T) {
	// 10x but under 100 ms of waiting: a slow-ish moment, not a finding.
	// queue 40 + work 2 + consumer 50 = 92 ms end to end.
	short := jobTrace(0, jobSpec{id: "c1", typ: "cache-read", worker: "1", queueMS: 40, workMS: 2})
	// 150 ms of waiting but only 2x the work: a database job doing its job.
	slowWork := jobTrace(1, jobSpec{id: "d1", typ: "database", worker: "1", queueMS: 100, workMS: 150})
	// Vendor jobs are never "fast jobs stuck", however long they wait.
	vendor := jobTrace(2, jobSpec{id: "v1", typ: "vendor-api", worker: "1", queueMS: 5000, workMS: 10})
	f := Analyze([]jaegerapi.Trace{short, slowWork, vendor}, testMeta())
	if f.HeadOfLine.FastJobs != 2 || f.HeadOfLine.Stuck != 0 {
		t.Errorf("head of line = %+v, want 2 fast jobs, none stuck", f.HeadOfLine)
	}
}

func TestWorkerJoinedFromSibling(t *testing.T) {
	// result.send without worker.id: the worker is the one whose
	// worker.process shares its parent (the Submit server span).
	tr := jobTrace(0, jobSpec{id: "c1", typ: "cache-read", worker: "7", workMS: 2, blockMS: 50})
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if s.OperationName == spans.ResultSend {
			s.Tags = slices.DeleteFunc(s.Tags, func(kv jaegerapi.KeyValue) bool { return kv.Key == spans.WorkerID })
		}
	}
	f := Analyze([]jaegerapi.Trace{tr}, testMeta())
	if f.Blocking.Longest == nil || f.Blocking.Longest.WorkerID != "7" {
		t.Fatalf("longest = %+v, want worker 7", f.Blocking.Longest)
	}
}

func TestTypedTagsAndDuplicates(t *testing.T) {
	// Jaeger may send typed values (another exporter) instead of strings.
	tr := jobTrace(0, jobSpec{id: "c1", typ: "cache-read", worker: "1", workMS: 2, blockMS: 12.4})
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if s.OperationName == spans.ResultSend {
			for j := range s.Tags {
				switch s.Tags[j].Key {
				case spans.ChannelBlocked:
					s.Tags[j] = jaegerapi.KeyValue{Key: spans.ChannelBlocked, Type: "bool", Value: json.RawMessage("true")}
				case spans.BlockDurationMS:
					s.Tags[j] = jaegerapi.KeyValue{Key: spans.BlockDurationMS, Type: "int64", Value: json.RawMessage("12")}
				}
			}
		}
	}
	// A duplicate delivery must not count as a second delivery.
	dup := tr.Spans[len(tr.Spans)-1]
	dup.SpanID = "ffffffffffffffff"
	dup.Tags = append(slices.Clone(dup.Tags), jaegerapi.KeyValue{Key: spans.Duplicate, Value: json.RawMessage(`"true"`)})
	tr.Spans = append(tr.Spans, dup)

	f := Analyze([]jaegerapi.Trace{tr}, testMeta())
	if f.Blocking.Blocked != 1 || f.Blocking.BlockedMS != 12 {
		t.Errorf("blocking = %+v, want 1 blocked for 12 ms", f.Blocking)
	}
	if f.Jobs.Delivered != 1 || f.Consumer.Results != 1 {
		t.Errorf("delivered %d, results handled %d; want 1, 1: a duplicate is not a second result", f.Jobs.Delivered, f.Consumer.Results)
	}
}

func TestTruncated(t *testing.T) {
	m := testMeta()
	m.Limit = 2
	f := Analyze(incident()[:2], m)
	if !f.Truncated {
		t.Error("a search that returned limit traces must be marked truncated")
	}
}
