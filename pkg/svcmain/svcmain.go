// Package svcmain is the body every service's main shares: the
// -healthcheck mode the container health check runs (the image has no shell
// or curl, so the binary probes its own /healthz), loading the config, and
// running until SIGINT or SIGTERM.
package svcmain

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
)

// Service describes one service binary.
type Service[C any] struct {
	// Name prefixes error messages.
	Name string
	// Load reads the config from the environment.
	Load func() (C, error)
	// HTTPAddr is the address whose /healthz -healthcheck probes.
	HTTPAddr func(C) string
	// Run serves until ctx ends (a signal), then shuts down gracefully.
	Run func(ctx context.Context, cfg C) error
}

// Exit codes.
const (
	exitOK        = 0
	exitFailed    = 1 // Run failed, or the health probe did
	exitBadConfig = 2 // bad flags or environment
)

// Main runs the service and exits the process.
func Main[C any](s Service[C]) {
	keepRunningWithoutLogPipe()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := s.main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// keepRunningWithoutLogPipe stops a closed log pipe from killing the
// service. Go's runtime turns a write to a broken pipe on stdout or stderr
// into death by SIGPIPE unless SIGPIPE is ignored or notified (os/signal,
// "SIGPIPE"). The log pipe breaks exactly when it matters: the process that
// read it (`bottleneck up`, a terminal, a log shipper) died, and SIGTERM
// follows — the service's first "shutting down" line would then kill it
// before it drained its work and flushed its spans. Ignored, the write
// fails with EPIPE, slog drops the line, and the shutdown goes on.
func keepRunningWithoutLogPipe() { signal.Ignore(syscall.SIGPIPE) }

func (s Service[C]) main(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	probe := fs.Bool("healthcheck", false, "probe this service's /healthz on HTTP_ADDR and exit 0 when healthy (the container health check)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-healthcheck]\n\nSettings come from environment variables; see the README's configuration tables.\n\n", s.Name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitBadConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q; settings come from environment variables\n", s.Name, fs.Args())
		return exitBadConfig
	}

	cfg, err := s.Load()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", s.Name, err)
		return exitBadConfig
	}
	if *probe {
		url, err := healthcheck.URL(s.HTTPAddr(cfg))
		if err == nil {
			err = healthcheck.Probe(ctx, url, 2*time.Second)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", s.Name, err)
			return exitFailed
		}
		return exitOK
	}
	if err := s.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", s.Name, err)
		return exitFailed
	}
	return exitOK
}
