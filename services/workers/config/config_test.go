package config

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// With nothing set, the configuration is the incident's.
func TestDefaultsShowTheBug(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		GRPCAddr: ":9090", HTTPAddr: ":8081", VendorURL: "http://localhost:8082", ConsumerAddr: "localhost:9091",
		Live: Live{
			Workers:          4,
			QueueSize:        40, // = WORKERS*10
			SubmitWait:       time.Second,
			ResultsBuffer:    4, // = WORKERS: the bottleneck
			ResultSend:       SendBlocking,
			PriorityLanes:    false,
			VendorTimeout:    0,
			Forwarders:       1, // one serial path to the consumer
			CacheLatency:     envconfig.Range{Min: time.Millisecond, Max: 5 * time.Millisecond},
			DBAcquireLatency: envconfig.Range{Min: 2 * time.Millisecond, Max: 7 * time.Millisecond},
			DBQueryLatency:   envconfig.Range{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		},
		Common: envconfig.Common{LogLevel: "info", LogFormat: "text", ShutdownTimeout: 10 * time.Second},
	}
	if c != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Live.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFixesFromEnv(t *testing.T) {
	c, err := Load(env(map[string]string{
		"WORKERS": "8", "RESULTS_BUFFER": "800", "RESULT_SEND": "nonblocking", "PRIORITY_LANES": "on",
		"VENDOR_TIMEOUT": "300ms", "QUEUE_SIZE": "5", "CACHE_LATENCY": "2ms",
		"FORWARDERS": "4",
	}))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Live
	if l.Workers != 8 || l.QueueSize != 5 || l.ResultsBuffer != 800 || l.ResultSend != SendNonblocking || !l.PriorityLanes ||
		l.VendorTimeout != 300*time.Millisecond || l.Forwarders != 4 || l.CacheLatency != (envconfig.Range{Min: 2 * time.Millisecond, Max: 2 * time.Millisecond}) {
		t.Fatalf("%+v", c)
	}
	// RESULTS_BUFFER=0 and QUEUE_SIZE=0 follow WORKERS.
	c, _ = Load(env(map[string]string{"WORKERS": "6"}))
	if c.Live.ResultsBuffer != 6 || c.Live.QueueSize != 60 {
		t.Fatalf("derived sizes for 6 workers: buffer %d, queue %d", c.Live.ResultsBuffer, c.Live.QueueSize)
	}
}

func TestEveryBadValueIsNamed(t *testing.T) {
	bad := map[string]string{
		"GRPC_ADDR": "9090", "HTTP_ADDR": "nope", "VENDOR_URL": "ftp://x", "CONSUMER_ADDR": "localhost",
		"WORKERS": "0", "QUEUE_SIZE": "-1", "SUBMIT_WAIT": "forever", "RESULTS_BUFFER": "100001",
		"RESULT_SEND": "async", "PRIORITY_LANES": "maybe", "VENDOR_TIMEOUT": "-1s", "FORWARDERS": "65",
		"CACHE_LATENCY": "5ms-1ms", "DB_ACQUIRE_LATENCY": "x", "DB_QUERY_LATENCY": "1ms-2h",
		"LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "SHUTDOWN_TIMEOUT": "1ns",
	}
	_, err := Load(env(bad))
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	// One bad value at a time: only that one is named.
	_, err = Load(env(map[string]string{"VENDOR_URL": "localhost:8082"}))
	if err == nil || !strings.Contains(err.Error(), "VENDOR_URL") || strings.Contains(err.Error(), "WORKERS") {
		t.Errorf("VENDOR_URL without scheme: %v", err)
	}
}

func TestEnvNamesMatchTheREADME(t *testing.T) {
	want := []string{
		"CACHE_LATENCY", "CONSUMER_ADDR", "DB_ACQUIRE_LATENCY", "DB_QUERY_LATENCY", "FORWARDERS", "GRPC_ADDR", "HTTP_ADDR",
		"LOG_FORMAT", "LOG_LEVEL", "PPROF_ADDR", "PRIORITY_LANES", "QUEUE_SIZE", "RESULTS_BUFFER", "RESULT_SEND",
		"SHUTDOWN_TIMEOUT", "SUBMIT_WAIT", "VENDOR_TIMEOUT", "VENDOR_URL", "WORKERS",
	}
	if got := EnvNames(); !slices.Equal(got, want) {
		t.Fatalf("EnvNames() = %v\nwant %v", got, want)
	}
}

func TestLiveValidateNamesTheField(t *testing.T) {
	c, _ := Load(env(nil))
	for field, change := range map[string]func(*Live){
		"workers":            func(l *Live) { l.Workers = MaxWorkers + 1 },
		"queue_size":         func(l *Live) { l.QueueSize = 0 },
		"results_buffer":     func(l *Live) { l.ResultsBuffer = 0 },
		"result_send":        func(l *Live) { l.ResultSend = "x" },
		"submit_wait":        func(l *Live) { l.SubmitWait = -1 },
		"forwarders":         func(l *Live) { l.Forwarders = 0 },
		"vendor_timeout":     func(l *Live) { l.VendorTimeout = time.Hour },
		"cache_latency":      func(l *Live) { l.CacheLatency.Min = time.Second },
		"db_acquire_latency": func(l *Live) { l.DBAcquireLatency.Min = -1 },
		"db_query_latency":   func(l *Live) { l.DBQueryLatency.Max = 2 * time.Hour },
	} {
		l := c.Live
		change(&l)
		if err := l.Validate(); err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: Validate() = %v", field, err)
		}
	}
}

// The zeros that derive from WORKERS are resolved against the worker count
// in force, once; numbers are left alone.
func TestResolveDerived(t *testing.T) {
	l := Live{Workers: 7, QueueSize: 0, ResultsBuffer: 0}
	l.ResolveDerived()
	if l.QueueSize != 70 || l.ResultsBuffer != 7 {
		t.Fatalf("resolved for 7 workers: queue %d, buffer %d; want 70, 7", l.QueueSize, l.ResultsBuffer)
	}
	l.Workers = 2
	l.ResolveDerived()
	if l.QueueSize != 70 || l.ResultsBuffer != 7 {
		t.Fatalf("resolved sizes moved with a later worker count: queue %d, buffer %d", l.QueueSize, l.ResultsBuffer)
	}
}

// FORWARDERS is 1..64; 0 and non-numbers are named errors, not defaults.
func TestForwardersRange(t *testing.T) {
	for v, ok := range map[string]bool{"1": true, "64": true, "0": false, "65": false, "-1": false, "four": false} {
		c, err := Load(env(map[string]string{"FORWARDERS": v}))
		switch {
		case ok && (err != nil || strconv.Itoa(c.Live.Forwarders) != v):
			t.Errorf("FORWARDERS=%s: %d, %v", v, c.Live.Forwarders, err)
		case !ok && (err == nil || !strings.Contains(err.Error(), `FORWARDERS="`+v+`"`)):
			t.Errorf("FORWARDERS=%s: error %v; want one naming it", v, err)
		}
	}
}

// SHUTDOWN_TIMEOUT takes 100ms to 1h, both ends included (the README's range).
func TestShutdownTimeoutRange(t *testing.T) {
	for v, want := range map[string]time.Duration{"100ms": 100 * time.Millisecond, "1h": time.Hour, "30s": 30 * time.Second} {
		c, err := Load(env(map[string]string{"SHUTDOWN_TIMEOUT": v}))
		if err != nil || c.ShutdownTimeout != want {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: %v, %v; want %v", v, c.ShutdownTimeout, err, want)
		}
	}
	for _, v := range []string{"99ms", "1h0m0.001s", "0", "-1s"} {
		_, err := Load(env(map[string]string{"SHUTDOWN_TIMEOUT": v}))
		if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT="+strconv.Quote(v)) || !strings.Contains(err.Error(), "100ms to 1h0m0s") {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: %v; want an error naming it and the range", v, err)
		}
	}
}
