package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder notes the order in which units stop.
type recorder struct {
	mu    sync.Mutex
	order []string
}

func (r *recorder) unit(name string, stopErr error) Unit {
	done := make(chan struct{})
	return Unit{
		Name: name,
		Run:  func() error { <-done; return nil },
		Stop: func(context.Context) error {
			r.mu.Lock()
			r.order = append(r.order, name)
			r.mu.Unlock()
			close(done)
			return stopErr
		},
	}
}

func TestRunStopsUnitsInReverseOrderOnCancel(t *testing.T) {
	var rec recorder
	flushed := false
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, quiet, time.Second,
		Unit{Name: "tracing", Stop: func(context.Context) error { flushed = true; rec.order = append(rec.order, "tracing"); return nil }},
		rec.unit("pool", nil),
		rec.unit("grpc", nil),
	)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := strings.Join(rec.order, ","); got != "grpc,pool,tracing" || !flushed {
		t.Errorf("stop order %s, want grpc,pool,tracing (spans flushed last)", got)
	}
}

func TestRunStopsEverythingWhenAUnitFails(t *testing.T) {
	var rec recorder
	boom := errors.New("boom")
	err := Run(context.Background(), quiet, time.Second,
		rec.unit("http", nil),
		Unit{Name: "grpc", Run: func() error { return boom }},
	)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "grpc: boom") {
		t.Errorf("Run = %v, want the failing unit's error, named", err)
	}
	if len(rec.order) != 1 {
		t.Errorf("stopped %v, want the http unit stopped", rec.order)
	}
}

func TestRunReportsStopErrorsAndDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stuck := Unit{
		Name: "stuck",
		Run:  func() error { select {} },
		Stop: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
	}
	err := Run(ctx, quiet, 20*time.Millisecond, stuck)
	if err == nil || !strings.Contains(err.Error(), "stop stuck") || !strings.Contains(err.Error(), "shutdown deadline") {
		t.Errorf("Run = %v, want the stop error and the deadline named", err)
	}
}

func TestBudgetOutlivesTheSharedDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var flushErr error
	hog := Unit{Name: "drain", Stop: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	flush := Unit{Name: "tracing", Budget: time.Second, Stop: func(ctx context.Context) error {
		flushErr = ctx.Err()
		return nil
	}}
	_ = Run(ctx, quiet, 10*time.Millisecond, flush, hog)
	if flushErr != nil {
		t.Errorf("flush got a spent context (%v) after the drain used the shared deadline", flushErr)
	}
}

func TestListenNamesTheVariableWhenThePortIsTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(l.Addr().String(), "HTTP_ADDR")
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Errorf("Listen on a taken port = %v", err)
	}
	if _, err := Listen("256.0.0.1:1", "GRPC_ADDR"); err == nil || !strings.Contains(err.Error(), "GRPC_ADDR") {
		t.Errorf("Listen on a bad address = %v", err)
	}
}

func TestHTTPAndGRPCUnitsServeAndStop(t *testing.T) {
	hl, err := Listen("127.0.0.1:0", "HTTP_ADDR")
	if err != nil {
		t.Fatal(err)
	}
	gl, err := Listen("127.0.0.1:0", "GRPC_ADDR")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, quiet, 5*time.Second, HTTP("http", srv, hl), GRPC("grpc", grpc.NewServer(), gl))
	}()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + hl.Addr().String())
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTP unit never served: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := net.Dial("tcp", gl.Addr().String()); err == nil {
		t.Error("gRPC listener still accepts after shutdown")
	}
}

// A request that runs until its context ends (an admin's checkout burst
// with a long timeout) is told to stop when the HTTP server shuts down: it
// answers with what it has, and the units stopped after HTTP still get
// what is left of the deadline, instead of a deadline the request spent.
func TestHTTPStopEndsLongRequestsSoTheDrainKeepsItsTime(t *testing.T) {
	hl, err := Listen("127.0.0.1:0", "HTTP_ADDR")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			io.WriteString(w, "stopped")
		case <-time.After(time.Minute):
			io.WriteString(w, "done")
		}
	})}
	var drainErr error
	drained := false
	drain := Unit{Name: "drain", Stop: func(ctx context.Context) error {
		drained, drainErr = true, ctx.Err()
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, quiet, 5*time.Second, drain, HTTP("http", srv, hl)) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + hl.Addr().String())
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-started
	began := time.Now()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("shutting down took %s: the long request held it", took)
	}
	if got := <-answer; got != "stopped" {
		t.Errorf("the long request answered %q, want it told to stop", got)
	}
	if !drained || drainErr != nil {
		t.Errorf("the unit stopped after HTTP: stopped %v, context error %v; want stopped with time left", drained, drainErr)
	}
}

func TestPprofServesProfilesOnlyWhenAsked(t *testing.T) {
	if off := Pprof(""); off.Run != nil || off.Stop != nil {
		t.Fatalf("Pprof(\"\") = %+v; want a unit that does nothing", off)
	}
	if err := Pprof("256.0.0.1:1").Run(); err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
		t.Errorf("bad address: %v", err)
	}
	on := Pprof("127.0.0.1:0")
	if on.Run == nil || on.Stop == nil {
		t.Fatalf("Pprof(127.0.0.1:0) = %+v", on)
	}
	_ = on.Stop(context.Background())

	srv := httptest.NewServer(PprofHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("goroutine profile: %s %.200s", resp.Status, body)
	}
}
