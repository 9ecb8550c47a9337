package composetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// upServices are the services `docker compose up` starts.
var upServices = []string{"console", "consumer", "jaeger", "producer", "vendor-mock", "workers"}

const (
	// waitTimeout bounds `up --wait`: the slowest healthcheck chain is
	// four services deep, each with a 30 s start period.
	waitTimeout = 3 * time.Minute
	// traceWait bounds how long a finished burst's traces may take to be
	// complete in Jaeger (spans are exported about every second).
	traceWait = 30 * time.Second
	// cleanupReserve is the part of the test's deadline kept for printing
	// logs and taking the project down.
	cleanupReserve = 2 * time.Minute
	// bursts is how many checkout bursts run with the defaults before the
	// report and the memory reading.
	bursts = 5
)

// TestComposeUp is the README's Docker path, step by step, on one
// project: build, up, the incident with the defaults, the report, a fix
// from the shell, a bad setting, stopping the workers mid-burst, and down.
// The steps share the stack, so they run in order and a failed build or up
// ends the test.
func TestComposeUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the images and runs the stack on a Docker engine")
	}
	if err := engineAnswers(context.Background()); err != nil {
		if inCI() {
			t.Fatalf("CI is set, but no Docker engine answers (.ci/run starts one): %v", err)
		}
		t.Skipf("no Docker engine answers (set CI to make this a failure): %v", err)
	}
	ctx, cancel := stepContext(t, cleanupReserve)
	defer cancel()

	s := newStack(t)
	if r := s.run(ctx, nil, "docker", "compose", "version"); r.err != nil {
		t.Fatalf("Docker Compose v2 does not answer; `make compose-plugin` builds and installs the pinned version.\n%s", r)
	} else {
		t.Logf("%s, project %s", strings.TrimSpace(r.stdout), s.project)
	}
	removeStaleProjects(t, ctx, s)
	cfg := s.config(t, ctx)
	requireFreePorts(t, cfg.ports)

	// On failure, what the containers said, once: before the down step
	// removes them, or in the cleanup when a step ended the test early.
	diagnose := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.printDiagnostics(t, ctx, upServices)
	})
	// Cleanups run last-registered first: logs on failure, then down.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupReserve)
		defer cancel()
		if err := s.teardown(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			diagnose()
		}
	})

	if !t.Run("build", func(t *testing.T) {
		// The report's image too, so `run --rm report` does not build.
		r := s.mustCompose(t, ctx, nil, "--profile", "tools", "build")
		t.Logf("docker compose build: %s", r.took.Round(time.Second))
	}) {
		return
	}

	var urls endpoints
	if !t.Run("up --wait: every service healthy", func(t *testing.T) {
		r := s.mustCompose(t, ctx, nil, "up", "--detach", "--wait", "--wait-timeout", seconds(waitTimeout))
		t.Logf("docker compose up --wait: healthy in %s", r.took.Round(100*time.Millisecond))
		requireHealthy(t, s.ps(t, ctx), upServices)
		urls = s.endpoints(t, ctx)
		s.logImageSizes(t, ctx)
	}) {
		return
	}
	j := jaeger{base: urls.jaeger}

	t.Run("defaults: one job is one trace across the four services, and result sends block", func(t *testing.T) {
		b, err := checkout(ctx, urls.producer)
		if err == nil {
			err = b.complete()
		}
		if err != nil {
			t.Fatal(err)
		}
		traces, err := j.await(ctx, b.traceIDs(""), traceWait, delivered)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"consumer", "producer", "vendor-mock", "workers"}
		for _, id := range b.traceIDs("vendor-api") {
			if got := traces[id].services(); !slices.Equal(got, want) {
				t.Errorf("vendor-api job: services %v, want %v\n%s", got, want, traces[id])
			}
		}
		sends, blocked := blockedSends(traces)
		t.Logf("burst %s: %d of %d result sends blocked", b.Batch, blocked, sends)
		if blocked == 0 {
			t.Errorf("no %s span of burst %s has %s=true; with the defaults (RESULTS_BUFFER=WORKERS) sends block",
				spans.ResultSend, b.Batch, spans.ChannelBlocked)
		}
	})

	t.Run("console: reads every service and Jaeger over the compose network", func(t *testing.T) {
		// The console polls once a second; give it a few polls to see the
		// burst above.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var got struct {
				Snapshot struct {
					Errors map[string]string `json:"errors"`
					// How many traces the console holds in its window.
					Traces int `json:"traces"`
				} `json:"snapshot"`
			}
			err := callJSON(ctx, http.MethodGet, urls.console+"/api/snapshot", nil, &got)
			switch {
			case err == nil && len(got.Snapshot.Errors) == 0 && got.Snapshot.Traces > 0:
				t.Logf("console: %d traces in its window, every source read", got.Snapshot.Traces)
				return
			case time.Now().After(deadline):
				t.Fatalf("console %s/api/snapshot after 30 s: err %v, errors %v, %d traces; want every source read and the burst's traces",
					urls.console, err, got.Snapshot.Errors, got.Snapshot.Traces)
			}
			time.Sleep(time.Second)
		}
	})

	t.Run("memory after five bursts", func(t *testing.T) {
		for i := 2; i <= bursts; i++ {
			b, err := checkout(ctx, urls.producer)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("burst %d (%s): %d of %d jobs completed", i, b.Batch, b.Completed, b.Total)
		}
		s.checkMemory(t, ctx)
	})

	t.Run("docker compose run --rm report --json names the bottleneck", func(t *testing.T) {
		r := s.compose(ctx, nil, "run", "--rm", "report", "--json")
		if r.err != nil {
			t.Fatalf("the report must exit 0 when it finds a bottleneck: %s", r)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("report --json is not JSON: %v\n%s", err, r.stdout)
		}
		blocked, err := reportBlockedSends(doc)
		if err != nil {
			t.Fatal(err)
		}
		if blocked <= 0 {
			t.Errorf("the report counts %v blocked sends after %d bursts with the defaults", blocked, bursts)
		}
		named, err := reportBottleneck(doc)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("report (schema %v, %s): %v blocked sends; %s", doc["schema_version"], r.took.Round(100*time.Millisecond), blocked, named)
	})

	t.Run("RESULTS_BUFFER=400 up --wait recreates the workers and no send blocks", func(t *testing.T) {
		before := s.ps(t, ctx)
		r := s.mustCompose(t, ctx, []string{"RESULTS_BUFFER=400"}, "up", "--detach", "--wait", "--wait-timeout", seconds(waitTimeout))
		after := s.ps(t, ctx)
		requireHealthy(t, after, upServices)
		if before["workers"].ID == after["workers"].ID {
			t.Fatalf("the workers container %s was not recreated:\n%s", after["workers"].ID, r)
		}
		t.Logf("workers recreated and healthy in %s", r.took.Round(100*time.Millisecond))
		var conf struct {
			ResultsBuffer int `json:"results_buffer"`
		}
		if err := callJSON(ctx, http.MethodGet, urls.workers+"/admin/config", nil, &conf); err != nil {
			t.Fatal(err)
		}
		if conf.ResultsBuffer != 400 {
			t.Fatalf("workers /admin/config results_buffer = %d, want 400", conf.ResultsBuffer)
		}
		total, blockedTotal := 0, 0
		for range 2 {
			b, err := checkout(ctx, urls.producer)
			if err == nil {
				err = b.complete()
			}
			if err != nil {
				t.Fatal(err)
			}
			traces, err := j.await(ctx, b.traceIDs(""), traceWait, delivered)
			if err != nil {
				t.Fatal(err)
			}
			sends, blocked := blockedSends(traces)
			total, blockedTotal = total+sends, blockedTotal+blocked
		}
		t.Logf("with RESULTS_BUFFER=400: %d of %d result sends blocked", blockedTotal, total)
		if blockedTotal != 0 {
			t.Errorf("%d of %d result sends blocked with RESULTS_BUFFER=400", blockedTotal, total)
		}
	})

	t.Run("RESULTS_BUFFER=-1 fails up --wait and the workers' log names it", func(t *testing.T) {
		r := s.compose(ctx, []string{"RESULTS_BUFFER=-1"}, "up", "--detach", "--wait", "--wait-timeout", "60")
		if r.err == nil {
			t.Fatalf("up --wait succeeded with RESULTS_BUFFER=-1:\n%s", r)
		}
		t.Logf("up --wait failed after %s: %s", r.took.Round(100*time.Millisecond), lastLine(r.stderr))
		logs := s.mustCompose(t, ctx, nil, "logs", "--no-color", "workers")
		if !strings.Contains(logs.stdout, "RESULTS_BUFFER") {
			t.Errorf("the workers' log does not name RESULTS_BUFFER:\n%s", logs.stdout)
		} else {
			t.Logf("workers: %s", firstLineWith(logs.stdout, "RESULTS_BUFFER"))
		}
		// Back to the defaults for the next step.
		s.mustCompose(t, ctx, nil, "up", "--detach", "--wait", "--wait-timeout", seconds(waitTimeout))
		requireHealthy(t, s.ps(t, ctx), upServices)
	})

	t.Run("stop workers during a burst: drained, and their spans reach Jaeger", func(t *testing.T) {
		s.stopWorkersDuringBurst(t, ctx, urls, j, cfg.workersGrace)
	})

	if t.Failed() {
		diagnose()
	}
	t.Run("down leaves nothing behind", func(t *testing.T) {
		r := s.down(ctx)
		if r.err != nil {
			t.Fatalf("%s", r)
		}
		t.Logf("docker compose down: %s", r.took.Round(100*time.Millisecond))
		left, err := s.leftovers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("after down: %s", strings.Join(left, ", "))
		}
	})
}

// delivered is ready for a job's trace once it is one tree that holds the
// workers' result send and the consumer's handling of the result.
func delivered(tr trace) error {
	if err := tr.shape(); err != nil {
		return err
	}
	for _, want := range []struct{ service, name string }{
		{"producer", spans.JobSubmit},
		{"workers", spans.WorkerProcess},
		{"workers", spans.ResultSend},
		{"consumer", spans.ResultProcess},
	} {
		if len(tr.named(want.service, want.name)) == 0 {
			return fmt.Errorf("trace %s: no %s span from %s yet", tr.id, want.name, want.service)
		}
	}
	// Each service exports on its own 1 s batch timer, so the vendor
	// mock's spans may reach Jaeger after the consumer's although they
	// ended first.
	if len(tr.named("workers", spans.VendorAPI)) > 0 && !slices.Contains(tr.services(), "vendor-mock") {
		return fmt.Errorf("trace %s: a vendor call, but no span from vendor-mock yet", tr.id)
	}
	return nil
}

// blockedSends counts the result sends of the traces and those that
// blocked.
func blockedSends(traces map[string]trace) (sends, blocked int) {
	for _, tr := range traces {
		for _, s := range tr.named("workers", spans.ResultSend) {
			sends++
			if s.boolTag(spans.ChannelBlocked) {
				blocked++
			}
		}
	}
	return sends, blocked
}

// The report's JSON belongs to `bottleneck report`, whose schema moves on
// (schema_version 2 adds verdict.bottleneck_stage). The test reads only
// these stable facts; adapt them here when the schema changes.

// reportBlockedSends is the number of blocked result sends the report saw.
func reportBlockedSends(doc map[string]any) (float64, error) {
	v, ok := lookup(doc, "blocked_sends", "blocked").(float64)
	if !ok {
		return 0, fmt.Errorf("report --json has no number at blocked_sends.blocked: %v", doc["blocked_sends"])
	}
	return v, nil
}

// reportBottleneck is what the verdict names: the stage (schema 2), or
// the summary of a verdict that found one (schema 1).
func reportBottleneck(doc map[string]any) (string, error) {
	if stage, ok := lookup(doc, "verdict", "bottleneck_stage").(string); ok && stage != "" && stage != "none" {
		return "bottleneck stage " + stage, nil
	}
	if found, _ := lookup(doc, "verdict", "bottleneck").(bool); found {
		summary, _ := lookup(doc, "verdict", "summary").(string)
		return summary, nil
	}
	return "", fmt.Errorf("the report's verdict names no bottleneck: %v", doc["verdict"])
}

// lookup walks nested JSON objects; nil when a key is missing.
func lookup(doc map[string]any, path ...string) any {
	var v any = doc
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// composeConfig is what the test reads from `docker compose config`.
type composeConfig struct {
	ports        []publishedPort
	workersGrace time.Duration // the workers' stop_grace_period
}

func (s *stack) config(t *testing.T, ctx context.Context) composeConfig {
	t.Helper()
	r := s.mustCompose(t, ctx, nil, "config", "--format", "json")
	var raw struct {
		Services map[string]struct {
			StopGracePeriod string `json:"stop_grace_period"`
			Ports           []struct {
				HostIP    string `json:"host_ip"`
				Published string `json:"published"`
			} `json:"ports"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("docker compose config: %v", err)
	}
	var cfg composeConfig
	for name, svc := range raw.Services {
		for _, p := range svc.Ports {
			n, err := strconv.Atoi(p.Published)
			if err != nil {
				t.Fatalf("service %s publishes %q: not a fixed host port", name, p.Published)
			}
			cfg.ports = append(cfg.ports, publishedPort{Service: name, HostIP: p.HostIP, Port: n})
		}
	}
	slices.SortFunc(cfg.ports, func(a, b publishedPort) int { return a.Port - b.Port })
	grace := raw.Services["workers"].StopGracePeriod
	d, err := time.ParseDuration(grace)
	if err != nil {
		t.Fatalf("workers stop_grace_period %q: %v", grace, err)
	}
	cfg.workersGrace = d
	return cfg
}

// endpoints are the published URLs the test talks to.
type endpoints struct {
	jaeger, producer, workers, consumer, console string
}

func (s *stack) endpoints(t *testing.T, ctx context.Context) endpoints {
	t.Helper()
	return endpoints{
		jaeger:   s.hostURL(t, ctx, "jaeger", 16686),
		producer: s.hostURL(t, ctx, "producer", 8080),
		workers:  s.hostURL(t, ctx, "workers", 8081),
		consumer: s.hostURL(t, ctx, "consumer", 8083),
		console:  s.hostURL(t, ctx, "console", 8090),
	}
}

func requireHealthy(t *testing.T, states map[string]containerState, services []string) {
	t.Helper()
	for _, name := range services {
		c, ok := states[name]
		switch {
		case !ok:
			t.Errorf("service %s has no container", name)
		case c.State != "running" || c.Health != "healthy":
			t.Errorf("service %s: state %q, health %q; want running and healthy", name, c.State, c.Health)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// logImageSizes logs the size of every image the project's containers run.
func (s *stack) logImageSizes(t *testing.T, ctx context.Context) {
	t.Helper()
	r := s.mustCompose(t, ctx, nil, "images", "--format", "json")
	images, err := decodeLines[struct {
		ContainerName, Repository, Tag string
		Size                           int64
	}](r.stdout)
	if err != nil {
		t.Fatalf("docker compose images: %v", err)
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "container\timage\tsize")
	for _, im := range images {
		fmt.Fprintf(w, "%s\t%s:%s\t%.1f MB\n", im.ContainerName, im.Repository, im.Tag, float64(im.Size)/1e6)
	}
	w.Flush()
	t.Logf("images:\n%s", b.String())
}

// checkMemory reads each container's memory with `docker stats`: every
// one stays under its limit, and none was restarted (an OOM kill would).
func (s *stack) checkMemory(t *testing.T, ctx context.Context) {
	t.Helper()
	states := s.ps(t, ctx)
	var ids []string
	for _, name := range upServices {
		ids = append(ids, states[name].ID)
	}
	r := s.docker(ctx, append([]string{"stats", "--no-stream", "--format", "{{json .}}"}, ids...)...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	stats, err := decodeLines[struct{ Name, MemUsage, MemPerc, CPUPerc string }](r.stdout)
	if err != nil {
		t.Fatalf("docker stats: %v", err)
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "container\tmemory / limit\t%\tCPU")
	for _, st := range stats {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", st.Name, st.MemUsage, st.MemPerc, st.CPUPerc)
		used, limit, err := parseMemUsage(st.MemUsage)
		if err != nil {
			t.Errorf("%s: %v", st.Name, err)
		} else if used >= limit {
			t.Errorf("%s uses %s: at its limit", st.Name, st.MemUsage)
		}
	}
	w.Flush()
	t.Logf("memory after %d bursts:\n%s", bursts, b.String())

	r = s.docker(ctx, append([]string{"inspect", "--format", "{{.Name}} {{.RestartCount}} {{.State.OOMKilled}}"}, ids...)...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	for line := range strings.Lines(r.stdout) {
		f := strings.Fields(line)
		if len(f) == 3 && (f[1] != "0" || f[2] != "false") {
			t.Errorf("container %s: restarts %s, OOM-killed %s", f[0], f[1], f[2])
		}
	}
}

// parseMemUsage reads docker stats' "7.8MiB / 256MiB".
func parseMemUsage(s string) (used, limit float64, err error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("memory usage %q: want used / limit", s)
	}
	if used, err = parseBytes(a); err == nil {
		limit, err = parseBytes(b)
	}
	return used, limit, err
}

func parseBytes(s string) (float64, error) {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		factor float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil {
				return 0, fmt.Errorf("size %q: %w", s, err)
			}
			return v * u.factor, nil
		}
	}
	return 0, fmt.Errorf("size %q: unknown unit", s)
}

// stopWorkersDuringBurst stops the workers while a burst is in flight:
// SIGTERM makes them stop accepting, finish and deliver what they hold,
// and flush their spans, all within the compose file's stop grace period.
// The consumer is slowed to 200 ms a result at run time so the burst lasts
// seconds on any machine: the stop lands mid-burst, not after it. The
// producer's own bursts are paused (scenario idle) so the jobs in flight
// are the test's.
func (s *stack) stopWorkersDuringBurst(t *testing.T, ctx context.Context, urls endpoints, j jaeger, grace time.Duration) {
	t.Helper()
	if err := callJSON(ctx, http.MethodPut, urls.producer+"/admin/load", map[string]any{"scenario": "idle"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := callJSON(ctx, http.MethodPut, urls.consumer+"/admin/config", map[string]any{"process_delay": "200ms"}, nil); err != nil {
		t.Fatal(err)
	}
	handledBefore := consumerHandled(t, ctx, urls.consumer)

	type outcome struct {
		b   burst
		err error
		at  time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		b, err := checkout(ctx, urls.producer)
		done <- outcome{b, err, time.Now()}
	}()
	// Stop once the consumer has a result of the burst: the workers then
	// hold the rest of it.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for consumerHandled(t, waitCtx, urls.consumer) == handledBefore {
		select {
		case <-waitCtx.Done():
			t.Fatal("the consumer handled no result of the burst within 30 s")
		case <-time.After(50 * time.Millisecond):
		}
	}
	stopBegan := time.Now()
	r := s.mustCompose(t, ctx, nil, "stop", "workers")
	t.Logf("docker compose stop workers: %s (grace %s)", r.took.Round(100*time.Millisecond), grace)
	if r.took >= grace {
		t.Errorf("stopping the workers took %s, not less than the grace period %s: Docker killed them", r.took, grace)
	}
	if w := s.ps(t, ctx)["workers"]; w.State != "exited" || w.ExitCode != 0 {
		t.Errorf("workers after stop: state %q, exit code %d; want exited 0 (137 = killed after the grace period)", w.State, w.ExitCode)
	}

	var out outcome
	select {
	case out = <-done:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.at.Before(stopBegan) {
		t.Fatalf("burst %s ended before the stop began: nothing was in flight", out.b.Batch)
	}
	var doneIDs, notDone []string
	for _, job := range out.b.Jobs {
		if job.Done {
			doneIDs = append(doneIDs, job.TraceID)
		} else {
			notDone = append(notDone, job.TraceID)
		}
	}
	t.Logf("burst %s ended after the stop began: %d of %d jobs done", out.b.Batch, len(doneIDs), out.b.Total)
	if len(doneIDs) == 0 {
		t.Fatalf("no job of burst %s was done", out.b.Batch)
	}
	// Every job the consumer confirmed has its workers' spans in Jaeger,
	// those the workers finished after SIGTERM included.
	traces, err := j.await(ctx, doneIDs, traceWait, delivered)
	if err != nil {
		t.Fatalf("the workers' spans of jobs they delivered did not all reach Jaeger: %v", err)
	}
	afterStop := 0
	for _, tr := range traces {
		for _, p := range tr.named("consumer", spans.ResultProcess) {
			if p.start.After(stopBegan) {
				afterStop++
				break
			}
		}
	}
	t.Logf("%d of the burst's results were delivered after SIGTERM, with their workers' spans in Jaeger", afterStop)
	if afterStop == 0 {
		t.Errorf("no result of burst %s was delivered after the stop began: the stop did not land mid-burst", out.b.Batch)
	}
	// A job the workers accepted and did not deliver was lost in the drain.
	for _, id := range notDone {
		tr, found, err := j.trace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if found && len(tr.named("workers", spans.WorkerProcess)) > 0 {
			t.Errorf("the workers worked on a job and its result never reached the consumer:\n%s", tr)
		}
	}
}

func consumerHandled(t *testing.T, ctx context.Context, consumer string) int {
	t.Helper()
	var st struct {
		Handled int `json:"handled"`
	}
	if err := callJSON(ctx, http.MethodGet, consumer+"/stats", nil, &st); err != nil {
		t.Fatal(err)
	}
	return st.Handled
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func firstLineWith(s, substr string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
