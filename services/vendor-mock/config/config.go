// Package config reads the vendor mock's settings from the environment.
// It is not internal: other modules' tests import it to check that the
// README, compose file and code agree on the variable names.
package config

import (
	"fmt"
	"math"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
)

// Bug knobs: the defaults that make the incident show with no settings.
// The vendor starts degraded: 20% of calls take 500 ms-2 s instead of
// 100-300 ms, which is what fills the workers' results channel.
const (
	DefaultPreset = faults.DefaultPreset
)

// DefaultHTTPAddr is where the vendor API listens.
const DefaultHTTPAddr = ":8082"

// Config is everything the vendor mock reads from the environment.
// OTEL_* variables are read by pkg/tracing.
type Config struct {
	HTTPAddr string // HTTP_ADDR: vendor API, /admin/faults, control page, /healthz, /stats
	// FaultPreset (FAULT_PRESET) is the fault preset the mock starts with.
	FaultPreset string
	// FaultSeed (FAULT_SEED) seeds fault decisions; 0 picks a random seed.
	FaultSeed uint64
	// LOG_LEVEL, LOG_FORMAT, PPROF_ADDR, SHUTDOWN_TIMEOUT.
	envconfig.Common
}

// Load reads the configuration through lookup (nil = os.LookupEnv). Every
// bad variable is reported, each by name.
func Load(lookup func(string) (string, bool)) (Config, error) {
	cfg, r := read(envconfig.New(lookup))
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("vendor-mock configuration: %w", err)
	}
	return cfg, nil
}

// EnvNames lists every variable Load reads.
func EnvNames() []string {
	_, r := read(envconfig.FromMap(nil))
	return r.Names()
}

func read(r *envconfig.Reader) (Config, *envconfig.Reader) {
	return Config{
		HTTPAddr:    r.String("HTTP_ADDR", DefaultHTTPAddr),
		FaultPreset: r.Enum("FAULT_PRESET", DefaultPreset, faults.PresetNames()...),
		FaultSeed:   uint64(r.Int("FAULT_SEED", 0, 0, math.MaxInt64)),
		Common:      r.Common(),
	}, r
}
