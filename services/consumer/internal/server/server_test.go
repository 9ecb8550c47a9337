package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/ledger"
)

// harness is a consumer on a real loopback gRPC listener.
type harness struct {
	srv    *Server
	tp     *tracing.Provider
	exp    *tracetest.InMemoryExporter
	client jobsv1.ResultSinkClient
	logs   *logtest.Buffer
}

func start(t *testing.T, opts Options) *harness {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "consumer", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logs := &logtest.Buffer{}
	log, err := logging.New(logs, logging.Options{Service: "consumer"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Tracing, opts.Log = tp, log
	if opts.Settings.Concurrency == 0 {
		opts.Settings.Concurrency = 1
	}
	if opts.Ledger == nil {
		opts.Ledger = openLedger(t, t.TempDir(), 1000, opts.Now)
	}
	if opts.Sleep == nil {
		opts.Sleep = func(time.Duration) {}
	}
	srv := New(opts)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := srv.GRPCServer()
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)

	conn, err := grpc.NewClient(l.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		tp.GRPCDialOption(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{srv: srv, tp: tp, exp: exp, client: jobsv1.NewResultSinkClient(conn), logs: logs}
}

// openLedger opens a ledger in dir; now, when given, is its clock (the
// server's, in tests that set one).
func openLedger(t testing.TB, dir string, capacity int, now ...func() time.Time) *ledger.Ledger {
	t.Helper()
	o := ledger.Options{Dir: dir, Capacity: capacity}
	if len(now) > 0 {
		o.Now = now[0]
	}
	l, err := ledger.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func result(id string, typ jobsv1.JobType) *jobsv1.DeliverRequest {
	return &jobsv1.DeliverRequest{Result: &jobsv1.Result{
		Job: &jobsv1.Job{Id: id, Type: typ, Target: "user:premium_customer", Priority: jobsv1.Priority_PRIORITY_NORMAL,
			Batch: "b1", Scenario: "checkout", Sequence: 1, SubmittedAt: timestamppb.Now()},
		Ok:        true,
		Work:      durationpb.New(2 * time.Millisecond),
		QueueWait: durationpb.New(time.Millisecond),
		SendBlock: durationpb.New(40 * time.Millisecond),
	}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate is a Sleep that holds every result until opened and records how
// many were being handled at once.
type gate struct {
	mu       sync.Mutex
	cur, max int
	calls    int
	open     chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) sleep(time.Duration) {
	g.mu.Lock()
	g.cur++
	g.calls++
	g.max = max(g.max, g.cur)
	g.mu.Unlock()
	<-g.open
	g.mu.Lock()
	g.cur--
	g.mu.Unlock()
}

func (g *gate) stats() (cur, maxSeen, calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur, g.max, g.calls
}

func (h *harness) usageIs(held, waiting int) func() bool {
	return func() bool { st := h.srv.Stats(); return st.InFlight == held && st.Waiting == waiting }
}

func deliverAll(t *testing.T, h *harness, ids ...string) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Deliver(context.Background(), result(id, jobsv1.JobType_JOB_TYPE_CACHE_READ))
			if err != nil || resp.GetDuplicate() {
				t.Errorf("Deliver(%s) = %v, %v", id, resp, err)
			}
		}()
	}
	return &wg
}

func TestConcurrencyLimitsResultsHandledAtOnce(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run("concurrency="+string(rune('0'+limit)), func(t *testing.T) {
			g := newGate()
			h := start(t, Options{Settings: Settings{Concurrency: limit}, Sleep: g.sleep})
			ids := []string{"a", "b", "c", "d", "e", "f"}
			wg := deliverAll(t, h, ids...)
			waitFor(t, "slots full and the rest waiting", h.usageIs(limit, len(ids)-limit))
			waitFor(t, "holders inside Sleep", func() bool { cur, _, _ := g.stats(); return cur == limit })
			close(g.open)
			wg.Wait()
			if _, maxSeen, calls := g.stats(); maxSeen != limit || calls != len(ids) {
				t.Errorf("max concurrent %d, handled %d; want %d and %d", maxSeen, calls, limit, len(ids))
			}
			if st := h.srv.Stats(); st.Handled != uint64(len(ids)) || st.InFlight != 0 || st.Waiting != 0 {
				t.Errorf("stats after: handled %d in-flight %d waiting %d", st.Handled, st.InFlight, st.Waiting)
			}
		})
	}
}

func TestLiveConcurrencyChangeLosesAndDoublesNothing(t *testing.T) {
	g := newGate()
	h := start(t, Options{Settings: Settings{Concurrency: 1}, Sleep: g.sleep})
	ids := []string{"a", "b", "c", "d", "e"}
	wg := deliverAll(t, h, ids...)
	waitFor(t, "1 held, 4 waiting", h.usageIs(1, 4))

	c3, c1 := 3, 1
	if err := h.srv.apply(configPatch{Concurrency: &c3}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "raise admits two more", h.usageIs(3, 2))
	waitFor(t, "three inside Sleep", func() bool { cur, _, _ := g.stats(); return cur == 3 })
	if err := h.srv.apply(configPatch{Concurrency: &c1}); err != nil {
		t.Fatal(err)
	}
	if st := h.srv.Stats(); st.InFlight != 3 {
		t.Errorf("lowering the limit evicted holders: in-flight %d, want 3", st.InFlight)
	}
	close(g.open)
	wg.Wait()
	_, maxSeen, calls := g.stats()
	if maxSeen != 3 || calls != len(ids) {
		t.Errorf("max concurrent %d, handled %d; want 3 and %d", maxSeen, calls, len(ids))
	}
	if st := h.srv.Stats(); st.Handled != 5 || st.Duplicates != 0 {
		t.Errorf("handled %d duplicates %d, want 5 0", st.Handled, st.Duplicates)
	}
}

func TestDuplicateIsAnsweredNotHandled(t *testing.T) {
	g := newGate()
	h := start(t, Options{Sleep: g.sleep})
	ctx := context.Background()

	// A second attempt while the first is being handled is asked to retry:
	// it is not a duplicate until the first has finished.
	wg := deliverAll(t, h, "job-1")
	waitFor(t, "job-1 handled", func() bool { cur, _, _ := g.stats(); return cur == 1 })
	resp, err := h.client.Deliver(ctx, result("job-1", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if st := status.Convert(err); st.Code() != codes.Aborted || resp.GetDuplicate() {
		t.Fatalf("second attempt while in flight: %v, %v; want Aborted", resp, err)
	}
	close(g.open)
	wg.Wait()

	// And of one already done.
	resp, err = h.client.Deliver(ctx, result("job-1", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if err != nil || !resp.GetDuplicate() {
		t.Fatalf("duplicate after done: %v, %v; want duplicate=true", resp, err)
	}
	if _, _, calls := g.stats(); calls != 1 {
		t.Errorf("job-1 handled %d times, want once", calls)
	}
	if st := h.srv.Stats(); st.Handled != 1 || st.Duplicates != 1 || st.RetriesAsked != 1 {
		t.Errorf("handled %d duplicates %d retries asked %d, want 1 1 1", st.Handled, st.Duplicates, st.RetriesAsked)
	}
}

// The race the review found: attempt 1 of a job waits for a slot, the
// forwarder's retry arrives, then attempt 1 gives up. Had the retry been
// answered duplicate=true, the workers would count the result delivered
// while nobody handled it. The retry must be told to retry, and the result
// handled exactly once.
func TestRetryWhileTheFirstAttemptWaitsIsHandledOnce(t *testing.T) {
	g := newGate()
	h := start(t, Options{Sleep: g.sleep})
	wg := deliverAll(t, h, "blocker")
	waitFor(t, "blocker holds the only slot", h.usageIs(1, 0))

	firstCtx, cancelFirst := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := h.client.Deliver(firstCtx, result("job-x", jobsv1.JobType_JOB_TYPE_DATABASE))
		first <- err
	}()
	waitFor(t, "attempt 1 waiting for a slot", h.usageIs(1, 1))

	resp, err := h.client.Deliver(context.Background(), result("job-x", jobsv1.JobType_JOB_TYPE_DATABASE))
	st := status.Convert(err)
	if st.Code() != codes.Aborted || resp.GetDuplicate() {
		t.Fatalf("retry while attempt 1 waits: %v, %v; want Aborted, not duplicate", resp, err)
	}
	if want := "result for job job-x is being handled by an earlier attempt; retry"; st.Message() != want {
		t.Errorf("Aborted message %q, want %q", st.Message(), want)
	}

	cancelFirst()
	if err := <-first; status.Code(err) != codes.Canceled {
		t.Fatalf("attempt 1: %v, want Canceled", err)
	}
	// The client returns at once; wait until the server has dropped the
	// claim too, or the slot could still go to attempt 1.
	waitFor(t, "attempt 1 to give up its wait", func() bool { return h.srv.Stats().CancelledWaits == 1 })
	close(g.open)
	wg.Wait()

	// Retry as the workers' forwarder does: ABORTED means "again".
	var delivered *jobsv1.DeliverResponse
	waitFor(t, "a retry to be taken", func() bool {
		resp, err := h.client.Deliver(context.Background(), result("job-x", jobsv1.JobType_JOB_TYPE_DATABASE))
		if status.Code(err) == codes.Aborted {
			return false
		}
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		delivered = resp
		return true
	})
	if delivered.GetDuplicate() {
		t.Fatal("the retry was answered duplicate=true although no attempt handled the result")
	}
	if _, _, calls := g.stats(); calls != 2 {
		t.Errorf("handled %d results, want 2 (blocker and job-x once)", calls)
	}
	sr, err := h.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: []string{"job-x"}})
	if err != nil || !sr.GetJobs()[0].GetDone() {
		t.Fatalf("Status(job-x) = %v, %v; want done", sr, err)
	}
	resp, err = h.client.Deliver(context.Background(), result("job-x", jobsv1.JobType_JOB_TYPE_DATABASE))
	if err != nil || !resp.GetDuplicate() {
		t.Errorf("delivery after it was handled: %v, %v; want duplicate=true", resp, err)
	}
	if st := h.srv.Stats(); st.Handled != 2 || st.Duplicates != 1 || st.CancelledWaits != 1 || st.RetriesAsked != 1 {
		t.Errorf("stats: handled %d duplicates %d cancelled %d retries asked %d, want 2 1 1 1",
			st.Handled, st.Duplicates, st.CancelledWaits, st.RetriesAsked)
	}
}

func TestCancelWhileWaitingFreesNothingAndRetryIsHandled(t *testing.T) {
	g := newGate()
	h := start(t, Options{Sleep: g.sleep})
	wg := deliverAll(t, h, "first")
	waitFor(t, "first held", h.usageIs(1, 0))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Deliver(ctx, result("second", jobsv1.JobType_JOB_TYPE_CACHE_READ))
		errc <- err
	}()
	waitFor(t, "second waiting", h.usageIs(1, 1))
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled Deliver: %v, want Canceled", err)
	}
	waitFor(t, "the abandoned wait to be counted", func() bool { return h.srv.Stats().CancelledWaits == 1 })
	if st := h.srv.Stats(); st.InFlight != 1 || st.Waiting != 0 {
		t.Fatalf("after cancel: in-flight %d waiting %d, want 1 0", st.InFlight, st.Waiting)
	}
	close(g.open)
	wg.Wait()

	// The abandoned result was not handled, so the retry is, once.
	resp, err := h.client.Deliver(context.Background(), result("second", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if err != nil || resp.GetDuplicate() {
		t.Fatalf("retry after cancel: %v, %v; want handled", resp, err)
	}
	if _, _, calls := g.stats(); calls != 2 {
		t.Errorf("handled %d results, want 2", calls)
	}
	if st := h.srv.Stats(); st.InFlight != 0 || st.Waiting != 0 {
		t.Errorf("at rest: in-flight %d waiting %d", st.InFlight, st.Waiting)
	}
}

func TestDeliverValidation(t *testing.T) {
	h := start(t, Options{})
	for _, c := range []struct {
		name  string
		req   *jobsv1.DeliverRequest
		field string
	}{
		{"no result", &jobsv1.DeliverRequest{}, "result"},
		{"no job", &jobsv1.DeliverRequest{Result: &jobsv1.Result{Ok: true}}, "result.job"},
		{"empty id", &jobsv1.DeliverRequest{Result: &jobsv1.Result{Job: &jobsv1.Job{Type: jobsv1.JobType_JOB_TYPE_DATABASE}}}, "result.job.id"},
		{"id of 129 bytes", withJob(func(j *jobsv1.Job) { j.Id = strings.Repeat("a", 129) }), "result.job.id"},
		{"id with a space", withJob(func(j *jobsv1.Job) { j.Id = "job 1" }), "result.job.id"},
		{"id with a slash", withJob(func(j *jobsv1.Job) { j.Id = "job/1" }), "result.job.id"},
		{"id with a newline", withJob(func(j *jobsv1.Job) { j.Id = "job-1\nforged log line" }), "result.job.id"},
		{"id with non-ASCII", withJob(func(j *jobsv1.Job) { j.Id = "jöb-1" }), "result.job.id"},
		{"target of 257 bytes", withJob(func(j *jobsv1.Job) { j.Target = strings.Repeat("t", 257) }), "result.job.target"},
		{"error of 1025 bytes", withResult(func(r *jobsv1.Result) { r.Ok, r.Error = false, strings.Repeat("e", 1025) }), "result.error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.client.Deliver(context.Background(), c.req)
			st, _ := status.FromError(err)
			if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), c.field+":") {
				t.Errorf("got %v, want InvalidArgument naming %s", err, c.field)
			}
		})
	}
	if st := h.srv.Stats(); st.Handled != 0 || st.RememberedIDs != 0 {
		t.Errorf("rejected results changed state: %+v", st)
	}

	// The largest values allowed are taken.
	for _, req := range []*jobsv1.DeliverRequest{
		withJob(func(j *jobsv1.Job) { j.Id = strings.Repeat("a", 128) }),
		withJob(func(j *jobsv1.Job) { j.Id = "Az09._:-" }),
		withJob(func(j *jobsv1.Job) { j.Id, j.Target = "max-target", strings.Repeat("t", 256) }),
		withResult(func(r *jobsv1.Result) { r.Job.Id, r.Ok, r.Error = "max-error", false, strings.Repeat("e", 1024) }),
	} {
		if resp, err := h.client.Deliver(context.Background(), req); err != nil || resp.GetDuplicate() {
			t.Errorf("Deliver(id %.20s…) = %v, %v; want handled", req.GetResult().GetJob().GetId(), resp, err)
		}
	}
}

func withResult(change func(*jobsv1.Result)) *jobsv1.DeliverRequest {
	req := result("valid-job", jobsv1.JobType_JOB_TYPE_CACHE_READ)
	change(req.Result)
	return req
}

func withJob(change func(*jobsv1.Job)) *jobsv1.DeliverRequest {
	return withResult(func(r *jobsv1.Result) { change(r.Job) })
}

func TestStatusValidatesEveryID(t *testing.T) {
	h := start(t, Options{})
	for _, c := range []struct {
		name  string
		ids   []string
		field string
	}{
		{"empty", []string{"ok-1", ""}, "job_ids[1]"},
		{"129 bytes", []string{strings.Repeat("a", 129)}, "job_ids[0]"},
		{"bad byte", []string{"ok-1", "ok-2", "x;y"}, "job_ids[2]"},
		{"too many", make([]string, jobs.MaxStatusIDs+1), "job_ids"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: c.ids})
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), c.field+":") {
				t.Errorf("got %v, want InvalidArgument naming %s", err, c.field)
			}
		})
	}
	resp, err := h.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: []string{strings.Repeat("a", 128), "Az09._:-"}})
	if err != nil || len(resp.GetJobs()) != 2 {
		t.Errorf("valid IDs: %v, %v", resp, err)
	}
}

func TestStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := start(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	ok := result("ok-job", jobsv1.JobType_JOB_TYPE_CACHE_READ)
	failed := result("failed-job", jobsv1.JobType_JOB_TYPE_VENDOR_API)
	failed.Result.Ok, failed.Result.Error = false, "vendor said 503"
	for _, r := range []*jobsv1.DeliverRequest{ok, failed} {
		if _, err := h.client.Deliver(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := h.client.Status(ctx, &jobsv1.StatusRequest{JobIds: []string{"ok-job", "never-seen", "failed-job"}})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetJobs()
	if len(got) != 3 {
		t.Fatalf("got %d statuses, want 3", len(got))
	}
	if j := got[0]; j.GetJobId() != "ok-job" || !j.GetDone() || !j.GetOk() || !j.GetCompletedAt().AsTime().Equal(now) {
		t.Errorf("ok-job: %v", j)
	}
	if j := got[1]; j.GetJobId() != "never-seen" || j.GetDone() || j.GetCompletedAt() != nil {
		t.Errorf("never-seen: %v", j)
	}
	if j := got[2]; !j.GetDone() || j.GetOk() {
		t.Errorf("failed-job: %v, want done and not ok", j)
	}

	_, err = h.client.Status(ctx, &jobsv1.StatusRequest{JobIds: make([]string, jobs.MaxStatusIDs+1)})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "job_ids") {
		t.Errorf("1001 IDs: %v, want InvalidArgument naming job_ids", err)
	}
}

func TestLogLineFlagsFastJobsThatWaited(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := start(t, Options{Now: func() time.Time { return now }})
	fast := result("checkout-7f3a-05", jobsv1.JobType_JOB_TYPE_CACHE_READ)
	fast.Result.Job.SubmittedAt = timestamppb.New(now.Add(-1840 * time.Millisecond))
	slow := result("checkout-7f3a-04", jobsv1.JobType_JOB_TYPE_VENDOR_API)
	slow.Result.Job.SubmittedAt = timestamppb.New(now.Add(-2 * time.Second))
	slow.Result.Work = durationpb.New(1900 * time.Millisecond)
	for _, r := range []*jobsv1.DeliverRequest{fast, slow} {
		if _, err := h.client.Deliver(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	var fastLine, slowLine string
	for _, l := range strings.Split(h.logs.String(), "\n") {
		switch {
		case strings.Contains(l, "job.id=checkout-7f3a-05"):
			fastLine = l
		case strings.Contains(l, "job.id=checkout-7f3a-04"):
			slowLine = l
		}
	}
	want := `msg=result service=consumer job.id=checkout-7f3a-05 type=cache-read work=2ms end_to_end=1.84s waited=1.84s flag="⚠ fast job waited 1.84s" trace_id=`
	if !strings.Contains(fastLine, want) {
		t.Errorf("fast job line:\n%s\nwant it to contain\n%s", fastLine, want)
	}
	if slowLine == "" || strings.Contains(slowLine, "flag=") || !strings.Contains(slowLine, "trace_id=") {
		t.Errorf("vendor job line %q: want one, unflagged, with a trace_id", slowLine)
	}
}

func TestAdminConfigValidation(t *testing.T) {
	h := start(t, Options{Settings: Settings{ProcessDelay: 50 * time.Millisecond, Concurrency: 1}})
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()
	put := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/admin/config", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	before := h.srv.Settings()
	for _, c := range []struct {
		body   string
		status int
		names  string
	}{
		{`{"concurrency": 0}`, 400, "concurrency"},
		{`{"concurrency": 65}`, 400, "concurrency"},
		{`{"concurrency": "2"}`, 400, "concurrency"},
		{`{"concurrency": 1.5}`, 400, "concurrency"},
		{`{"process_delay": "11s"}`, 400, "process_delay"},
		{`{"process_delay": "-1ms"}`, 400, "process_delay"},
		{`{"process_delay": "soon"}`, 400, "process_delay"},
		{`{"process_delay": 50}`, 400, "process_delay"},
		{`{"concurrency": 4, "process_delay": "bad"}`, 400, "process_delay"},
		{`{"dedup_capacity": 5}`, 400, "dedup_capacity"},
		{`{"concurrency": 2} {}`, 400, "single JSON object"},
		{`not json`, 400, "malformed"},
		{`{"process_delay": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger"},
	} {
		code, body := put(c.body)
		if code != c.status || !strings.Contains(body, c.names) || !strings.Contains(body, `"error"`) {
			t.Errorf("PUT %.60s: %d %s; want %d naming %q", c.body, code, body, c.status, c.names)
		}
		if got := h.srv.Settings(); got != before {
			t.Fatalf("PUT %.60s changed the config to %+v", c.body, got)
		}
	}

	code, body := put(`{"process_delay": "10ms", "concurrency": 4}`)
	if code != 200 || !strings.Contains(body, `"process_delay": "10ms"`) || !strings.Contains(body, `"concurrency": 4`) {
		t.Fatalf("valid PUT: %d %s", code, body)
	}
	if got := h.srv.Settings(); got != (Settings{ProcessDelay: 10 * time.Millisecond, Concurrency: 4}) {
		t.Errorf("settings after valid PUT: %+v", got)
	}
	code, _ = put(`{}`)
	if got := h.srv.Settings(); code != 200 || got.Concurrency != 4 {
		t.Errorf("empty patch: %d, settings %+v; want 200 and nothing changed", code, got)
	}
	resp, err := http.Get(ts.URL + "/stats")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /stats: %v %v", resp, err)
	}
	resp.Body.Close()
}

// A consumer that restarts on the same ledger still knows the jobs it
// handled: a redelivery is a duplicate, Status says done, /stats counts on.
func TestRestartKeepsDedupStatusAndStats(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, err := ledger.Open(ledger.Options{Dir: dir, Capacity: 100, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	close(g.open)
	h := start(t, Options{Ledger: first, Sleep: g.sleep, Now: func() time.Time { return now }})
	for _, id := range []string{"job-1", "job-2"} {
		if _, err := h.client.Deliver(context.Background(), result(id, jobsv1.JobType_JOB_TYPE_CACHE_READ)); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	h2 := start(t, Options{Ledger: openLedger(t, dir, 100), Sleep: g.sleep})
	resp, err := h2.client.Deliver(context.Background(), result("job-1", jobsv1.JobType_JOB_TYPE_CACHE_READ))
	if err != nil || !resp.GetDuplicate() {
		t.Fatalf("redelivery after restart: %v, %v; want duplicate=true", resp, err)
	}
	if _, _, calls := g.stats(); calls != 2 {
		t.Errorf("handled %d times in all, want 2 (job-1 not again)", calls)
	}
	sr, err := h2.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: []string{"job-1", "job-2", "job-3"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false} {
		if j := sr.GetJobs()[i]; j.GetDone() != want {
			t.Errorf("after restart Status(%s).done = %v, want %v", j.GetJobId(), j.GetDone(), want)
		}
	}
	if at := sr.GetJobs()[0].GetCompletedAt().AsTime(); !at.Equal(now) {
		t.Errorf("completed_at after restart %v, want %v", at, now)
	}
	st := h2.srv.Stats()
	if st.Handled != 2 || st.Duplicates != 1 || st.ByType["cache-read"].Handled != 2 || st.RememberedIDs != 2 || st.Ledger.Remembered != 2 {
		t.Errorf("stats after restart: handled %d duplicates %d by type %+v remembered %d ledger %+v",
			st.Handled, st.Duplicates, st.ByType, st.RememberedIDs, st.Ledger)
	}
}

// A result whose outcome cannot be recorded is not acknowledged: the
// caller gets UNAVAILABLE (the workers retry it), /healthz says why, and
// nothing is counted.
func TestUnrecordedResultIsNotAcknowledged(t *testing.T) {
	l := openLedger(t, t.TempDir(), 100)
	var breakDisk atomic.Bool
	// Closing the ledger while a result is being handled stands for a disk
	// that fails between the claim and the record (the ledger's own tests
	// fill a size-capped file).
	h := start(t, Options{Ledger: l, Sleep: func(time.Duration) {
		if breakDisk.Load() {
			_ = l.Close()
		}
	}})
	if _, err := h.client.Deliver(context.Background(), result("before", jobsv1.JobType_JOB_TYPE_DATABASE)); err != nil {
		t.Fatal(err)
	}
	breakDisk.Store(true)
	_, err := h.client.Deliver(context.Background(), result("after", jobsv1.JobType_JOB_TYPE_DATABASE))
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "job after handled but not recorded") {
		t.Fatalf("Deliver whose outcome cannot be recorded: %v; want UNAVAILABLE saying so", err)
	}
	// With the ledger unreadable, nothing is taken and Status cannot answer.
	_, err = h.client.Deliver(context.Background(), result("later", jobsv1.JobType_JOB_TYPE_DATABASE))
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "not taken") {
		t.Errorf("Deliver with an unreadable ledger: %v; want UNAVAILABLE", err)
	}
	if _, err := h.client.Status(context.Background(), &jobsv1.StatusRequest{JobIds: []string{"before"}}); status.Code(err) != codes.Unavailable {
		t.Errorf("Status with an unreadable ledger: %v; want UNAVAILABLE", err)
	}
	if st := h.srv.Stats(); st.Handled != 1 || st.InFlight != 0 {
		t.Errorf("stats: handled %d in flight %d; want 1 0", st.Handled, st.InFlight)
	}
}
