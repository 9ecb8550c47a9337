package tracing

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestCollectorDownNeverBlocks points the real OTLP exporter at a closed
// port and at a listener that accepts but never answers: 1,000 operations
// must still finish promptly, and shutdown must not leak goroutines.
func TestCollectorDownNeverBlocks(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	// A black hole: accepts TCP, never speaks HTTP/2.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	for name, addr := range map[string]string{"unreachable": closedAddr, "hanging": hole.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
			t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200")
			p, err := Setup(context.Background(), Options{ServiceName: "down", BatchTimeout: 5 * time.Millisecond, QueueSize: 64})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range 1000 {
					ctx, parent := p.StartSpan(context.Background(), "op")
					_, child := p.StartSpan(ctx, "child")
					child.SetTag("k", "v")
					child.Finish()
					parent.Finish()
				}
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second): // generous: normally milliseconds
				t.Fatal("1,000 operations did not finish while the collector is down")
			}
			st := p.Stats()
			if st.Bridged+st.Dropped < 2000 {
				t.Errorf("2000 spans finished but only %d bridged + %d dropped", st.Bridged, st.Dropped)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = p.Shutdown(ctx) // may report the failed export; must return
			st = p.Stats()
			if st.Exported != 0 {
				t.Errorf("exported %d spans to a dead collector", st.Exported)
			}
			if st.Dropped+st.ExportFailed == 0 {
				t.Errorf("no span counted as dropped or failed: %+v", st)
			}
		})
	}
}
