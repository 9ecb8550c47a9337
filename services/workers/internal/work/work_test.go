package work

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/vendor"
)

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return nil
}

func setup(t *testing.T) (*tracing.Provider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.Setup(context.Background(), tracing.Options{ServiceName: "t", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

// Latencies are drawn uniformly within the configured ranges; the database
// job sleeps twice (acquire, then execute) under their own spans.
func TestLatenciesWithinRanges(t *testing.T) {
	tr, exp := setup(t)
	var s sleeps
	r := New(tr, nil, Options{Sleep: s.sleep, Rand: rand.New(rand.NewPCG(1, 2))})
	p := Params{
		CacheLatency:     envconfig.Range{Min: time.Millisecond, Max: 5 * time.Millisecond},
		DBAcquireLatency: envconfig.Range{Min: 2 * time.Millisecond, Max: 7 * time.Millisecond},
		DBQueryLatency:   envconfig.Range{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
	distinct := map[time.Duration]bool{}
	for range 200 {
		if err := r.Run(context.Background(), &jobsv1.Job{Id: "c", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ}, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range s.d {
		if d < p.CacheLatency.Min || d > p.CacheLatency.Max {
			t.Fatalf("cache latency %s outside %s", d, p.CacheLatency)
		}
		distinct[d] = true
	}
	if len(distinct) < 50 {
		t.Errorf("only %d distinct latencies in 200 draws: not uniform over the range", len(distinct))
	}

	s.d = nil
	if err := r.Run(context.Background(), &jobsv1.Job{Id: "d", Type: jobsv1.JobType_JOB_TYPE_DATABASE, Target: "inventory_check"}, p); err != nil {
		t.Fatal(err)
	}
	if len(s.d) != 2 || s.d[0] < p.DBAcquireLatency.Min || s.d[0] > p.DBAcquireLatency.Max || s.d[1] < p.DBQueryLatency.Min || s.d[1] > p.DBQueryLatency.Max {
		t.Fatalf("database sleeps %v", s.d)
	}
	tr.ForceFlush(context.Background())
	names := map[string]string{}
	byID := map[string]string{}
	for _, sp := range exp.GetSpans() {
		byID[sp.SpanContext.SpanID().String()] = sp.Name
	}
	for _, sp := range exp.GetSpans() {
		names[sp.Name] = byID[sp.Parent.SpanID().String()]
	}
	if names[spans.PoolAcquire] != spans.DatabaseQuery || names[spans.QueryExecute] != spans.DatabaseQuery {
		t.Fatalf("database spans: %v", names)
	}
}

// VENDOR_TIMEOUT cuts a hung vendor call; the span says so.
func TestVendorTimeout(t *testing.T) {
	tr, exp := setup(t)
	v := fakes.StartVendor(t)
	v.Answer(func(path string) (time.Duration, int) {
		if path == "/v1/hang" {
			return fakes.Hang, 0
		}
		return 0, http.StatusServiceUnavailable
	})
	r := New(tr, vendor.New(v.URL, tr.HTTPTransport(nil)), Options{})
	err := r.Run(context.Background(), &jobsv1.Job{Id: "v", Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Target: "/v1/hang"}, Params{VendorTimeout: 20 * time.Millisecond})
	var te *vendor.TimeoutError
	if !errors.As(err, &te) || err.Error() != "vendor timeout after 20ms" {
		t.Fatalf("hung vendor: %v", err)
	}
	err = r.Run(context.Background(), &jobsv1.Job{Id: "w", Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Target: "/v1/tax/calculate"}, Params{})
	if err == nil || err.Error() != "vendor answered 503" {
		t.Fatalf("503: %v", err)
	}
	tr.ForceFlush(context.Background())
	var vendorSpans int
	for _, s := range exp.GetSpans() {
		if s.Name != spans.VendorAPI {
			continue
		}
		vendorSpans++
		if s.Status.Description == "" {
			t.Errorf("vendor.api span of a failed call has no error status: %+v", s.Status)
		}
	}
	if vendorSpans != 2 {
		t.Fatalf("%d vendor.api spans", vendorSpans)
	}
}
