package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/pool"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

type nopRunner struct{}

func (nopRunner) Run(context.Context, *jobsv1.Job, work.Params) error { return nil }

type nopSink struct{}

func (nopSink) Deliver(context.Context, *jobsv1.Result) (int, error) { return 1, nil }

// newServer returns a server over a pool that is not started, so whatever
// Submit accepts stays in the queue where the test can count it.
func newServer(t *testing.T, queueSize int, submitWait time.Duration) (*Server, *pool.Pool) {
	t.Helper()
	return newServerLogging(t, io.Discard, queueSize, submitWait)
}

func newServerLogging(t *testing.T, logs io.Writer, queueSize int, submitWait time.Duration) (*Server, *pool.Pool) {
	t.Helper()
	tr, err := tracing.Setup(context.Background(), tracing.Options{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logs, nil))
	p, err := pool.New(pool.Options{
		Runner: nopRunner{}, Sink: nopSink{}, Tracing: tr, Log: log,
		Live: config.Live{
			Workers: 4, QueueSize: queueSize,
			SubmitWait: submitWait, ResultsBuffer: 4, ResultSend: config.SendBlocking, Forwarders: 1,
			CacheLatency:     envconfig.Range{Min: time.Millisecond, Max: 5 * time.Millisecond},
			DBAcquireLatency: envconfig.Range{Min: 2 * time.Millisecond, Max: 7 * time.Millisecond},
			DBQueryLatency:   envconfig.Range{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(p, tr, log), p
}

func TestSubmitValidation(t *testing.T) {
	const (
		cache  = jobsv1.JobType_JOB_TYPE_CACHE_READ
		vendor = jobsv1.JobType_JOB_TYPE_VENDOR_API
	)
	for _, tc := range []struct {
		name  string
		job   *jobsv1.Job
		field string
	}{
		{"nil job", nil, "job:"},
		{"empty id", &jobsv1.Job{Type: cache}, "job.id"},
		{"id too long", &jobsv1.Job{Id: strings.Repeat("x", 129), Type: cache}, "job.id"},
		// IDs are joined with ',' in waited_behind.job_ids.
		{"id with comma", &jobsv1.Job{Id: "a,b", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id with space", &jobsv1.Job{Id: "a b", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id with tab", &jobsv1.Job{Id: "a\tb", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id with newline", &jobsv1.Job{Id: "a\nlevel=ERROR", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id with NUL", &jobsv1.Job{Id: "a\x00", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id with slash", &jobsv1.Job{Id: "a/b", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id with non-ASCII letter", &jobsv1.Job{Id: "caf\u00e9", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"id of invalid UTF-8", &jobsv1.Job{Id: "a\xff", Type: cache}, "job.id: only [A-Za-z0-9._:-]"},
		{"unspecified type", &jobsv1.Job{Id: "j"}, "job.type"},
		{"unknown type", &jobsv1.Job{Id: "j", Type: 42}, "job.type"},
		{"vendor without target", &jobsv1.Job{Id: "j", Type: vendor}, "job.target"},
		{"vendor target outside /v1/", &jobsv1.Job{Id: "j", Type: vendor, Target: "/admin/faults"}, "job.target"},
		{"vendor target climbing out", &jobsv1.Job{Id: "j", Type: vendor, Target: "/v1/../admin/faults"}, "job.target"},
		{"vendor target with query", &jobsv1.Job{Id: "j", Type: vendor, Target: "/v1/tax?x=1"}, "job.target"},
		{"target too long", &jobsv1.Job{Id: "j", Type: cache, Target: strings.Repeat("k", 257)}, "job.target"},
		{"trace context too big", &jobsv1.Job{Id: "j", Type: cache, TraceContext: manyEntries(9)}, "job.trace_context: 9 entries"},
		{"trace context value too long", &jobsv1.Job{Id: "j", Type: cache,
			TraceContext: map[string]string{"traceparent": strings.Repeat("0", 513)}}, `job.trace_context["traceparent"]`},
		{"trace context key too long", &jobsv1.Job{Id: "j", Type: cache,
			TraceContext: map[string]string{strings.Repeat("k", 513): "v"}}, "job.trace_context: key"},
		{"trace context empty key", &jobsv1.Job{Id: "j", Type: cache, TraceContext: map[string]string{"": "v"}}, "job.trace_context: empty key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := newServer(t, 10, 0)
			_, err := s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: tc.job})
			st, _ := status.FromError(err)
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.field) {
				t.Fatalf("Submit = %v; want InvalidArgument naming %s", err, tc.field)
			}
			if c := p.Stats(); c.Queue.Depth != 0 || c.Counters.Submitted != 0 {
				t.Fatalf("a rejected job was queued: %+v", c.Queue)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		s, p := newServer(t, 10, 0)
		for i, j := range []*jobsv1.Job{
			{Id: strings.Repeat("x", 128), Type: cache},
			{Id: "checkout-0a1b2c3d-07", Type: cache},
			{Id: "Steady_run.42:x-Z9", Type: cache},
			{Id: "v", Type: vendor, Target: "/v1/payment/authorize"},
			// A malformed traceparent is no reason to refuse work: the
			// job's spans hang under the Submit call instead.
			{Id: "t", Type: cache, Attempt: 2, TraceContext: map[string]string{"traceparent": "garbage"}},
		} {
			resp, err := s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: j})
			if err != nil || resp.GetQueueDepth() != uint32(i+1) {
				t.Fatalf("Submit(%v) = %v, %v", j, resp, err)
			}
		}
		if d := p.Stats().Queue.Depth; d != 5 {
			t.Fatalf("queue depth %d", d)
		}
	})
}

func manyEntries(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

// A re-submission of a job the pool still holds answers already_held and
// queues nothing.
func TestSubmitOfAHeldJobQueuesNothing(t *testing.T) {
	s, p := newServer(t, 10, 0)
	job := &jobsv1.Job{Id: "checkout-ab-01", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, Attempt: 1}
	resp, err := s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: job})
	if err != nil || resp.GetAlreadyHeld() || resp.GetQueueDepth() != 1 {
		t.Fatalf("first Submit = %v, %v; want queued", resp, err)
	}
	again := &jobsv1.Job{Id: job.Id, Type: job.Type, Attempt: 2}
	resp, err = s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: again})
	if err != nil || !resp.GetAlreadyHeld() {
		t.Fatalf("re-submission = %v, %v; want already_held", resp, err)
	}
	st := p.Stats()
	if st.Queue.Depth != 1 || st.Counters.Submitted != 1 || st.Counters.AlreadyHeld != 1 {
		t.Fatalf("queue depth %d, counters %+v; want the job queued once and one already_held", st.Queue.Depth, st.Counters)
	}

	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c := p.Stats().Counters; c.Delivered != 1 {
		t.Fatalf("counters %+v; want the job delivered once", c)
	}
}

func TestSubmitFullQueueAndShutdown(t *testing.T) {
	s, p := newServer(t, 2, 20*time.Millisecond)
	for _, id := range []string{"a", "b"} {
		if _, err := s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: &jobsv1.Job{Id: id, Type: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, err := s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: &jobsv1.Job{Id: "c", Type: 1}})
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || st.Message() != "job queue full (2 jobs); try later" {
		t.Fatalf("Submit on a full queue = %v", err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Error("ResourceExhausted before SUBMIT_WAIT")
	}
	p.StopAccepting()
	_, err = s.Submit(context.Background(), &jobsv1.SubmitRequest{Job: &jobsv1.Job{Id: "d", Type: 1}})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable {
		t.Fatalf("Submit during shutdown = %v; want Unavailable", err)
	}
}

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAdminConfigRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		mention    string
	}{
		{"malformed", `{"results_buffer":`, 400, "malformed JSON"},
		{"not an object", `[1]`, 400, "want"},
		{"unknown field", `{"buffer":4}`, 400, `unknown field \"buffer\"`},
		{"wrong type", `{"results_buffer":"big"}`, 400, "results_buffer"},
		{"buffer negative", `{"results_buffer":-1}`, 400, "results_buffer: -1 is out of range"},
		{"buffer too big", `{"results_buffer":100001}`, 400, "results_buffer"},
		{"bad send mode", `{"result_send":"async"}`, 400, "result_send"},
		{"lanes as bool", `{"priority_lanes":true}`, 400, "priority_lanes"},
		{"bad lanes", `{"priority_lanes":"yes"}`, 400, "priority_lanes"},
		{"bad timeout", `{"vendor_timeout":"soon"}`, 400, "vendor_timeout"},
		{"negative timeout", `{"vendor_timeout":"-1s"}`, 400, "vendor_timeout"},
		{"timeout too long", `{"vendor_timeout":"11m"}`, 400, "vendor_timeout"},
		{"bad submit wait", `{"submit_wait":"2m"}`, 400, "submit_wait"},
		{"no forwarders", `{"forwarders":0}`, 400, "forwarders: 0 is out of range 1..64"},
		{"too many forwarders", `{"forwarders":65}`, 400, "forwarders: 65 is out of range 1..64"},
		{"forwarders as string", `{"forwarders":"4"}`, 400, "forwarders"},
		{"bad range", `{"cache_latency":"5ms-1ms"}`, 400, "cache_latency"},
		{"bad db range", `{"db_query_latency":"fast"}`, 400, "db_query_latency"},
		{"bad acquire range", `{"db_acquire_latency":"1ms-2h"}`, 400, "db_acquire_latency"},
		{"no workers", `{"workers":0}`, 400, "workers: 0 is out of range 1..1024"},
		{"negative workers", `{"workers":-3}`, 400, "workers: -3 is out of range 1..1024"},
		{"too many workers", `{"workers":1025}`, 400, "workers: 1025 is out of range 1..1024"},
		{"workers as string", `{"workers":"8"}`, 400, `field \"workers\"`},
		{"fractional workers", `{"workers":2.5}`, 400, `field \"workers\"`},
		{"workers beyond int64", `{"workers":99999999999999999999}`, 400, `field \"workers\"`},
		{"negative queue", `{"queue_size":-1}`, 400, "queue_size: -1 is out of range 1..1000000"},
		{"queue too big", `{"queue_size":1000001}`, 400, "queue_size: 1000001 is out of range 1..1000000"},
		{"queue as string", `{"queue_size":"big"}`, 400, `field \"queue_size\"`},
		{"good field, then bad", `{"results_buffer":400,"result_send":"later"}`, 400, "result_send"},
		{"good size, then bad", `{"workers":8,"queue_size":80,"forwarders":0}`, 400, "forwarders"},
		{"good workers, bad queue", `{"workers":8,"queue_size":-5}`, 400, "queue_size"},
		{"too big", `{"result_send":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newServer(t, 10, time.Second)
			h := s.HTTPHandler()
			before := do(t, h, "GET", "/admin/config", "").Body.String()
			rec := do(t, h, "PUT", "/admin/config", tc.body)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.mention) || !strings.Contains(rec.Body.String(), `"error"`) {
				t.Fatalf("PUT %s = %d %s; want %d mentioning %s", tc.body, rec.Code, rec.Body, tc.status, tc.mention)
			}
			if after := do(t, h, "GET", "/admin/config", "").Body.String(); after != before {
				t.Fatalf("a rejected PUT changed the config:\n%s\n%s", before, after)
			}
		})
	}
}

func TestAdminConfigChanges(t *testing.T) {
	s, p := newServer(t, 10, time.Second)
	h := s.HTTPHandler()
	get := do(t, h, "GET", "/admin/config", "")
	want := `"results_buffer": 4`
	if get.Code != 200 || !strings.Contains(get.Body.String(), want) || !strings.Contains(get.Body.String(), `"vendor_timeout": "0"`) ||
		!strings.Contains(get.Body.String(), `"forwarders": 1`) {
		t.Fatalf("GET = %d %s", get.Code, get.Body)
	}
	// A GET body PUT back is accepted and changes nothing.
	if rec := do(t, h, "PUT", "/admin/config", get.Body.String()); rec.Code != 200 {
		t.Fatalf("PUT of the GET body = %d %s", rec.Code, rec.Body)
	}
	rec := do(t, h, "PUT", "/admin/config", `{"results_buffer":400,"result_send":"nonblocking","priority_lanes":"on","vendor_timeout":"300ms","cache_latency":"2ms","forwarders":4}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"vendor_timeout": "300ms"`) || !strings.Contains(rec.Body.String(), `"forwarders": 4`) || !strings.Contains(rec.Body.String(), `"cache_latency": "2ms"`) {
		t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
	}
	l := p.Settings()
	if l.ResultsBuffer != 400 || l.ResultSend != config.SendNonblocking || !l.PriorityLanes || l.VendorTimeout != 300*time.Millisecond || l.CacheLatency.Max != 2*time.Millisecond || l.Forwarders != 4 {
		t.Fatalf("settings after PUT: %+v", l)
	}
	if st := p.Stats(); st.Results.Cap != 400 || st.Results.Mode != config.SendNonblocking || !st.Queue.PriorityLanes {
		t.Fatalf("pool did not apply the change: %+v %+v", st.Results, st.Queue)
	}
}

// workers and queue_size are live: a PUT resizes the pool, /admin/config
// and /stats show the new values, and each change is one log line.
func TestAdminConfigResizesThePool(t *testing.T) {
	logs := &logtest.Buffer{}
	s, p := newServerLogging(t, logs, 10, time.Second)
	p.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	h := s.HTTPHandler()
	rec := do(t, h, "PUT", "/admin/config", `{"workers":16,"queue_size":100}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"workers": 16`) || !strings.Contains(rec.Body.String(), `"queue_size": 100`) {
		t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
	}
	if p.Workers() != 16 || p.QueueSize() != 100 {
		t.Fatalf("pool: %d workers, queue %d; want 16, 100", p.Workers(), p.QueueSize())
	}
	var st struct {
		Workers pool.WorkersStats `json:"workers"`
		Queue   pool.QueueStats   `json:"queue"`
		Config  ConfigView        `json:"config"`
	}
	getStats := func() {
		t.Helper()
		rec := do(t, h, "GET", "/stats", "")
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatalf("/stats: %v: %s", err, rec.Body)
		}
	}
	getStats()
	if st.Workers.Count != 16 || st.Queue.Capacity != 100 || st.Config.Workers != 16 || st.Config.QueueSize != 100 {
		t.Fatalf("/stats after the resize: workers %+v, queue capacity %d, config %d/%d",
			st.Workers, st.Queue.Capacity, st.Config.Workers, st.Config.QueueSize)
	}
	for _, line := range []string{
		`msg="config changed" field=workers from=4 to=16`,
		`msg="config changed" field=queue_size from=10 to=100`,
	} {
		if strings.Count(logs.String(), line) != 1 {
			t.Errorf("log lacks one %s:\n%s", line, logs)
		}
	}

	// 0 means what it means at start, against the workers this request
	// leaves in force, whatever the order of the fields.
	rec = do(t, h, "PUT", "/admin/config", `{"queue_size":0,"results_buffer":0,"workers":3}`)
	if rec.Code != 200 {
		t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
	}
	if l := p.Settings(); l.Workers != 3 || l.QueueSize != 30 || l.ResultsBuffer != 3 {
		t.Fatalf("after zeros with 3 workers: %+v; want queue 30, buffer 3", l)
	}
	// Resolved once: changing workers alone moves neither.
	do(t, h, "PUT", "/admin/config", `{"workers":5}`)
	if l := p.Settings(); l.Workers != 5 || l.QueueSize != 30 || l.ResultsBuffer != 3 {
		t.Fatalf("workers alone moved the derived sizes: %+v", l)
	}
	fakes.Eventually(t, 5*time.Second, func() bool { getStats(); return st.Workers.Count == 5 && st.Workers.Retiring == 0 },
		"5 workers on duty, none retiring: %+v", &st.Workers)
}

func TestHTTPMethodsAndStats(t *testing.T) {
	s, p := newServer(t, 10, time.Second)
	h := s.HTTPHandler()
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/admin/config", "GET, HEAD, PUT"},
		{"DELETE", "/stats", "GET, HEAD"},
		{"PUT", "/healthz", "GET, HEAD"},
	} {
		rec := do(t, h, tc.method, tc.path, "")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d Allow %q; want 405 Allow %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.allow)
		}
	}
	if rec := do(t, h, "GET", "/healthz", ""); rec.Code != 200 {
		t.Errorf("healthz = %d", rec.Code)
	}
	rec := do(t, h, "GET", "/stats", "")
	for _, key := range []string{`"workers"`, `"queue"`, `"results"`, `"blocked_sends"`, `"blocked_ms_total"`, `"latencies"`, `"config"`, `"tracing"`, `"completed_by_type"`, `"delivery_retries"`} {
		if !strings.Contains(rec.Body.String(), key) {
			t.Errorf("/stats lacks %s: %s", key, rec.Body)
		}
	}
	p.StopAccepting()
	if rec := do(t, h, "GET", "/healthz", ""); rec.Code != 503 {
		t.Errorf("healthz during shutdown = %d", rec.Code)
	}
}
