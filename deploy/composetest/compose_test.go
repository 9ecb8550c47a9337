package composetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// projectPrefix names every Compose project this test creates, followed by
// the test process's PID: a project whose process is gone is stale.
const projectPrefix = "hbcompose-"

// composeFile is the file under test; naming it keeps a local
// docker-compose.override.yml out of the run.
const composeFile = "docker-compose.yml"

// passThrough are variables of the compose file's namespace that the test
// keeps from its environment: the base images (stand-ins in CI, a mirror
// elsewhere) and how Compose builds. Every other variable that .env sets
// is a knob and is cleared, so the stack runs with the defaults.
var passThrough = []string{"JAEGER_IMAGE", "GO_IMAGE", "RUNTIME_IMAGE"}

// composeEnvironment are Compose's own variables that would change which
// project, file or profiles the commands act on.
var composeEnvironment = []string{"COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES", "COMPOSE_PATH_SEPARATOR"}

// stack is one Compose project of the repository's compose file.
type stack struct {
	project string
	dir     string   // repository root: holds docker-compose.yml and .env
	env     []string // the commands' environment, knobs cleared
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, composeFile)); err != nil {
		t.Fatalf("no %s at the repository root %s: %v", composeFile, root, err)
	}
	return root
}

func newStack(t *testing.T) *stack {
	t.Helper()
	root := repoRoot(t)
	knobs, err := dotEnvNames(filepath.Join(root, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	return &stack{
		project: fmt.Sprintf("%s%d-%s", projectPrefix, os.Getpid(), hex.EncodeToString(suffix[:])),
		dir:     root,
		env:     cleanEnv(os.Environ(), append(knobs, composeEnvironment...)),
	}
}

// cleanEnv drops the named variables from env, except those passed through.
func cleanEnv(env, drop []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(drop, name) && !slices.Contains(passThrough, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// dotEnvNames lists the variables an env file sets (KEY=value lines).
func dotEnvNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names, sc.Err()
}

// result is what one command did.
type result struct {
	args           []string
	stdout, stderr string
	took           time.Duration
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\n(%s, %v)\n--- stdout\n%s--- stderr\n%s", strings.Join(r.args, " "), r.took.Round(time.Millisecond), r.err, r.stdout, r.stderr)
}

// run runs a command in the repository root with the stack's environment
// plus extra, until ctx ends.
func (s *stack) run(ctx context.Context, extra []string, name string, args ...string) result {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir
	cmd.Env = append(slices.Clone(s.env), extra...)
	// A stopped docker client leaves the engine's work running; give it a
	// moment to stop its own way first.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	return result{
		args:   append([]string{name}, args...),
		stdout: stdout.String(), stderr: stderr.String(),
		took: time.Since(began), err: err,
	}
}

// compose runs `docker compose -p <project> -f docker-compose.yml args...`.
func (s *stack) compose(ctx context.Context, extra []string, args ...string) result {
	return s.run(ctx, extra, "docker", append([]string{"compose", "-p", s.project, "-f", composeFile}, args...)...)
}

// mustCompose is compose that fails the test when the command fails.
func (s *stack) mustCompose(t *testing.T, ctx context.Context, extra []string, args ...string) result {
	t.Helper()
	r := s.compose(ctx, extra, args...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	return r
}

func (s *stack) docker(ctx context.Context, args ...string) result {
	return s.run(ctx, nil, "docker", args...)
}

// engineAnswers says whether `docker info` gets an answer from an engine.
func engineAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker info: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// inCI is the CI convention: CI set to anything but false or 0.
func inCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// containerState is one line of `docker compose ps --format json`.
type containerState struct {
	ID       string `json:"ID"`
	Name     string `json:"Name"`
	Service  string `json:"Service"`
	State    string `json:"State"`
	Health   string `json:"Health"`
	ExitCode int    `json:"ExitCode"`
}

// ps lists the project's containers, stopped ones too.
func (s *stack) ps(t *testing.T, ctx context.Context) map[string]containerState {
	t.Helper()
	r := s.mustCompose(t, ctx, nil, "ps", "-a", "--format", "json")
	states, err := decodeLines[containerState](r.stdout)
	if err != nil {
		t.Fatalf("docker compose ps: %v\n%s", err, r.stdout)
	}
	out := map[string]containerState{}
	for _, c := range states {
		out[c.Service] = c
	}
	return out
}

// decodeLines reads JSON that is either one array or one object per line
// (Compose and the docker CLI have printed both).
func decodeLines[T any](s string) ([]T, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "[") {
		var out []T
		err := json.Unmarshal([]byte(s), &out)
		return out, err
	}
	var out []T
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return nil, fmt.Errorf("%w: %s", err, line)
		}
		out = append(out, v)
	}
	return out, nil
}

// publishedPort is a host port the compose file publishes.
type publishedPort struct {
	Service string
	HostIP  string
	Port    int
}

// requireFreePorts fails with the port's name when something already
// listens on a host port the stack is going to publish.
func requireFreePorts(t *testing.T, ports []publishedPort) {
	t.Helper()
	for _, p := range ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p.Port)))
		if err != nil {
			t.Fatalf("host port %d (service %s) is taken: %v. Is another stack running (docker compose ls), or a `bottleneck up` on the default ports?",
				p.Port, p.Service, err)
		}
		l.Close()
	}
}

// hostURL is the http://host:port the service's container port is
// published on.
func (s *stack) hostURL(t *testing.T, ctx context.Context, service string, port int) string {
	t.Helper()
	r := s.mustCompose(t, ctx, nil, "port", service, strconv.Itoa(port))
	addr := strings.TrimSpace(r.stdout)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("docker compose port %s %d: %q: %v", service, port, addr, err)
	}
	return "http://" + addr
}

// removeStaleProjects takes down the projects an earlier run of this test
// left behind (its process is gone): their containers, networks, volumes and
// built images. A project whose process still runs is left alone.
func removeStaleProjects(t *testing.T, ctx context.Context, s *stack) {
	t.Helper()
	names := map[string]bool{}
	for _, kind := range [][]string{
		{"ps", "-a"}, {"network", "ls"}, {"volume", "ls"},
	} {
		args := append(kind, "--filter", "label=com.docker.compose.project", "--format", `{{.Label "com.docker.compose.project"}}`)
		r := s.docker(ctx, args...)
		if r.err != nil {
			t.Fatalf("%s", r)
		}
		for name := range strings.FieldsSeq(r.stdout) {
			names[name] = true
		}
	}
	// Images built by Compose carry the label too; `image ls` cannot print
	// it, so inspect them.
	r := s.docker(ctx, "image", "ls", "--quiet", "--filter", "label=com.docker.compose.project")
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	if ids := slices.Compact(slices.Sorted(strings.FieldsSeq(r.stdout))); len(ids) > 0 {
		r := s.docker(ctx, append([]string{"image", "inspect", "--format", `{{index .Config.Labels "com.docker.compose.project"}}`}, ids...)...)
		if r.err != nil {
			t.Fatalf("%s", r)
		}
		for name := range strings.FieldsSeq(r.stdout) {
			names[name] = true
		}
	}
	for name := range names {
		pid, ok := projectPID(name)
		if !ok || processRuns(pid) {
			continue
		}
		stale := &stack{project: name, dir: s.dir, env: s.env}
		if err := stale.teardown(ctx); err != nil {
			t.Fatalf("taking down the stale project %s: %v", name, err)
		}
		t.Logf("took down the stale project %s, left by process %d", name, pid)
	}
}

// projectPID reads the PID out of a project name this test made.
func projectPID(project string) (int, bool) {
	rest, ok := strings.CutPrefix(project, projectPrefix)
	if !ok {
		return 0, false
	}
	pid, _, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(pid)
	return n, err == nil && n > 0
}

func processRuns(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// printDiagnostics shows what a failed run needs: the project's containers
// and every service's log.
func (s *stack) printDiagnostics(t *testing.T, ctx context.Context, services []string) {
	t.Helper()
	t.Logf("%s", s.compose(ctx, nil, "ps", "-a"))
	for _, svc := range services {
		r := s.compose(ctx, nil, "logs", "--no-color", "--timestamps", "--tail", "300", svc)
		t.Logf("--- log of %s (last 300 lines)\n%s%s", svc, r.stdout, r.stderr)
	}
}

// down takes the project down with everything it made: containers,
// networks, volumes and built images.
func (s *stack) down(ctx context.Context) result {
	return s.compose(ctx, nil, "--profile", "tools", "down", "--volumes", "--remove-orphans", "--rmi", "local")
}

// teardown is down for a project in any state: `down --rmi local` removes
// images only along with containers, so images built by a run that never
// started (or that down already emptied) are removed by their label.
func (s *stack) teardown(ctx context.Context) error {
	if r := s.down(ctx); r.err != nil {
		return fmt.Errorf("%s", r)
	}
	r := s.docker(ctx, "image", "ls", "--quiet", "--filter", "label=com.docker.compose.project="+s.project)
	if r.err != nil {
		return fmt.Errorf("%s", r)
	}
	ids := slices.Compact(slices.Sorted(strings.FieldsSeq(r.stdout)))
	if len(ids) == 0 {
		return nil
	}
	if r := s.docker(ctx, append([]string{"image", "rm"}, ids...)...); r.err != nil {
		return fmt.Errorf("%s", r)
	}
	return nil
}

// leftovers lists the containers, networks, volumes and images of the
// project that still exist.
func (s *stack) leftovers(ctx context.Context) ([]string, error) {
	label := "label=com.docker.compose.project=" + s.project
	var out []string
	for _, q := range []struct {
		what string
		args []string
	}{
		{"container", []string{"ps", "-a", "--filter", label, "--format", "{{.Names}}"}},
		{"network", []string{"network", "ls", "--filter", label, "--format", "{{.Name}}"}},
		{"volume", []string{"volume", "ls", "--filter", label, "--format", "{{.Name}}"}},
		{"image", []string{"image", "ls", "--filter", label, "--format", "{{.Repository}}:{{.Tag}}"}},
	} {
		r := s.docker(ctx, q.args...)
		if r.err != nil {
			return nil, fmt.Errorf("%s", r)
		}
		for name := range strings.FieldsSeq(r.stdout) {
			out = append(out, q.what+" "+name)
		}
	}
	return out, nil
}

// stepContext bounds a step by the test's deadline, keeping reserve for
// the cleanup: a test binary killed by -timeout runs no cleanup and would
// leave the project running.
func stepContext(t *testing.T, reserve time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := t.Deadline()
	if !ok {
		return context.WithCancel(context.Background())
	}
	return context.WithDeadline(context.Background(), deadline.Add(-reserve))
}
