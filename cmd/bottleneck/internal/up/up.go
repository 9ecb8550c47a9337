// Package up is `bottleneck up`: the whole system as local processes, for
// people without Docker. The process handling lives in pkg/stack, shared
// with the end-to-end tests; this package is the command line around it.
package up

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the stack failed to start, a process died, or a stop was unclean
	exitUsage = 2
)

// Main runs `bottleneck up` with args (without the subcommand name) until
// ctx ends, and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck up: %v\n", err)
		return exitUsage
	}
	out := &lockedWriter{w: stdout}
	cfg, err := o.stackConfig(out, colorWanted(o.color, stdout))
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck up: %v\n", err)
		return exitUsage
	}

	stopWithParent()
	began := time.Now()
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck up: %s\n", explain(err))
		return exitError
	}
	consoleURL := ""
	if addr := o.consoleAddr(); addr != "" {
		c, err := startConsole(ctx, s, addr, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bottleneck up: the console did not start (%v); the stack runs without it\n", err)
		} else {
			consoleURL = strings.Replace(c.URL(), "127.0.0.1", "localhost", 1)
		}
	}
	fmt.Fprint(out, banner(s, o, time.Since(began), consoleURL))

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "bottleneck up: stopping producer, workers, vendor-mock, consumer, then jaeger ...")
	case <-s.Done():
	}
	if err := s.Wait(); err != nil {
		fmt.Fprintf(stderr, "bottleneck up: %v\n", err)
		return exitError
	}
	fmt.Fprintln(out, "bottleneck up: stopped")
	return exitOK
}

func (o options) stackConfig(out io.Writer, color bool) (stack.Config, error) {
	cfg := stack.Config{
		Output:     out,
		Color:      color,
		ServiceEnv: o.serviceEnv(),
		Build:      stack.BuildMissing,
	}
	if o.build {
		cfg.Build = stack.BuildServices
	}
	cfg.Ports = stack.DefaultPorts()
	if o.portBase != 0 {
		p, err := stack.PortsFrom(o.portBase)
		if err != nil {
			return cfg, fmt.Errorf("--port-base: %w", err)
		}
		cfg.Ports = p
	}
	if !o.jaeger {
		cfg.OTLPEndpoint = o.otlpEndpoint
		if cfg.OTLPEndpoint == "" {
			cfg.OTLPEndpoint = "http://127.0.0.1:4317"
		}
	}
	return cfg, nil
}

// explain adds what to do to the errors people can fix themselves.
func explain(err error) string {
	var lines []string
	for _, e := range leaves(err) {
		var inUse *stack.PortInUseError
		if errors.As(e, &inUse) {
			lines = append(lines, e.Error()+" — stop what holds it or pass --port-base")
			continue
		}
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

// leaves flattens errors.Join trees.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// startConsole serves the console in this process, on the stack's URLs,
// until ctx ends.
func startConsole(ctx context.Context, s *stack.Stack, addr string, stderr io.Writer) (*console.Console, error) {
	jaegerURL := s.JaegerURL()
	if jaegerURL == "" {
		jaegerURL = "http://127.0.0.1:16686"
	}
	return console.Start(ctx, console.Options{
		Listen: addr, Jaeger: jaegerURL,
		Producer: s.URL(stack.Producer), Workers: s.URL(stack.Workers),
		VendorMock: s.URL(stack.VendorMock), Consumer: s.URL(stack.Consumer),
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("service", "console"),
	})
}

func banner(s *stack.Stack, o options, took time.Duration, consoleURL string) string {
	local := func(name string) string {
		return strings.Replace(s.URL(name), "127.0.0.1", "localhost", 1)
	}
	hostport := func(name string) string { return strings.TrimPrefix(local(name), "http://") }
	fault := o.fault
	if fault == "" {
		fault = "degraded (default)"
	}
	fixes := strings.Join(o.fixes, ", ")
	if fixes == "" {
		fixes = "none"
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nhidden-bottleneck is up after %s: scenario %s, vendor faults %s, fixes %s\n\n",
		took.Round(100*time.Millisecond), o.scenario, fault, fixes)
	if consoleURL != "" {
		fmt.Fprintf(&b, "  Console          %s/   live pipeline, worker timelines, verdict, controls, trace view\n", consoleURL)
	}
	if j := s.JaegerURL(); j != "" {
		fmt.Fprintf(&b, "  Jaeger           %s   query API /api/traces; this source build shows a placeholder page,\n", local(stack.Jaeger))
		fmt.Fprintf(&b, "                   the full UI is in the Docker image (docker compose up)\n")
	} else {
		fmt.Fprintf(&b, "  traces           exported to %s\n", s.OTLPEndpoint())
	}
	fmt.Fprintf(&b, "  vendor control   %s/               fault presets, live\n", local(stack.VendorMock))
	fmt.Fprintf(&b, "  producer         %s/stats          POST /admin/checkout runs a burst now\n", local(stack.Producer))
	fmt.Fprintf(&b, "  workers          %s/admin/config   the fixes, live (GET/PUT); /stats\n", local(stack.Workers))
	fmt.Fprintf(&b, "  consumer         %s/admin/config   /stats\n", local(stack.Consumer))
	fmt.Fprintf(&b, "  consumer ledger  %s\n", ledgerDir(s, o))
	fmt.Fprintf(&b, "\nTry it while it runs:\n")
	fmt.Fprintf(&b, "  curl -X POST %s/admin/checkout\n", hostport(stack.Producer))
	fmt.Fprintf(&b, "  curl -X PUT %s/admin/config -H 'Content-Type: application/json' -d '{\"results_buffer\":%d}'\n", hostport(stack.Workers), o.workers()*100)
	fmt.Fprintf(&b, "  curl -X POST %s/admin/faults/presets/healthy\n", hostport(stack.VendorMock))
	if j := s.JaegerURL(); j != "" {
		fmt.Fprintf(&b, "  go run ./cmd/bottleneck report --jaeger %s\n", local(stack.Jaeger))
	}
	fmt.Fprintf(&b, "\nLogs follow. Ctrl-C stops everything.\n\n")
	return b.String()
}

// ledgerDir says where the consumer keeps its ledger this run, and for how
// long.
func ledgerDir(s *stack.Stack, o options) string {
	mine := ""
	for _, kv := range o.serviceEnv()[stack.Consumer] {
		if dir, ok := strings.CutPrefix(kv, "DATA_DIR="); ok {
			mine = dir // the last one wins, as in the environment
		}
	}
	if mine != "" {
		return mine + "   (yours: kept)"
	}
	return filepath.Join(s.DataDir(), stack.Consumer) + "   (this run's; removed when up stops)"
}

// colorWanted decides whether log prefixes get ANSI colors.
func colorWanted(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// lockedWriter lets the banner and the children's lines share stdout
// without tearing each other's lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
