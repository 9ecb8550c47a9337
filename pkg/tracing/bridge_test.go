package tracing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zoobzio/tracez"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTestProvider returns a provider exporting into memory.
func newTestProvider(t testing.TB, service string) (*Provider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	p, err := Setup(context.Background(), Options{ServiceName: service, Exporter: exp, BatchTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, exp
}

// flush exports everything finished so far and returns it.
func flush(t testing.TB, p *Provider, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	return exp.GetSpans()
}

func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	m := make(map[string]tracetest.SpanStub, len(spans))
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}

func TestThreeLevelTreeKeepsIdentityAndTimes(t *testing.T) {
	p, exp := newTestProvider(t, "bridge-test")

	// Record what tracez itself hands to handlers, to compare field by field.
	got := make(map[string]tracez.Span)
	p.Tracez().OnSpanComplete(func(s tracez.Span) { got[s.Name] = s })

	ctx, root := p.StartSpan(context.Background(), "root")
	root.SetTag("job.id", "j-1")
	cctx, child := p.StartSpan(ctx, "child")
	child.SetTag("worker.id", "3")
	_, grand := p.StartSpan(cctx, "grandchild")
	grand.SetTag("cache.key", "user:premium_customer")
	time.Sleep(time.Millisecond) // distinct, non-zero durations
	grand.Finish()
	child.Finish()
	root.Finish()

	spans := byName(flush(t, p, exp))
	if len(spans) != 3 {
		t.Fatalf("exported %d spans, want 3: %v", len(spans), spans)
	}
	for name, want := range got {
		s, ok := spans[name]
		if !ok {
			t.Fatalf("span %q not exported", name)
		}
		if s.SpanContext.TraceID().String() != want.TraceID {
			t.Errorf("%s trace ID = %s, want %s", name, s.SpanContext.TraceID(), want.TraceID)
		}
		if s.SpanContext.SpanID().String() != want.SpanID {
			t.Errorf("%s span ID = %s, want %s", name, s.SpanContext.SpanID(), want.SpanID)
		}
		gotParent := ""
		if s.Parent.IsValid() {
			gotParent = s.Parent.SpanID().String()
			if s.Parent.TraceID() != s.SpanContext.TraceID() {
				t.Errorf("%s parent in another trace", name)
			}
		}
		if gotParent != want.ParentID {
			t.Errorf("%s parent = %q, want %q", name, gotParent, want.ParentID)
		}
		if !s.StartTime.Equal(want.StartTime) || s.StartTime.UnixNano() != want.StartTime.UnixNano() {
			t.Errorf("%s start = %d ns, want %d ns", name, s.StartTime.UnixNano(), want.StartTime.UnixNano())
		}
		if s.EndTime.UnixNano() != want.EndTime.UnixNano() {
			t.Errorf("%s end = %d ns, want %d ns", name, s.EndTime.UnixNano(), want.EndTime.UnixNano())
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if len(attrs) != len(want.Tags) {
			t.Errorf("%s attributes = %v, want tags %v", name, attrs, want.Tags)
		}
		for k, v := range want.Tags {
			if attrs[k] != v {
				t.Errorf("%s attribute %s = %q, want %q", name, k, attrs[k], v)
			}
		}
		if s.InstrumentationScope.Name != ScopeName {
			t.Errorf("%s scope = %q", name, s.InstrumentationScope.Name)
		}
	}
	if spans["root"].Parent.IsValid() {
		t.Error("root has a parent")
	}
	if spans["grandchild"].Parent.SpanID() != spans["child"].SpanContext.SpanID() {
		t.Error("grandchild is not the child's child")
	}
	if st := p.Stats(); st.Bridged != 3 || st.Malformed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestReservedTagsBecomeKindAndStatus(t *testing.T) {
	p, exp := newTestProvider(t, "bridge-test")
	tests := []struct {
		name       string
		tags       map[string]string
		kind       trace.SpanKind
		code       codes.Code
		desc       string
		attributes int
	}{
		{"plain", map[string]string{"a": "1"}, trace.SpanKindInternal, codes.Unset, "", 1},
		{"server", map[string]string{TagSpanKind: "server"}, trace.SpanKindServer, codes.Unset, "", 0},
		{"client", map[string]string{TagSpanKind: "CLIENT"}, trace.SpanKindClient, codes.Unset, "", 0},
		{"producer", map[string]string{TagSpanKind: "producer"}, trace.SpanKindProducer, codes.Unset, "", 0},
		{"consumer", map[string]string{TagSpanKind: "consumer"}, trace.SpanKindConsumer, codes.Unset, "", 0},
		{"unknown kind", map[string]string{TagSpanKind: "sideways"}, trace.SpanKindInternal, codes.Unset, "", 0},
		{"error true", map[string]string{TagError: "true"}, trace.SpanKindInternal, codes.Error, "", 0},
		{"error message", map[string]string{TagError: "vendor answered 503", "x": "y"}, trace.SpanKindInternal, codes.Error, "vendor answered 503", 1},
		{"error false", map[string]string{TagError: "false"}, trace.SpanKindInternal, codes.Unset, "", 0},
	}
	for _, tt := range tests {
		_, s := p.StartSpan(context.Background(), tt.name)
		for k, v := range tt.tags {
			s.SetTag(k, v)
		}
		s.Finish()
	}
	spans := byName(flush(t, p, exp))
	for _, tt := range tests {
		s, ok := spans[tt.name]
		if !ok {
			t.Errorf("%s: not exported", tt.name)
			continue
		}
		if s.SpanKind != tt.kind {
			t.Errorf("%s: kind = %v, want %v", tt.name, s.SpanKind, tt.kind)
		}
		if s.Status.Code != tt.code || s.Status.Description != tt.desc {
			t.Errorf("%s: status = %v %q, want %v %q", tt.name, s.Status.Code, s.Status.Description, tt.code, tt.desc)
		}
		if len(s.Attributes) != tt.attributes {
			t.Errorf("%s: attributes = %v, want %d", tt.name, s.Attributes, tt.attributes)
		}
		for _, kv := range s.Attributes {
			if kv.Key == attribute.Key(TagSpanKind) || kv.Key == attribute.Key(TagError) {
				t.Errorf("%s: reserved tag %s exported as attribute", tt.name, kv.Key)
			}
		}
	}
}

func TestTagsKeepTheirTypes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want attribute.Type
	}{
		{"true", attribute.BOOL}, {"false", attribute.BOOL}, {"42", attribute.INT64}, {"-7", attribute.INT64},
		{"0", attribute.INT64}, {"007", attribute.STRING}, {"1e3", attribute.STRING}, {"True", attribute.STRING},
		{"12.5", attribute.STRING}, {"", attribute.STRING}, {"99999999999999999999", attribute.STRING},
		{"checkout-1", attribute.STRING}, {"-", attribute.STRING},
	} {
		kv := typedAttribute("k", tc.in)
		if kv.Value.Type() != tc.want || kv.Value.Emit() != tc.in {
			t.Errorf("%q -> %v %q, want %v with the same text", tc.in, kv.Value.Type(), kv.Value.Emit(), tc.want)
		}
	}
}

func TestMalformedIDsAreDroppedAndCounted(t *testing.T) {
	p, exp := newTestProvider(t, "bridge-test")
	b := p.bridge
	now := time.Now()
	good := tracez.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: "ok", StartTime: now, EndTime: now}
	bad := map[string]func(*tracez.Span){
		"short trace ID":   func(s *tracez.Span) { s.TraceID = "abc" },
		"zero trace ID":    func(s *tracez.Span) { s.TraceID = strings.Repeat("0", 32) },
		"upper-case hex":   func(s *tracez.Span) { s.TraceID = strings.ToUpper(s.TraceID) },
		"time-ish span ID": func(s *tracez.Span) { s.SpanID = "31353a30343a3035" + "2e" },
		"zero span ID":     func(s *tracez.Span) { s.SpanID = strings.Repeat("0", 16) },
		"bad parent":       func(s *tracez.Span) { s.ParentID = "not-hex!" },
		"self parent":      func(s *tracez.Span) { s.ParentID = s.SpanID },
		"empty":            func(s *tracez.Span) { *s = tracez.Span{Name: "empty"} },
	}
	for name, mutate := range bad {
		s := good
		s.Name = name
		mutate(&s)
		b.onSpanComplete(s)
	}
	b.onSpanComplete(good)

	spans := flush(t, p, exp)
	if len(spans) != 1 || spans[0].Name != "ok" {
		t.Fatalf("exported %v, want only the well-formed span", spans)
	}
	if st := p.Stats(); st.Malformed != uint64(len(bad)) || st.Bridged != 1 {
		t.Errorf("stats = %+v, want %d malformed, 1 bridged", st, len(bad))
	}
}

func TestSamplerDecidesPerTraceForBridgedSpans(t *testing.T) {
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
	p, exp := newTestProvider(t, "bridge-test")
	const traces = 200
	for range traces {
		ctx, root := p.StartSpan(context.Background(), "root")
		_, child := p.StartSpan(ctx, "child")
		child.Finish()
		root.Finish()
	}
	perTrace := map[trace.TraceID]int{}
	for _, s := range flush(t, p, exp) {
		perTrace[s.SpanContext.TraceID()]++
	}
	for tid, n := range perTrace {
		if n != 2 {
			t.Errorf("trace %s exported %d of its 2 spans: sampling split a trace", tid, n)
		}
	}
	// 0.5 of 200: a seeded-free but very wide band; it fails only if the
	// sampler were ignored (200) or always off (0).
	if len(perTrace) < 40 || len(perTrace) > 160 {
		t.Errorf("%d of %d traces sampled at ratio 0.5", len(perTrace), traces)
	}
}

func TestSamplerEnvErrors(t *testing.T) {
	for _, tc := range []struct{ sampler, arg string }{
		{"sometimes", ""}, {"traceidratio", "1.5"}, {"parentbased_traceidratio", "half"},
	} {
		t.Setenv("OTEL_TRACES_SAMPLER", tc.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", tc.arg)
		_, err := Setup(context.Background(), Options{Exporter: tracetest.NewNoopExporter()})
		if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") {
			t.Errorf("sampler %q arg %q: err = %v", tc.sampler, tc.arg, err)
		}
	}
}

func TestDisabledMakesNoSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := Setup(context.Background(), Options{Exporter: exp, Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, s := p.StartSpan(context.Background(), "x")
	s.SetTag("a", "b")
	s.Finish()
	if tid, _ := SpanContext(ctx); tid != "" {
		t.Errorf("disabled tracing put trace %s in the context", tid)
	}
	if p.Enabled() || len(exp.GetSpans()) != 0 {
		t.Error("disabled provider exported spans")
	}
}

func TestResourceFromEnv(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	exp := tracetest.NewInMemoryExporter()
	p, err := Setup(context.Background(), Options{ServiceName: "default-name", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	_, s := p.StartSpan(context.Background(), "x")
	s.Finish()
	spans := flush(t, p, exp)
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Resource.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["service.name"] != "from-env" || attrs["deployment.environment"] != "test" || p.ServiceName() != "from-env" {
		t.Errorf("resource = %v", attrs)
	}
}

// blockingExporter never returns until released: a collector that hangs.
type blockingExporter struct{ release chan struct{} }

func (e blockingExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	select {
	case <-e.release:
	case <-ctx.Done():
	}
	return ctx.Err()
}
func (e blockingExporter) Shutdown(context.Context) error { return nil }

func TestFullQueueDropsAndCountsInsteadOfBlocking(t *testing.T) {
	exp := blockingExporter{release: make(chan struct{})}
	p, err := Setup(context.Background(), Options{Exporter: exp, QueueSize: 16, BatchTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			_, s := p.StartSpan(context.Background(), "op")
			s.Finish()
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("finishing spans blocked on a hung exporter")
	}
	st := p.Stats()
	if st.Bridged+st.Dropped < n || st.Dropped == 0 || st.Exported != 0 {
		t.Errorf("stats = %+v, want all %d accounted for as bridged or dropped, some dropped, none exported", st, n)
	}
	close(exp.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
