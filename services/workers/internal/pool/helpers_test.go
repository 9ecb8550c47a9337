package pool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/work"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// testLive is the incident's configuration for 4 workers, with latencies
// that fakeRunner ignores.
func testLive() config.Live {
	return config.Live{
		Workers:       4,
		QueueSize:     40,
		SubmitWait:    time.Second,
		ResultsBuffer: 4,
		ResultSend:    config.SendBlocking,
		Forwarders:    1,
	}
}

// sized returns l with the pool's size set.
func sized(l config.Live, workers, queueSize int) config.Live {
	l.Workers, l.QueueSize = workers, queueSize
	return l
}

// fakeRunner takes a fixed time per job type.
type fakeRunner struct {
	fast, vendor time.Duration
}

func (r fakeRunner) Run(ctx context.Context, job *jobsv1.Job, _ work.Params) error {
	d := r.fast
	if job.GetType() == jobsv1.JobType_JOB_TYPE_VENDOR_API {
		d = r.vendor
	}
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// slowSink is an in-process consumer: serial, delay per result.
type slowSink struct {
	delay   time.Duration
	mu      sync.Mutex
	order   []string
	when    map[string]time.Time
	results map[string]*jobsv1.Result
}

func (s *slowSink) Deliver(ctx context.Context, r *jobsv1.Result) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.when == nil {
		s.when = map[string]time.Time{}
		s.results = map[string]*jobsv1.Result{}
	}
	s.results[r.GetJob().GetId()] = r
	s.order = append(s.order, r.GetJob().GetId())
	s.when[r.GetJob().GetId()] = time.Now()
	return 1, nil
}

func (s *slowSink) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

type testPool struct {
	*Pool
	exp *tracetest.InMemoryExporter
	tr  *tracing.Provider
}

// newTestPool starts a pool whose spans go to an in-memory exporter.
func newTestPool(t *testing.T, o Options) *testPool {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "workers-test", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	if o.Live.Workers == 0 {
		o.Live.Workers = 4
	}
	if o.Live.QueueSize == 0 {
		o.Live.QueueSize = o.Live.Workers * 10
	}
	o.Tracing, o.Log = tr, quietLog
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testPool{Pool: p, exp: exp, tr: tr}
}

// spans flushes and returns the finished spans named name.
func (tp *testPool) spans(t *testing.T, name string) []tracetest.SpanStub {
	t.Helper()
	if err := tp.tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []tracetest.SpanStub
	for _, s := range tp.exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

// checkout is the incident's 20-job burst (DESIGN.md), in order.
func checkout(batch string) []*jobsv1.Job {
	const (
		c = jobsv1.JobType_JOB_TYPE_CACHE_READ
		d = jobsv1.JobType_JOB_TYPE_DATABASE
		v = jobsv1.JobType_JOB_TYPE_VENDOR_API
	)
	plan := []struct {
		t      jobsv1.JobType
		target string
	}{
		{c, "user:premium_customer"}, {c, "session:authenticated"}, {c, "cart:items_valid"},
		{v, "/v1/payment/authorize"}, {c, "product:pricing"}, {d, "inventory_check"},
		{c, "promotion:black_friday"}, {v, "/v1/fraud/check"}, {c, "shipping:zones"}, {c, "tax:rates"},
		{d, "user_preferences"}, {c, "recommendations"}, {v, "/v1/shipping/calculate"}, {v, "/v1/tax/calculate"},
		{c, "order:confirmation"}, {c, "email:template"}, {d, "receipt:generate"},
		{c, "analytics:event"}, {c, "notification:send"}, {d, "audit:log"},
	}
	out := make([]*jobsv1.Job, len(plan))
	for i, p := range plan {
		out[i] = &jobsv1.Job{Id: fmt.Sprintf("%s-%02d", batch, i+1), Type: p.t, Target: p.target,
			Batch: batch, Scenario: "checkout", Sequence: uint32(i + 1)}
	}
	return out
}

func submitAll(t *testing.T, p *Pool, js []*jobsv1.Job) {
	t.Helper()
	for _, j := range js {
		if _, err := p.Submit(context.Background(), j); err != nil {
			t.Fatalf("submit %s: %v", j.GetId(), err)
		}
	}
}

func waitDelivered(t *testing.T, p *Pool, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Counters.Delivered < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %d of %d results delivered; stats %+v", p.Stats().Counters.Delivered, n, p.Stats().Counters)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rng(lo, hi time.Duration) envconfig.Range { return envconfig.Range{Min: lo, Max: hi} }

func mustTracing(t *testing.T) *tracing.Provider {
	t.Helper()
	tr, err := tracing.Setup(context.Background(), tracing.Options{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// freeAddr returns a loopback address nobody listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
