// Package collect is the console's one background collector: each tick it
// polls the services' /stats and /metrics and brings its window of traces
// up to date from Jaeger, then publishes an immutable Snapshot. However
// many pages are open, the services and Jaeger see one poller.
package collect

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// Config says what to poll.
type Config struct {
	// Base URLs of the services' HTTP APIs, by service name.
	URLs map[string]string
	// Jaeger is the query API the traces come from.
	Jaeger *jaegerapi.Client
	// Interval between polls (default 1s).
	Interval time.Duration
	Window   WindowOptions
	Log      *slog.Logger
	// HTTP is the client for the services (default: 800ms timeout).
	HTTP *http.Client
}

// Snapshot is one poll's view of the whole system. It is never modified
// after it is published.
type Snapshot struct {
	Seq      uint64
	At       time.Time
	Producer *ProducerStats
	Workers  *WorkersStats
	Consumer *ConsumerStats
	Vendor   *VendorStats
	Process  map[string]Process
	// CPU is each service's CPU use over the last DashboardPeriod (or as
	// much of it as was polled), in % of one core: what a dashboard graph
	// averages.
	CPU map[string]float64
	// PeakBusy is the most workers pool_workers_busy showed at one poll
	// in the same period, of PeakOf.
	PeakBusy, PeakOf float64
	Rates            Rates
	// Errors says what could not be read, by source (a service's name or
	// "jaeger"), as the failure worded it.
	Errors map[string]string

	Traces        []*jaegerapi.Trace
	TracesVersion uint64
	Window        WindowStats
	// JaegerPlaceholder is true when Jaeger serves the placeholder page
	// instead of its UI (the build from the Go module); JaegerChecked says
	// whether that is known yet.
	JaegerPlaceholder, JaegerChecked bool
}

// Rates are per second over Over (the last few seconds of polls).
type Rates struct {
	Over      time.Duration `json:"over"`
	Arrivals  float64       `json:"arrivals"`  // Submits accepted or refused by the workers
	Rejected  float64       `json:"rejected"`  // Submits refused (queue full)
	Completed float64       `json:"completed"` // jobs the workers finished
	Delivered float64       `json:"delivered"` // results the consumer accepted from the workers
	Handled   float64       `json:"handled"`   // results the consumer handled
	Vendor    float64       `json:"vendor"`    // vendor calls
}

// Collector polls on its own goroutine; read its latest Snapshot at any
// time.
type Collector struct {
	cfg    Config
	window *TraceWindow

	mu       sync.RWMutex
	snap     *Snapshot
	history  []sample
	seq      uint64
	uiCheck  time.Time
	uiHolder bool
	uiKnown  bool
	subs     []func(*Snapshot)
	// polls counts polls; /metrics is scraped every metricsEvery-th.
	polls    int
	lastProc map[string]Process
	// queuedAt is the last poll that saw jobs wait in the workers' queue
	// (see queueHolds).
	queuedAt time.Time
}

// metricsEvery: the dashboard numbers are 30 s averages and peaks, so
// /metrics is scraped every other poll, /stats every poll.
const metricsEvery = 2

// rateSpan is how far back the pipeline's rates look; DashboardPeriod how
// far the dashboard numbers do.
const (
	rateSpan        = 5 * time.Second
	DashboardPeriod = 30 * time.Second
)

// New builds a collector; Run starts it.
func New(cfg Config) *Collector {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 800 * time.Millisecond}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Collector{cfg: cfg}
	if cfg.Jaeger != nil {
		c.window = NewTraceWindow(cfg.Jaeger, cfg.Window)
	}
	c.snap = &Snapshot{At: time.Now(), Errors: map[string]string{}}
	return c
}

// OnSnapshot registers f to be called, on the collector's goroutine, with
// every new snapshot (the console renders its page there, once per poll).
// Call it before Run.
func (c *Collector) OnSnapshot(f func(*Snapshot)) { c.subs = append(c.subs, f) }

// Latest returns the latest snapshot.
func (c *Collector) Latest() *Snapshot {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.snap
}

// Window is the trace window (the trace view reads from it first).
func (c *Collector) Window() *TraceWindow { return c.window }

// Run polls until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.Poll(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll runs one poll now and publishes its snapshot.
func (c *Collector) Poll(ctx context.Context, now time.Time) *Snapshot {
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.Interval, time.Second))
	defer cancel()

	c.polls++
	s := c.pollServices(ctx, now, c.polls%metricsEvery == 1 || metricsEvery == 1)
	snap := &Snapshot{
		At: now, Producer: s.producer, Workers: s.workers, Consumer: s.consumer, Vendor: s.vendor,
		Process: s.process, CPU: map[string]float64{}, Errors: map[string]string{},
	}
	for k, err := range s.errs {
		snap.Errors[k] = err.Error()
	}
	if c.window != nil {
		c.window.SetEnabled(StreamHandedOff, resultsMayWait(s.workers))
		c.window.SetEnabled(StreamArrived, c.queueHolds(now, s.workers))
		if _, err := c.window.Poll(ctx, now); err != nil {
			snap.Errors["jaeger"] = err.Error()
		}
		snap.Traces, snap.TracesVersion = c.window.Traces()
		snap.Window, _ = c.window.Stats()
		c.checkUI(ctx, now)
	}

	c.mu.Lock()
	c.seq++
	snap.Seq = c.seq
	snap.JaegerPlaceholder, snap.JaegerChecked = c.uiHolder, c.uiKnown
	c.history = append(c.history, s)
	for len(c.history) > 2 && now.Sub(c.history[1].at) >= DashboardPeriod {
		c.history = c.history[1:]
	}
	recent := c.history
	for len(recent) > 2 && now.Sub(recent[1].at) >= rateSpan {
		recent = recent[1:]
	}
	snap.Rates, _ = rates(recent)
	var scraped []sample
	for _, h := range c.history {
		if h.scraped {
			scraped = append(scraped, h)
		}
	}
	_, snap.CPU = rates(scraped)
	for _, h := range c.history {
		if p, ok := h.process[Workers]; ok && p.PoolBusy >= snap.PeakBusy {
			snap.PeakBusy, snap.PeakOf = p.PoolBusy, p.PoolWorkers
		}
	}
	c.snap = snap
	c.mu.Unlock()

	for _, f := range c.subs {
		f(snap)
	}
	return snap
}

func (c *Collector) pollServices(ctx context.Context, now time.Time, scrape bool) sample {
	s := sample{at: now, process: map[string]Process{}, errs: map[string]error{}, scraped: true}
	var mu sync.Mutex
	var wg sync.WaitGroup
	fail := func(name string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := s.errs[name]; !seen {
			s.errs[name] = err
		}
	}
	for _, name := range ServiceNames {
		base, ok := c.cfg.URLs[name]
		if !ok || base == "" {
			continue
		}
		var v any
		switch name {
		case Producer:
			s.producer = &ProducerStats{}
			v = s.producer
		case Workers:
			s.workers = &WorkersStats{}
			v = s.workers
		case Consumer:
			s.consumer = &ConsumerStats{}
			v = s.consumer
		case VendorMock:
			s.vendor = &VendorStats{}
			v = s.vendor
		}
		wg.Go(func() {
			if err := getJSON(ctx, c.cfg.HTTP, base+"/stats", v); err != nil {
				fail(name, err)
			}
		})
		if !scrape {
			continue
		}
		wg.Go(func() {
			p, err := scrapeProcess(ctx, c.cfg.HTTP, base)
			if err != nil {
				fail(name, err)
				return
			}
			mu.Lock()
			s.process[name] = p
			mu.Unlock()
		})
	}
	wg.Wait()
	// Between scrapes the last scrape stands (rates skip samples without it).
	if scrape {
		c.lastProc = s.process
	} else {
		s.scraped = false
		for name, p := range c.lastProc {
			if _, failed := s.errs[name]; !failed {
				s.process[name] = p
			}
		}
	}
	// A service that did not answer has no stats this time.
	for name := range s.errs {
		switch name {
		case Producer:
			s.producer = nil
		case Workers:
			s.workers = nil
		case Consumer:
			s.consumer = nil
		case VendorMock:
			s.vendor = nil
		}
	}
	return s
}

// resultsMayWait says whether results can sit in the results channel for
// long: a buffer of more than two slots per worker, or non-blocking sends
// (and, not knowing, assume so).
func resultsMayWait(w *WorkersStats) bool {
	if w == nil || w.Config.Workers == 0 {
		return true
	}
	return w.Config.ResultsBuffer > 2*w.Config.Workers || w.Config.ResultSend != "blocking"
}

// queueHolds says whether accepted jobs may wait long enough in the
// workers' queue for no span of theirs past the Submit to reach Jaeger
// before the analysis reads their window: the queue held more than two
// jobs per worker at a poll in the last arrivedHold (and, not knowing,
// assume so). Only then is StreamArrived worth its cost: it reads every
// accepted job a second time, which at a steady 11 jobs/s costs the
// console about 0.7% of a core, a third of its budget, for jobs the
// "handled" stream reads whole a second later anyway. Without it, the
// jobs missing from a window are the few at a worker or in a short
// queue. It is switched on within a poll of the queue filling, and its
// search then starts from its lag before now, so the jobs that filled
// the queue are read.
func (c *Collector) queueHolds(now time.Time, w *WorkersStats) bool {
	if w == nil || w.Config.Workers == 0 {
		return true
	}
	if w.Queue.Depth > 2*w.Config.Workers {
		c.queuedAt = now
	}
	return !c.queuedAt.IsZero() && now.Sub(c.queuedAt) < arrivedHold
}

// arrivedHold is how long StreamArrived stays on after the queue last
// held many jobs: the verdict's default window.
const arrivedHold = 30 * time.Second

// checkUI looks at what Jaeger serves at / every 30 s: the module-built
// Jaeger serves a placeholder page instead of its UI.
func (c *Collector) checkUI(ctx context.Context, now time.Time) {
	c.mu.RLock()
	due := now.Sub(c.uiCheck) >= 30*time.Second
	c.mu.RUnlock()
	if !due {
		return
	}
	body, err := get(ctx, c.cfg.HTTP, strings.TrimRight(c.cfg.Jaeger.URL(), "/")+"/")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uiCheck = now
	if err != nil {
		return
	}
	c.uiKnown = true
	c.uiHolder = IsPlaceholder(string(body))
}

// IsPlaceholder reports whether a Jaeger home page is the placeholder the
// build without UI assets serves.
func IsPlaceholder(page string) bool { return jaegerapi.IsPlaceholderPage(page) }

// rates compares the newest sample with the oldest one kept.
func rates(h []sample) (Rates, map[string]float64) {
	cpu := map[string]float64{}
	if len(h) < 2 {
		return Rates{}, cpu
	}
	a, b := h[0], h[len(h)-1]
	dt := b.at.Sub(a.at).Seconds()
	if dt <= 0 {
		return Rates{}, cpu
	}
	per := func(x, y uint64) float64 {
		if y < x { // a restart reset the counter
			return 0
		}
		return float64(y-x) / dt
	}
	r := Rates{Over: b.at.Sub(a.at)}
	if a.workers != nil && b.workers != nil {
		ac, bc := a.workers.Counters, b.workers.Counters
		r.Arrivals = per(ac.Submitted+ac.Rejected, bc.Submitted+bc.Rejected)
		r.Rejected = per(ac.Rejected, bc.Rejected)
		r.Completed = per(ac.Completed, bc.Completed)
		r.Delivered = per(ac.Delivered, bc.Delivered)
	}
	if a.consumer != nil && b.consumer != nil {
		r.Handled = per(a.consumer.Handled, b.consumer.Handled)
	}
	if a.vendor != nil && b.vendor != nil {
		r.Vendor = per(a.vendor.Requests, b.vendor.Requests)
	}
	for name, pb := range b.process {
		if pa, ok := a.process[name]; ok && pb.CPUSeconds >= pa.CPUSeconds {
			cpu[name] = 100 * (pb.CPUSeconds - pa.CPUSeconds) / dt
		}
	}
	return r, cpu
}

// MarshalJSON keeps the snapshot's JSON (served at /api/snapshot for
// scripts and tests) free of the raw traces.
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	type view struct {
		Seq       uint64             `json:"seq"`
		At        time.Time          `json:"at"`
		Producer  *ProducerStats     `json:"producer,omitempty"`
		Workers   *WorkersStats      `json:"workers,omitempty"`
		Consumer  *ConsumerStats     `json:"consumer,omitempty"`
		Vendor    *VendorStats       `json:"vendor,omitempty"`
		CPU       map[string]float64 `json:"cpu_percent"`
		PeakBusy  float64            `json:"workers_busy_peak"`
		PeakOf    float64            `json:"workers_busy_peak_of"`
		Rates     Rates              `json:"rates"`
		Errors    map[string]string  `json:"errors"`
		Window    WindowStats        `json:"window"`
		Traces    int                `json:"traces"`
		Holder    bool               `json:"jaeger_placeholder"`
		HolderChk bool               `json:"jaeger_checked"`
	}
	return json.Marshal(view{s.Seq, s.At, s.Producer, s.Workers, s.Consumer, s.Vendor, s.CPU, s.PeakBusy, s.PeakOf, s.Rates, s.Errors,
		s.Window, len(s.Traces), s.JaegerPlaceholder, s.JaegerChecked})
}
