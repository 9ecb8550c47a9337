package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsShowTheBug(t *testing.T) {
	c, err := Load(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ProcessDelay != 50*time.Millisecond || c.Concurrency != 1 {
		t.Errorf("bug knobs: got delay %v concurrency %d, want 50ms and 1 (the incident's slow serial consumer)", c.ProcessDelay, c.Concurrency)
	}
	want := Config{GRPCAddr: ":9091", HTTPAddr: ":8083", ProcessDelay: 50 * time.Millisecond, Concurrency: 1,
		DedupCapacity: 100000, DataDir: "data", Common: envconfig.Common{LogLevel: "info", LogFormat: "text", ShutdownTimeout: 10 * time.Second}}
	if c != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	c, err := Load(lookup(map[string]string{
		"GRPC_ADDR": "127.0.0.1:1", "HTTP_ADDR": "127.0.0.1:2", "PROCESS_DELAY": "0",
		"CONCURRENCY": "8", "DEDUP_CAPACITY": "10", "LOG_LEVEL": "debug", "LOG_FORMAT": "json",
		"SHUTDOWN_TIMEOUT": "3s", "DATA_DIR": "/var/lib/consumer",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{GRPCAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2", ProcessDelay: 0, Concurrency: 8,
		DedupCapacity: 10, DataDir: "/var/lib/consumer", Common: envconfig.Common{LogLevel: "debug", LogFormat: "json", ShutdownTimeout: 3 * time.Second}}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestBadValuesAreNamed(t *testing.T) {
	bad := map[string]string{
		"PROCESS_DELAY":    "fast",
		"CONCURRENCY":      "0",
		"DEDUP_CAPACITY":   "-1",
		"LOG_LEVEL":        "loud",
		"LOG_FORMAT":       "xml",
		"SHUTDOWN_TIMEOUT": "-1s",
	}
	_, err := Load(lookup(bad))
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if _, err := Load(lookup(map[string]string{"CONCURRENCY": "65"})); err == nil {
		t.Error("CONCURRENCY=65 accepted; the limit is 64")
	}
}

func TestShutdownTimeoutBounds(t *testing.T) {
	for v, want := range map[string]time.Duration{"100ms": 100 * time.Millisecond, "1h": time.Hour, "30s": 30 * time.Second} {
		c, err := Load(lookup(map[string]string{"SHUTDOWN_TIMEOUT": v}))
		if err != nil || c.ShutdownTimeout != want {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: %v, %v; want %v", v, c.ShutdownTimeout, err, want)
		}
	}
	for _, v := range []string{"0", "99ms", "1h0m1s", "2h"} {
		_, err := Load(lookup(map[string]string{"SHUTDOWN_TIMEOUT": v}))
		if err == nil || !strings.Contains(err.Error(), `SHUTDOWN_TIMEOUT="`+v+`"`) || !strings.Contains(err.Error(), "from 100ms to 1h") {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: err %v, want one naming the variable", v, err)
		}
	}
}

func TestEnvNames(t *testing.T) {
	want := []string{"CONCURRENCY", "DATA_DIR", "DEDUP_CAPACITY", "GRPC_ADDR", "HTTP_ADDR", "LOG_FORMAT", "LOG_LEVEL", "PPROF_ADDR", "PROCESS_DELAY", "SHUTDOWN_TIMEOUT"}
	if got := EnvNames(); !slices.Equal(got, want) {
		t.Errorf("EnvNames() = %v, want %v", got, want)
	}
}
