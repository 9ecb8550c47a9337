// Package config reads the consumer's settings from environment variables.
// It is not internal: other modules' tests import it to check that the
// README, docker-compose.yml and the code name the same variables.
package config

import (
	"fmt"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
)

// The bug knobs: with these defaults the consumer is the slow, serial end of
// the incident's chain — one result at a time, 50 ms each — so that a small
// results channel upstream fills and workers block sending results.
const (
	DefaultProcessDelay = 50 * time.Millisecond
	DefaultConcurrency  = 1
)

// Limits shared by the environment and the live /admin/config API.
const (
	MaxProcessDelay = 10 * time.Second
	MinConcurrency  = 1
	MaxConcurrency  = 64
)

// SHUTDOWN_TIMEOUT bounds, the same in every service: less than 100ms
// leaves no time to drain work and flush spans, and more than an hour is
// surely a typo.
const (
	MinShutdownTimeout = 100 * time.Millisecond
	MaxShutdownTimeout = time.Hour
)

// Config is everything the consumer reads from its environment.
type Config struct {
	GRPCAddr string
	HTTPAddr string
	// ProcessDelay is the time one result takes to handle.
	ProcessDelay time.Duration
	// Concurrency is how many results are handled at once.
	Concurrency int
	// DedupCapacity bounds the job IDs remembered for de-duplication and
	// for answering Status.
	DedupCapacity int

	LogLevel  string
	LogFormat string
	// PprofAddr serves Go's profiles when set (PPROF_ADDR; off by default).
	PprofAddr       string
	ShutdownTimeout time.Duration
}

// Load reads the configuration through lookup (nil = os.LookupEnv). The
// error names every bad variable.
func Load(lookup func(string) (string, bool)) (Config, error) {
	r := envconfig.New(lookup)
	c := read(r)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("consumer config: %w", err)
	}
	return c, nil
}

// EnvNames lists the variables Load reads, sorted.
func EnvNames() []string {
	r := envconfig.FromMap(nil)
	read(r)
	return r.Names()
}

func read(r *envconfig.Reader) Config {
	return Config{
		GRPCAddr:        r.String("GRPC_ADDR", ":9091"),
		HTTPAddr:        r.String("HTTP_ADDR", ":8083"),
		ProcessDelay:    r.Duration("PROCESS_DELAY", DefaultProcessDelay, 0, MaxProcessDelay),
		Concurrency:     r.Int("CONCURRENCY", DefaultConcurrency, MinConcurrency, MaxConcurrency),
		DedupCapacity:   r.Int("DEDUP_CAPACITY", 100_000, 1, 10_000_000),
		LogLevel:        r.Enum("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:       r.Enum("LOG_FORMAT", "text", "text", "json"),
		PprofAddr:       r.String("PPROF_ADDR", ""),
		ShutdownTimeout: r.Duration("SHUTDOWN_TIMEOUT", 10*time.Second, MinShutdownTimeout, MaxShutdownTimeout),
	}
}
