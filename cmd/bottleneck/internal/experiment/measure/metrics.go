package measure

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// parseMetrics reads the two process metrics from the text format: lines
// "name value" or "name{labels} value", comments starting with #.
func parseMetrics(r io.Reader) (ProcSample, error) {
	var s ProcSample
	var hasRSS bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		if name != metricCPU && name != metricRSS {
			continue
		}
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			rest = line[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) || v < 0 {
			return s, fmt.Errorf("/metrics: %s %q is not a number", name, f[0])
		}
		switch name {
		case metricCPU:
			s.CPU, s.HasCPU = time.Duration(v*float64(time.Second)), true
		case metricRSS:
			s.RSS, hasRSS = uint64(v), true
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !s.HasCPU && !hasRSS {
		return s, fmt.Errorf("/metrics has neither %s nor %s", metricCPU, metricRSS)
	}
	return s, nil
}
