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
