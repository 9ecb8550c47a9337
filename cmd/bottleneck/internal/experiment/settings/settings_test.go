package settings

import (
	"slices"
	"strings"
	"testing"

	consumercfg "github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	workerscfg "github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
)

func TestParseKey(t *testing.T) {
	for _, c := range []struct {
		key, service, name, err string
	}{
		{key: "WORKERS", name: "WORKERS"},
		{key: "workers:WORKERS", service: "workers", name: "WORKERS"},
		{key: "LOG_LEVEL", name: "LOG_LEVEL"},
		{key: "producer:LOG_LEVEL", service: "producer", name: "LOG_LEVEL"},
		{key: "vendor-mock:FAULT_PRESET", service: "vendor-mock", name: "FAULT_PRESET"},
		{key: "WORKER", err: "unknown setting WORKER: no service reads it (did you mean WORKERS?)"},
		{key: "concurrency", err: "did you mean CONCURRENCY?"},
		{key: "NOTHING_LIKE_IT", err: "unknown setting NOTHING_LIKE_IT: no service reads it"},
		{key: "consumer:WORKERS", err: "consumer does not read WORKERS (workers does)"},
		{key: "jaeger:WORKERS", err: `unknown service "jaeger"`},
		{key: "workers:", err: "empty setting name"},
		{key: "VENDOR_URL", err: "set by the experiment"},
		{key: "OTEL_TRACES_SAMPLER", err: "OTEL_* settings are not plan settings"},
		{key: "STEADY_MIX", err: "the producer's load"},
		{key: "producer:CHECKOUT_EVERY", err: "the producer's load"},
	} {
		service, name, err := ParseKey(c.key)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseKey(%q) = %v, want %q", c.key, err, c.err)
			}
			continue
		}
		if err != nil || service != c.service || name != c.name {
			t.Errorf("ParseKey(%q) = %q, %q, %v", c.key, service, name, err)
		}
	}
}

// The services' own config packages decide: what they read is settable,
// and their bounds are the plan's bounds.
func TestSettingsFollowTheServicesConfig(t *testing.T) {
	for _, n := range workerscfg.EnvNames() {
		if _, _, err := ParseKey("workers:" + n); err != nil && !strings.Contains(err.Error(), "set by the experiment") {
			t.Errorf("workers reads %s, but a plan cannot set it: %v", n, err)
		}
	}
	for _, n := range consumercfg.EnvNames() {
		if _, _, err := ParseKey("consumer:" + n); err != nil && !strings.Contains(err.Error(), "set by the experiment") {
			t.Errorf("consumer reads %s, but a plan cannot set it: %v", n, err)
		}
	}
	if got := Readers("LOG_LEVEL"); !slices.Equal(got, Services) {
		t.Errorf("LOG_LEVEL is read by %v, want every service", got)
	}
	if got := Readers("CONSUMER_ADDR"); !slices.Equal(got, []string{Producer, Workers}) {
		t.Errorf("CONSUMER_ADDR is read by %v", got)
	}
	for _, c := range []struct {
		s   Setting
		err string
	}{
		{Setting{Name: "WORKERS", Value: "1024"}, ""},
		{Setting{Name: "WORKERS", Value: "1025"}, `WORKERS="1025": want an integer from 1 to 1024`},
		{Setting{Name: "CONCURRENCY", Value: "64"}, ""},
		{Setting{Name: "CONCURRENCY", Value: "0"}, `CONCURRENCY="0"`},
		{Setting{Name: "FAULT_PRESET", Value: "slow"}, ""},
		{Setting{Name: "FAULT_PRESET", Value: "fast"}, `FAULT_PRESET="fast"`},
		{Setting{Name: "LOG_LEVEL", Value: "loud"}, `LOG_LEVEL="loud"`},
		{Setting{Service: Producer, Name: "SHUTDOWN_TIMEOUT", Value: "1ms"}, `SHUTDOWN_TIMEOUT="1ms"`},
		{Setting{Name: "CACHE_LATENCY", Value: "5ms-1ms"}, `CACHE_LATENCY="5ms-1ms"`},
	} {
		err := CheckSetting(c.s)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s=%s: %v", c.s.Key(), c.s.Value, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s=%s: %v, want %q", c.s.Key(), c.s.Value, err, c.err)
		case err != nil && strings.Contains(err.Error(), "config:"):
			t.Errorf("%s=%s: %q still has the service's prefix", c.s.Key(), c.s.Value, err)
		}
	}
}

func TestEnvAppliesInOrderAndScopes(t *testing.T) {
	e := Env{}
	e.Apply(
		Setting{Name: "LOG_LEVEL", Value: "warn"},
		Setting{Service: Workers, Name: "LOG_LEVEL", Value: "debug"},
		Setting{Name: "WORKERS", Value: "8"},
		Setting{Name: "WORKERS", Value: "16"},
	)
	if e[Producer]["LOG_LEVEL"] != "warn" || e[Workers]["LOG_LEVEL"] != "debug" || e[Workers]["WORKERS"] != "16" || e[Consumer]["WORKERS"] != "" {
		t.Errorf("env %v", e)
	}
	c := e.Clone()
	c.Apply(Setting{Name: "WORKERS", Value: "2"})
	if e[Workers]["WORKERS"] != "16" {
		t.Error("Clone shares maps with the original")
	}
	if got := strings.Join(e.List(Workers), " "); got != "LOG_LEVEL=debug WORKERS=16" {
		t.Errorf("List(workers) = %q", got)
	}
	if err := e.Check(); err != nil {
		t.Error(err)
	}
	e.Apply(Setting{Service: Consumer, Name: "CONCURRENCY", Value: "99"})
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), `consumer: CONCURRENCY="99"`) {
		t.Errorf("Check = %v, want the consumer's CONCURRENCY named", err)
	}
	got := e.Settings()
	if len(got) != 6 || got[0] != (Setting{Service: Producer, Name: "LOG_LEVEL", Value: "warn"}) {
		t.Errorf("Settings = %v", got)
	}
}

func TestLiveFields(t *testing.T) {
	for _, c := range []struct {
		service, name, field string
		live, isInt          bool
	}{
		{Workers, "RESULTS_BUFFER", "results_buffer", true, true},
		{Workers, "WORKERS", "workers", true, true},
		{Workers, "QUEUE_SIZE", "queue_size", true, true},
		{Workers, "VENDOR_TIMEOUT", "vendor_timeout", true, false},
		{Consumer, "CONCURRENCY", "concurrency", true, true},
		{VendorMock, "FAULT_PRESET", Preset, true, false},
		{Consumer, "DEDUP_CAPACITY", "", false, false},
		{Producer, "LOG_LEVEL", "", false, false},
	} {
		l, ok := LiveField(c.service, c.name)
		if ok != c.live || l.Field != c.field || l.Int != c.isInt {
			t.Errorf("LiveField(%s, %s) = %+v, %v", c.service, c.name, l, ok)
		}
	}
	l, _ := LiveField(Workers, "RESULTS_BUFFER")
	if v, err := l.JSONValue("400"); err != nil || v != 400 {
		t.Errorf("JSONValue(400) = %v, %v", v, err)
	}
	if _, err := l.JSONValue("many"); err == nil {
		t.Error("JSONValue(many) for an int field: want an error")
	}
	// Every live setting is one the service reads.
	for _, n := range LiveNames() {
		svc, name, _ := strings.Cut(n, ":")
		if !Reads(svc, name) {
			t.Errorf("live setting %s: %s does not read %s", n, svc, name)
		}
	}
}
