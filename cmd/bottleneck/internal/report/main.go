// Package report is `bottleneck report`: it reads the traces of a time
// window from Jaeger's query API, runs the capacity model on them (package
// analysis: the stages, the bottleneck and its kind, the fixes with their
// predicted effect) and tells it the way the incident write-up does:
// blocked result sends, operation disparity, head-of-line blocking, the
// root-cause chain, the fix and links to the worst traces.
//
// Analyze is pure (traces in, Findings out); Collect adds the Jaeger call;
// Main is the command line around them.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Exit codes of `bottleneck report`. A report that finds a bottleneck
// still exits 0: finding it is the command's job, not a failure.
const (
	ExitOK          = 0
	ExitError       = 1 // anything else, e.g. writing the output failed
	ExitUsage       = 2 // bad flags or arguments
	ExitUnreachable = 3 // no answer from Jaeger
	ExitNoTraces    = 4 // Jaeger answered, but the window holds no traces
	ExitBadAnswer   = 5 // Jaeger answered with an error, too much, or not its JSON
)

// Service is the service whose traces are read: every job's trace starts
// at the producer's root, and a job shed at admission has nothing else.
const Service = "producer"

const (
	defaultJaeger = "http://localhost:16686"
	defaultSince  = 5 * time.Minute
	defaultLimit  = 1000
)

// NoTracesError means a window held no traces of the service.
type NoTracesError struct {
	Service string
	Window  Window
	// Unknown is true when Jaeger has never seen the service at all.
	Unknown bool
	Jaeger  string
}

func (e *NoTracesError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("Jaeger at %s has no traces from service %s at all: are the services running and exporting to it (OTEL_EXPORTER_OTLP_ENDPOINT)?", e.Jaeger, e.Service)
	}
	in := e.Window.Label
	if !strings.HasPrefix(in, "last ") {
		in = "window " + in
	}
	return fmt.Sprintf("no traces from service %s in the %s (%s) — run a checkout burst first (the producer runs one every CHECKOUT_EVERY; POST :8080/admin/checkout runs one now)",
		e.Service, in, formatSpan(e.Window))
}

// CompletionsService and CompletionsOperation are the second search of a
// window: the jobs the consumer handled in it, whenever they arrived.
const (
	CompletionsService   = "consumer"
	CompletionsOperation = spans.ResultProcess
)

// Collect reads the traces of m.Window from Jaeger and analyzes them. It
// searches twice: by the producer, for the jobs that arrived in the
// window, and by the consumer's result.process, for those handled in it.
// Jobs take longer end to end than a short window (25 s behind a full
// 400-slot results channel), so the jobs that arrived in it may not be
// handled yet when it closes while the consumer keeps handling earlier
// ones: the second search is what measures the completions then.
func Collect(ctx context.Context, c *jaegerapi.Client, m Meta) (Findings, error) {
	if m.Service == "" {
		m.Service = Service
	}
	if m.Jaeger == "" {
		m.Jaeger = c.URL()
	}
	traces, err := c.FindTraces(ctx, jaegerapi.Query{Service: m.Service, Start: m.Window.Start, End: m.Window.End, Limit: m.Limit})
	if err != nil {
		return Findings{}, fmt.Errorf("reading the traces of %s: %w", m.Window.Label, err)
	}
	if len(traces) == 0 {
		nt := &NoTracesError{Service: m.Service, Window: m.Window, Jaeger: c.URL()}
		// Tell "nothing in this window" from "never seen": the second
		// means the services export elsewhere.
		if services, err := c.Services(ctx); err == nil && !slices.Contains(services, m.Service) {
			nt.Unknown = true
		}
		return Findings{}, nt
	}
	done, err := c.FindTraces(ctx, jaegerapi.Query{Service: CompletionsService, Operation: CompletionsOperation, Start: m.Window.Start, End: m.Window.End, Limit: m.Limit})
	if err != nil {
		return Findings{}, fmt.Errorf("reading the completions of %s: %w", m.Window.Label, err)
	}
	return AnalyzeWithCompletions(traces, done, m), nil
}

// options are the parsed command line.
type options struct {
	jaeger, ui string
	console    string // the console's URL, for trace links when Jaeger has no UI
	since      time.Duration
	window     string // FROM..TO instead of since
	limit      int
	json       bool
	compare    [2]string // empty unless --compare A B
	timeout    time.Duration
	color      string
	admin      analysis.AdminURLs
}

// Main runs `bottleneck report` with args (without the subcommand name)
// and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, time.Now(), colorAllowed(stdout))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, now time.Time, tty bool) int {
	opts, code, ok := parseFlags(args, stdout, stderr)
	if !ok {
		return code
	}
	st := style{color: opts.color == "always" || (opts.color == "auto" && tty && !opts.json)}

	client, err := jaegerapi.New(opts.jaeger, jaegerapi.WithTimeout(opts.timeout))
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck report: --jaeger: %v\n", err)
		return ExitUsage
	}
	ui := linkBase(ctx, client, opts)
	meta := func(w Window) Meta {
		return Meta{Jaeger: client.URL(), UI: ui, Service: Service, Window: w, Limit: opts.limit, Thresholds: DefaultThresholds(), Admin: opts.admin}
	}

	if opts.compare[0] == "" {
		w := LastWindow(opts.since, now)
		if opts.window != "" {
			if w, err = ParseWindow(opts.window, now); err != nil {
				return usageError(stderr, err)
			}
		}
		f, err := Collect(ctx, client, meta(w))
		if err != nil {
			return fail(stderr, err)
		}
		if opts.json {
			err = writeJSON(stdout, f)
		} else {
			writeText(stdout, &f, st)
		}
		return written(stderr, err)
	}

	var found [2]Findings
	for i, s := range opts.compare {
		w, err := ParseWindow(s, now)
		if err != nil {
			return usageError(stderr, err)
		}
		if found[i], err = Collect(ctx, client, meta(w)); err != nil {
			return fail(stderr, err)
		}
	}
	if opts.json {
		err = writeJSON(stdout, Comparison{SchemaVersion: SchemaVersion, A: found[0], B: found[1]})
	} else {
		writeCompare(stdout, &found[0], &found[1], st)
	}
	return written(stderr, err)
}

func parseFlags(args []string, stdout, stderr io.Writer) (options, int, bool) {
	var o options
	fs := flag.NewFlagSet("bottleneck report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.jaeger, "jaeger", defaultJaeger, "Jaeger query `URL`")
	fs.StringVar(&o.ui, "ui", "", "base `URL` for trace links (default: --jaeger); set it when the report runs where Jaeger has another name, e.g. in compose")
	fs.StringVar(&o.console, "console", defaultConsole, "the console's `URL`: trace links open its trace view when Jaeger serves its placeholder\ninstead of a UI (the build from the Go module) and the console answers; \"\" never")
	fs.DurationVar(&o.since, "since", defaultSince, "read the traces of the last `duration`")
	fs.StringVar(&o.window, "window", "", "read the traces of the window `FROM..TO` instead (the forms of --compare)")
	fs.IntVar(&o.limit, "limit", defaultLimit, "read at most `n` traces per window (the newest)")
	fs.BoolVar(&o.json, "json", false, "print the findings as JSON")
	fs.StringVar(&o.compare[0], "compare", "", "compare window `A` with window B (the next argument): FROM..TO, each side a duration ago (10m, 0 or now) or an RFC3339 time")
	fs.DurationVar(&o.timeout, "timeout", jaegerapi.DefaultTimeout, "time one Jaeger request may take")
	fs.StringVar(&o.color, "color", "auto", "`when` to color the output: auto (on a terminal, unless NO_COLOR is set), always, never")
	fs.StringVar(&o.admin.Workers, "workers-admin", "localhost:8081", "workers' admin `host:port`, for the fixes' curl commands")
	fs.StringVar(&o.admin.Consumer, "consumer-admin", "localhost:8083", "consumer's admin `host:port`, for the fixes' curl commands")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: bottleneck report [flags]
       bottleneck report --compare A B [flags]

Reads the traces of a time window from Jaeger and names the bottleneck from
a capacity model of the pipeline: each stage's arrivals, service time and
capacity, the stage that governs throughput and the kind of trouble
(capacity, burst, head-of-line), the fixes with their predicted effect; then
the incident write-up's blocked result sends, operation disparity,
head-of-line blocking, root-cause chain and the worst traces.

Windows for --compare are FROM..TO; each side is a duration ago (10m, 90s,
0 or now) or an RFC3339 time: --compare 10m..5m 5m..now

Exit codes: 0 report printed, 1 error, 2 usage, 3 Jaeger unreachable,
4 no traces in the window, 5 bad answer from Jaeger.

Flags:
`)
		fs.PrintDefaults()
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return o, ExitOK, false
		}
		return o, ExitUsage, false
	}
	rest := fs.Args()
	if o.compare[0] != "" {
		// flag stops at the first non-flag: B is it, and flags may follow.
		if len(rest) == 0 {
			return o, usageError(stderr, errors.New("--compare needs two windows: --compare A B, e.g. --compare 10m..5m 5m..now")), false
		}
		o.compare[1] = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return o, ExitUsage, false
		}
		rest = fs.Args()
	}
	switch {
	case len(rest) > 0:
		return o, usageError(stderr, fmt.Errorf("unexpected argument %q", rest[0])), false
	case o.since <= 0:
		return o, usageError(stderr, fmt.Errorf("--since must be positive, got %s", o.since)), false
	case o.limit <= 0:
		return o, usageError(stderr, fmt.Errorf("--limit must be positive, got %d", o.limit)), false
	case o.timeout <= 0:
		return o, usageError(stderr, fmt.Errorf("--timeout must be positive, got %s", o.timeout)), false
	case o.window != "" && o.compare[0] != "":
		return o, usageError(stderr, errors.New("--window and --compare don't go together: --compare takes its two windows")), false
	case o.color != "auto" && o.color != "always" && o.color != "never":
		return o, usageError(stderr, fmt.Errorf("--color must be auto, always or never, got %q", o.color)), false
	}
	return o, ExitOK, true
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "bottleneck report: %v\nRun 'bottleneck report -h' for usage.\n", err)
	return ExitUsage
}

// fail prints err for a person, without the chain of wrapping, and picks
// the exit code.
func fail(stderr io.Writer, err error) int {
	var (
		unreachable *jaegerapi.UnreachableError
		noTraces    *NoTracesError
		status      *jaegerapi.StatusError
		tooLarge    *jaegerapi.TooLargeError
		decode      *jaegerapi.DecodeError
	)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "bottleneck report: interrupted")
		return ExitError
	case errors.As(err, &unreachable):
		fmt.Fprintf(stderr, "bottleneck report: %v — is it running? (docker compose up / bottleneck up)\n", unreachable)
		return ExitUnreachable
	case errors.As(err, &noTraces):
		fmt.Fprintf(stderr, "bottleneck report: %v\n", noTraces)
		return ExitNoTraces
	case errors.As(err, &status), errors.As(err, &tooLarge), errors.As(err, &decode):
		fmt.Fprintf(stderr, "bottleneck report: %v\n", err)
		return ExitBadAnswer
	}
	fmt.Fprintf(stderr, "bottleneck report: %v\n", err)
	return ExitError
}

func written(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck report: writing the report: %v\n", err)
		return ExitError
	}
	return ExitOK
}

// colorAllowed reports whether w is a terminal that wants color.
func colorAllowed(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// defaultConsole is where `bottleneck up` and compose serve the console.
const defaultConsole = "http://localhost:8090"

// linkBase is the base URL of the report's trace links: --ui when given;
// else the console, when Jaeger serves its placeholder page (no UI to
// open a trace in) and the console answers; else Jaeger itself.
func linkBase(ctx context.Context, c *jaegerapi.Client, o options) string {
	if o.ui != "" || o.console == "" {
		return o.ui
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if holder, err := c.UIPlaceholder(ctx); err != nil || !holder {
		return ""
	}
	base := strings.TrimRight(o.console, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h struct {
		Service string `json:"service"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&h) != nil || h.Service != "console" {
		return ""
	}
	return base
}
