package vendor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCall(t *testing.T) {
	var gotBody, gotPath, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotPath, gotMethod = string(b), r.URL.Path, r.Method
		switch r.URL.Path {
		case "/v1/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/v1/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/v1/hang":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	c := New(srv.URL+"/", nil)

	status, err := c.Call(context.Background(), "/v1/payment/authorize", "job-1", 0)
	if err != nil || status != 200 || gotMethod != "POST" || gotPath != "/v1/payment/authorize" || gotBody != `{"job_id":"job-1"}` {
		t.Fatalf("Call = %d, %v; vendor saw %s %s %s", status, err, gotMethod, gotPath, gotBody)
	}

	status, err = c.Call(context.Background(), "/v1/down", "job-2", 0)
	var se *StatusError
	if status != 503 || !errors.As(err, &se) || err.Error() != "vendor answered 503" {
		t.Fatalf("503: %d, %v", status, err)
	}
	if status, err = c.Call(context.Background(), "/v1/moved", "job-3", 0); status != 302 || err == nil {
		t.Fatalf("redirect: %d, %v; want the 302 reported, not followed", status, err)
	}

	start := time.Now()
	status, err = c.Call(context.Background(), "/v1/hang", "job-4", 30*time.Millisecond)
	var te *TimeoutError
	if status != 0 || !errors.As(err, &te) || err.Error() != "vendor timeout after 30ms" {
		t.Fatalf("hung vendor: %d, %v", status, err)
	}
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Errorf("timed out after %s, before VENDOR_TIMEOUT", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = c.Call(ctx, "/v1/hang", "job-5", time.Second); err == nil || errors.As(err, &te) || !strings.Contains(err.Error(), "abandoned") {
		t.Fatalf("cancelled call: %v; want abandoned, not a timeout", err)
	}
}
