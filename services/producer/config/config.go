// Package config reads the producer's settings from environment variables.
// It is not internal: other modules' tests import it to check that the
// README, docker-compose.yml and the code name the same variables.
package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/scenario"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/tracker"
)

// The bug knobs: by default the producer fires the incident's 20-job
// checkout burst every 20 s and says whether it completed within 10 s — with
// the default worker pool and consumer, it often does not.
const (
	DefaultScenario        = scenario.NameCheckout
	DefaultCheckoutEvery   = 20 * time.Second
	DefaultCheckoutTimeout = 10 * time.Second
)

// Config is everything the producer reads from its environment.
type Config struct {
	HTTPAddr     string
	WorkersAddr  string
	ConsumerAddr string

	Scenario        string
	CheckoutEvery   time.Duration // 0 = one burst
	CheckoutTimeout time.Duration
	SteadyRate      float64 // jobs per second
	SteadyMix       scenario.Mix
	SteadyDuration  time.Duration // 0 = until stopped

	// At-least-once delivery: an accepted job unconfirmed for RetryAfter
	// (doubling per attempt) is re-submitted, at most MaxAttempts Submits.
	RetryAfter  time.Duration
	MaxAttempts int

	// LOG_LEVEL, LOG_FORMAT, PPROF_ADDR, SHUTDOWN_TIMEOUT.
	envconfig.Common
}

// Load reads the configuration through lookup (nil = os.LookupEnv). The
// error names every bad variable.
func Load(lookup func(string) (string, bool)) (Config, error) {
	r := envconfig.New(lookup)
	c, mixErr := read(r)
	if err := errors.Join(r.Err(), mixErr); err != nil {
		return Config{}, fmt.Errorf("producer config: %w", err)
	}
	return c, nil
}

// EnvNames lists the variables Load reads, sorted.
func EnvNames() []string {
	r := envconfig.FromMap(nil)
	_, _ = read(r)
	return r.Names()
}

// Load returns the scenario settings as the generator's starting load.
func (c Config) Load() scenario.Load {
	return scenario.Load{
		Scenario: c.Scenario, Rate: c.SteadyRate, Mix: c.SteadyMix,
		CheckoutEvery: c.CheckoutEvery, CheckoutTimeout: c.CheckoutTimeout, SteadyDuration: c.SteadyDuration,
	}
}

func read(r *envconfig.Reader) (Config, error) {
	c := Config{
		HTTPAddr:        r.String("HTTP_ADDR", ":8080"),
		WorkersAddr:     r.String("WORKERS_ADDR", "localhost:9090"),
		ConsumerAddr:    r.String("CONSUMER_ADDR", "localhost:9091"),
		Scenario:        r.Enum("SCENARIO", DefaultScenario, scenario.Names...),
		CheckoutEvery:   r.Duration("CHECKOUT_EVERY", DefaultCheckoutEvery, 0, scenario.MaxCheckoutEvery),
		CheckoutTimeout: r.Duration("CHECKOUT_TIMEOUT", DefaultCheckoutTimeout, scenario.MinCheckoutTimeout, scenario.MaxCheckoutTimeout),
		SteadyRate:      r.Float("STEADY_RATE", 10, 0, scenario.MaxRate),
		SteadyDuration:  r.Duration("STEADY_DURATION", 0, 0, scenario.MaxSteadyDuration),
		RetryAfter:      r.Duration("RETRY_AFTER", tracker.DefaultRetryAfter, tracker.MinRetryAfter, tracker.MaxRetryAfter),
		MaxAttempts:     r.Int("MAX_ATTEMPTS", tracker.DefaultMaxAttempts, tracker.MinMaxAttempts, tracker.MaxMaxAttempts),
		Common:          r.Common(),
	}
	mixText := r.String("STEADY_MIX", scenario.DefaultMix)
	mix, err := scenario.ParseMix(mixText)
	if err != nil {
		return c, fmt.Errorf("STEADY_MIX=%q: %w", mixText, err)
	}
	c.SteadyMix = mix
	return c, nil
}
