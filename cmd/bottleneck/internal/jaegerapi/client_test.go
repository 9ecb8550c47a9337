package jaegerapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFindTracesQueryAndModel(t *testing.T) {
	body, err := os.ReadFile("testdata/search.json")
	if err != nil {
		t.Fatal(err)
	}
	var got *http.Request
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	start := time.UnixMicro(1_700_000_000_000_000)
	traces, err := c.FindTraces(context.Background(), Query{
		Service: "workers", Operation: "result.send", Start: start, End: start.Add(5 * time.Minute),
		Limit: 50, Tags: map[string]string{"channel.blocked": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}

	q := got.URL.Query()
	want := map[string]string{
		"service": "workers", "operation": "result.send", "start": "1700000000000000",
		"end": "1700000300000000", "limit": "50", "tags": `{"channel.blocked":"true"}`,
	}
	if got.URL.Path != "/api/traces" {
		t.Errorf("path = %q, want /api/traces", got.URL.Path)
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}

	if len(traces) != 1 || len(traces[0].Spans) != 2 {
		t.Fatalf("got %d traces, want 1 with 2 spans", len(traces))
	}
	tr := traces[0]
	root, send := &tr.Spans[0], &tr.Spans[1]
	if root.ParentID() != "" || send.ParentID() != root.SpanID {
		t.Errorf("parents: root %q, send %q; want \"\" and %q", root.ParentID(), send.ParentID(), root.SpanID)
	}
	if tr.Service(send) != "workers" || tr.Service(root) != "producer" {
		t.Errorf("services: %q, %q", tr.Service(root), tr.Service(send))
	}
	if root.TagString("job.id") != "ck1-04" {
		t.Errorf("job.id = %q", root.TagString("job.id"))
	}
	if !send.TagBool("channel.blocked") {
		t.Error("channel.blocked: want true")
	}
	if v, ok := send.TagFloat("block.duration_ms"); !ok || v != 43 {
		t.Errorf("block.duration_ms = %v, %v", v, ok)
	}
	if v, ok := send.TagFloat("results.buffer.cap"); !ok || v != 4 {
		t.Errorf("results.buffer.cap (string) = %v, %v", v, ok)
	}
	if s := send.TagString("big"); s != "9007199254740993" {
		t.Errorf("unsafe int64 = %q, want it verbatim", s)
	}
	if v, ok := send.TagFloat("ratio"); !ok || v != 0.25 {
		t.Errorf("ratio = %v, %v", v, ok)
	}
	if send.DurationMS() != 43.21 || send.End() != send.StartTime+43210 {
		t.Errorf("duration %v ms, end %d", send.DurationMS(), send.End())
	}
}

func TestParentIDPrefersChildOf(t *testing.T) {
	s := Span{TraceID: "t", ParentSpanID: "legacy", References: []Reference{
		{RefType: FollowsFrom, TraceID: "t", SpanID: "follows"},
		{RefType: ChildOf, TraceID: "other-trace", SpanID: "foreign"},
		{RefType: ChildOf, TraceID: "t", SpanID: "parent"},
	}}
	if got := s.ParentID(); got != "parent" {
		t.Errorf("ParentID = %q, want parent", got)
	}
	s.References = s.References[:2]
	if got := s.ParentID(); got != "follows" {
		t.Errorf("without CHILD_OF in trace: ParentID = %q, want follows", got)
	}
	s.References = nil
	if got := s.ParentID(); got != "legacy" {
		t.Errorf("without references: ParentID = %q, want legacy", got)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	c, err := New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindTraces(context.Background(), Query{Service: "workers"})
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want *UnreachableError", err, err)
	}
	want := "cannot reach Jaeger at http://" + addr + ": connection refused"
	if err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
}

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; the client gives up
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Services(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Reason() != "no answer in time" {
		t.Fatalf("err = %v, want an UnreachableError saying no answer in time", err)
	}
}

func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		check   func(error) bool
		message string
	}{
		{"jaeger error", http.StatusBadRequest, `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter 'service' is required"}]}`,
			func(err error) bool { var e *StatusError; return errors.As(err, &e) && e.StatusCode == 400 }, "parameter 'service' is required"},
		{"html error", http.StatusBadGateway, "<html>bad gateway</html>",
			func(err error) bool { var e *StatusError; return errors.As(err, &e) }, "<html>bad gateway</html>"},
		{"malformed JSON", http.StatusOK, `{"data": [{"traceID": `,
			func(err error) bool { var e *DecodeError; return errors.As(err, &e) }, "did not answer like Jaeger's query API"},
		{"not Jaeger", http.StatusOK, `<!doctype html><title>producer</title>`,
			func(err error) bool { var e *DecodeError; return errors.As(err, &e) }, "did not answer like Jaeger's query API"},
		{"wrong shape", http.StatusOK, `{"data": {"traceID": "x"}}`,
			func(err error) bool { var e *DecodeError; return errors.As(err, &e) }, "did not answer like Jaeger's query API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			_, err := c.FindTraces(context.Background(), Query{Service: "workers"})
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.message)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	const limit = 1024
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A valid but oversized answer: the client must stop reading.
		w.Write([]byte(`{"data":["` + strings.Repeat("x", 4*limit) + `"]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithMaxBodyBytes(limit))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Services(context.Background())
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != limit {
		t.Fatalf("err = %v, want *TooLargeError", err)
	}

	// Exactly at the cap is fine.
	exact := `{"data":["` + strings.Repeat("x", limit-14) + `"]}`
	c2 := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(exact)) })
	c2.maxBody = int64(len(exact))
	if _, err := c2.Services(context.Background()); err != nil {
		t.Fatalf("answer of exactly the cap: %v", err)
	}
}

func TestTraceNotFound(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/traces/abc123" {
			t.Errorf("path = %q", r.URL.Path)
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}`))
	})
	_, err := c.Trace(context.Background(), "abc123")
	if !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("err = %v, want ErrTraceNotFound", err)
	}
}

func TestServicesAndPrefix(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jaeger/api/services" {
			t.Errorf("path = %q, want the prefix kept", r.URL.Path)
		}
		w.Write([]byte(`{"data":["consumer","workers"],"total":2}`))
	})
	pc, err := New(c.URL() + "/jaeger/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pc.Services(context.Background())
	if err != nil || strings.Join(got, ",") != "consumer,workers" {
		t.Fatalf("Services = %v, %v", got, err)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "localhost:16686", "ftp://x", "http://", "http://a b"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q): want an error", u)
		}
	}
}
