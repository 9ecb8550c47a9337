package envconfig

import "time"

// Bounds of SHUTDOWN_TIMEOUT, the same in every service: less than 100ms
// cannot drain anything; more than an hour is a hang, not a shutdown.
const (
	DefaultShutdownTimeout = 10 * time.Second
	MinShutdownTimeout     = 100 * time.Millisecond
	MaxShutdownTimeout     = time.Hour
)

// Common are the settings every service reads, under the same names and
// with the same defaults and bounds (the README's "All services" table).
// Services embed it in their Config.
type Common struct {
	LogLevel  string // LOG_LEVEL
	LogFormat string // LOG_FORMAT
	// PprofAddr (PPROF_ADDR) serves Go's profiles when set; off by default.
	PprofAddr       string
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT
}

// Common reads the settings every service shares.
func (r *Reader) Common() Common {
	return Common{
		LogLevel:        r.Enum("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:       r.Enum("LOG_FORMAT", "text", "text", "json"),
		PprofAddr:       r.String("PPROF_ADDR", ""),
		ShutdownTimeout: r.Duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, MinShutdownTimeout, MaxShutdownTimeout),
	}
}
