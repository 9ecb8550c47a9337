package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/metrics"
)

// The parts of each service's /stats the console shows. Unknown fields
// are ignored, so the services can grow their documents freely.

// ProducerStats is the producer's GET /stats.
type ProducerStats struct {
	Submitted map[string]uint64 `json:"submitted"`
	Rejected  map[string]uint64 `json:"rejected"`
	Failed    map[string]uint64 `json:"failed"`
	Load      LoadView          `json:"load"`
	LastBurst *struct {
		Batch   string  `json:"batch"`
		Summary string  `json:"summary"`
		MS      float64 `json:"duration_ms"`
	} `json:"last_burst"`
}

// LoadView is the producer's /admin/load.
type LoadView struct {
	Scenario      string             `json:"scenario"`
	Rate          float64            `json:"rate"`
	Mix           map[string]float64 `json:"mix"`
	CheckoutEvery string             `json:"checkout_every"`
}

// WorkersStats is the workers' GET /stats.
type WorkersStats struct {
	Queue struct {
		Depth         int  `json:"depth"`
		Capacity      int  `json:"capacity"`
		PriorityLanes bool `json:"priority_lanes"`
	} `json:"queue"`
	Results struct {
		Len         int    `json:"len"`
		Cap         int    `json:"cap"`
		OverflowLen int    `json:"overflow_len"`
		Mode        string `json:"mode"`
		BlockedNow  int    `json:"blocked_now"`
	} `json:"results"`
	Counters struct {
		Submitted    uint64 `json:"submitted"`
		Rejected     uint64 `json:"rejected"`
		Completed    uint64 `json:"completed"`
		Failed       uint64 `json:"failed"`
		Delivered    uint64 `json:"delivered"`
		BlockedSends uint64 `json:"blocked_sends"`
	} `json:"counters"`
	Config WorkersConfig `json:"config"`
}

// WorkersConfig is the workers' /admin/config.
type WorkersConfig struct {
	Workers       int    `json:"workers"`
	QueueSize     int    `json:"queue_size"`
	ResultsBuffer int    `json:"results_buffer"`
	ResultSend    string `json:"result_send"`
	PriorityLanes string `json:"priority_lanes"`
	VendorTimeout string `json:"vendor_timeout"`
	Forwarders    int    `json:"forwarders"`
}

// ConsumerStats is the consumer's GET /stats.
type ConsumerStats struct {
	Handled  uint64 `json:"handled"`
	InFlight int    `json:"in_flight"`
	Waiting  int    `json:"waiting"`
	Config   struct {
		ProcessDelay string `json:"process_delay"`
		Concurrency  int    `json:"concurrency"`
	} `json:"config"`
}

// VendorStats is vendor-mock's GET /stats.
type VendorStats struct {
	Requests uint64 `json:"requests"`
	Degraded uint64 `json:"degraded"`
	Errors   uint64 `json:"errors"`
	InFlight int    `json:"in_flight"`
	Preset   string `json:"preset"`
}

// Process is what a service's /metrics says about its process: what a
// dashboard shows.
type Process struct {
	CPUSeconds float64 // process_cpu_seconds_total
	RSSBytes   float64 // process_resident_memory_bytes
	Goroutines float64
	// The workers' pool gauges (zero elsewhere).
	PoolWorkers, PoolBusy, PoolBlocked float64
}

// Service names, as the console's controls and the page name them.
const (
	Producer   = "producer"
	Workers    = "workers"
	VendorMock = "vendor-mock"
	Consumer   = "consumer"
)

// ServiceNames in pipeline order.
var ServiceNames = []string{Producer, Workers, VendorMock, Consumer}

// maxStatsBytes bounds one /stats or /metrics answer.
const maxStatsBytes = 4 << 20

// getJSON GETs url and decodes its JSON into v.
func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	body, err := get(ctx, hc, url)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: not the JSON expected: %w", url, err)
	}
	return nil
}

func get(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", strings.TrimSuffix(url, "/"), rootCause(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if len(body) > maxStatsBytes {
		return nil, fmt.Errorf("%s: answer larger than %d MiB", url, maxStatsBytes>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return body, nil
}

// rootCause is the innermost error: "connection refused" rather than the
// whole dial chain.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// scrapeProcess reads a service's /metrics.
func scrapeProcess(ctx context.Context, hc *http.Client, base string) (Process, error) {
	body, err := get(ctx, hc, base+metrics.Path)
	if err != nil {
		return Process{}, err
	}
	f, err := metrics.Parse(bytes.NewReader(body))
	if err != nil {
		return Process{}, fmt.Errorf("%s%s: %w", base, metrics.Path, err)
	}
	var p Process
	p.CPUSeconds, _ = f.Value("process_cpu_seconds_total")
	p.RSSBytes, _ = f.Value("process_resident_memory_bytes")
	p.Goroutines, _ = f.Value("go_goroutines")
	p.PoolWorkers, _ = f.Value("pool_workers")
	p.PoolBusy, _ = f.Value("pool_workers_busy")
	p.PoolBlocked, _ = f.Value("pool_workers_blocked")
	return p, nil
}

// sample is one poll of every service.
type sample struct {
	at       time.Time
	producer *ProducerStats
	workers  *WorkersStats
	consumer *ConsumerStats
	vendor   *VendorStats
	process  map[string]Process
	errs     map[string]error
	scraped  bool // process was scraped at this poll, not carried over
}
