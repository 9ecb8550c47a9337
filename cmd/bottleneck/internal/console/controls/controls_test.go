package controls_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/controls"
)

func TestProxyForwardsAndRefuses(t *testing.T) {
	var got []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(body), "-1") {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"results_buffer: -1 is out of range 1..100000"}`)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()
	h := controls.Handler(controls.URLs{Producer: upstream.URL, Workers: upstream.URL, VendorMock: upstream.URL, Consumer: upstream.URL})

	do := func(path, body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("/api/control/config/workers", `{"results_buffer":400}`); rec.Code != 200 {
		t.Errorf("workers config: %d %s", rec.Code, rec.Body)
	}
	if rec := do("/api/control/config/workers", `{"results_buffer":-1}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), "out of range") {
		t.Errorf("the service's 400 must come back as it was: %d %s", rec.Code, rec.Body)
	}
	if rec := do("/api/control/preset/slow", `{}`); rec.Code != 200 {
		t.Errorf("preset: %d %s", rec.Code, rec.Body)
	}
	if rec := do("/api/control/load", `{"scenario":"steady"}`); rec.Code != 200 {
		t.Errorf("load: %d %s", rec.Code, rec.Body)
	}
	want := []string{
		`PUT /admin/config {"results_buffer":400}`,
		`PUT /admin/config {"results_buffer":-1}`,
		`POST /admin/faults/presets/slow `,
		`PUT /admin/load {"scenario":"steady"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upstream saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	n := len(got)
	for _, tc := range []struct {
		path, body string
		hdr        []string
		code       int
	}{
		{"/api/control/config/producer", `{}`, nil, 404},
		{"/api/control/preset/nope", `{}`, nil, 404},
		{"/api/control/preset/slow", `{}`, []string{"Origin", "http://evil.example"}, 403},
		{"/api/control/preset/slow", `{}`, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"/api/control/load", `scenario=steady`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"/api/control/load", `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413},
	} {
		if rec := do(tc.path, tc.body, tc.hdr...); rec.Code != tc.code || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s %v: %d %s, want %d with a JSON error", tc.path, tc.hdr, rec.Code, rec.Body, tc.code)
		}
	}
	if len(got) != n {
		t.Errorf("refused requests reached the services: %v", got[n:])
	}
}
