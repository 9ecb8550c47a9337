// Package config reads the workers service's settings from the environment.
// It is not internal: other modules' tests import it to check that the
// README, compose file and code name the same variables.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
)

// Send modes of the results channel.
const (
	// SendBlocking is the incident's send: a worker waits while the
	// results channel is full.
	SendBlocking = "blocking"
	// SendNonblocking hands a result that does not fit into an overflow
	// buffer that the forwarder drains, so the worker moves on.
	SendNonblocking = "nonblocking"
)

// The bug knobs: these defaults reproduce the incident, and each of the
// first four is one of the four fixes when changed. Keep them together so
// nobody "fixes" the demo by accident.
const (
	// DefaultResultsBuffer 0 means one results slot per worker: with a slow,
	// serial consumer the channel fills and workers block sending results.
	// Fix: WORKERS*100.
	DefaultResultsBuffer = 0
	// DefaultResultSend blocks the worker on a full channel. Fix: nonblocking.
	DefaultResultSend = SendBlocking
	// DefaultPriorityLanes off lets fast jobs queue behind vendor calls.
	// Fix: on.
	DefaultPriorityLanes = false
	// DefaultVendorTimeout 0 lets a degraded vendor hold a worker for as
	// long as it likes. Fix: e.g. 300ms.
	DefaultVendorTimeout = time.Duration(0)
	// DefaultForwarders 1 is the incident's one slow serial consumer path:
	// a single goroutine delivers one result per round trip, so results
	// leave at most at 1/RTT whatever the consumer could take. Raising it
	// lifts that ceiling (results may then reach the consumer out of
	// order); it is not one of the four fixes the demo teaches.
	DefaultForwarders = 1
)

// Bounds of the settings, shared by Load and the admin API so both reject
// the same values.
const (
	MaxWorkers       = 1024
	MaxQueueSize     = 1_000_000
	MinResultsBuffer = 1 // after resolving 0 to WORKERS
	MaxResultsBuffer = 100_000
	MaxSubmitWait    = time.Minute
	MaxVendorTimeout = 10 * time.Minute
	MaxLatency       = time.Hour // what envconfig.DurationRange accepts
	MinForwarders    = 1
	MaxForwarders    = 64
)

// Config is everything the service reads at start.
type Config struct {
	GRPCAddr     string
	HTTPAddr     string
	VendorURL    string
	ConsumerAddr string

	// Live holds what /admin/config may change at run time, the pool's
	// size included.
	Live Live

	// LOG_LEVEL, LOG_FORMAT, PPROF_ADDR, SHUTDOWN_TIMEOUT.
	envconfig.Common
}

// Live is the part of the configuration that can change while the service
// runs: the pool's size (workers and job queue), the four fixes, the submit
// wait, the forwarders and the simulated latencies.
//
// The two settings whose zero derives from WORKERS (QUEUE_SIZE=0 is
// WORKERS*10, RESULTS_BUFFER=0 is WORKERS) are resolved once, when they are
// set; a later change of Workers moves neither, so resizing the pool never
// resizes a buffer behind the operator's back.
type Live struct {
	Workers          int // worker goroutines
	QueueSize        int // job queue slots (per lane); resolved: 0 becomes Workers*10
	SubmitWait       time.Duration
	ResultsBuffer    int    // resolved: RESULTS_BUFFER=0 becomes Workers
	ResultSend       string // SendBlocking or SendNonblocking
	PriorityLanes    bool
	VendorTimeout    time.Duration // 0 = none
	Forwarders       int           // goroutines delivering results concurrently
	CacheLatency     envconfig.Range
	DBAcquireLatency envconfig.Range
	DBQueryLatency   envconfig.Range
}

// Validate checks a Live value against the bounds above; each error names
// the admin field.
func (l Live) Validate() error {
	var errs []error
	if l.Workers < 1 || l.Workers > MaxWorkers {
		errs = append(errs, fmt.Errorf("workers: %d is out of range 1..%d", l.Workers, MaxWorkers))
	}
	if l.QueueSize < 1 || l.QueueSize > MaxQueueSize {
		errs = append(errs, fmt.Errorf("queue_size: %d is out of range 1..%d", l.QueueSize, MaxQueueSize))
	}
	if l.ResultsBuffer < MinResultsBuffer || l.ResultsBuffer > MaxResultsBuffer {
		errs = append(errs, fmt.Errorf("results_buffer: %d is out of range %d..%d", l.ResultsBuffer, MinResultsBuffer, MaxResultsBuffer))
	}
	if l.ResultSend != SendBlocking && l.ResultSend != SendNonblocking {
		errs = append(errs, fmt.Errorf("result_send: %q: want %s or %s", l.ResultSend, SendBlocking, SendNonblocking))
	}
	if l.Forwarders < MinForwarders || l.Forwarders > MaxForwarders {
		errs = append(errs, fmt.Errorf("forwarders: %d is out of range %d..%d", l.Forwarders, MinForwarders, MaxForwarders))
	}
	if l.SubmitWait < 0 || l.SubmitWait > MaxSubmitWait {
		errs = append(errs, fmt.Errorf("submit_wait: %s is out of range 0..%s", l.SubmitWait, MaxSubmitWait))
	}
	if l.VendorTimeout < 0 || l.VendorTimeout > MaxVendorTimeout {
		errs = append(errs, fmt.Errorf("vendor_timeout: %s is out of range 0..%s", l.VendorTimeout, MaxVendorTimeout))
	}
	for _, r := range []struct {
		name string
		r    envconfig.Range
	}{{"cache_latency", l.CacheLatency}, {"db_acquire_latency", l.DBAcquireLatency}, {"db_query_latency", l.DBQueryLatency}} {
		if r.r.Min < 0 || r.r.Max < r.r.Min || r.r.Max > MaxLatency {
			errs = append(errs, fmt.Errorf("%s: %s: want 0 <= min <= max <= %s", r.name, r.r, MaxLatency))
		}
	}
	return errors.Join(errs...)
}

// ResolveDerived turns the zeros that mean "derive from WORKERS" into
// numbers: QueueSize 0 becomes Workers*10, ResultsBuffer 0 becomes
// Workers. Load does it at start; the admin API does it for the values a
// request sets, against the worker count that request leaves in force.
func (l *Live) ResolveDerived() {
	if l.QueueSize == 0 {
		l.QueueSize = min(l.Workers*10, MaxQueueSize)
	}
	if l.ResultsBuffer == 0 {
		l.ResultsBuffer = min(l.Workers, MaxResultsBuffer)
	}
}

// Load reads every variable of the README's workers table, plus the common
// LOG_LEVEL, LOG_FORMAT and SHUTDOWN_TIMEOUT (OTEL_* are read by
// pkg/tracing). lookup nil means os.LookupEnv. All bad values are reported
// together, each naming its variable.
func Load(lookup func(string) (string, bool)) (Config, error) {
	c, _, err := read(lookup)
	if err != nil {
		return Config{}, fmt.Errorf("workers config: %w", err)
	}
	return c, nil
}

// EnvNames lists the variables Load reads.
func EnvNames() []string {
	_, names, _ := read(func(string) (string, bool) { return "", false })
	return names
}

func read(lookup func(string) (string, bool)) (Config, []string, error) {
	r := envconfig.New(lookup)
	c := Config{
		GRPCAddr:     r.String("GRPC_ADDR", ":9090"),
		HTTPAddr:     r.String("HTTP_ADDR", ":8081"),
		VendorURL:    r.String("VENDOR_URL", "http://localhost:8082"),
		ConsumerAddr: r.String("CONSUMER_ADDR", "localhost:9091"),
		Live: Live{
			Workers:          r.Int("WORKERS", 4, 1, MaxWorkers),
			QueueSize:        r.Int("QUEUE_SIZE", 0, 0, MaxQueueSize),
			SubmitWait:       r.Duration("SUBMIT_WAIT", time.Second, 0, MaxSubmitWait),
			ResultsBuffer:    r.Int("RESULTS_BUFFER", DefaultResultsBuffer, 0, MaxResultsBuffer),
			ResultSend:       r.Enum("RESULT_SEND", DefaultResultSend, SendBlocking, SendNonblocking),
			PriorityLanes:    r.Enum("PRIORITY_LANES", onOff(DefaultPriorityLanes), "off", "on") == "on",
			VendorTimeout:    r.Duration("VENDOR_TIMEOUT", DefaultVendorTimeout, 0, MaxVendorTimeout),
			Forwarders:       r.Int("FORWARDERS", DefaultForwarders, MinForwarders, MaxForwarders),
			CacheLatency:     latency(r, "CACHE_LATENCY", time.Millisecond, 5*time.Millisecond),
			DBAcquireLatency: latency(r, "DB_ACQUIRE_LATENCY", 2*time.Millisecond, 7*time.Millisecond),
			DBQueryLatency:   latency(r, "DB_QUERY_LATENCY", 10*time.Millisecond, 50*time.Millisecond),
		},
		Common: r.Common(),
	}
	c.Live.ResolveDerived()
	errs := []error{r.Err()}
	for _, a := range []struct{ name, value string }{{"GRPC_ADDR", c.GRPCAddr}, {"HTTP_ADDR", c.HTTPAddr}, {"CONSUMER_ADDR", c.ConsumerAddr}} {
		if _, _, err := net.SplitHostPort(a.value); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want host:port", a.name, a.value))
		}
	}
	if err := checkBaseURL(c.VendorURL); err != nil {
		errs = append(errs, fmt.Errorf("VENDOR_URL=%q: %v", c.VendorURL, err))
	}
	return c, r.Names(), errors.Join(errs...)
}

func latency(r *envconfig.Reader, name string, lo, hi time.Duration) envconfig.Range {
	return r.DurationRange(name, envconfig.Range{Min: lo, Max: hi})
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// base URL like http://localhost:8082")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want a base URL without query or fragment")
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
