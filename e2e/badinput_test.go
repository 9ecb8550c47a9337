package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// adminEndpoint is one admin API that changes something, with a GET that
// shows its state (to check a refused request changed nothing) and fields
// of its own for the "wrong type" and "out of range" cases.
type adminEndpoint struct {
	service, method, path string
	// state is the GET path whose answer must not change.
	state string
	// wrongType and outOfRange are bodies naming a real field badly.
	wrongType, outOfRange string
	// otherMethod is a method the path does not take.
	otherMethod string
}

var adminEndpoints = []adminEndpoint{
	{stack.Producer, http.MethodPut, "/admin/load", "/admin/load", `{"rate": "fast"}`, `{"rate": -1}`, http.MethodPost},
	{stack.Producer, http.MethodPost, "/admin/checkout", "/stats#bursts", `{"timeout": 30}`, `{"timeout": "11m"}`, http.MethodGet},
	{stack.Workers, http.MethodPut, "/admin/config", "/admin/config", `{"results_buffer": "big"}`, `{"results_buffer": -4}`, http.MethodPost},
	{stack.VendorMock, http.MethodPut, "/admin/faults", "/admin/faults", `{"global": {"degraded": {"probability": "half"}}}`, `{"global": {"degraded": {"probability": 2}}}`, http.MethodPost},
	{stack.VendorMock, http.MethodPatch, "/admin/faults", "/admin/faults", `{"global": {"error": {"status": "500"}}}`, `{"global": {"error": {"probability": 1, "status": 200}}}`, http.MethodPost},
	{stack.VendorMock, http.MethodPost, "/admin/faults/presets/healthy", "/admin/faults", "", "", http.MethodPut},
	{stack.Consumer, http.MethodPut, "/admin/config", "/admin/config", `{"concurrency": "2"}`, `{"concurrency": 65}`, http.MethodPost},
}

// Every admin endpoint of every service refuses bad input with the right
// 4xx, says why in the one JSON error shape, and changes nothing.
func TestAdminEndpointsRefuseBadInputAndChangeNothing(t *testing.T) {
	huge := `{"x": "` + strings.Repeat("x", 10<<20) + `"}`
	total := 0
	for _, ep := range adminEndpoints {
		type badCase struct {
			name, method, body, ctype string
			status                    int
		}
		cases := []badCase{
			{"wrong method", ep.otherMethod, "", "", http.StatusMethodNotAllowed},
			{"huge body", ep.method, huge, "application/json", http.StatusRequestEntityTooLarge},
			{"wrong content type", ep.method, `{}`, "text/plain", http.StatusUnsupportedMediaType},
		}
		if ep.wrongType != "" { // the preset endpoint takes no body; its name is its input
			cases = append(cases,
				badCase{"malformed JSON", ep.method, `{"a": `, "application/json", http.StatusBadRequest},
				badCase{"not JSON", ep.method, `results_buffer=400`, "application/json", http.StatusBadRequest},
				badCase{"unknown field", ep.method, `{"no_such_field": 1}`, "application/json", http.StatusBadRequest},
				badCase{"null", ep.method, `null`, "application/json", http.StatusBadRequest},
				badCase{"array", ep.method, `[]`, "application/json", http.StatusBadRequest},
				badCase{"two values", ep.method, `{} {}`, "application/json", http.StatusBadRequest},
				badCase{"wrong type", ep.method, ep.wrongType, "application/json", http.StatusBadRequest},
				badCase{"out of range", ep.method, ep.outOfRange, "application/json", http.StatusBadRequest},
			)
		}
		for _, c := range cases {
			t.Run(ep.service+" "+ep.method+" "+ep.path+" "+c.name, func(t *testing.T) {
				before := state(t, ep)
				status, header, body := raw(t, c.method, sys.URL(ep.service)+ep.path, c.body, c.ctype)
				total++
				if status != c.status {
					t.Errorf("%s: %d %.300s; want %d", c.method, status, body, c.status)
				}
				var e struct {
					Error string `json:"error"`
				}
				dec := json.NewDecoder(strings.NewReader(body))
				dec.DisallowUnknownFields()
				if header.Get("Content-Type") != "application/json" || dec.Decode(&e) != nil || len(e.Error) < 10 {
					t.Errorf("answer is not the JSON error shape {\"error\": \"...\"}: Content-Type %q, body %.300s", header.Get("Content-Type"), body)
				}
				if c.status == http.StatusMethodNotAllowed && !strings.Contains(header.Get("Allow"), ep.method) {
					t.Errorf("405 with Allow %q; want it to list %s", header.Get("Allow"), ep.method)
				}
				if after := state(t, ep); after != before {
					t.Errorf("a refused request changed %s %s:\nbefore %s\nafter  %s", ep.service, ep.state, before, after)
				}
			})
		}
	}
	// An unknown preset and unknown paths, once per service.
	for _, c := range []struct{ service, method, path string }{
		{stack.VendorMock, http.MethodPost, "/admin/faults/presets/on-fire"},
		{stack.Producer, http.MethodGet, "/admin/nothing"},
		{stack.Workers, http.MethodGet, "/admin/nothing"},
		{stack.VendorMock, http.MethodGet, "/admin/nothing"},
		{stack.Consumer, http.MethodGet, "/admin/nothing"},
	} {
		status, header, body := raw(t, c.method, sys.URL(c.service)+c.path, "", "")
		total++
		if status != http.StatusBadRequest && status != http.StatusNotFound || header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s %s: %d %q %.200s; want 400/404 in the JSON error shape", c.service, c.method, c.path, status, header.Get("Content-Type"), body)
		}
	}
	t.Logf("%d bad requests, each refused with its status and a JSON error, none changing anything", total)
}

// state is what an endpoint's GET shows now; for checkout, the producer's
// count of bursts run.
func state(t *testing.T, ep adminEndpoint) string {
	t.Helper()
	if path, ok := strings.CutSuffix(ep.state, "#bursts"); ok {
		var s struct {
			Bursts json.RawMessage `json:"bursts"`
		}
		if code, body := call(t, http.MethodGet, sys.URL(ep.service)+path, nil, &s); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		return string(s.Bursts)
	}
	code, body := call(t, http.MethodGet, sys.URL(ep.service)+ep.state, nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s %s: %d %s", ep.service, ep.state, code, body)
	}
	return body
}

// raw sends a request as it is given; a server that answers a huge body
// early and closes the connection still gets its answer read.
func raw(t *testing.T, method, url, body, ctype string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(data)
}
