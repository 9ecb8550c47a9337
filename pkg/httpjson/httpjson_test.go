package httpjson

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type cfg struct {
	Workers int    `json:"workers"`
	Mode    string `json:"mode"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, body, ctype string
		status            int
		msg               string
	}{
		{"ok", `{"workers":4,"mode":"x"}`, "application/json", 0, ""},
		{"empty", ``, "", 400, "empty body"},
		{"malformed", `{"workers":`, "", 400, "malformed JSON"},
		{"syntax", `{"workers" 4}`, "", 400, "malformed JSON at byte"},
		{"unknown field", `{"wrokers":4}`, "", 400, `unknown field "wrokers"`},
		{"wrong type", `{"workers":"four"}`, "", 400, `field "workers"`},
		{"two objects", `{"workers":1}{"workers":2}`, "", 400, "single JSON object"},
		{"too big", `{"mode":"` + strings.Repeat("a", MaxBody) + `"}`, "", 413, "larger than"},
		{"content type", `{}`, "text/plain", 415, "Content-Type"},
		{"curl -d default type", `{"workers":4}`, "application/x-www-form-urlencoded", 0, ""},
		{"merge patch type", `{"workers":4}`, "application/merge-patch+json", 0, ""},
		{"json with charset", `{"workers":4}`, "application/json; charset=utf-8", 0, ""},
		{"null", `null`, "application/json", 400, "body: want a JSON object, got null"},
		{"null with spaces", " null \n", "", 400, "send {} to change nothing"},
		{"array", `[{"workers":4}]`, "", 400, "body: want a JSON object, got array"},
		{"string", `"workers"`, "", 400, "got string"},
		{"number", `4`, "", 400, "got number"},
		{"boolean", `true`, "", 400, "got boolean"},
		{"null field", `{"workers":4,"mode":null}`, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			w := httptest.NewRecorder()
			var c cfg
			err := Decode(w, r, &c, 0)
			if tt.status == 0 {
				if err != nil || c.Workers != 4 {
					t.Fatalf("err=%v cfg=%+v", err, c)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			if e.Status != tt.status || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %d %q, want %d containing %q", e.Status, e.Message, tt.status, tt.msg)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, BadRequest("field %q: bad", "x"))
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"error": "field \"x\": bad"`) {
		t.Errorf("got %d %s", w.Code, w.Body.String())
	}
}

func TestRoutesAnswerUnknownPathsAndMethodsInJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { Write(w, 200, map[string]int{"n": 1}) })
	mux.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		Write(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	h := Routes(mux)
	for _, c := range []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/stats", 200, `"n": 1`, ""},
		{"HEAD", "/stats", 200, "", ""},
		{"PUT", "/items/42", 200, `"id": "42"`, ""},
		{"POST", "/stats", 405, `"error": "method POST not allowed on /stats (allowed: GET, HEAD)"`, "GET, HEAD"},
		{"DELETE", "/items/42", 405, `"error": "method DELETE not allowed on /items/42 (allowed: PUT)"`, "PUT"},
		{"GET", "/nope", 404, `"error": "no such path: /nope"`, ""},
		{"GET", "/", 404, `"error": "no such path: /"`, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %q Allow %q; want %d with %q, Allow %q", c.method, c.path, w.Code, w.Body, w.Header().Get("Allow"), c.status, c.body, c.allow)
		}
		if w.Code >= 400 && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, w.Header().Get("Content-Type"))
		}
	}
}

func TestDecodeOptional(t *testing.T) {
	for _, tt := range []struct {
		name, body, ctype string
		present           bool
		status            int
	}{
		{"no body", "", "", false, 0},
		{"whitespace, any type", " \n", "text/plain", false, 0},
		{"object", `{"workers":4}`, "application/json", true, 0},
		{"null", `null`, "application/json", true, 400},
		{"malformed", `{"workers":`, "application/json", true, 400},
		{"unknown field", `{"count":4}`, "application/json", true, 400},
		{"text", `workers=4`, "text/plain", true, 415},
		{"too big", strings.Repeat(" ", 100) + `{}`, "application/json", false, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			var c cfg
			present, err := DecodeOptional(httptest.NewRecorder(), r, &c, 64)
			var status int
			if e, ok := err.(*Error); ok {
				status = e.Status
			} else if err != nil {
				t.Fatalf("err %T %v", err, err)
			}
			if present != tt.present || status != tt.status {
				t.Errorf("present %v status %d (%v); want %v %d", present, status, err, tt.present, tt.status)
			}
			if tt.status == 0 && tt.present && c.Workers != 4 {
				t.Errorf("decoded %+v", c)
			}
		})
	}
}
