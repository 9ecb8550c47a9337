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

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTPAddr:    ":8082",
		FaultPreset: "degraded",
		FaultSeed:   0,
		Common:      envconfig.Common{LogLevel: "info", LogFormat: "text", ShutdownTimeout: 10 * time.Second},
	}
	if cfg != want {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}

func TestLoadValues(t *testing.T) {
	cfg, err := Load(lookup(map[string]string{
		"HTTP_ADDR":        "127.0.0.1:9999",
		"FAULT_PRESET":     "Outage",
		"FAULT_SEED":       "42",
		"LOG_LEVEL":        "debug",
		"LOG_FORMAT":       "json",
		"SHUTDOWN_TIMEOUT": "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{HTTPAddr: "127.0.0.1:9999", FaultPreset: "outage", FaultSeed: 42, Common: envconfig.Common{LogLevel: "debug", LogFormat: "json", ShutdownTimeout: 3 * time.Second}}
	if cfg != want {
		t.Errorf("Load = %+v, want %+v", cfg, want)
	}
}

func TestLoadErrorsNameEveryBadVariable(t *testing.T) {
	_, err := Load(lookup(map[string]string{
		"FAULT_PRESET":     "chaos",
		"FAULT_SEED":       "-1",
		"LOG_LEVEL":        "loud",
		"LOG_FORMAT":       "xml",
		"SHUTDOWN_TIMEOUT": "soon",
	}))
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	for _, name := range []string{"FAULT_PRESET", "FAULT_SEED", "LOG_LEVEL", "LOG_FORMAT", "SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if !strings.Contains(err.Error(), "healthy, degraded, slow, flaky, outage") {
		t.Errorf("FAULT_PRESET error should list the presets: %v", err)
	}
}

func TestShutdownTimeoutBounds(t *testing.T) {
	for v, want := range map[string]time.Duration{"100ms": 100 * time.Millisecond, "1h": time.Hour, "30s": 30 * time.Second} {
		cfg, err := Load(lookup(map[string]string{"SHUTDOWN_TIMEOUT": v}))
		if err != nil || cfg.ShutdownTimeout != want {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: %v, %v; want %v", v, cfg.ShutdownTimeout, err, want)
		}
	}
	for _, v := range []string{"0", "99ms", "1h0m1s", "2h"} {
		_, err := Load(lookup(map[string]string{"SHUTDOWN_TIMEOUT": v}))
		if err == nil || !strings.Contains(err.Error(), `SHUTDOWN_TIMEOUT="`+v+`"`) || !strings.Contains(err.Error(), "from 100ms to 1h") {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: err %v, want one naming the variable and the range", v, err)
		}
	}
}

func TestEnvNames(t *testing.T) {
	want := []string{"FAULT_PRESET", "FAULT_SEED", "HTTP_ADDR", "LOG_FORMAT", "LOG_LEVEL", "PPROF_ADDR", "SHUTDOWN_TIMEOUT"}
	if got := EnvNames(); !slices.Equal(got, want) {
		t.Errorf("EnvNames = %v, want %v", got, want)
	}
}
