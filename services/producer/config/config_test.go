package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/scenario"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsShowTheBug(t *testing.T) {
	c, err := Load(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario != "checkout" || c.CheckoutEvery != 20*time.Second || c.CheckoutTimeout != 10*time.Second {
		t.Errorf("bug knobs: scenario %s every %v timeout %v; want the checkout burst every 20s, judged at 10s",
			c.Scenario, c.CheckoutEvery, c.CheckoutTimeout)
	}
	if c.HTTPAddr != ":8080" || c.WorkersAddr != "localhost:9090" || c.ConsumerAddr != "localhost:9091" {
		t.Errorf("addresses %s %s %s", c.HTTPAddr, c.WorkersAddr, c.ConsumerAddr)
	}
	if c.SteadyRate != 10 || c.SteadyMix.String() != "cache-read=60,database=20,vendor-api=20" || c.SteadyDuration != 0 {
		t.Errorf("steady defaults: rate %v mix %s duration %v", c.SteadyRate, c.SteadyMix, c.SteadyDuration)
	}
	if c.LogLevel != "info" || c.LogFormat != "text" || c.ShutdownTimeout != 10*time.Second {
		t.Errorf("common defaults: %s %s %v", c.LogLevel, c.LogFormat, c.ShutdownTimeout)
	}
	if c.RetryAfter != 30*time.Second || c.MaxAttempts != 10 {
		t.Errorf("delivery defaults: RETRY_AFTER %v MAX_ATTEMPTS %d; want 30s, 10", c.RetryAfter, c.MaxAttempts)
	}
	if err := c.Load().Validate(); err != nil {
		t.Errorf("default load is invalid: %v", err)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	c, err := Load(lookup(map[string]string{
		"HTTP_ADDR": "127.0.0.1:1", "WORKERS_ADDR": "w:1", "CONSUMER_ADDR": "c:1", "SCENARIO": "steady",
		"CHECKOUT_EVERY": "0", "CHECKOUT_TIMEOUT": "2s", "STEADY_RATE": "250.5", "STEADY_MIX": "cache-read=1, vendor-api=3",
		"STEADY_DURATION": "1m", "LOG_LEVEL": "debug", "LOG_FORMAT": "json", "SHUTDOWN_TIMEOUT": "1s",
		"RETRY_AFTER": "250ms", "MAX_ATTEMPTS": "3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:1" || c.WorkersAddr != "w:1" || c.ConsumerAddr != "c:1" || c.Scenario != "steady" ||
		c.CheckoutEvery != 0 || c.CheckoutTimeout != 2*time.Second || c.SteadyRate != 250.5 ||
		c.SteadyMix.String() != "cache-read=1,vendor-api=3" || c.SteadyDuration != time.Minute ||
		c.LogLevel != "debug" || c.LogFormat != "json" || c.ShutdownTimeout != time.Second ||
		c.RetryAfter != 250*time.Millisecond || c.MaxAttempts != 3 {
		t.Errorf("got %+v", c)
	}
}

func TestBadValuesAreNamed(t *testing.T) {
	bad := map[string]string{
		"SCENARIO":         "chaos",
		"CHECKOUT_EVERY":   "-1s",
		"CHECKOUT_TIMEOUT": "0",
		"STEADY_RATE":      "5001",
		"STEADY_MIX":       "cache-read=60,blockchain=40",
		"STEADY_DURATION":  "forever",
		"LOG_LEVEL":        "loud",
		"LOG_FORMAT":       "xml",
		"SHUTDOWN_TIMEOUT": "x",
		"RETRY_AFTER":      "10ms",
		"MAX_ATTEMPTS":     "0",
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
}

func TestSteadyMixIsStrict(t *testing.T) {
	for _, mix := range []string{
		"cache-read", "cache-read=", "cache-read=x", "cache-read=-1,database=2", "cache-read=0,database=0",
		"cache-read=1,cache-read=2", "Cache-Read=1", "cache-read=1,,database=1", "cache-read=NaN", "cache-read=Inf",
		"cache-read=1e308,database=1e308", "cache-read=1000001", "cache-read=1e309", "cache-read=-Inf,database=1",
	} {
		if _, err := Load(lookup(map[string]string{"STEADY_MIX": mix})); err == nil || !strings.Contains(err.Error(), "STEADY_MIX") {
			t.Errorf("STEADY_MIX=%q: err %v, want one naming STEADY_MIX", mix, err)
		}
	}
	if _, err := scenario.ParseMix("vendor-api=1"); err != nil {
		t.Errorf("a single type is a valid mix: %v", err)
	}
	_, err := Load(lookup(map[string]string{"STEADY_MIX": "cache-read=1e308,database=1e308"}))
	if want := "cache-read: weight 1e+308, want a number from 0 to 1e+06"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("overflowing STEADY_MIX: err %v, want it to contain %q", err, want)
	}
	if c, err := Load(lookup(map[string]string{"STEADY_MIX": "cache-read=1e6,database=1e6,vendor-api=1e6"})); err != nil || c.SteadyMix["vendor-api"] != 1e6 {
		t.Errorf("weights at the limit: %v, %v", c.SteadyMix, err)
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
			t.Errorf("SHUTDOWN_TIMEOUT=%s: err %v, want one naming the variable and the range", v, err)
		}
	}
}

func TestEnvNames(t *testing.T) {
	want := []string{"CHECKOUT_EVERY", "CHECKOUT_TIMEOUT", "CONSUMER_ADDR", "HTTP_ADDR", "LOG_FORMAT", "LOG_LEVEL",
		"MAX_ATTEMPTS", "PPROF_ADDR", "RETRY_AFTER", "SCENARIO", "SHUTDOWN_TIMEOUT", "STEADY_DURATION", "STEADY_MIX",
		"STEADY_RATE", "WORKERS_ADDR"}
	if got := EnvNames(); !slices.Equal(got, want) {
		t.Errorf("EnvNames() = %v, want %v", got, want)
	}
}
