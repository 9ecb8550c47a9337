package server

import (
	"io"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
)

// BenchmarkVendorCall measures the mock's own cost per call (no injected
// latency) over loopback HTTP, with tracing off and on.
func BenchmarkVendorCall(b *testing.B) {
	for name, opts := range map[string]tracing.Options{
		"tracing=off": {Disabled: true},
		"tracing=on":  {Exporter: tracetest.NewNoopExporter(), ServiceName: ServiceName},
	} {
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, instant(), opts)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(f.http.URL+"/v1/payment/authorize", "application/json", nil)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
