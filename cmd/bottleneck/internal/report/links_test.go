package report

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// Trace links go to the console's trace view when Jaeger serves its
// placeholder and a console answers; to Jaeger otherwise.
func TestLinkBaseFollowsTheUIThatExists(t *testing.T) {
	page := func(body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s
	}
	placeholder := page(`<h1>🥋: This is not the Jaeger UI you are looking for!</h1>`)
	realUI := page(`<!doctype html><div id="jaeger-ui-root"></div>`)
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok","service":"console"}`)
	}))
	t.Cleanup(console.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	for _, tc := range []struct {
		name    string
		jaeger  string
		o       options
		wantURL string
	}{
		{"placeholder, console up", placeholder.URL, options{console: console.URL}, console.URL},
		{"placeholder, console down", placeholder.URL, options{console: down.URL}, ""},
		{"placeholder, console off", placeholder.URL, options{console: ""}, ""},
		{"real UI", realUI.URL, options{console: console.URL}, ""},
		{"--ui wins", placeholder.URL, options{ui: "http://ui.example", console: console.URL}, "http://ui.example"},
	} {
		c, err := jaegerapi.New(tc.jaeger)
		if err != nil {
			t.Fatal(err)
		}
		if got := linkBase(context.Background(), c, tc.o); got != tc.wantURL {
			t.Errorf("%s: links to %q, want %q", tc.name, got, tc.wantURL)
		}
	}
}
