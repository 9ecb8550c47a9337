package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
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

// One job's stay in the pool is one pool.job span, a child of the
// producer's root span carried in the job (or, for a job without a trace
// context, of the Submit server span). Its five children cover it end to
// end: each starts the instant the one before ended. The work spans and
// the outgoing HTTP/gRPC client spans hang below them, and no span
// outlives its parent.
func TestSpansOfAJob(t *testing.T) {
	vendor := fakes.StartVendor(t)
	vendor.Answer(func(string) (time.Duration, int) { return 5 * time.Millisecond, http.StatusOK })
	fc := fakes.StartConsumer(t, "127.0.0.1:0", 5*time.Millisecond)
	r := start(t, vendor.URL, fc.Addr())

	// The producer's side: a root span per job, injected into the job.
	producer, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "producer", Exporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = producer.Shutdown(context.Background()) })
	jobs := checkout("spans")
	roots := map[string]trace.SpanContext{} // by job ID
	for i, j := range jobs {
		if i%5 == 4 {
			continue // an older client's job: no trace context
		}
		ctx, root := producer.StartSpan(context.Background(), spans.JobRootName(j.GetScenario(), "x"))
		j.TraceContext = producer.Inject(ctx)
		j.Attempt = 1
		roots[j.GetId()] = trace.SpanContextFromContext(producer.ContextWithTracez(ctx))
		root.Finish()
	}
	r.submit(t, jobs)
	fc.WaitFor(t, len(jobs), 10*time.Second)
	fakes.Eventually(t, 5*time.Second, func() bool { return r.Pool().Stats().Counters.Delivered == uint64(len(jobs)) }, "all delivered")
	if err := r.Tracing().ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := r.exp.GetSpans()

	byID := map[trace.SpanID]tracetest.SpanStub{}
	servers := map[trace.TraceID]tracetest.SpanStub{}
	poolJobs := map[string]tracetest.SpanStub{} // by job ID
	children := map[trace.SpanID][]tracetest.SpanStub{}
	for _, s := range all {
		byID[s.SpanContext.SpanID()] = s
		if s.SpanKind == trace.SpanKindServer && s.Name == "jobs.v1.WorkerPool/Submit" {
			servers[s.SpanContext.TraceID()] = s
		}
		if s.Name == spans.PoolJob {
			poolJobs[attr(s, spans.JobID)] = s
		}
		children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
	}
	if len(poolJobs) != len(jobs) {
		t.Fatalf("%d pool.job spans for %d jobs", len(poolJobs), len(jobs))
	}
	contract := []string{spans.QueueWait, spans.WorkerProcess, spans.ResultSend, spans.ResultsChannelWait, spans.ResultDeliver}
	var blocked, waitedBehind int
	for _, j := range jobs {
		pj := poolJobs[j.GetId()]
		if root, ok := roots[j.GetId()]; ok {
			if pj.SpanContext.TraceID() != root.TraceID() || pj.Parent.SpanID() != root.SpanID() {
				t.Errorf("pool.job of %s: trace %s parent %s; want the producer's root %s/%s",
					j.GetId(), pj.SpanContext.TraceID(), pj.Parent.SpanID(), root.TraceID(), root.SpanID())
			}
			if attr(pj, spans.JobAttempt) != "1" {
				t.Errorf("pool.job of %s: job.attempt %q; want 1", j.GetId(), attr(pj, spans.JobAttempt))
			}
		} else if srv := servers[pj.SpanContext.TraceID()]; pj.Parent.SpanID() != srv.SpanContext.SpanID() {
			t.Errorf("pool.job of %s (no trace context): parent %s; want the Submit server span", j.GetId(), pj.Parent.SpanID())
		}
		if pj.SpanKind != trace.SpanKindConsumer {
			t.Errorf("pool.job kind %v; want consumer", pj.SpanKind)
		}
		for k, want := range map[string]string{
			spans.PoolWorkers: "4", spans.MessagingSystem: spans.MessagingSystemValue, spans.MessagingDestination: spans.DestinationJobs,
			spans.MessagingOperationType: spans.MessagingOperationProcess, spans.MessagingMessageID: j.GetId(), spans.JobTarget: j.GetTarget(),
		} {
			if got := attr(pj, k); got != want {
				t.Errorf("pool.job of %s: %s = %q; want %q", j.GetId(), k, got, want)
			}
		}

		kids := children[pj.SpanContext.SpanID()]
		slices.SortFunc(kids, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
		var names []string
		for _, k := range kids {
			names = append(names, k.Name)
		}
		if !slices.Equal(names, contract) {
			t.Errorf("pool.job of %s has children %v; want %v in that order", j.GetId(), names, contract)
			continue
		}
		// No gap, no overlap: each child starts when the one before ended.
		at := pj.StartTime
		for _, k := range kids {
			if !k.StartTime.Equal(at) {
				t.Errorf("job %s: %s starts %v after the span before it ended", j.GetId(), k.Name, k.StartTime.Sub(at))
			}
			at = k.EndTime
		}
		if !at.Equal(pj.EndTime) {
			t.Errorf("job %s: pool.job ends %v after its last child", j.GetId(), pj.EndTime.Sub(at))
		}
		send, wait, deliver := kids[2], kids[3], kids[4]
		if send.SpanKind != trace.SpanKindProducer || deliver.SpanKind != trace.SpanKindConsumer {
			t.Errorf("result.send kind %v, result.deliver kind %v; want producer, consumer", send.SpanKind, deliver.SpanKind)
		}
		if attr(send, spans.ChannelBlocked) == "true" {
			blocked++
			for _, k := range []string{spans.BlockDurationMS, spans.ResultsBufferLen, spans.ResultsBufferCap, spans.ResultSendMode,
				spans.ResultsOverflowLen, spans.WaitedBehindCount, spans.WaitedBehindJobs, spans.WorkerID} {
				if attr(send, k) == "" {
					t.Errorf("blocked result.send lacks %s", k)
				}
			}
		}
		for _, k := range []string{spans.ResultsBufferLen, spans.ResultsBufferCap, spans.ResultsLane, spans.WaitedBehindCount,
			spans.MessagingDestination} {
			if attr(wait, k) == "" {
				t.Errorf("results.channel.wait lacks %s", k)
			}
		}
		if n := attr(wait, spans.WaitedBehindCount); n != "0" {
			waitedBehind++
			if ids := attr(wait, spans.WaitedBehindJobs); ids == "" {
				t.Errorf("results.channel.wait waited behind %s results but names none", n)
			}
		}
		if attr(deliver, spans.ResultsForwarders) != "1" || attr(deliver, spans.ChannelWaitMS) == "" {
			t.Errorf("result.deliver: results.forwarders %q, results.channel_wait_ms %q", attr(deliver, spans.ResultsForwarders), attr(deliver, spans.ChannelWaitMS))
		}
		if attr(kids[0], spans.QueueCapacity) != "40" {
			t.Errorf("queue.wait queue.capacity %q; want 40", attr(kids[0], spans.QueueCapacity))
		}
	}
	for _, s := range all {
		switch s.Name {
		case spans.CacheRead, spans.DatabaseQuery, spans.VendorAPI:
			if p := byID[s.Parent.SpanID()]; p.Name != spans.WorkerProcess {
				t.Errorf("%s's parent is %q; want %s", s.Name, p.Name, spans.WorkerProcess)
			}
		case spans.PoolAcquire, spans.QueryExecute:
			if p := byID[s.Parent.SpanID()]; p.Name != spans.DatabaseQuery {
				t.Errorf("%s's parent is %q", s.Name, p.Name)
			}
		case spans.WorkerProcess:
			for _, k := range []string{spans.WorkerID, spans.PoolWorkers, spans.JobID, spans.JobType, spans.JobPriority, spans.JobTarget, spans.JobBatch, spans.JobSequence, spans.JobScenario} {
				if attr(s, k) == "" {
					t.Errorf("worker.process lacks %s", k)
				}
			}
		}
		if s.SpanKind == trace.SpanKindClient {
			p := byID[s.Parent.SpanID()]
			if p.Name != spans.VendorAPI && p.Name != spans.ResultDeliver {
				t.Errorf("client span %q's parent is %q; want vendor.api or result.deliver", s.Name, p.Name)
			}
		}
		// Within the service, no span outlives its parent; only the
		// pool.job of a job without a trace context outlives its parent,
		// the short Submit call it falls back to.
		if p, ok := byID[s.Parent.SpanID()]; ok && p.SpanKind != trace.SpanKindServer && (s.StartTime.Before(p.StartTime) || s.EndTime.After(p.EndTime)) {
			t.Errorf("%s (%v..%v) is not inside its parent %s (%v..%v)", s.Name, s.StartTime, s.EndTime, p.Name, p.StartTime, p.EndTime)
		}
	}
	if blocked == 0 {
		t.Error("no blocked result.send with the incident's defaults")
	}
	if waitedBehind == 0 {
		t.Error("no result waited behind others in the results channel with the incident's defaults")
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
	// Run shut the meter provider down: a second shutdown is refused.
	if err := r.metrics.Shutdown(context.Background()); err == nil {
		t.Error("the meter provider was still running after Run returned")
	}
}
