package stack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging/logtest"
)

// The test binary doubles as every child process: Start runs it under the
// names jaeger, producer, ... (symlinks in a temporary bin directory), and
// TestMain turns it into a small fake that serves a health endpoint and logs
// its life to $STACK_FAKE_DIR/events.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("STACK_FAKE_PARENT") != "":
		os.Exit(fakeParent())
	case os.Getenv("STACK_FAKE_DIR") != "":
		os.Exit(fakeChild())
	}
	os.Exit(m.Run())
}

func fakeChild() int {
	name := filepath.Base(os.Args[0])
	dir := os.Getenv("STACK_FAKE_DIR")
	event := func(format string, a ...any) {
		f, err := os.OpenFile(filepath.Join(dir, "events"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		fmt.Fprintf(f, format+"\n", a...)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if os.Getenv("STACK_FAKE_IGNORE_TERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasSuffix(k, "_ADDR") || strings.HasPrefix(k, "OTEL_") ||
			strings.HasPrefix(k, "JAEGER_") || k == "VENDOR_URL" || k == "EXTRA" || k == "DATA_DIR" {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	os.WriteFile(filepath.Join(dir, name+".env"), []byte(strings.Join(env, "\n")+"\n"), 0o644)
	event("start %s %d", name, os.Getpid())
	fmt.Printf("hello from %s\n", name)
	fmt.Fprintf(os.Stderr, "%s writes to stderr too\n", name)

	if os.Getenv("STACK_FAKE_FAIL") != "" {
		fmt.Fprintln(os.Stderr, "fatal: cannot start")
		return 2
	}
	if os.Getenv("STACK_FAKE_GRANDCHILD") != "" {
		gc := exec.Command("sleep", "300")
		if gc.Start() == nil {
			os.WriteFile(filepath.Join(dir, name+".grandchild"), []byte(strconv.Itoa(gc.Process.Pid)), 0o644)
		}
	}
	addr, path := os.Getenv("HTTP_ADDR"), "/healthz"
	if name == Jaeger {
		addr, path = os.Getenv("JAEGER_HEALTH_ENDPOINT"), "/status"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(http.ResponseWriter, *http.Request) {})
	go http.Serve(l, mux)

	exitAfter := make(<-chan time.Time)
	if d, err := time.ParseDuration(os.Getenv("STACK_FAKE_EXIT_AFTER")); err == nil {
		exitAfter = time.After(d)
	}
	select {
	case <-sigs:
		event("stop %s", name)
		return 0
	case <-exitAfter:
		fmt.Println("crashing on purpose")
		return 3
	}
}

// fakeParent runs a stack and prints the children's pids; the test kills it
// with SIGKILL to check the children die with it.
func fakeParent() int {
	os.Unsetenv("STACK_FAKE_PARENT")
	var cfg Config
	cfg.RepoRoot, cfg.BinDir = os.Getenv("STACK_FAKE_ROOT"), os.Getenv("STACK_FAKE_BIN")
	cfg.Build = BuildNever
	var err error
	if cfg.Ports, err = FreePorts(); err != nil {
		fmt.Println(err)
		return 1
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	return func() int { s.Wait(); return 0 }()
}

// fakeRepo makes a checkout with just what Start looks for and a bin
// directory of links to this test binary.
func fakeRepo(t *testing.T) (root, bin, events string) {
	t.Helper()
	root = t.TempDir()
	bin = filepath.Join(root, "bin")
	events = filepath.Join(root, "events")
	if err := os.MkdirAll(filepath.Join(root, "deploy", "jaeger"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(root, JaegerConfigPath), []byte("{}\n"), 0o644)
	os.MkdirAll(bin, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range stopOrder() {
		if err := os.Symlink(self, filepath.Join(bin, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("STACK_FAKE_DIR", root)
	return root, bin, events
}

func testConfig(t *testing.T) (Config, string, *logtest.Buffer) {
	root, bin, events := fakeRepo(t)
	ports, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	out := &logtest.Buffer{}
	return Config{
		RepoRoot: root, BinDir: bin, Build: BuildNever, Ports: ports, Output: out,
		StartTimeout: 20 * time.Second, StopTimeout: 10 * time.Second,
	}, events, out
}

// eventLines returns the lines of the events file starting with verb.
func eventLines(t *testing.T, path, verb string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == verb {
			names = append(names, f[1])
		}
	}
	return names
}

func TestStackStartsInDependencyOrderAndStopsInReverse(t *testing.T) {
	cfg, events, out := testConfig(t)
	cfg.Env = []string{"EXTRA=all"}
	cfg.ServiceEnv = map[string][]string{Workers: {"EXTRA=workers-only"}}
	t.Setenv("STACK_FAKE_GRANDCHILD", "1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	starts := eventLines(t, events, "start")
	if len(starts) != 5 || starts[0] != Jaeger || starts[3] != Workers || starts[4] != Producer {
		t.Errorf("start order %v: want jaeger, {consumer, vendor-mock}, workers, producer", starts)
	}

	p := cfg.Ports
	wantEnv := map[string][]string{
		Producer: {"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + Addr(p.JaegerOTLPGRPC), "OTEL_SERVICE_NAME=producer",
			"HTTP_ADDR=" + Addr(p.ProducerHTTP), "WORKERS_ADDR=" + Addr(p.WorkersGRPC), "CONSUMER_ADDR=" + Addr(p.ConsumerGRPC), "EXTRA=all"},
		Workers: {"GRPC_ADDR=" + Addr(p.WorkersGRPC), "HTTP_ADDR=" + Addr(p.WorkersHTTP),
			"VENDOR_URL=http://" + Addr(p.VendorHTTP), "CONSUMER_ADDR=" + Addr(p.ConsumerGRPC), "EXTRA=workers-only"},
		VendorMock: {"HTTP_ADDR=" + Addr(p.VendorHTTP), "OTEL_SERVICE_NAME=vendor-mock"},
		Consumer:   {"GRPC_ADDR=" + Addr(p.ConsumerGRPC), "HTTP_ADDR=" + Addr(p.ConsumerHTTP)},
		Jaeger:     {"JAEGER_OTLP_GRPC_ENDPOINT=" + Addr(p.JaegerOTLPGRPC), "JAEGER_QUERY_HTTP_ENDPOINT=" + Addr(p.JaegerUI)},
	}
	for name, want := range wantEnv {
		data, _ := os.ReadFile(filepath.Join(cfg.RepoRoot, name+".env"))
		got := strings.Split(string(data), "\n")
		for _, kv := range want {
			if !slices.Contains(got, kv) {
				t.Errorf("%s env lacks %s; has:\n%s", name, kv, data)
			}
		}
	}
	if data, _ := os.ReadFile(filepath.Join(cfg.RepoRoot, Jaeger+".env")); strings.Contains(string(data), "EXTRA=") {
		t.Errorf("Config.Env is for the services, but Jaeger got it:\n%s", data)
	}
	for _, want := range []string{"producer    | hello from producer\n", "vendor-mock | vendor-mock writes to stderr too\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	gcData, _ := os.ReadFile(filepath.Join(cfg.RepoRoot, Producer+".grandchild"))
	grandchild, _ := strconv.Atoi(string(gcData))

	cancel()
	if err := s.Wait(); err != nil {
		t.Fatalf("Wait after cancel: %v", err)
	}
	if stops, want := eventLines(t, events, "stop"), stopOrder(); !slices.Equal(stops, want) {
		t.Errorf("stop order %v, want %v", stops, want)
	}
	if grandchild == 0 {
		t.Fatal("the producer fake did not report its grandchild")
	}
	waitGone(t, grandchild, "the producer's grandchild (same process group)")
}

func TestStackRestartKeepsTheOthers(t *testing.T) {
	cfg, events, _ := testConfig(t)
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := s.Restart(context.Background(), Jaeger); err != nil {
		t.Fatal(err)
	}
	if got := eventLines(t, events, "stop"); !slices.Equal(got, []string{Jaeger}) {
		t.Errorf("after restart, stopped %v; want only jaeger", got)
	}
	if got := eventLines(t, events, "start"); len(got) != 6 || got[5] != Jaeger {
		t.Errorf("starts %v: want the five, then jaeger again", got)
	}
	if err := probe(context.Background(), http.DefaultClient, s.healthURL(Jaeger)); err != nil {
		t.Errorf("restarted jaeger not healthy: %v", err)
	}
	if err := s.Restart(context.Background(), "nope"); err == nil {
		t.Error("restart of an unknown process: want an error")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	// A restart must not make the stack think jaeger died on its own.
	if got := eventLines(t, events, "stop"); len(got) != 6 {
		t.Errorf("stops %v: want jaeger, then all five", got)
	}
}

func TestStackStopsAllWhenAChildDies(t *testing.T) {
	cfg, events, _ := testConfig(t)
	cfg.ServiceEnv = map[string][]string{Workers: {"STACK_FAKE_EXIT_AFTER=300ms"}}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("stack still running 20s after workers died")
	}
	err = s.Wait()
	if err == nil || !strings.Contains(err.Error(), "workers exited unexpectedly (exit status 3)") ||
		!strings.Contains(err.Error(), "crashing on purpose") {
		t.Errorf("Wait = %v; want workers' unexpected exit with its last lines", err)
	}
	if got, want := eventLines(t, events, "stop"), []string{Producer, VendorMock, Consumer, Jaeger}; !slices.Equal(got, want) {
		t.Errorf("stopped %v, want %v", got, want)
	}
}

func TestStackKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	cfg, _, _ := testConfig(t)
	cfg.StopTimeout = 300 * time.Millisecond
	cfg.ServiceEnv = map[string][]string{Consumer: {"STACK_FAKE_IGNORE_TERM=1"}}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pid := s.procs[Consumer].cmd.Process.Pid
	err = s.Stop()
	if err == nil || !strings.Contains(err.Error(), "consumer did not stop within 300ms after SIGTERM; killed") {
		t.Errorf("Stop = %v; want it to name the killed consumer", err)
	}
	waitGone(t, pid, "consumer")
}

func TestStackRefusesATakenPortBeforeStartingAnything(t *testing.T) {
	cfg, events, _ := testConfig(t)
	l, err := net.Listen("tcp", Addr(cfg.Ports.WorkersHTTP))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Start(context.Background(), cfg)
	want := fmt.Sprintf("port %d (workers HTTP_ADDR) is in use", cfg.Ports.WorkersHTTP)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Start = %v, want %q", err, want)
	}
	if got := eventLines(t, events, "start"); len(got) != 0 {
		t.Errorf("started %v despite the taken port", got)
	}
}

func TestStackReportsAChildThatFailsToStart(t *testing.T) {
	cfg, events, _ := testConfig(t)
	cfg.ServiceEnv = map[string][]string{VendorMock: {"STACK_FAKE_FAIL=1"}}
	_, err := Start(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "vendor-mock exited before it was healthy") ||
		!strings.Contains(err.Error(), "fatal: cannot start") {
		t.Fatalf("Start = %v; want vendor-mock's failure with its output", err)
	}
	if got := eventLines(t, events, "stop"); !slices.Contains(got, Jaeger) || !slices.Contains(got, Consumer) {
		t.Errorf("after a failed start, stopped %v; want what had started (jaeger, consumer) stopped", got)
	}
}

func TestStackWithExternalCollectorStartsNoJaeger(t *testing.T) {
	cfg, events, _ := testConfig(t)
	cfg.OTLPEndpoint = "http://127.0.0.1:1"
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if got := eventLines(t, events, "start"); slices.Contains(got, Jaeger) || len(got) != 4 {
		t.Errorf("started %v; want the four services only", got)
	}
	if s.JaegerURL() != "" || s.OTLPEndpoint() != cfg.OTLPEndpoint {
		t.Errorf("JaegerURL %q, OTLPEndpoint %q", s.JaegerURL(), s.OTLPEndpoint())
	}
	if data, _ := os.ReadFile(filepath.Join(cfg.RepoRoot, Workers+".env")); !strings.Contains(string(data), "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1\n") {
		t.Errorf("workers env:\n%s", data)
	}
}

// startFakeParent runs a stack in a child process (fakeParent) and returns
// once it is up.
func startFakeParent(t *testing.T, cfg Config) *exec.Cmd {
	t.Helper()
	self, _ := os.Executable()
	parent := exec.Command(self)
	parent.Env = append(os.Environ(), "STACK_FAKE_PARENT=1", "STACK_FAKE_ROOT="+cfg.RepoRoot, "STACK_FAKE_BIN="+cfg.BinDir)
	stdout, _ := parent.StdoutPipe()
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("parent said %q", line)
	}
	return parent
}

func TestChildrenDieWithTheParent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cfg, events, _ := testConfig(t)
	parent := startFakeParent(t, cfg)
	data, _ := os.ReadFile(events)
	parent.Process.Kill()
	parent.Wait()
	pids := 0
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "start" {
			pid, _ := strconv.Atoi(f[2])
			waitGone(t, pid, f[1]+" after its parent was killed")
			pids++
		}
	}
	if pids != 5 {
		t.Errorf("saw %d children start, want 5:\n%s", pids, data)
	}
}

// waitGone waits until pid no longer runs (gone or a zombie).
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return
		}
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%s (pid %d) still runs 10s later", what, pid)
}

func TestStackRestartsTheServicesWithNewEnvAndKeepsJaeger(t *testing.T) {
	cfg, events, _ := testConfig(t)
	cfg.ServiceEnv = map[string][]string{Workers: {"EXTRA=first"}, Jaeger: {"JAEGER_KEEP=1"}}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pids := map[string]int{}
	for _, n := range stopOrder() {
		if pids[n] = s.Pid(n); pids[n] <= 0 {
			t.Fatalf("Pid(%s) = %d while running", n, pids[n])
		}
	}
	if s.Pid("nope") != 0 {
		t.Error("Pid of an unknown process: want 0")
	}

	if err := s.StopServices(); err != nil {
		t.Fatal(err)
	}
	if got, want := eventLines(t, events, "stop"), []string{Producer, Workers, VendorMock, Consumer}; !slices.Equal(got, want) {
		t.Errorf("StopServices stopped %v, want %v", got, want)
	}
	for _, n := range []string{Producer, Workers, VendorMock, Consumer} {
		if pid := s.Pid(n); pid != 0 {
			t.Errorf("Pid(%s) = %d after StopServices, want 0", n, pid)
		}
		waitGone(t, pids[n], n)
	}
	if s.Pid(Jaeger) != pids[Jaeger] {
		t.Errorf("jaeger's PID changed from %d to %d: it should keep running", pids[Jaeger], s.Pid(Jaeger))
	}
	select {
	case <-s.Done():
		t.Fatal("the stack stopped with its services")
	default:
	}

	if err := s.StartServices(context.Background(), map[string][]string{Consumer: {"EXTRA=second"}}); err != nil {
		t.Fatal(err)
	}
	if got := eventLines(t, events, "start"); len(got) != 9 || got[5] == Producer || got[8] != Producer {
		t.Errorf("starts %v: want the five, then the four services in dependency order", got)
	}
	for _, c := range []struct{ name, want, notWant string }{
		{Consumer, "EXTRA=second", ""},
		{Workers, "", "EXTRA=first"},
	} {
		data, _ := os.ReadFile(filepath.Join(cfg.RepoRoot, c.name+".env"))
		if c.want != "" && !strings.Contains(string(data), c.want+"\n") {
			t.Errorf("%s env after StartServices lacks %s:\n%s", c.name, c.want, data)
		}
		if c.notWant != "" && strings.Contains(string(data), c.notWant) {
			t.Errorf("%s env after StartServices still has the old %s:\n%s", c.name, c.notWant, data)
		}
	}
	for _, n := range []string{Producer, Workers, VendorMock, Consumer} {
		if pid := s.Pid(n); pid <= 0 || pid == pids[n] {
			t.Errorf("Pid(%s) = %d after StartServices (was %d): want a new process", n, pid, pids[n])
		}
	}
	if err := s.StartServices(context.Background(), map[string][]string{"nope": nil}); err == nil {
		t.Error("StartServices with env for an unknown process: want an error")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := s.StopServices(); err == nil {
		t.Error("StopServices after Stop: want an error")
	}
}
