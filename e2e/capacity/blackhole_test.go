//go:build linux

package capacity

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// blackhole is an OTLP/gRPC endpoint that accepts every export and keeps
// nothing. With it the services pay everything tracing costs them — spans,
// the bridge, batching, protobuf encoding, the gRPC export — but no Jaeger
// competes for the two cores, so comparing it with real Jaeger separates
// the services' share of tracing's cost from the collector's.
//
// It speaks just enough gRPC over cleartext HTTP/2 that the OTLP exporter
// sees success: status 200, content type application/grpc, one empty
// message (an empty ExportTraceServiceResponse is zero bytes) and
// grpc-status 0 in the trailers. It reads and discards each request
// without decoding it, so its own CPU stays close to zero.
type blackhole struct {
	srv      *http.Server
	endpoint string
	exports  atomic.Uint64
	bytes    atomic.Uint64
}

// emptyGRPCMessage is the gRPC length-prefixed framing of a zero-length
// message: not compressed, length 0.
var emptyGRPCMessage = []byte{0, 0, 0, 0, 0}

func startBlackhole(tb testing.TB) *blackhole {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("black-hole OTLP endpoint: %v", err)
	}
	bh := &blackhole{endpoint: "http://" + l.Addr().String()}
	bh.srv = &http.Server{Handler: http.HandlerFunc(bh.export), Protocols: new(http.Protocols)}
	// The OTLP gRPC exporter with an http:// endpoint speaks HTTP/2 with
	// prior knowledge, no TLS.
	bh.srv.Protocols.SetUnencryptedHTTP2(true)
	served := make(chan error, 1)
	go func() { served <- bh.srv.Serve(l) }()
	tb.Cleanup(func() {
		bh.srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("black-hole OTLP endpoint: %v", err)
		}
	})
	return bh
}

func (bh *blackhole) export(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/opentelemetry.proto.collector.trace.v1.TraceService/Export" {
		// Anything else is a misdirected client; say so in gRPC terms.
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "12") // UNIMPLEMENTED
		w.Header().Set("Grpc-Message", "black hole: only TraceService/Export")
		w.WriteHeader(http.StatusOK)
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	bh.bytes.Add(uint64(n))
	bh.exports.Add(1)
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(emptyGRPCMessage)
	w.Header().Set("Grpc-Status", "0")
}
