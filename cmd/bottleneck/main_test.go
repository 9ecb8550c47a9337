package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"down"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "down"`) {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	if code := run(t.Context(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "bottleneck up [flags]") {
		t.Errorf("no command: exit %d, stderr %q", code, errOut.String())
	}
}

// buildSelf builds this command, so the test runs the code under test and
// not a stale bin/bottleneck.
func buildSelf(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bottleneck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePortBase finds stack.PortCount consecutive free ports.
func freePortBase(t *testing.T) int {
	t.Helper()
	base, err := stack.FreePortBase()
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// output collects a process's output and lets a test wait for a line.
type output struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func collect(t *testing.T, r *os.File) *output {
	o := &output{more: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			o.mu.Lock()
			o.lines = append(o.lines, sc.Text())
			o.mu.Unlock()
			select {
			case o.more <- struct{}{}:
			default:
			}
		}
	}()
	return o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

func (o *output) waitFor(t *testing.T, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if strings.Contains(o.String(), substr) {
			return
		}
		select {
		case <-o.more:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %q within %s; output:\n%s", substr, timeout, o)
		}
	}
}

func startUp(t *testing.T, args ...string) (*exec.Cmd, *output, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(buildSelf(t), append([]string{"up"}, args...)...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out := collect(t, r)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out, &stderr
}

// timeToStart allows for building missing binaries (Jaeger: minutes).
func timeToStart() time.Duration {
	root, err := stack.FindRepoRoot(".")
	if err == nil {
		if _, err := os.Stat(filepath.Join(stack.BinDir(root), stack.Jaeger)); err == nil {
			return 90 * time.Second
		}
	}
	return 10 * time.Minute
}

func TestUpStartsEverythingAndStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Jaeger and the services")
	}
	base := freePortBase(t)
	began := time.Now()
	cmd, out, stderr := startUp(t, "--port-base", strconv.Itoa(base), "--build=false", "--color", "never")
	out.waitFor(t, "Logs follow. Ctrl-C stops everything.", timeToStart())
	t.Logf("up and healthy after %s", time.Since(began).Round(time.Millisecond))

	// Every URL the banner prints answers.
	banner := out.String()
	for _, want := range []struct{ label, path string }{
		{"Jaeger", "/api/services"}, {"vendor control", "/healthz"}, {"producer", "/healthz"},
		{"workers", "/healthz"}, {"consumer", "/healthz"},
	} {
		m := regexp.MustCompile(`(?m)^  ` + want.label + `\s+(http://localhost:\d+)`).FindStringSubmatch(banner)
		if m == nil {
			t.Errorf("banner lacks the %s URL:\n%s", want.label, banner)
			continue
		}
		resp, err := http.Get(m[1] + want.path)
		if err != nil {
			t.Errorf("%s %s: %v", want.label, m[1], err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s%s: %s", want.label, m[1], want.path, resp.Status)
		}
	}
	if !strings.Contains(banner, fmt.Sprintf("http://localhost:%d", base)) {
		t.Errorf("Jaeger should be on the port base %d:\n%s", base, banner)
	}
	// The consumer's ledger lives in a directory of this run's.
	var ledgerDir string
	if m := regexp.MustCompile(`(?m)^  consumer ledger\s+(\S+)\s+\(this run's; removed when up stops\)`).FindStringSubmatch(banner); m == nil {
		t.Errorf("banner does not say where the consumer's ledger is:\n%s", banner)
	} else if _, err := os.Stat(filepath.Join(m[1], "consumer-ledger.db")); err != nil {
		t.Errorf("the consumer's ledger is not where the banner says: %v", err)
	} else {
		ledgerDir = filepath.Dir(m[1])
	}

	// The default scenario runs a checkout burst: its traces reach Jaeger.
	jaeger := stack.HTTPURL(base)
	deadline := time.Now().Add(30 * time.Second)
	for {
		services := jaegerServices(t, jaeger)
		if slices.Contains(services, stack.Producer) && slices.Contains(services, stack.Consumer) {
			t.Logf("first traces queryable %s after launch", time.Since(began).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger knows services %v 30s after start; want producer and consumer.\n%s", services, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every process prefixes its lines.
	for _, name := range []string{"producer    | ", "workers     | ", "consumer    | "} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("no line prefixed %q in the output", name)
		}
	}

	children := childPIDs(cmd.Process.Pid)
	if len(children) != 5 {
		t.Errorf("up has %d child processes %v, want 5", len(children), children)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exited with %v after SIGTERM; stderr:\n%s", err, stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("up still running 60s after SIGTERM:\n%s", out)
	}
	// up has exited, but its last lines may still be in the pipe.
	out.waitFor(t, "bottleneck up: stopped", 10*time.Second)
	if _, err := os.Stat(ledgerDir); ledgerDir != "" && !os.IsNotExist(err) {
		t.Errorf("the run's data directory %s is still there after up stopped (%v)", ledgerDir, err)
	}
	for _, pid := range children {
		if alive(pid) {
			t.Errorf("child %d still runs after up exited", pid)
		}
	}
	for p := base; p < base+stack.PortCount; p++ {
		if l, err := net.Listen("tcp", stack.Addr(p)); err != nil {
			t.Errorf("port %d still taken after up exited: %v", p, err)
		} else {
			l.Close()
		}
	}
}

func TestUpRefusesATakenPort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	base := freePortBase(t)
	l, err := net.Listen("tcp", stack.Addr(base+7))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd, out, stderr := startUp(t, "--port-base", strconv.Itoa(base), "--build=false")
	err = cmd.Wait()
	want := fmt.Sprintf("port %d (workers HTTP_ADDR) is in use — stop what holds it or pass --port-base", base+7)
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("exit %d (%v), stderr %q; want 1 and %q; stdout:\n%s", code, err, stderr, want, out)
	}
}

func jaegerServices(t *testing.T, base string) []string {
	resp, err := http.Get(base + "/api/services")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Data []string `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return body.Data
}

// childPIDs lists the processes whose parent is pid (Linux /proc).
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// alive is true while pid runs and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
