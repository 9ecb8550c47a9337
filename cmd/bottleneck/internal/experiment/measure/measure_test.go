package measure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(`# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes{service="workers"} 3.3554432e+07
go_goroutines 42
`))
	if err != nil || !s.HasCPU || s.CPU != 12500*time.Millisecond || s.RSS != 32<<20 {
		t.Errorf("parseMetrics = %+v, %v", s, err)
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines 3\n")); err == nil {
		t.Error("a page without process metrics: want an error")
	}
	if _, err := parseMetrics(strings.NewReader("process_cpu_seconds_total NaN\n")); err == nil {
		t.Error("NaN CPU: want an error")
	}
	if _, err := parseMetrics(strings.NewReader("<html>not metrics</html>\n")); err == nil {
		t.Error("a page that is not Prometheus text: want an error")
	}
}

func TestReadMetricsOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "process_cpu_seconds_total 2\nprocess_resident_memory_bytes 1024")
	}))
	defer srv.Close()
	s, err := ReadMetrics(context.Background(), srv.Client(), srv.URL)
	if err != nil || s.CPU != 2*time.Second || s.RSS != 1024 {
		t.Errorf("ReadMetrics = %+v, %v", s, err)
	}
	if _, err := ReadMetrics(context.Background(), srv.Client(), srv.URL+"/nope"); err == nil {
		t.Error("a 404: want an error")
	}
}

func TestProcParsers(t *testing.T) {
	cpu, err := parseProcStatCPU([]byte("4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 0 0"))
	if err != nil || cpu != 3*time.Second {
		t.Errorf("parseProcStatCPU = %s, %v; want 3s (300 ticks)", cpu, err)
	}
	if _, err := parseProcStatCPU([]byte("4242 no parens")); err == nil {
		t.Error("a stat line without the command's parentheses: want an error")
	}
	rss, err := parseStatusKB([]byte("Name:\tworkers\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"), "VmRSS")
	if err != nil || rss != 1<<20 {
		t.Errorf("VmRSS = %d, %v", rss, err)
	}
	if _, err := parseStatusKB([]byte("Name: x\n"), "VmRSS"); err == nil {
		t.Error("no VmRSS: want an error")
	}
	m, err := parseMachine([]byte("cpu  100 10 50 800 40 0 0 0 5 0\ncpu0 1 2 3 4\n"))
	if err != nil || m.Total != 10*time.Second || m.Busy != 1600*time.Millisecond {
		t.Errorf("parseMachine = %+v, %v; want total 10s (1000 ticks), busy 1.6s", m, err)
	}
	if w, err := parseSchedstatWait([]byte("291388249 571274623 881\n")); err != nil || w != 571274623 {
		t.Errorf("parseSchedstatWait = %d, %v", w, err)
	}
}

func TestWorst(t *testing.T) {
	if w := Worst([]Latency{{JobID: "a", EndToEndMS: 3}, {JobID: "b", EndToEndMS: 9}, {JobID: "c", EndToEndMS: 1}}); w == nil || w.JobID != "b" {
		t.Errorf("Worst = %+v", w)
	}
	if Worst(nil) != nil {
		t.Error("Worst of none: want nil")
	}
}

func TestCountersIdleAndOffered(t *testing.T) {
	var c Counters
	c.Producer.Submitted = map[string]uint64{"cache-read": 5, "database": 2}
	c.Producer.Rejected = map[string]uint64{"cache-read": 3}
	c.Producer.Failed = map[string]uint64{"vendor-api": 1}
	c.Producer.Steady.SkippedBacklog, c.Producer.Steady.SkippedBehind = 4, 2
	if got := c.Offered(); got != 17 {
		t.Errorf("Offered = %d, want 17", got)
	}
	c.Workers.Counters.Submitted, c.Workers.Counters.Completed = 7, 7
	c.Workers.Counters.Delivered = 7
	if idle, why := c.Idle(); !idle {
		t.Errorf("all delivered: not idle: %s", why)
	}
	c.Workers.Counters.Delivered = 5
	if idle, why := c.Idle(); idle || why != "2 results wait for delivery" {
		t.Errorf("Idle = %v %q", idle, why)
	}
	c.Workers.Counters.Completed, c.Workers.Queue.Depth = 6, 1
	if idle, why := c.Idle(); idle || !strings.Contains(why, "the workers hold 1 jobs") {
		t.Errorf("Idle = %v %q", idle, why)
	}
	c.Workers.Queue.Depth, c.Workers.Counters.Completed, c.Workers.Counters.Delivered = 0, 7, 7
	c.Workers.Held = 2
	if idle, why := c.Idle(); idle || why != "the workers hold 2 jobs (0 queued)" {
		t.Errorf("Idle with held jobs = %v %q", idle, why)
	}
	c.Producer.Delivery.Outstanding = 4
	if idle, why := c.Idle(); idle || why != "4 jobs wait for the consumer's confirmation" {
		t.Errorf("Idle = %v %q", idle, why)
	}
	c.Producer.Steady.InFlight = 3
	if idle, why := c.Idle(); idle || !strings.Contains(why, "3 submissions in flight") {
		t.Errorf("Idle = %v %q", idle, why)
	}
	c.Producer.Delivery.RefusedFull = 5
	if got := c.Offered(); got != 22 {
		t.Errorf("Offered with jobs refused for too many outstanding = %d, want 22", got)
	}
}

// fakeJaeger serves /api/traces from a list of result.process spans and
// records the queries.
type fakeJaeger struct {
	mu      sync.Mutex
	queries []string
	spans   []fakeSpan
}

type fakeSpan struct {
	trace, job, typ string
	start           time.Time
	e2e             int
	duplicate       bool
}

func (f *fakeJaeger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.queries = append(f.queries, q.Get("service")+" "+q.Get("operation")+" "+q.Get("limit"))
	f.mu.Unlock()
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	var data []jaegerapi.Trace
	for _, s := range f.spans {
		us := s.start.UnixMicro()
		if us < start || us > end || len(data) >= limit {
			continue
		}
		tags := []jaegerapi.KeyValue{
			kv("job.type", s.typ), kv("job.id", s.job), kv("job.end_to_end_ms", strconv.Itoa(s.e2e)), kv("result.duplicate", strconv.FormatBool(s.duplicate)),
		}
		data = append(data, jaegerapi.Trace{TraceID: s.trace, Processes: map[string]jaegerapi.Process{"p1": {ServiceName: "consumer"}},
			Spans: []jaegerapi.Span{{TraceID: s.trace, SpanID: "s" + s.job, OperationName: "result.process", StartTime: us, Duration: 50000, Tags: tags, ProcessID: "p1"}}})
	}
	json.NewEncoder(w).Encode(map[string]any{"data": data})
}

func kv(k, v string) jaegerapi.KeyValue {
	b, _ := json.Marshal(v)
	return jaegerapi.KeyValue{Key: k, Type: "string", Value: b}
}

func TestTraceSamplerSpreadsTheSampleOverTheWindow(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	fj := &fakeJaeger{}
	for i := range 40 {
		// 10 jobs per second over 4 s, newest first as Jaeger answers.
		at := t0.Add(4*time.Second - time.Duration(i+1)*100*time.Millisecond)
		fj.spans = append(fj.spans, fakeSpan{trace: fmt.Sprintf("t%02d", i), job: fmt.Sprintf("j%02d", i), typ: "cache-read", start: at, e2e: 10 + i})
	}
	fj.spans = append(fj.spans,
		fakeSpan{trace: "vendor", job: "v", typ: "vendor-api", start: t0.Add(time.Second), e2e: 9999},
		fakeSpan{trace: "dup", job: "d", typ: "database", start: t0.Add(time.Second), e2e: 8888, duplicate: true},
		fakeSpan{trace: "before", job: "b", typ: "database", start: t0.Add(-time.Second), e2e: 7777},
	)
	srv := httptest.NewServer(fj)
	defer srv.Close()
	jc, err := jaegerapi.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := &TraceSampler{Jaeger: jc, Slices: 4, PerSlice: 5, AnalysisSpan: 3 * time.Second, AnalysisLimit: 3}
	got, err := s.Sample(context.Background(), t0, t0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fast) != 20 || !got.Truncated {
		t.Errorf("%d fast jobs (truncated %v), want 5 from each of 4 slices", len(got.Fast), got.Truncated)
	}
	// Each slice's newest five: the sample covers every second of the window.
	seconds := map[int]int{}
	for _, l := range got.Fast {
		if l.Type != "cache-read" {
			t.Errorf("sampled a %s job: vendor jobs and duplicates are not fast-job latencies", l.Type)
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(l.JobID, "j"))
		seconds[(39-i)/10]++
	}
	if w := Worst(got.Fast); got.Worst == nil || w == nil || got.Worst.TraceID != w.TraceID {
		t.Errorf("the worst trace %v, want the slowest fast job's %+v", got.Worst, w)
	}
	if len(seconds) != 4 {
		t.Errorf("the sample covers seconds %v of the window, want all four", seconds)
	}
	// The model reads the window's start (two thirds of it at most): those
	// jobs had the rest of the window to finish.
	if len(got.Analysis) != 3 || !got.AnalysisTruncated || !got.AnalysisStart.Equal(t0) || !got.AnalysisEnd.Equal(t0.Add(4*time.Second*2/3)) || got.AnalysisLimit != 3 {
		t.Errorf("analysis: %d traces, truncated %v, %s..%s, limit %d", len(got.Analysis), got.AnalysisTruncated, got.AnalysisStart, got.AnalysisEnd, got.AnalysisLimit)
	}
	// And what the consumer handled in that part, whenever it arrived.
	if len(got.Completions) != 3 {
		t.Errorf("%d completions, want the limit's 3", len(got.Completions))
	}
	want := []string{"consumer result.process 5", "consumer result.process 5", "consumer result.process 5", "consumer result.process 5", "producer  3", "consumer result.process 3"}
	if strings.Join(fj.queries, "|") != strings.Join(want, "|") {
		t.Errorf("queries %q, want %q", fj.queries, want)
	}

	srv.Close()
	if _, err := s.Sample(context.Background(), t0, t0.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "reading the consumer's traces") {
		t.Errorf("Sample with Jaeger gone: %v", err)
	}
}
