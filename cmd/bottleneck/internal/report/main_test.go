package report

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// fakeJaeger serves /api/traces from answer and /api/services with the
// given service names, recording the search queries.
type fakeJaeger struct {
	*httptest.Server
	mu       sync.Mutex
	queries  []url.Values
	services []string
	answer   func(q url.Values) (int, []byte)
}

func newFakeJaeger(t *testing.T, answer func(q url.Values) (int, []byte)) *fakeJaeger {
	t.Helper()
	f := &fakeJaeger{answer: answer, services: []string{"consumer", "producer", "vendor-mock", "workers"}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/services":
			json.NewEncoder(w).Encode(map[string]any{"data": f.services, "total": len(f.services)})
		case "/api/traces":
			f.mu.Lock()
			f.queries = append(f.queries, r.URL.Query())
			f.mu.Unlock()
			status, body := f.answer(r.URL.Query())
			w.WriteHeader(status)
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func tracesBody(t *testing.T, traces []jaegerapi.Trace) []byte {
	t.Helper()
	if traces == nil {
		traces = []jaegerapi.Trace{}
	}
	b, err := json.Marshal(map[string]any{"data": traces, "total": 0, "limit": 0, "offset": 0, "errors": nil})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func serveTraces(t *testing.T, traces []jaegerapi.Trace) *fakeJaeger {
	body := tracesBody(t, traces)
	return newFakeJaeger(t, func(url.Values) (int, []byte) { return http.StatusOK, body })
}

// now is the clock of every Main test: the synthetic traces are in its
// last five minutes.
var testNow = time.UnixMicro(baseMicros).Add(5 * time.Minute)

func runReport(t *testing.T, tty bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, testNow, tty)
	return code, out.String(), errOut.String()
}

func TestMainText(t *testing.T) {
	j := serveTraces(t, incident())
	code, out, errOut := runReport(t, false, "--jaeger", j.URL)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"Bottleneck report: service producer, last 5m",
		"Capacity",
		"▶ queue",
		"1. Blocked result sends",
		"Found 2 blocked result sends (of 5)",
		"2. Operation disparity",
		"Vendor APIs are 354x slower than cache reads",
		"3. Head-of-line blocking",
		"2 of 3 fast jobs",
		"Root cause",
		"Small results buffer: the results channel holds 4 results for 4 workers",
		"→ Head-of-line blocking in the job queue",
		"workers PRIORITY_LANES=on",
		`curl -X PUT localhost:8081/admin/config -H 'Content-Type: application/json' -d '{"priority_lanes":"on"}'`,
		j.URL + "/trace/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("color codes in output that is not a terminal")
	}

	q := j.queries[0]
	want := url.Values{
		"service": {"producer"}, "limit": {"1000"},
		"start": {strconv.FormatInt(testNow.Add(-5*time.Minute).UnixMicro(), 10)},
		"end":   {strconv.FormatInt(testNow.UnixMicro(), 10)},
	}
	for k := range want {
		if q.Get(k) != want.Get(k) {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want.Get(k))
		}
	}
}

func TestMainColor(t *testing.T) {
	j := serveTraces(t, incident())
	if _, out, _ := runReport(t, true, "--jaeger", j.URL); !strings.Contains(out, "\x1b[1m") {
		t.Error("no color on a terminal")
	}
	if _, out, _ := runReport(t, true, "--jaeger", j.URL, "--color", "never"); strings.Contains(out, "\x1b[") {
		t.Error("color with --color never")
	}
	if _, out, _ := runReport(t, true, "--jaeger", j.URL, "--json"); strings.Contains(out, "\x1b[") {
		t.Error("color in JSON")
	}
}

func TestMainUILinks(t *testing.T) {
	j := serveTraces(t, incident())
	_, out, _ := runReport(t, false, "--jaeger", j.URL, "--ui", "http://localhost:16686/")
	if !strings.Contains(out, "http://localhost:16686/trace/") || strings.Contains(out, j.URL+"/trace/") {
		t.Error("links must use --ui")
	}
}

func TestMainJSON(t *testing.T) {
	j := serveTraces(t, incident())
	code, out, errOut := runReport(t, false, "--jaeger", j.URL, "--json", "--since", "2m")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, key := range []string{"schema_version", "jaeger", "service", "window", "traces", "limit", "truncated", "jobs",
		"config", "blocked_sends", "operations", "vendor_cache_ratio", "vendor", "consumer", "head_of_line", "verdict", "links",
		"contract", "period", "stages", "worker_time", "fast_latency", "model_fit"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	var f Findings
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	if f.SchemaVersion != 2 || f.Blocking.Blocked != 2 || f.VendorCacheRatio < 10 || f.Window.Label != "last 2m" || f.Window.Seconds != 120 {
		t.Errorf("findings = schema %d, blocked %d, ratio %v, window %+v", f.SchemaVersion, f.Blocking.Blocked, f.VendorCacheRatio, f.Window)
	}
	if len(f.HeadOfLine.Worst) == 0 || f.HeadOfLine.Worst[0].VendorJobsBehind == nil {
		t.Errorf("head of line = %+v", f.HeadOfLine)
	}
}

func TestMainCompare(t *testing.T) {
	healthy := []jaegerapi.Trace{
		jobTrace(10, jobSpec{id: "c9", typ: "cache-read", worker: "1", queueMS: 1, workMS: 2, bufferCap: 400}),
		jobTrace(11, jobSpec{id: "v9", typ: "vendor-api", worker: "2", queueMS: 1, workMS: 150, bufferCap: 400}),
	}
	before, after := tracesBody(t, incident()), tracesBody(t, healthy)
	split := strconv.FormatInt(testNow.Add(-5*time.Minute).UnixMicro(), 10)
	j := newFakeJaeger(t, func(q url.Values) (int, []byte) {
		if q.Get("end") == split { // window A ends where B starts
			return http.StatusOK, before
		}
		return http.StatusOK, after
	})

	code, out, errOut := runReport(t, false, "--jaeger", j.URL, "--compare", "10m..5m", "5m..now")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "  "); i > 0 {
			lines[strings.TrimSpace(l[:i])] = strings.Join(strings.Fields(l[i:]), " ")
		}
	}
	for row, want := range map[string]string{
		"blocked result sends": "2 0 −2 (−100%)",
		"longest block":        "300ms 0 −300ms (−100%)",
		"fast jobs stuck":      "2 0 −2 (−100%)",
		"traces":               "5 2 −3 (−60%)",
	} {
		if lines[row] != want {
			t.Errorf("row %q = %q, want %q\n%s", row, lines[row], want, out)
		}
	}
	if !strings.Contains(out, "A: [queue, head-of-line] Head-of-line blocking") || !strings.Contains(out, "B: [none] No bottleneck") {
		t.Errorf("B's verdict missing:\n%s", out)
	}

	// Flags may follow the two windows.
	code, out, _ = runReport(t, false, "--jaeger", j.URL, "--compare", "10m..5m", "5m..now", "--json")
	var c Comparison
	if code != ExitOK || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("exit %d, output %s", code, out)
	}
	if c.A.Blocking.Blocked != 2 || c.B.Blocking.Blocked != 0 || c.A.Window.Label != "10m..5m" {
		t.Errorf("comparison: A blocked %d, B blocked %d, A window %q", c.A.Blocking.Blocked, c.B.Blocking.Blocked, c.A.Window.Label)
	}
}

func TestMainJaegerProblems(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	empty := serveTraces(t, nil)
	unknown := serveTraces(t, nil)
	unknown.services = []string{"jaeger"}
	malformed := newFakeJaeger(t, func(url.Values) (int, []byte) { return http.StatusOK, []byte(`{"data":[{"spans":`) })
	failing := newFakeJaeger(t, func(url.Values) (int, []byte) {
		return http.StatusInternalServerError, []byte(`{"data":null,"errors":[{"code":500,"msg":"search depth out of range"}]}`)
	})

	tests := []struct {
		name, url string
		args      []string
		code      int
		message   string
	}{
		{"unreachable", closed, nil, ExitUnreachable,
			"bottleneck report: cannot reach Jaeger at " + closed + ": connection refused — is it running? (docker compose up / bottleneck up)\n"},
		{"empty window", empty.URL, nil, ExitNoTraces, "no traces from service producer in the last 5m"},
		{"empty compare window", empty.URL, []string{"--compare", "10m..5m", "5m..0"}, ExitNoTraces, "no traces from service producer in the window 10m..5m"},
		{"service never seen", unknown.URL, nil, ExitNoTraces, "has no traces from service producer at all"},
		{"malformed", malformed.URL, nil, ExitBadAnswer, "did not answer like Jaeger's query API"},
		{"error status", failing.URL, nil, ExitBadAnswer, "search depth out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runReport(t, false, append([]string{"--jaeger", tt.url}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if !strings.Contains(errOut, tt.message) {
				t.Errorf("stderr = %q, want %q", errOut, tt.message)
			}
			if strings.Contains(errOut, "goroutine") || strings.Count(errOut, "\n") > 1 {
				t.Errorf("stderr should be one line: %q", errOut)
			}
		})
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"--since", "-1m"},
		{"--since", "soon"},
		{"--limit", "0"},
		{"--color", "sometimes"},
		{"extra"},
		{"--compare", "10m..5m"},
		{"--compare", "5m..10m", "0..now"},
		{"--compare", "10m..5m", "5m..0", "more"},
		{"--window", "5m"},
		{"--window", "5m..10m"},
		{"--window", "10m..5m", "--compare", "10m..5m", "5m..0"},
		{"--jaeger", "localhost:16686"},
	} {
		code, out, errOut := runReport(t, false, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
		if out != "" || errOut == "" {
			t.Errorf("%v: stdout %q, stderr %q; want only stderr", args, out, errOut)
		}
	}
	code, out, _ := runReport(t, false, "-h")
	if code != ExitOK || !strings.Contains(out, "Usage: bottleneck report") || !strings.Contains(out, "-compare") {
		t.Errorf("-h: exit %d, output %q", code, out)
	}
}

func TestMainInterrupted(t *testing.T) {
	j := newFakeJaeger(t, func(url.Values) (int, []byte) { return http.StatusOK, tracesBody(t, incident()) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"--jaeger", j.URL}, &out, &errOut, testNow, false)
	if code != ExitError || errOut.String() != "bottleneck report: interrupted\n" {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestMainWindow(t *testing.T) {
	j := serveTraces(t, incident())
	code, out, errOut := runReport(t, false, "--jaeger", j.URL, "--window", "10m..5m", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var f Findings
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	q := j.queries[0]
	if f.Window.Label != "10m..5m" || q.Get("end") != strconv.FormatInt(testNow.Add(-5*time.Minute).UnixMicro(), 10) {
		t.Errorf("window %+v, query end %s", f.Window, q.Get("end"))
	}
}
