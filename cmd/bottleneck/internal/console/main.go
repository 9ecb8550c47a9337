package console

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
)

// Main runs `bottleneck console` with args until ctx ends.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := Defaults()
	fs := flag.NewFlagSet("bottleneck console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Listen, "listen", o.Listen, "address to serve the console on (keep it on loopback: the controls change the services)")
	fs.StringVar(&o.Jaeger, "jaeger", o.Jaeger, "Jaeger query API base URL")
	fs.StringVar(&o.UI, "ui", "", "base URL of Jaeger's UI for trace links in the browser (default: --jaeger)")
	fs.StringVar(&o.Producer, "producer", o.Producer, "producer HTTP base URL")
	fs.StringVar(&o.Workers, "workers", o.Workers, "workers HTTP base URL")
	fs.StringVar(&o.VendorMock, "vendor", o.VendorMock, "vendor-mock HTTP base URL")
	fs.StringVar(&o.Consumer, "consumer", o.Consumer, "consumer HTTP base URL")
	fs.DurationVar(&o.Window, "window", o.Window, "how much the timelines show (10s-5m)")
	fs.DurationVar(&o.DiagnosisWindow, "diagnosis-window", o.DiagnosisWindow, "how much of the traces the verdict covers (5s-5m)")
	health := fs.Bool("healthcheck", false, "probe a running console's /healthz at --listen and exit 0 when it answers (container healthcheck)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bottleneck console [flags]\n\nServe a live page of the pipeline, the worker timelines and the verdict, with controls.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bottleneck console: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *health {
		url, err := healthcheck.URL(o.Listen)
		if err == nil {
			err = healthcheck.Probe(ctx, url, 2*time.Second)
		}
		if err != nil {
			fmt.Fprintf(stderr, "bottleneck console: %v\n", err)
			return 1
		}
		return 0
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--window", o.Window}, {"--diagnosis-window", o.DiagnosisWindow}} {
		if d.v < 5*time.Second || d.v > 5*time.Minute {
			fmt.Fprintf(stderr, "bottleneck console: %s %s: want 5s to 5m\n", d.name, d.v)
			return 2
		}
	}
	tuneGC()
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck console: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "bottleneck console: serving %s (Jaeger %s; producer %s, workers %s, vendor %s, consumer %s)\n",
		c.URL(), o.Jaeger, o.Producer, o.Workers, o.VendorMock, o.Consumer)
	<-ctx.Done()
	fmt.Fprintln(stdout, "bottleneck console: stopped")
	return 0
}

// tuneGC trades memory for CPU: the console's heap is mostly the trace
// window, rebuilt a little every second, and the default GOGC=100 spends a
// fifth of its CPU collecting. Unless the user set GOGC or GOMEMLIMIT, the
// heap may grow to 5x the live data, within a soft limit of 200 MiB.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(200 << 20)
}
