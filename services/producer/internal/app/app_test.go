package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/scenario"
)

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// SIGTERM while an admin's checkout burst waits for its jobs (here with a
// 10-minute timeout): the burst answers "stopped" at once, and the drain
// that follows still has the shutdown deadline to wait for the consumer's
// confirmations, so no job is abandoned. Before, the HTTP server's
// graceful stop waited for the burst until the deadline, and the drain got
// an expired context: every outstanding job was abandoned.
func TestSIGTERMDuringAnAdminBurstKeepsTheDrain(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	pool, sink := &fakes.Pool{}, &fakes.Sink{} // the consumer confirms nothing until told
	backend := fakes.Serve(t, pool, sink)
	httpAddr := freeAddr(t)
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{
			"HTTP_ADDR": httpAddr, "WORKERS_ADDR": backend, "CONSUMER_ADDR": backend,
			"SCENARIO": "idle", "SHUTDOWN_TIMEOUT": "5s", "LOG_LEVEL": "debug",
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
	base := "http://" + httpAddr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the producer never answered: %v\n%s", err, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	answered := make(chan scenario.BurstReport, 1)
	go func() {
		resp, err := http.Post(base+"/admin/checkout", "application/json", strings.NewReader(`{"timeout":"10m"}`))
		if err != nil {
			t.Errorf("POST /admin/checkout: %v", err)
			close(answered)
			return
		}
		defer resp.Body.Close()
		var rep scenario.BurstReport
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			t.Errorf("POST /admin/checkout answer: %v", err)
		}
		answered <- rep
	}()
	for len(pool.Jobs()) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the pool got %d of the burst's jobs", len(pool.Jobs()))
		}
		time.Sleep(time.Millisecond)
	}

	cancel() // SIGTERM
	var rep scenario.BurstReport
	select {
	case rep = <-answered:
	case <-time.After(3 * time.Second):
		t.Fatalf("the admin burst did not answer within 3s of SIGTERM; logs:\n%s", logs)
	}
	if !strings.Contains(rep.Summary, "stopped after") || rep.Completed != 0 {
		t.Errorf("the burst answered %q, %d completed; want it stopped, nothing completed yet", rep.Summary, rep.Completed)
	}
	// The consumer handles the jobs only now, during the drain.
	for _, j := range pool.Jobs() {
		sink.Complete(j.GetId())
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return; logs:\n%s", logs)
	}
	out := logs.String()
	if strings.Contains(out, "abandoned") {
		t.Errorf("jobs abandoned although the consumer confirmed them during the drain:\n%s", out)
	}
	for _, unit := range []string{"http", "delivery", "metrics", "tracing"} {
		if !strings.Contains(out, " unit="+unit+" took=") {
			t.Errorf("no line saying unit %s stopped:\n%s", unit, out)
		}
	}
}
