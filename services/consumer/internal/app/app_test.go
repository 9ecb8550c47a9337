package app

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
)

// Run serves until SIGTERM, then stops every unit it started, the meter
// provider and the ledger included, in order, before flushing spans.
func TestRunStopsEveryUnit(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := l.Addr().String()
	l.Close()
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{
			"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": httpAddr, "DATA_DIR": filepath.Join(t.TempDir(), "data"),
			"SHUTDOWN_TIMEOUT": "5s", "LOG_LEVEL": "debug",
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, cfg, logs) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer never answered: %v\n%s", err, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return; logs:\n%s", logs)
	}
	out := logs.String()
	last := -1
	for _, unit := range []string{"http", "grpc", "ledger", "metrics", "tracing"} {
		i := strings.Index(out, " unit="+unit+" took=")
		if i < 0 {
			t.Errorf("no line saying unit %s stopped:\n%s", unit, out)
			continue
		}
		if i < last {
			t.Errorf("unit %s stopped out of order:\n%s", unit, out)
		}
		last = i
	}
}
