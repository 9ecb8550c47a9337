// Package measure reads what the experiment reports: the services'
// counters from their /stats (differences over a window are exact counts),
// each process's CPU and memory (from /proc for processes the experiment
// started, from /metrics for a running stack), the machine's CPU, and a
// sample of traces from Jaeger for the fast jobs' latencies and the
// capacity model.
package measure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ProducerStats is the part of the producer's /stats the experiment reads.
type ProducerStats struct {
	Submitted map[string]uint64 `json:"submitted"`
	Rejected  map[string]uint64 `json:"rejected"`
	Failed    map[string]uint64 `json:"failed"`
	Bursts    struct {
		Running uint64 `json:"running"`
	} `json:"bursts"`
	Steady struct {
		Generated      uint64 `json:"generated"`
		InFlight       int    `json:"in_flight"`
		MaxInFlight    int    `json:"max_in_flight"`
		SkippedBacklog uint64 `json:"skipped_backlog"`
		SkippedBehind  uint64 `json:"skipped_behind"`
	} `json:"steady"`
	// Delivery is at-least-once delivery's part (trace contract v2
	// producers; zero before): jobs waiting for the consumer's
	// confirmation, and jobs not submitted because too many waited.
	Delivery struct {
		Outstanding int    `json:"outstanding"`
		RefusedFull uint64 `json:"refused_full"`
	} `json:"delivery"`
	Tracing TracingStats `json:"tracing"`
}

// Shed counts jobs the producer did not submit: its submissions in flight
// were all waiting on the pool (skipped_backlog), or too many jobs waited
// for the consumer's confirmation (refused_full). Trace contract v2
// producers trace each of them as an arrival the producer shed.
func (p ProducerStats) Shed() uint64 { return p.Steady.SkippedBacklog + p.Delivery.RefusedFull }

// WorkersStats is the part of the workers' /stats the experiment reads.
type WorkersStats struct {
	// Held counts the jobs the pool holds, from Submit to the consumer's
	// acknowledgement (v2 workers; zero before).
	Held  int `json:"held"`
	Queue struct {
		Depth int `json:"depth"`
	} `json:"queue"`
	Results struct {
		Len         int `json:"len"`
		OverflowLen int `json:"overflow_len"`
		// Cap and OverflowCap are per lane (two with priority lanes).
		Cap         int    `json:"cap"`
		OverflowCap int    `json:"overflow_cap"`
		Mode        string `json:"mode"`
	} `json:"results"`
	Counters struct {
		Submitted      uint64 `json:"submitted"`
		Rejected       uint64 `json:"rejected"`
		Completed      uint64 `json:"completed"`
		Delivered      uint64 `json:"delivered"`
		DeliveryFailed uint64 `json:"delivery_failed"`
		Abandoned      uint64 `json:"abandoned"`
		AbandonedJobs  uint64 `json:"abandoned_jobs"`
		BlockedSends   uint64 `json:"blocked_sends"`
		BlockedMSTotal int64  `json:"blocked_ms_total"`
	} `json:"counters"`
	Config struct {
		Workers       int    `json:"workers"`
		PriorityLanes string `json:"priority_lanes"`
	} `json:"config"`
	Tracing TracingStats `json:"tracing"`
}

// ConsumerStats is the part of the consumer's /stats the experiment reads.
type ConsumerStats struct {
	Handled uint64 `json:"handled"`
	ByType  map[string]struct {
		Handled uint64 `json:"handled"`
		Failed  uint64 `json:"failed"`
	} `json:"by_type"`
	InFlight int          `json:"in_flight"`
	Waiting  int          `json:"waiting"`
	Tracing  TracingStats `json:"tracing"`
}

// VendorStats is the part of the vendor mock's /stats the experiment reads.
type VendorStats struct {
	InFlight int64        `json:"in_flight"`
	Tracing  TracingStats `json:"tracing"`
}

// TracingStats are a service's span export counters.
type TracingStats struct {
	Dropped      uint64 `json:"dropped"`
	ExportFailed uint64 `json:"export_failed"`
	Malformed    uint64 `json:"malformed"`
}

// Lost counts spans that did not reach the collector.
func (t TracingStats) Lost() uint64 { return t.Dropped + t.ExportFailed + t.Malformed }

// Counters are every service's /stats at one moment.
type Counters struct {
	Producer ProducerStats
	Workers  WorkersStats
	Consumer ConsumerStats
	Vendor   VendorStats
}

// Offered counts the jobs the producer was asked for so far: those it
// submitted, had refused, failed to send, shed, or owed but fell behind on.
func (c Counters) Offered() uint64 {
	p := c.Producer
	return sum(p.Submitted) + sum(p.Rejected) + sum(p.Failed) + p.Shed() + p.Steady.SkippedBehind
}

// ResultsHeld is what the results channel holds (the non-blocking mode's
// overflow included), and how much it can hold before a worker's send
// blocks: every lane's slots, plus the overflow in non-blocking mode. room
// is 0 when the workers do not say (before contract v2).
func (c Counters) ResultsHeld() (held, room int) {
	r := c.Workers.Results
	lanes := 1
	if c.Workers.Config.PriorityLanes == "on" {
		lanes = 2
	}
	room = r.Cap * lanes
	if r.Mode == "nonblocking" {
		room += r.OverflowCap * lanes
	}
	return r.Len + r.OverflowLen, room
}

// FastHandled counts the fast jobs the consumer handled.
func (c Counters) FastHandled() uint64 {
	return c.Consumer.ByType["cache-read"].Handled + c.Consumer.ByType["database"].Handled
}

// FailedHandled counts results the consumer handled whose job failed.
func (c Counters) FailedHandled() uint64 {
	var n uint64
	for _, t := range c.Consumer.ByType {
		n += t.Failed
	}
	return n
}

// SpansLost counts spans lost on the way to the collector, all services.
func (c Counters) SpansLost() uint64 {
	return c.Producer.Tracing.Lost() + c.Workers.Tracing.Lost() + c.Consumer.Tracing.Lost() + c.Vendor.Tracing.Lost()
}

// Idle reports whether nothing is in flight anywhere: no load running, no
// job queued, running or waiting in the results channel, no result being
// delivered or handled. It says what is still busy otherwise.
func (c Counters) Idle() (bool, string) {
	w := c.Workers.Counters
	inPool := int64(w.Submitted) - int64(w.Completed) - int64(w.AbandonedJobs)
	inResults := int64(w.Completed) - int64(w.Delivered) - int64(w.DeliveryFailed) - int64(w.Abandoned)
	switch {
	case c.Producer.Steady.InFlight > 0 || c.Producer.Bursts.Running > 0:
		return false, fmt.Sprintf("the producer has %d submissions in flight and %d bursts running", c.Producer.Steady.InFlight, c.Producer.Bursts.Running)
	case c.Producer.Delivery.Outstanding > 0:
		return false, fmt.Sprintf("%d jobs wait for the consumer's confirmation", c.Producer.Delivery.Outstanding)
	case c.Workers.Held > 0:
		return false, fmt.Sprintf("the workers hold %d jobs (%d queued)", c.Workers.Held, c.Workers.Queue.Depth)
	case inPool > 0:
		return false, fmt.Sprintf("the workers hold %d jobs (%d queued)", inPool, c.Workers.Queue.Depth)
	case inResults > 0:
		return false, fmt.Sprintf("%d results wait for delivery", inResults)
	case c.Consumer.InFlight > 0 || c.Consumer.Waiting > 0:
		return false, fmt.Sprintf("the consumer handles %d results, %d waiting", c.Consumer.InFlight, c.Consumer.Waiting)
	}
	return true, ""
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// StatsURLs are the base URLs of the services whose /stats are read.
type StatsURLs struct {
	Producer, Workers, VendorMock, Consumer string
}

// StatsClient reads the services' /stats.
type StatsClient struct {
	URLs StatsURLs
	HTTP *http.Client
}

// maxStatsBytes bounds one /stats answer (they are a few KB).
const maxStatsBytes = 4 << 20

// Read fetches all four /stats.
func (s *StatsClient) Read(ctx context.Context) (Counters, error) {
	var c Counters
	for _, r := range []struct {
		url  string
		into any
	}{
		{s.URLs.Producer, &c.Producer},
		{s.URLs.Workers, &c.Workers},
		{s.URLs.VendorMock, &c.Vendor},
		{s.URLs.Consumer, &c.Consumer},
	} {
		if err := GetJSON(ctx, s.client(), r.url+"/stats", r.into); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (s *StatsClient) client() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// GetJSON GETs url and decodes its JSON answer into v.
func GetJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBytes))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, trim(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: not the JSON expected: %w", url, err)
	}
	return nil
}

func trim(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
