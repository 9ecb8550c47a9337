package measure

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
)

// Prometheus's standard process metrics, as every service's /metrics
// serves them.
const (
	metricCPU = "process_cpu_seconds_total"
	metricRSS = "process_resident_memory_bytes"
)

// ReadMetrics samples a process through its Prometheus /metrics page (text
// exposition format): CPU seconds and resident memory. A service without
// /metrics answers 404, which is an error here.
func ReadMetrics(ctx context.Context, c *http.Client, baseURL string) (ProcSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return ProcSample{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return ProcSample{}, fmt.Errorf("GET %s/metrics: %w", baseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ProcSample{}, fmt.Errorf("GET %s/metrics: %s", baseURL, resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, maxStatsBytes))
}

// parseMetrics reads the two process metrics from the text format, with
// the parser every part of the project reads /metrics with.
func parseMetrics(r io.Reader) (ProcSample, error) {
	var s ProcSample
	f, err := metrics.Parse(r)
	if err != nil {
		return s, err
	}
	cpu, hasCPU := f.Value(metricCPU)
	rss, hasRSS := f.Value(metricRSS)
	if !hasCPU && !hasRSS {
		return s, fmt.Errorf("/metrics has neither %s nor %s", metricCPU, metricRSS)
	}
	for _, v := range []float64{cpu, rss} {
		if math.IsNaN(v) || v < 0 {
			return s, fmt.Errorf("/metrics: %v is not a CPU time or a size", v)
		}
	}
	if hasCPU {
		s.CPU, s.HasCPU = time.Duration(cpu*float64(time.Second)), true
	}
	if hasRSS {
		s.RSS = uint64(rss)
	}
	return s, nil
}
