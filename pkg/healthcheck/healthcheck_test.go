package healthcheck

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		":8081":          "http://127.0.0.1:8081/healthz",
		"0.0.0.0:8082":   "http://127.0.0.1:8082/healthz",
		"[::]:8083":      "http://127.0.0.1:8083/healthz",
		"127.0.0.2:9000": "http://127.0.0.2:9000/healthz",
	} {
		got, err := URL(in)
		if err != nil || got != want {
			t.Errorf("URL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := URL("8081"); err == nil {
		t.Error("URL(8081) accepted an address without a port separator")
	}
}

func TestProbe(t *testing.T) {
	var failing error
	srv := httptest.NewServer(Handler("svc", func() error { return failing }))
	defer srv.Close()
	if err := Probe(context.Background(), srv.URL, time.Second); err != nil {
		t.Fatalf("healthy probe: %v", err)
	}
	failing = errors.New("draining")
	if err := Probe(context.Background(), srv.URL, time.Second); err == nil {
		t.Fatal("probe passed on 503")
	}
}
