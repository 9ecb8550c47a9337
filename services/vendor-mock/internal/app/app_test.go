package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
)

// TestServeStartsAndShutsDown runs the whole service on a loopback port:
// it starts with FAULT_PRESET, serves, and on cancellation (SIGTERM) ends
// even a hung vendor call at once and returns.
func TestServeStartsAndShutsDown(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"FAULT_PRESET": "outage", "FAULT_SEED": "7", "SHUTDOWN_TIMEOUT": "5s", "LOG_LEVEL": "debug"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &logtest.Buffer{}
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, cfg, l, logs) }()

	resp, err := http.Get(base + "/admin/faults")
	if err != nil {
		t.Fatal(err)
	}
	var faults struct{ Preset string }
	err = json.NewDecoder(resp.Body).Decode(&faults)
	resp.Body.Close()
	if err != nil || faults.Preset != "outage" {
		t.Fatalf("GET /admin/faults preset = %q (%v), want outage from FAULT_PRESET", faults.Preset, err)
	}

	hung := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/v1/payment/authorize")
		if err != nil {
			hung <- 0
			return
		}
		resp.Body.Close()
		hung <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(pollStats(t, base), `"in_flight": 1`) {
		if time.Now().After(deadline) {
			t.Fatal("the hung call never showed as in flight")
		}
		time.Sleep(time.Millisecond)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after a clean shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
	if status := <-hung; status != http.StatusServiceUnavailable {
		t.Errorf("hung call at shutdown answered %d, want 503", status)
	}
	for _, want := range []string{"vendor-mock listening", "preset=outage", "seed=7", "shutting down",
		" unit=http took=", " unit=metrics took=", " unit=tracing took="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func pollStats(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

func TestRunReportsATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg, _ := config.Load(func(string) (string, bool) { return "", false })
	cfg.HTTPAddr = l.Addr().String()
	err = Run(context.Background(), cfg, &logtest.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Errorf("Run on a taken port = %v, want an error naming HTTP_ADDR", err)
	}
}
