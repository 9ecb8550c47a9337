package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
)

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// TestVendorSpans checks the span contract: the caller's traceparent is
// continued by an otelhttp server span, vendor.handle is its child and
// carries the fault attributes, and injected errors mark the span.
func TestVendorSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	failing := faults.EmptyRule()
	failing.Latency = faults.Range{Min: faults.Duration(time.Millisecond), Max: faults.Duration(time.Millisecond)}
	failing.Error = faults.ErrorFault{Probability: 1, Status: 503}
	f := newFixture(t, withRoute(instant(), "/v1/payment", failing), tracing.Options{Exporter: exp, ServiceName: ServiceName})

	caller := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	call := func(path string) int {
		req, _ := http.NewRequest("POST", f.http.URL+path, nil)
		req.Header.Set("traceparent", "00-"+caller.TraceID().String()+"-"+caller.SpanID().String()+"-01")
		resp, err := f.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call("/v1/tax/calculate"); got != 200 {
		t.Fatalf("tax = %d", got)
	}
	if got := call("/v1/payment/authorize"); got != 503 {
		t.Fatalf("payment = %d", got)
	}
	// Untraced routes must not add spans.
	f.do(t, "GET", "/stats", "", "")
	f.do(t, "GET", "/admin/faults", "", "")
	f.do(t, "GET", "/healthz", "", "")
	f.do(t, "GET", "/", "", "")

	if err := f.srv.tracing.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := exp.GetSpans().Snapshots()
	if len(got) != 4 {
		for _, s := range got {
			t.Logf("span %s", s.Name())
		}
		t.Fatalf("%d spans exported, want 4 (a server span and vendor.handle per vendor call)", len(got))
	}
	for _, s := range got {
		t.Logf("span %q kind=%s parent=%s", s.Name(), s.SpanKind(), s.Parent().SpanID())
	}
	servers := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range got {
		if s.SpanKind() == trace.SpanKindServer {
			servers[s.SpanContext().SpanID()] = s
			if path := attrs(s)["url.path"]; s.Name() != "POST "+path {
				t.Errorf("server span %q, want it named after the endpoint %q", s.Name(), path)
			}
			if s.Parent().SpanID() != caller.SpanID() || s.SpanContext().TraceID() != caller.TraceID() {
				t.Errorf("server span %s is not a child of the caller's span", s.Name())
			}
		}
	}
	handles := 0
	for _, s := range got {
		if s.Name() != spans.VendorHandle {
			continue
		}
		handles++
		parent, ok := servers[s.Parent().SpanID()]
		if !ok || s.SpanContext().TraceID() != caller.TraceID() {
			t.Errorf("vendor.handle is not a child of an HTTP server span in the caller's trace")
			continue
		}
		a := attrs(s)
		for _, k := range []string{spans.FaultPreset, spans.FaultRule, spans.FaultDegraded, spans.FaultInjectedLatencyMS,
			spans.FaultError, spans.FaultHang, spans.HTTPStatus} {
			if _, ok := a[k]; !ok {
				t.Errorf("vendor.handle under %s lacks %s: %v", parent.Name(), k, a)
			}
		}
		switch a[spans.VendorPath] {
		case "/v1/tax/calculate":
			if a[spans.FaultRule] != "global" || a[spans.HTTPStatus] != "200" || s.Status().Code == codes.Error {
				t.Errorf("tax span = %v status %v", a, s.Status())
			}
		case "/v1/payment/authorize":
			if a[spans.FaultRule] != "/v1/payment" || a[spans.FaultError] != "true" || a[spans.HTTPStatus] != "503" {
				t.Errorf("payment span = %v", a)
			}
			if s.Status().Code != codes.Error || s.Status().Description != "injected 503 Service Unavailable" {
				t.Errorf("payment span status = %+v, want Error", s.Status())
			}
			if a[spans.FaultPreset] != faults.Custom {
				t.Errorf("fault.preset = %q", a[spans.FaultPreset])
			}
		default:
			t.Errorf("vendor.handle with vendor.path %q", a[spans.VendorPath])
		}
	}
	if handles != 2 {
		t.Errorf("%d vendor.handle spans, want 2", handles)
	}
}
