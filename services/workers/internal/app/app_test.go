package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/consumer"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
)

type running struct {
	*App
	exp    *tracetest.InMemoryExporter
	client jobsv1.WorkerPoolClient
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs the whole service on loopback ports against a fake vendor and
// a fake consumer, with the incident's defaults and tiny latencies.
func start(t *testing.T, vendorURL, consumerAddr string) *running {
	t.Helper()
	cfg := config.Config{
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", VendorURL: vendorURL, ConsumerAddr: consumerAddr,
		Common: envconfig.Common{ShutdownTimeout: 10 * time.Second},
		Live: config.Live{
			Workers: 4, QueueSize: 40,
			SubmitWait: time.Second, ResultsBuffer: 4, ResultSend: config.SendBlocking, Forwarders: 1,
			CacheLatency:     envconfig.Range{Max: time.Millisecond},
			DBAcquireLatency: envconfig.Range{Max: time.Millisecond},
			DBQueryLatency:   envconfig.Range{Min: time.Millisecond, Max: 2 * time.Millisecond},
		},
	}
	exp := tracetest.NewInMemoryExporter()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(context.Background(), cfg, log, Options{
		Tracing:  tracing.Options{Exporter: exp},
		Delivery: consumer.Options{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{App: a, exp: exp, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.client = jobsv1.NewWorkerPoolClient(conn)
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the run (SIGTERM) and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
}

func checkout(batch string) []*jobsv1.Job {
	types := []jobsv1.JobType{1, 1, 1, 3, 1, 2, 1, 3, 1, 1, 2, 1, 3, 3, 1, 1, 2, 1, 1, 2}
	out := make([]*jobsv1.Job, len(types))
	for i, typ := range types {
		target := fmt.Sprintf("key-%d", i+1)
		if typ == jobsv1.JobType_JOB_TYPE_VENDOR_API {
			target = "/v1/payment/authorize"
		}
		out[i] = &jobsv1.Job{Id: fmt.Sprintf("%s-%02d", batch, i+1), Type: typ, Target: target, Batch: batch, Sequence: uint32(i + 1), Scenario: "checkout"}
	}
	return out
}

func (r *running) submit(t *testing.T, jobs []*jobsv1.Job) {
	t.Helper()
	for _, j := range jobs {
		if _, err := r.client.Submit(context.Background(), &jobsv1.SubmitRequest{Job: j}); err != nil {
			t.Fatalf("Submit %s: %v", j.GetId(), err)
		}
	}
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// One job is one trace: queue.wait, worker.process, result.send and
// result.deliver are children of the Submit server span; the work spans
// and the outgoing HTTP/gRPC client spans hang below them; a blocked send
// says what it waited behind.
func TestSpansOfAJob(t *testing.T) {
	vendor := fakes.StartVendor(t)
	vendor.Answer(func(string) (time.Duration, int) { return 5 * time.Millisecond, http.StatusOK })
	fc := fakes.StartConsumer(t, "127.0.0.1:0", 5*time.Millisecond)
	r := start(t, vendor.URL, fc.Addr())
	jobs := checkout("spans")
	r.submit(t, jobs)
	fc.WaitFor(t, len(jobs), 10*time.Second)
	fakes.Eventually(t, 5*time.Second, func() bool { return r.Pool().Stats().Counters.Delivered == uint64(len(jobs)) }, "all delivered")
	if err := r.Tracing().ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := r.exp.GetSpans()

	byID := map[trace.SpanID]tracetest.SpanStub{}
	servers := map[trace.TraceID]tracetest.SpanStub{}
	for _, s := range all {
		byID[s.SpanContext.SpanID()] = s
		if s.SpanKind == trace.SpanKindServer && s.Name == "jobs.v1.WorkerPool/Submit" {
			servers[s.SpanContext.TraceID()] = s
		}
	}
	if len(servers) != len(jobs) {
		t.Fatalf("%d Submit server spans (traces) for %d jobs", len(servers), len(jobs))
	}
	siblings := map[string]int{}
	var blocked int
	for _, s := range all {
		switch s.Name {
		case spans.QueueWait, spans.WorkerProcess, spans.ResultSend, spans.ResultDeliver:
			srv, ok := servers[s.SpanContext.TraceID()]
			if !ok || s.Parent.SpanID() != srv.SpanContext.SpanID() {
				t.Errorf("%s of job %s is not a child of the Submit server span", s.Name, attr(s, spans.JobID))
			}
			siblings[s.Name]++
		case spans.CacheRead, spans.DatabaseQuery, spans.VendorAPI:
			if p := byID[s.Parent.SpanID()]; p.Name != spans.WorkerProcess {
				t.Errorf("%s's parent is %q; want %s", s.Name, p.Name, spans.WorkerProcess)
			}
		case spans.PoolAcquire, spans.QueryExecute:
			if p := byID[s.Parent.SpanID()]; p.Name != spans.DatabaseQuery {
				t.Errorf("%s's parent is %q", s.Name, p.Name)
			}
		}
		if s.SpanKind == trace.SpanKindClient {
			p := byID[s.Parent.SpanID()]
			if p.Name != spans.VendorAPI && p.Name != spans.ResultDeliver {
				t.Errorf("client span %q's parent is %q; want vendor.api or result.deliver", s.Name, p.Name)
			}
		}
		if s.Name == spans.ResultSend && attr(s, spans.ChannelBlocked) == "true" {
			blocked++
			for _, k := range []string{spans.BlockDurationMS, spans.ResultsBufferLen, spans.ResultsBufferCap, spans.ResultSendMode,
				spans.ResultsOverflowLen, spans.WaitedBehindCount, spans.WaitedBehindJobs, spans.WorkerID} {
				if attr(s, k) == "" {
					t.Errorf("blocked result.send lacks %s", k)
				}
			}
		}
		if s.Name == spans.WorkerProcess {
			for _, k := range []string{spans.WorkerID, spans.JobID, spans.JobType, spans.JobPriority, spans.JobTarget, spans.JobBatch, spans.JobSequence, spans.JobScenario} {
				if attr(s, k) == "" {
					t.Errorf("worker.process lacks %s", k)
				}
			}
		}
	}
	for _, name := range []string{spans.QueueWait, spans.WorkerProcess, spans.ResultSend, spans.ResultDeliver} {
		if siblings[name] != len(jobs) {
			t.Errorf("%d %s spans; want %d", siblings[name], name, len(jobs))
		}
	}
	if blocked == 0 {
		t.Error("no blocked result.send with the incident's defaults")
	}
	for _, res := range fc.Results() {
		if res.GetQueueWait() == nil || res.GetWork() == nil || res.GetSendBlock() == nil || res.GetFinishedAt() == nil || res.GetWorkerId() == 0 {
			t.Errorf("result of %s lacks timings: %v", res.GetJob().GetId(), res)
		}
	}
}

// SIGTERM (ctx cancel) right after the last Submit: every accepted job is
// still run and delivered before Run returns.
func TestGracefulShutdownDeliversAcceptedJobs(t *testing.T) {
	vendor := fakes.StartVendor(t)
	vendor.Answer(func(string) (time.Duration, int) { return 20 * time.Millisecond, http.StatusOK })
	fc := fakes.StartConsumer(t, "127.0.0.1:0", 5*time.Millisecond)
	r := start(t, vendor.URL, fc.Addr())
	jobs := checkout("bye")
	r.submit(t, jobs)
	r.stop(t)
	counts := fc.Counts()
	for _, j := range jobs {
		if counts[j.GetId()] != 1 {
			t.Errorf("job %s delivered %d times before shutdown finished", j.GetId(), counts[j.GetId()])
		}
	}
	if _, err := r.client.Submit(context.Background(), &jobsv1.SubmitRequest{Job: jobs[0]}); err == nil {
		t.Error("Submit after shutdown succeeded")
	}
}
