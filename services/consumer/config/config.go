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

// The ledger: where it lives and how many job IDs it keeps. A relative
// DATA_DIR is taken from the working directory; compose sets /data (a
// named volume) and `bottleneck up` a directory of its own per run.
const (
	DefaultDataDir       = "data"
	DefaultDedupCapacity = 100_000
	MaxDedupCapacity     = 10_000_000
)

// Limits shared by the environment and the live /admin/config API.
const (
	MaxProcessDelay = 10 * time.Second
	MinConcurrency  = 1
	MaxConcurrency  = 64
)

// Config is everything the consumer reads from its environment.
type Config struct {
	GRPCAddr string
	HTTPAddr string
	// ProcessDelay is the time one result takes to handle.
	ProcessDelay time.Duration
	// Concurrency is how many results are handled at once.
	Concurrency int
	// DedupCapacity bounds the job IDs the ledger remembers for
	// de-duplication and for answering Status; the oldest go first.
	DedupCapacity int
	// DataDir holds the ledger file (consumer-ledger.db).
	DataDir string

	// LOG_LEVEL, LOG_FORMAT, PPROF_ADDR, SHUTDOWN_TIMEOUT.
	envconfig.Common
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
		GRPCAddr:      r.String("GRPC_ADDR", ":9091"),
		HTTPAddr:      r.String("HTTP_ADDR", ":8083"),
		ProcessDelay:  r.Duration("PROCESS_DELAY", DefaultProcessDelay, 0, MaxProcessDelay),
		Concurrency:   r.Int("CONCURRENCY", DefaultConcurrency, MinConcurrency, MaxConcurrency),
		DedupCapacity: r.Int("DEDUP_CAPACITY", DefaultDedupCapacity, 1, MaxDedupCapacity),
		DataDir:       r.String("DATA_DIR", DefaultDataDir),
		Common:        r.Common(),
	}
}
