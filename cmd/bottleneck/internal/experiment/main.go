// Package experiment is `bottleneck experiment`: it measures every
// configuration of a plan side by side on a real stack (its own, or a
// running one) and prints one table: offered, delivered and rejected jobs
// per second, the fast jobs' p50 and p99 end to end, the workers' time
// blocked sending results, each process's CPU and memory, the capacity
// model's bottleneck and a link to the slowest fast job's trace.
//
// The pieces live in subpackages by concern: plan (reading and checking a
// plan), settings (the services' settings), runner (the rows), stackctl
// (the system under test), measure (counters, /proc, /metrics, traces),
// diagnose (the capacity model), result (the JSON) and output (table,
// progress line, JSON, HTML).
package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/output"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/runner"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/stackctl"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// Exit codes.
const (
	ExitOK    = 0 // every row measured
	ExitError = 1 // a row failed or was skipped, the stack failed, or the run was interrupted
	ExitUsage = 2 // bad flags or a bad plan
)

// DefaultPlan is the plan run without --plan, relative to the repository.
const DefaultPlan = "experiments/incident.yaml"

type options struct {
	plan     string
	duration time.Duration
	target   string
	json     bool
	html     string
	rows     string
	ui       string
	keep     bool
	build    bool
	logs     string
	check    bool
	traces   string
}

const usage = `Usage: bottleneck experiment [flags]

Measures every row of a plan side by side, after a warm-up, on a real stack:
offered, delivered and rejected jobs/s, the fast jobs' p50 and p99 end to
end, the share of worker time blocked sending results, CPU and memory of
each process, the capacity model's bottleneck, and a link to the slowest
fast job's trace. The default plan (experiments/incident.yaml) replays the
incident: staging at ~1,000 jobs/s, production at the same load, what was
tried, and each fix.

By default the experiment runs its own stack (like 'bottleneck up', on free
ports; the services restart with each row's settings, Jaeger stays up).
With --target it drives a running stack through its admin APIs instead;
then a plan may only use settings that change at run time, and the stack's
own settings are put back at the end.

Exit codes: 0 every row measured, 1 a row failed or the run stopped early,
2 bad flags or a bad plan.

Flags:
`

const examples = `
Examples:
  bottleneck experiment                                 the incident, on an own stack (~4 min)
  bottleneck experiment --rows staging,production       two rows only
  bottleneck experiment --plan my.yaml --check          check a plan, run nothing
  bottleneck experiment --html incident.html            also write a page with charts
  bottleneck experiment --json > run.json               stable JSON (schema_version 1)
  bottleneck experiment --plan my.yaml --duration 20s   your plan, 20 s per row
  bottleneck experiment --target localhost --plan experiments/fixes-live.yaml
                                                        against 'docker compose up'
`

func parseOptions(args []string, stdout, stderr io.Writer) (options, int, bool) {
	var o options
	fs := flag.NewFlagSet("bottleneck experiment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), examples)
	}
	fs.StringVar(&o.plan, "plan", "", "the plan `FILE` (default "+DefaultPlan+" in this checkout)")
	fs.DurationVar(&o.duration, "duration", 0, "measure every row for `D` instead of the plan's durations (at least 1s)")
	fs.StringVar(&o.target, "target", "", "run against a running stack at `URLS`: a host whose standard ports serve it (localhost\nfor docker compose), and/or name=URL for producer, workers, vendor-mock, consumer,\njaeger, comma-separated: localhost,jaeger=http://localhost:26686")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON instead of tables")
	fs.StringVar(&o.html, "html", "", "also write the results as one self-contained HTML page to `FILE`")
	fs.StringVar(&o.rows, "rows", "", "run only these rows of the plan, comma-separated `NAMES`")
	fs.StringVar(&o.traces, "traces", "", "save each row's slowest fast-job trace into `DIR` as Jaeger JSON (the Jaeger UI opens it:\nSearch, JSON File), so the links outlive the run")
	fs.StringVar(&o.ui, "ui", "", "base `URL` of the trace links (default: Jaeger's)")
	fs.BoolVar(&o.keep, "keep", false, "own stack: keep Jaeger running after the rows, so the trace links work, until Ctrl-C")
	fs.BoolVar(&o.build, "build", true, "own stack: rebuild service binaries that are out of date; --build=false only builds missing ones")
	fs.BoolVar(&o.check, "check", false, "check the plan (and, with --target, that its settings can change live), print its rows, run nothing")
	fs.StringVar(&o.logs, "logs", "", "own stack: write the processes' output to `FILE` (default: a temporary file, kept only when a row fails)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return o, ExitOK, false
		}
		return o, ExitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bottleneck experiment: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		return o, ExitUsage, false
	}
	if o.target != "" && (o.keep || o.logs != "") {
		fmt.Fprintln(stderr, "bottleneck experiment: --keep and --logs are for the experiment's own stack, not --target")
		return o, ExitUsage, false
	}
	return o, ExitOK, true
}

// Main runs `bottleneck experiment` with args (without the subcommand
// name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseOptions(args, stdout, stderr)
	if !ok {
		return code
	}
	p, err := loadPlan(o)
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck experiment: %v\n", err)
		return ExitUsage
	}
	if o.check {
		if o.target != "" {
			if err := stackctl.CheckLive(p); err != nil {
				fmt.Fprintf(stderr, "bottleneck experiment: %v\n", err)
				return ExitUsage
			}
		}
		if err := output.WritePlan(stdout, p); err != nil {
			fmt.Fprintf(stderr, "bottleneck experiment: %v\n", err)
			return ExitError
		}
		return ExitOK
	}
	if o.traces != "" {
		if err := os.MkdirAll(o.traces, 0o755); err != nil {
			fmt.Fprintf(stderr, "bottleneck experiment: --traces: %v\n", err)
			return ExitUsage
		}
	}
	if o.html != "" {
		// Fail now, not after minutes of measuring.
		if err := checkWritable(o.html); err != nil {
			fmt.Fprintf(stderr, "bottleneck experiment: --html: %v\n", err)
			return ExitUsage
		}
	}

	run := &result.Run{
		SchemaVersion: result.SchemaVersion,
		Plan:          result.Plan{Name: p.Name, File: p.File, Description: strings.TrimSpace(p.Description)},
		Machine:       result.Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH},
		StartedAt:     time.Now().UTC(),
		Rows:          []result.Row{},
	}
	run.Machine.LoadAverage, _ = measure.LoadAverage()
	analyzer := defaultAnalyzer()
	run.Stack.Analysis = analyzer.Name()

	sys, err := openSystem(ctx, o, p, run, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck experiment: %v\n", err)
		if errors.Is(err, errUsage) {
			return ExitUsage
		}
		return ExitError
	}
	// The analysis reads up to DefaultAnalysisLimit whole traces in one
	// answer: room for 3,000 of them at ~15 KB, twice over.
	jc, err := jaegerapi.New(run.Stack.Jaeger, jaegerapi.WithTimeout(time.Minute), jaegerapi.WithMaxBodyBytes(128<<20))
	if err != nil {
		sys.close(context.WithoutCancel(ctx), false, stderr)
		fmt.Fprintf(stderr, "bottleneck experiment: jaeger: %v\n", err)
		return ExitUsage
	}

	r := &runner.Runner{
		System: sys.System, Sampler: &measure.TraceSampler{Jaeger: jc}, Analyzer: analyzer,
		Base: sys.base, UI: run.Stack.UI, CPUs: run.Machine.CPUs,
	}
	if o.traces != "" {
		r.SaveTrace = func(row string, t jaegerapi.Trace) (string, error) { return saveTrace(o.traces, row, t) }
	}
	var progress *output.Progress
	if f, ok := stderr.(*os.File); ok && output.IsTerminal(f) {
		progress = output.NewProgress(stderr, p.Rows)
		r.Observer, r.Tick = progress, time.Second
	}
	rows, runErr := r.Run(ctx, p)
	if progress != nil {
		progress.Clear()
	}
	run.Rows = rows
	run.FinishedAt = time.Now().UTC()
	run.WallSeconds = run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond).Seconds()
	run.Interrupted = runErr != nil && ctx.Err() != nil

	failed := runErr != nil
	for _, row := range rows {
		failed = failed || row.Status != result.StatusMeasured
	}
	if o.json {
		err = output.WriteJSON(stdout, run)
	} else {
		err = output.WriteText(stdout, run)
	}
	if err == nil && o.html != "" {
		err = writeHTML(o.html, run)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bottleneck experiment: writing the results: %v\n", err)
		failed = true
	}
	if runErr != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "bottleneck experiment: the run stopped early: %v\n", runErr)
	}
	if o.keep && ctx.Err() == nil {
		linksKept(ctx, jc, run, stderr)
	}
	if cerr := sys.close(ctx, o.keep && ctx.Err() == nil, stderr); cerr != nil {
		fmt.Fprintf(stderr, "bottleneck experiment: %v\n", cerr)
		failed = true
	}
	sys.finishLogs(failed, stderr)
	if failed {
		return ExitError
	}
	return ExitOK
}

func loadPlan(o options) (*plan.Plan, error) {
	path := o.plan
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		root, err := stack.FindRepoRoot(wd)
		if err != nil {
			return nil, fmt.Errorf("no --plan given, and no %s to fall back on: %w", DefaultPlan, err)
		}
		path = filepath.Join(root, DefaultPlan)
		if rel, err := filepath.Rel(wd, path); err == nil {
			path = rel
		}
	}
	p, err := plan.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if o.rows != "" {
		var names []string
		for n := range strings.SplitSeq(o.rows, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		if err := p.Select(names); err != nil {
			return nil, fmt.Errorf("--rows: %w", err)
		}
	}
	if o.duration != 0 {
		if err := p.SetDuration(o.duration); err != nil {
			return nil, fmt.Errorf("--duration: %w", err)
		}
	}
	return p, nil
}

// linksKept says how many of the run's trace links Jaeger still holds: its
// in-memory store keeps only the newest traces.
func linksKept(ctx context.Context, jc *jaegerapi.Client, run *result.Run, stderr io.Writer) {
	var gone []string
	n := 0
	for _, r := range run.Rows {
		if r.Fast.Worst == nil {
			continue
		}
		n++
		if _, err := jc.Trace(ctx, r.Fast.Worst.TraceID); errors.Is(err, jaegerapi.ErrTraceNotFound) {
			gone = append(gone, r.Name)
		}
	}
	if len(gone) > 0 {
		fmt.Fprintf(stderr, "bottleneck experiment: %d of the %d trace links are gone from Jaeger's in-memory store (it keeps the newest traces): %s; --traces DIR saves them\n",
			len(gone), n, strings.Join(gone, ", "))
	}
}

// saveTrace writes t as Jaeger's API answers it, which is what the Jaeger
// UI's "JSON File" upload reads.
func saveTrace(dir, row string, t jaegerapi.Trace) (string, error) {
	data, err := json.MarshalIndent(map[string]any{"data": []jaegerapi.Trace{t}}, "", " ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, row+".json")
	return path, os.WriteFile(path, data, 0o644)
}

// checkWritable tells whether a file can be written at path, without
// leaving one behind: the page is written next to it and renamed.
func checkWritable(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func writeHTML(path string, run *result.Run) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := output.WriteHTML(f, run); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// defaultAnalyzer is the capacity model of `bottleneck report`.
func defaultAnalyzer() diagnose.Analyzer { return diagnose.Model{} }

var errUsage = errors.New("usage")

// system is the runner's System plus what the command does around it.
type system struct {
	runner.System
	base    settings.Env
	close   func(ctx context.Context, keep bool, stderr io.Writer) error
	logFile *os.File
	logPath string
	ownLogs bool // the file is ours to remove
}

func (s *system) finishLogs(failed bool, stderr io.Writer) {
	if s.logFile == nil {
		return
	}
	s.logFile.Close()
	if s.ownLogs && !failed {
		os.Remove(s.logPath)
		return
	}
	fmt.Fprintf(stderr, "bottleneck experiment: the processes' output is in %s\n", s.logPath)
}

func openSystem(ctx context.Context, o options, p *plan.Plan, run *result.Run, stderr io.Writer) (*system, error) {
	if o.target != "" {
		return openTarget(ctx, o, p, run)
	}
	return openOwn(o, run, stderr)
}

func openTarget(ctx context.Context, o options, p *plan.Plan, run *result.Run) (*system, error) {
	urls, err := stackctl.ParseTargets(o.target)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := stackctl.CheckLive(p); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	t, err := stackctl.NewTarget(ctx, urls)
	if err != nil {
		return nil, err
	}
	run.Stack = result.Stack{Mode: result.ModeTarget, Jaeger: urls.Jaeger, UI: firstOf(o.ui, urls.Jaeger), Settings: []string{}, Analysis: run.Stack.Analysis}
	return &system{System: t, close: func(ctx context.Context, _ bool, _ io.Writer) error {
		return t.Close(context.WithoutCancel(ctx))
	}}, nil
}

func openOwn(o options, run *result.Run, stderr io.Writer) (*system, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := stack.FindRepoRoot(wd)
	if err != nil {
		return nil, fmt.Errorf("the experiment's own stack runs from a checkout of hidden-bottleneck (or use --target): %w", err)
	}
	if _, err := os.Stat(filepath.Join(stack.BinDir(root), stack.Jaeger)); err != nil {
		fmt.Fprintf(stderr, "bottleneck experiment: %s is missing: building Jaeger 2.13.0 from source first (about 3-5 minutes, once)\n",
			filepath.Join(stack.BinDir(root), stack.Jaeger))
	}
	s := &system{base: stackctl.OwnBase()}
	if o.logs != "" {
		s.logFile, err = os.Create(o.logs)
		s.logPath = o.logs
	} else {
		s.logFile, err = os.CreateTemp("", "bottleneck-experiment-*.log")
		if err == nil {
			s.logPath, s.ownLogs = s.logFile.Name(), true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	build := stack.BuildMissing
	if o.build {
		build = stack.BuildServices
	}
	own, err := stackctl.NewOwn(stackctl.OwnConfig{Stack: stack.Config{
		RepoRoot: root, Build: build, Output: s.logFile, StartTimeout: time.Minute, StopTimeout: 10 * time.Second,
	}})
	if err != nil {
		return nil, err
	}
	s.System = own
	var base []string
	for _, st := range s.base.Settings() {
		base = append(base, st.Key()+"="+st.Value)
	}
	run.Stack = result.Stack{Mode: result.ModeOwn, Jaeger: own.JaegerURL(), UI: firstOf(o.ui, own.JaegerURL()), Settings: base, Analysis: run.Stack.Analysis}
	s.close = func(ctx context.Context, keep bool, stderr io.Writer) error {
		if keep && own.Done() != nil {
			if err := own.StopServices(); err != nil {
				fmt.Fprintf(stderr, "bottleneck experiment: %v\n", err)
			}
			fmt.Fprintf(stderr, "\nJaeger keeps this run's traces at %s (query API /api/traces; the trace links above). Ctrl-C stops it.\n", own.JaegerURL())
			select {
			case <-ctx.Done():
			case <-own.Done():
			}
		}
		return own.Close()
	}
	return s, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return strings.TrimRight(a, "/")
	}
	return b
}
