package tracing

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// sink is service C: a gRPC ResultSink that starts a tracez span per call.
type sink struct {
	jobsv1.UnimplementedResultSinkServer
	p *Provider
}

func (s *sink) Deliver(ctx context.Context, _ *jobsv1.DeliverRequest) (*jobsv1.DeliverResponse, error) {
	_, span := s.p.StartSpan(ctx, "c.process")
	span.Finish()
	return &jobsv1.DeliverResponse{}, nil
}

// TestOneTraceAcrossHTTPAndGRPC runs A -> HTTP -> B -> gRPC -> C, each with
// its own provider, over real loopback servers, and wants one trace with
// one root and every parent present.
func TestOneTraceAcrossHTTPAndGRPC(t *testing.T) {
	pa, ea := newTestProvider(t, "a")
	pb, eb := newTestProvider(t, "b")
	pc, ec := newTestProvider(t, "c")

	// C: gRPC server.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(pc.GRPCServerOption(nil))
	jobsv1.RegisterResultSinkServer(gs, &sink{p: pc})
	go gs.Serve(lis)
	defer gs.Stop()

	// B: HTTP server calling C.
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), pb.GRPCDialOption(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := jobsv1.NewResultSinkClient(conn)
	hb := httptest.NewServer(pb.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := pb.StartSpan(r.Context(), "b.handle")
		defer span.Finish()
		if _, err := client.Deliver(ctx, &jobsv1.DeliverRequest{}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}), nil))
	defer hb.Close()

	// A: a tracez root calling B over HTTP.
	httpClient := &http.Client{Transport: pa.HTTPTransport(nil)}
	ctx, root := pa.StartSpan(context.Background(), "a.root")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hb.URL+"/work", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("B answered %s", resp.Status)
	}
	root.Finish()

	var all tracetest.SpanStubs
	for _, pe := range []struct {
		p *Provider
		e *tracetest.InMemoryExporter
	}{{pa, ea}, {pb, eb}, {pc, ec}} {
		all = append(all, flush(t, pe.p, pe.e)...)
	}

	// a.root, HTTP client, HTTP server, b.handle, gRPC client, gRPC server, c.process.
	if len(all) != 7 {
		for _, s := range all {
			t.Logf("%s %s parent %s", s.Name, s.SpanContext.SpanID(), s.Parent.SpanID())
		}
		t.Fatalf("got %d spans, want 7", len(all))
	}
	ids := map[trace.SpanID]tracetest.SpanStub{}
	traces := map[trace.TraceID]bool{}
	for _, s := range all {
		ids[s.SpanContext.SpanID()] = s
		traces[s.SpanContext.TraceID()] = true
	}
	if len(traces) != 1 {
		t.Fatalf("spans spread over %d traces", len(traces))
	}
	roots := 0
	for _, s := range all {
		if !s.Parent.IsValid() {
			roots++
			if s.Name != "a.root" {
				t.Errorf("unexpected root %s", s.Name)
			}
			continue
		}
		if _, ok := ids[s.Parent.SpanID()]; !ok {
			t.Errorf("%s: parent %s missing", s.Name, s.Parent.SpanID())
		}
	}
	if roots != 1 {
		t.Errorf("%d roots", roots)
	}

	// The chain, leaf to root: c.process < gRPC server < gRPC client < b.handle < HTTP server < HTTP client < a.root.
	wantKinds := []trace.SpanKind{trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient,
		trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient, trace.SpanKindInternal}
	var leaf tracetest.SpanStub
	for _, s := range all {
		if s.Name == "c.process" {
			leaf = s
		}
	}
	s := leaf
	for i, kind := range wantKinds {
		if s.SpanKind != kind {
			t.Errorf("hop %d (%s): kind %v, want %v", i, s.Name, s.SpanKind, kind)
		}
		if i == len(wantKinds)-1 {
			break
		}
		s = ids[s.Parent.SpanID()]
	}
	if s.Name != "a.root" {
		t.Errorf("chain from c.process ends at %q, want a.root", s.Name)
	}
	if got := leaf.Resource.Attributes(); len(got) == 0 {
		t.Error("c.process has no resource")
	}
}
