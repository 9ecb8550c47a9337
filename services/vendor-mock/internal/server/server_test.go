package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// handler still sleeping after its caller left would show up here.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	srv  *Server
	http *httptest.Server
	logs *logtest.Buffer
}

func newFixture(t testing.TB, cfg faults.Config, opts ...tracing.Options) *fixture {
	t.Helper()
	o := tracing.Options{Disabled: true}
	if len(opts) > 0 {
		o = opts[0]
	}
	tp, err := tracing.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	srv, err := New(Options{
		Tracing: tp,
		Log:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Decider: faults.NewDecider(1),
		Faults:  cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		_ = srv.Stop(context.Background())
		hs.Close()
		_ = tp.Shutdown(context.Background())
	})
	return &fixture{srv: srv, http: hs, logs: logs}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t testing.TB, method, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// instant is a rule that answers at once, so API tests don't wait.
func instant() faults.Config {
	c, _ := faults.Decode([]byte(`{"global":{}}`))
	return c
}

func withRoute(c faults.Config, prefix string, r faults.Rule) faults.Config {
	c = c.Clone()
	c.Routes[prefix] = r
	return c
}

func preset(t *testing.T, name string) faults.Config {
	t.Helper()
	c, err := faults.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const jsonCT = "application/json"

func TestAdminAPI(t *testing.T) {
	slowWithRoute := withRoute(preset(t, faults.Slow), "/v1/payment", preset(t, faults.Flaky).Global)
	tests := []struct {
		name        string
		start       faults.Config
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		// wantError is part of the error message; empty for successes.
		wantError string
		// want is the resulting configuration on success.
		want func() faults.Config
	}{
		{name: "GET", method: "GET", path: "/admin/faults", wantStatus: 200,
			want: faults.Default},
		{name: "PUT preset", method: "PUT", path: "/admin/faults", contentType: jsonCT, body: `{"preset":"slow"}`, wantStatus: 200,
			want: func() faults.Config { return preset(t, faults.Slow) }},
		{name: "PUT with a route", method: "PUT", path: "/admin/faults", contentType: jsonCT,
			body: `{"preset":"healthy","routes":{"/v1/payment":{"error":{"probability":1}}}}`, wantStatus: 200,
			want: func() faults.Config {
				r := preset(t, faults.Healthy).Global
				r.Error.Probability = 1
				return withRoute(preset(t, faults.Healthy), "/v1/payment", r)
			}},
		{name: "PUT without Content-Type", method: "PUT", path: "/admin/faults", body: `{"preset":"flaky"}`, wantStatus: 200,
			want: func() faults.Config { return preset(t, faults.Flaky) }},
		{name: "PATCH merges", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"degraded":{"probability":0.5}}}`, wantStatus: 200,
			want: func() faults.Config {
				c := faults.Default()
				c.Global.Degraded.Probability = 0.5
				c.Preset = faults.Custom
				return c
			}},
		{name: "PATCH as merge-patch+json deletes a route", start: slowWithRoute, method: "PATCH", path: "/admin/faults",
			contentType: "application/merge-patch+json", body: `{"routes":{"/v1/payment":null}}`, wantStatus: 200,
			want: func() faults.Config { return preset(t, faults.Slow) }},
		{name: "DELETE restores the default", start: slowWithRoute, method: "DELETE", path: "/admin/faults", wantStatus: 200,
			want: faults.Default},
		{name: "POST preset replaces routes too", start: slowWithRoute, method: "POST", path: "/admin/faults/presets/outage", wantStatus: 200,
			want: func() faults.Config { return preset(t, faults.Outage) }},

		{name: "unknown preset", method: "POST", path: "/admin/faults/presets/chaos", wantStatus: 400,
			wantError: `preset: unknown preset "chaos" (want healthy, degraded, slow, flaky, outage)`},
		{name: "unknown preset in body", method: "PUT", path: "/admin/faults", contentType: jsonCT, body: `{"preset":"chaos"}`,
			wantStatus: 400, wantError: `preset: unknown preset "chaos"`},
		{name: "unknown field", method: "PATCH", path: "/admin/faults", contentType: jsonCT, body: `{"global":{"latncy":{}}}`,
			wantStatus: 400, wantError: "global.latncy: unknown field"},
		{name: "unknown top-level field", method: "PUT", path: "/admin/faults", contentType: jsonCT, body: `{"presets":"slow"}`,
			wantStatus: 400, wantError: "presets: unknown field"},
		{name: "negative duration", method: "PATCH", path: "/admin/faults", contentType: jsonCT, body: `{"global":{"jitter":"-5ms"}}`,
			wantStatus: 400, wantError: "global.jitter: -5ms is negative"},
		{name: "probability above 1", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"degraded":{"probability":1.5}}}`, wantStatus: 400,
			wantError: "global.degraded.probability: 1.5 is outside [0,1]"},
		{name: "probability below 0", method: "PUT", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"error":{"probability":-1}}}`, wantStatus: 400,
			wantError: "global.error.probability: -1 is outside [0,1]"},
		{name: "hang probability", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"routes":{"/v1/tax":{"hang":{"probability":3}}}}`, wantStatus: 400,
			wantError: `routes["/v1/tax"].hang.probability: 3 is outside [0,1]`},
		{name: "min above max", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"latency":{"min":"1s","max":"10ms"}}}`, wantStatus: 400,
			wantError: "global.latency: min 1s is greater than max 10ms"},
		{name: "route prefix without slash", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"routes":{"v1/payment":{}}}`, wantStatus: 400,
			wantError: `routes["v1/payment"]: a route prefix must start with "/"`},
		{name: "bad duration", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"hang":{"timeout":"forever"}}}`, wantStatus: 400,
			wantError: `global.hang.timeout: "forever" is not a duration`},
		{name: "duration as number", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"latency":{"max":300}}}`, wantStatus: 400,
			wantError: `global.latency.max: want a duration string like "250ms", got number 300`},
		{name: "bad status", method: "PATCH", path: "/admin/faults", contentType: jsonCT,
			body: `{"global":{"error":{"status":204}}}`, wantStatus: 400,
			wantError: "global.error.status: 204 is not an error status (want 400-599)"},
		{name: "malformed JSON", method: "PUT", path: "/admin/faults", contentType: jsonCT, body: `{"preset":`,
			wantStatus: 400, wantError: "malformed JSON"},
		{name: "trailing data", method: "PUT", path: "/admin/faults", contentType: jsonCT, body: `{} {}`,
			wantStatus: 400, wantError: "single JSON object"},
		{name: "empty body", method: "PATCH", path: "/admin/faults", contentType: jsonCT, body: ``,
			wantStatus: 400, wantError: "empty body"},
		{name: "not an object", method: "PUT", path: "/admin/faults", contentType: jsonCT, body: `[1]`,
			wantStatus: 400, wantError: "body: want a JSON object, got array"},
		{name: "body over 64 KiB", method: "PUT", path: "/admin/faults", contentType: jsonCT,
			body: `{"preset":"` + strings.Repeat("x", 65<<10) + `"}`, wantStatus: 413, wantError: "body larger than 65536 bytes"},
		{name: "wrong Content-Type", method: "PUT", path: "/admin/faults", contentType: "text/plain",
			body: `{"preset":"slow"}`, wantStatus: 415, wantError: "want application/json"},
		{name: "wrong method on /admin/faults", method: "POST", path: "/admin/faults", contentType: jsonCT, body: `{}`,
			wantStatus: 405, wantError: "method POST not allowed"},
		{name: "wrong method on a preset", method: "GET", path: "/admin/faults/presets/slow",
			wantStatus: 405, wantError: "method GET not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := tt.start
			if start.Preset == "" {
				start = faults.Default()
			}
			f := newFixture(t, start)
			before := f.srv.Faults()

			resp := f.do(t, tt.method, tt.path, tt.contentType, tt.body)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.status, tt.wantStatus, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.wantError != "" {
				got := decodeJSON[map[string]string](t, resp.body)["error"]
				if !strings.Contains(got, tt.wantError) {
					t.Errorf("error = %q, want it to contain %q", got, tt.wantError)
				}
				if after := f.srv.Faults(); !reflect.DeepEqual(after, before) {
					t.Errorf("rejected request changed the config:\nbefore %+v\nafter  %+v", before, after)
				}
				if resp.status == 405 && resp.header.Get("Allow") == "" {
					t.Error("405 without an Allow header")
				}
				return
			}
			want := tt.want()
			if !sameConfig(t, resp.body, want) {
				t.Errorf("answer = %s, want %+v", resp.body, want)
			}
			if got := f.srv.Faults(); !reflect.DeepEqual(got, want) {
				t.Errorf("config = %+v, want %+v", got, want)
			}
			get := f.do(t, "GET", "/admin/faults", "", "")
			if !sameConfig(t, get.body, want) {
				t.Errorf("GET after %s = %s, want %+v", tt.method, get.body, want)
			}
		})
	}
}

// sameConfig compares a JSON answer with want through the decoder, since
// faults.Config's durations only encode.
func sameConfig(t *testing.T, body []byte, want faults.Config) bool {
	t.Helper()
	got, err := faults.Decode(body)
	if err != nil {
		t.Fatalf("answer %s does not decode: %v", body, err)
	}
	return reflect.DeepEqual(got, want)
}

func TestAllowHeaders(t *testing.T) {
	f := newFixture(t, instant())
	for path, want := range map[string]string{
		"/admin/faults":              "GET, HEAD, PUT, PATCH, DELETE",
		"/admin/faults/presets/slow": "POST",
		"/v1/payment/authorize":      "GET, HEAD, POST",
	} {
		resp := f.do(t, "OPTIONS", path, "", "")
		if resp.status != 405 || resp.header.Get("Allow") != want {
			t.Errorf("OPTIONS %s = %d Allow %q, want 405 Allow %q", path, resp.status, resp.header.Get("Allow"), want)
		}
	}
}

func TestPutOfGetIsIdentity(t *testing.T) {
	start := withRoute(preset(t, faults.Degraded), "/v1/fraud", preset(t, faults.Slow).Global)
	f := newFixture(t, start)
	get := f.do(t, "GET", "/admin/faults", "", "")
	put := f.do(t, "PUT", "/admin/faults", jsonCT, string(get.body))
	if put.status != 200 || !bytes.Equal(put.body, get.body) {
		t.Errorf("PUT of GET's body = %d %s, want 200 and the same body %s", put.status, put.body, get.body)
	}
}

func TestChangesAreLogged(t *testing.T) {
	f := newFixture(t, faults.Default())
	f.do(t, "POST", "/admin/faults/presets/slow", "", "")
	f.do(t, "PATCH", "/admin/faults", jsonCT, `{"global":{"jitter":"-1s"}}`)
	logs := f.logs.String()
	for _, want := range []string{
		`msg="fault config changed" by="POST /admin/faults/presets/slow" preset=slow previous_preset=degraded`,
		`msg="fault change rejected" method=PATCH`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

type vendorAnswer struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
	Fault     struct {
		Preset            string `json:"preset"`
		Rule              string `json:"rule"`
		Degraded          bool   `json:"degraded"`
		InjectedLatencyMS int64  `json:"injected_latency_ms"`
	} `json:"fault"`
}

func TestVendorEndpoints(t *testing.T) {
	f := newFixture(t, instant())
	for _, tt := range []struct{ path, status string }{
		{"/v1/payment/authorize", "approved"},
		{"/v1/fraud/check", "pass"},
		{"/v1/shipping/calculate", "ok"},
		{"/v1/tax/calculate", "ok"},
		{"/v1/anything/else", "ok"},
	} {
		for _, method := range []string{"GET", "POST"} {
			resp := f.do(t, method, tt.path, jsonCT, `{"order":"o-1"}`)
			if resp.status != 200 {
				t.Fatalf("%s %s = %d %s", method, tt.path, resp.status, resp.body)
			}
			a := decodeJSON[vendorAnswer](t, resp.body)
			if a.Status != tt.status || a.RequestID == "" || a.Fault.Rule != "global" || a.Fault.Preset != faults.Custom {
				t.Errorf("%s %s answered %s", method, tt.path, resp.body)
			}
		}
	}
	if st := f.srv.Stats(); st.Requests != 10 || st.Routes["/v1/tax/calculate"].Requests != 2 {
		t.Errorf("stats = %+v, want 10 requests, 2 on /v1/tax/calculate", st)
	}
	if resp := f.do(t, "GET", "/v2/payment", "", ""); resp.status != 404 {
		t.Errorf("GET /v2/payment = %d, want 404", resp.status)
	}
}

func TestErrorInjectionAndRoutes(t *testing.T) {
	failing := instant().Global
	failing.Error = faults.ErrorFault{Probability: 1, Status: 502}
	f := newFixture(t, withRoute(instant(), "/v1/payment", failing))

	resp := f.do(t, "POST", "/v1/payment/authorize", "", "")
	if resp.status != 502 {
		t.Fatalf("payment = %d %s, want the route's 502", resp.status, resp.body)
	}
	if a := decodeJSON[vendorAnswer](t, resp.body); !strings.Contains(a.Error, "injected fault") || a.RequestID == "" {
		t.Errorf("error body = %s", resp.body)
	}
	if resp := f.do(t, "POST", "/v1/tax/calculate", "", ""); resp.status != 200 {
		t.Errorf("tax = %d, want 200 (global rule)", resp.status)
	}
	st := f.srv.Stats()
	if st.Errors != 1 || st.Routes["/v1/payment/authorize"].Errors != 1 || st.Routes["/v1/tax/calculate"].Errors != 0 {
		t.Errorf("stats = %+v, want one error, on payment", st)
	}
}

func TestLatencyIsInjected(t *testing.T) {
	cfg, err := faults.Decode([]byte(`{"global":{"latency":{"min":"20ms","max":"30ms"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, cfg)
	for range 3 {
		start := time.Now()
		resp := f.do(t, "GET", "/v1/fraud/check", "", "")
		took := time.Since(start)
		if resp.status != 200 {
			t.Fatalf("status %d", resp.status)
		}
		if took < 20*time.Millisecond {
			t.Errorf("call took %s, want at least the 20ms minimum", took)
		}
		if a := decodeJSON[vendorAnswer](t, resp.body); a.Fault.InjectedLatencyMS < 20 {
			t.Errorf("injected_latency_ms = %d, want >= 20", a.Fault.InjectedLatencyMS)
		}
	}
}

func TestHangTimeoutAnswers503(t *testing.T) {
	cfg, err := faults.Decode([]byte(`{"global":{"hang":{"probability":1,"timeout":"20ms"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, cfg)
	start := time.Now()
	resp := f.do(t, "GET", "/v1/shipping/calculate", "", "")
	if resp.status != 503 || time.Since(start) < 20*time.Millisecond {
		t.Errorf("hang with timeout = %d after %s, want 503 after >= 20ms", resp.status, time.Since(start))
	}
	if st := f.srv.Stats(); st.Hangs != 1 || st.Cancelled != 0 {
		t.Errorf("stats = %+v, want one hang, none cancelled", st)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCallerTimeoutFreesTheHandler(t *testing.T) {
	forever, err := faults.Decode([]byte(`{"global":{"hang":{"probability":1,"timeout":"0"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	// POST with a body is how the workers call. Go's server notices a
	// client that went away only once the request body has been read, so
	// this case proves the handler reads it before waiting.
	calls := map[string]func(*http.Client, string) (*http.Response, error){
		"GET": func(c *http.Client, url string) (*http.Response, error) { return c.Get(url) },
		"POST with a body": func(c *http.Client, url string) (*http.Response, error) {
			return c.Post(url, "application/json", strings.NewReader(`{"job_id":"checkout-1"}`))
		},
	}
	for name, cfg := range map[string]faults.Config{
		"outage preset":       preset(t, faults.Outage),
		"hang without a time": forever,
	} {
		for how, call := range calls {
			t.Run(name+"/"+how, func(t *testing.T) {
				f := newFixture(t, cfg)
				client := &http.Client{Timeout: 50 * time.Millisecond}
				defer client.CloseIdleConnections()

				start := time.Now()
				_, err := call(client, f.http.URL+"/v1/payment/authorize")
				took := time.Since(start)
				if err == nil {
					t.Fatal("call against an outage answered, want the client's timeout")
				}
				var netErr interface{ Timeout() bool }
				if !errors.As(err, &netErr) || !netErr.Timeout() {
					t.Fatalf("err = %v, want a timeout", err)
				}
				if took > 3*time.Second {
					t.Errorf("client returned after %s, want about 50ms", took)
				}
				// The handler must notice and return: in-flight drops to zero
				// long before the outage's own 10s timeout.
				waitFor(t, "the handler to exit", func() bool { return f.srv.Stats().InFlight == 0 })
				if st := f.srv.Stats(); st.Cancelled != 1 || st.Hangs != 1 {
					t.Errorf("stats = %+v, want one hang, cancelled", st)
				}
			})
		}
	}
}

func TestVendorCallBodyIsBounded(t *testing.T) {
	f := newFixture(t, preset(t, faults.Healthy))
	resp, err := f.http.Client().Post(f.http.URL+"/v1/tax/calculate", "application/json",
		strings.NewReader(strings.Repeat("x", 65<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d for a 65 KiB body, want 413", resp.StatusCode)
	}
}

func TestStopEndsInjectedWaits(t *testing.T) {
	f := newFixture(t, preset(t, faults.Outage))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := f.http.Client().Get(f.http.URL + "/v1/tax/calculate")
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	waitFor(t, "the call to be in flight", func() bool { return f.srv.Stats().InFlight == 1 })
	if err := f.srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.status != 503 {
			t.Errorf("hung call after Stop = %d, %v; want 503", r.status, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not end the hung call")
	}
	if resp := f.do(t, "GET", "/healthz", "", ""); resp.status != 503 {
		t.Errorf("/healthz while stopping = %d, want 503", resp.status)
	}
}

func TestStopAnswersCallsWithoutDelay503(t *testing.T) {
	f := newFixture(t, instant())
	if resp := f.do(t, "GET", "/v1/tax/calculate", "", ""); resp.status != 200 {
		t.Fatalf("before Stop: %d, want 200", resp.status)
	}
	if err := f.srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "POST"} {
		resp := f.do(t, method, "/v1/payment/authorize", "application/json", "{}")
		if resp.status != 503 || !strings.Contains(string(resp.body), "shutting down") {
			t.Errorf("%s with no injected delay after Stop = %d %s; want 503 saying it is shutting down", method, resp.status, resp.body)
		}
	}
}

func TestStatsEndpoint(t *testing.T) {
	f := newFixture(t, instant())
	if resp := f.do(t, "GET", "/healthz", "", ""); resp.status != 200 {
		t.Errorf("/healthz = %d", resp.status)
	}
	for i := range maxRoutes + 6 {
		f.do(t, "GET", "/v1/item/"+strconv.Itoa(i), "", "")
	}
	resp := f.do(t, "GET", "/stats", "", "")
	st := decodeJSON[Stats](t, resp.body)
	if st.Requests != maxRoutes+6 || st.InFlight != 0 || st.Preset != faults.Custom {
		t.Errorf("stats = %+v", st)
	}
	if len(st.Routes) != maxRoutes+1 || st.Routes[otherRoute].Requests != 6 {
		t.Errorf("routes: %d entries, other=%+v; want %d and 6 under %q", len(st.Routes), st.Routes[otherRoute], maxRoutes+1, otherRoute)
	}
	if !strings.Contains(string(resp.body), `"tracing": {`) {
		t.Errorf("/stats lacks tracing counters: %s", resp.body)
	}
}

func TestPage(t *testing.T) {
	f := newFixture(t, instant())
	for path, want := range map[string]string{
		"/":                 "preset-healthy",
		"/static/app.js":    "/admin/faults/presets/",
		"/static/style.css": ".presets",
	} {
		resp := f.do(t, "GET", path, "", "")
		if resp.status != 200 || !strings.Contains(string(resp.body), want) {
			t.Errorf("GET %s = %d, want 200 containing %q", path, resp.status, want)
		}
	}
	for _, path := range []string{"/static/", "/index.html/x", "/nope"} {
		if resp := f.do(t, "GET", path, "", ""); resp.status != 404 {
			t.Errorf("GET %s = %d, want 404", path, resp.status)
		}
	}
}
