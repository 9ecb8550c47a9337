//go:build linux

package capacity

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// The fast profile: every simulated delay is zero, and the knobs that
// reproduce the incident are set for throughput instead.
const (
	// workers: the jobs are nearly pure CPU now, but vendor-api jobs still
	// wait for an HTTP round trip to the vendor mock; 8 workers keep both
	// cores busy through those waits.
	fastWorkers = 8
	// A deep queue and results channel absorb jitter; neither limits
	// throughput, and at saturation both are simply full.
	fastQueueSize     = 4096
	fastResultsBuffer = 1024
	// One forwarder delivers one result per round trip, which caps the
	// pool at 1/RTT. Since the consumer records each result in its durable
	// ledger before answering, a round trip includes an fsync shared by
	// whatever Deliver calls commit together: with 4 forwarders the whole
	// system topped out near 1,050 jobs/s untraced, with 16 near 1,800.
	// The consumer gets twice the slots, so a commit never waits for one.
	fastForwarders          = 16
	fastConsumerConcurrency = 32
)

// fastProfileEnv is the environment of every service in the fast profile.
// Each service reads only its own names; the rest are ignored.
func fastProfileEnv(logLevel string) []string {
	return []string{
		"LOG_LEVEL=" + logLevel,
		// workers
		"CACHE_LATENCY=0",
		"DB_ACQUIRE_LATENCY=0",
		"DB_QUERY_LATENCY=0",
		"WORKERS=" + strconv.Itoa(fastWorkers),
		"QUEUE_SIZE=" + strconv.Itoa(fastQueueSize),
		"RESULTS_BUFFER=" + strconv.Itoa(fastResultsBuffer),
		"FORWARDERS=" + strconv.Itoa(fastForwarders),
		// consumer
		"PROCESS_DELAY=0",
		"CONCURRENCY=" + strconv.Itoa(fastConsumerConcurrency),
	}
}

// zeroLatencyFaults is the vendor mock's PUT /admin/faults body: answer at
// once, no degraded calls, no errors, no hangs.
const zeroLatencyFaults = `{"global": {"latency": {"min": "0s", "max": "0s"}, "jitter": "0s"}}`

// defaultLogLevel keeps the services' per-result info lines (two per job)
// out of the measurement: at thousands of jobs/s they are a cost of the
// log pipe into this process, not of the system. HB_CAPACITY_LOG_LEVEL=info
// measures with them.
const defaultLogLevel = "warn"

// tracingMode says where the services' spans go.
type tracingMode int

const (
	tracingOff       tracingMode = iota // OTEL_SDK_DISABLED=true on all four
	tracingJaeger                       // real Jaeger, as in production
	tracingBlackhole                    // an OTLP endpoint that discards (see blackhole)
)

func (m tracingMode) String() string {
	return [...]string{"off", "jaeger", "blackhole"}[m]
}

// system is one running stack in the fast profile, plus any producers the
// benchmark started beside it.
type system struct {
	st     *stack.Stack
	mode   tracingMode
	bin    string
	env    []string  // the fast profile, for extra producers
	out    io.Writer // every process's output
	procs  []proc    // services first, then extra producers, then Jaeger
	bh     *blackhole
	client *http.Client
}

// proc is one process the benchmark watches.
type proc struct {
	name string // "producer", ..., "producer-2", "jaeger"
	pid  int
	url  string // base URL of its HTTP side; "" for Jaeger
}

// serviceNames are the four services, in the order results are reported.
var serviceNames = []string{stack.Producer, stack.Workers, stack.VendorMock, stack.Consumer}

// binDirOrSkip finds the binaries, skipping when any is missing: building
// Jaeger takes minutes, which a benchmark should not do on its own.
func binDirOrSkip(tb testing.TB) (root, bin string) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("capacity: skipped in -short mode (starts Jaeger and the services)")
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root, err = stack.FindRepoRoot(wd)
	if err != nil {
		tb.Fatal(err)
	}
	bin = stack.BinDir(root)
	for _, n := range append([]string{stack.Jaeger}, serviceNames...) {
		if fi, err := os.Stat(filepath.Join(bin, n)); err != nil || !fi.Mode().IsRegular() {
			tb.Skipf("capacity: %s is missing in %s (run `make build jaeger`)", n, bin)
		}
	}
	return root, bin
}

// startSystem starts Jaeger (when mode needs it) and the four services in
// the fast profile with the producer idle, and sets the vendor mock to
// answer at once. The caller starts the load.
func startSystem(tb testing.TB, mode tracingMode) *system {
	tb.Helper()
	root, bin := binDirOrSkip(tb)
	ports, err := stack.FreePorts()
	if err != nil {
		tb.Fatal(err)
	}
	logLevel := defaultLogLevel
	if l := os.Getenv("HB_CAPACITY_LOG_LEVEL"); l != "" {
		logLevel = l
	}
	logFile, err := os.CreateTemp("", "hidden-bottleneck-capacity-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		logFile.Close()
		if tb.Failed() {
			printTail(tb, logFile.Name(), 60)
		}
		os.Remove(logFile.Name())
	})

	cfg := stack.Config{
		RepoRoot: root,
		BinDir:   bin,
		Build:    stack.BuildNever,
		Ports:    ports,
		Env:      fastProfileEnv(logLevel),
		ServiceEnv: map[string][]string{
			// Load starts through /admin/load once the vendor is fast.
			stack.Producer: {"SCENARIO=idle"},
		},
		Output:       logFile,
		StartTimeout: time.Minute,
	}
	s := &system{mode: mode, bin: bin, env: cfg.Env, out: logFile, client: &http.Client{Timeout: 5 * time.Second}}
	switch mode {
	case tracingOff:
		// The exporter is never built, so no collector is needed; an
		// endpoint that discards keeps Jaeger from starting at all.
		s.bh = startBlackhole(tb)
		cfg.OTLPEndpoint = s.bh.endpoint
		cfg.Env = append(cfg.Env, "OTEL_SDK_DISABLED=true")
		s.env = cfg.Env
	case tracingBlackhole:
		s.bh = startBlackhole(tb)
		cfg.OTLPEndpoint = s.bh.endpoint
	}

	s.st, err = stack.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start the stack: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.st.Stop(); err != nil {
			tb.Errorf("stop the stack: %v", err)
		}
	})
	names := serviceNames
	if mode == tracingJaeger {
		names = append(slices.Clone(names), stack.Jaeger)
	}
	pids, err := childPIDs(bin, names)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range serviceNames {
		s.procs = append(s.procs, proc{name: n, pid: pids[n], url: s.st.URL(n)})
	}
	if mode == tracingJaeger {
		s.procs = append(s.procs, proc{name: stack.Jaeger, pid: pids[stack.Jaeger]})
	}
	if err := s.put(s.st.URL(stack.VendorMock), "/admin/faults", zeroLatencyFaults, nil); err != nil {
		tb.Fatal(err)
	}
	return s
}

// services are the processes with a /stats: the four and extra producers.
func (s *system) services() []proc {
	return slices.DeleteFunc(slices.Clone(s.procs), func(p proc) bool { return p.url == "" })
}

// producers are the stack's producer and any extra ones.
func (s *system) producers() []proc {
	return slices.DeleteFunc(s.services(), func(p proc) bool { return !strings.HasPrefix(p.name, stack.Producer) })
}

// addProducer starts one more producer beside the stack, same profile and
// tracing, idle until setLoad. One producer sends at most 5,000 jobs/s
// (its STEADY_RATE cap); a second one offers the pool more than that.
func (s *system) addProducer(tb testing.TB) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	name := fmt.Sprintf("%s-%d", stack.Producer, len(s.producers())+1)
	ports := s.st.Ports()

	cmd := exec.Command(filepath.Join(s.bin, stack.Producer))
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Env = append(cmd.Env,
		"HTTP_ADDR="+addr,
		"WORKERS_ADDR="+stack.Addr(ports.WorkersGRPC),
		"CONSUMER_ADDR="+stack.Addr(ports.ConsumerGRPC),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+s.st.OTLPEndpoint(),
		"OTEL_SERVICE_NAME="+stack.Producer,
		"SCENARIO=idle",
	)
	prefix := []byte(name + " | ")
	cmd.Stdout = prefixWriter{s.out, prefix}
	cmd.Stderr = prefixWriter{s.out, prefix}
	// Like pkg/stack's children: gone with this process even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				tb.Errorf("%s: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			tb.Errorf("%s did not stop within 15s of SIGTERM; killed", name)
		}
	})

	p := proc{name: name, pid: cmd.Process.Pid, url: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for s.get(p.url, "/healthz", nil) != nil {
		select {
		case err := <-exited:
			tb.Fatalf("%s exited before it was healthy: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not healthy at %s within 30s", name, p.url)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Before Jaeger, which stays last.
	i := len(s.services())
	s.procs = slices.Insert(s.procs, i, p)
}

// prefixWriter labels each line of an extra process's output, so a failure
// tail says who wrote it. A line that arrives in two writes comes out as
// two labelled pieces, which is good enough for a log that is only read
// after a failure.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
}

func (pw prefixWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) > 0 {
			_, _ = pw.w.Write(append(slices.Clone(pw.prefix), line...))
		}
	}
	return len(p), nil
}

// setLoad changes every producer's load (PUT /admin/load).
func (s *system) setLoad(tb testing.TB, body string) {
	tb.Helper()
	for _, p := range s.producers() {
		if err := s.put(p.url, "/admin/load", body, nil); err != nil {
			tb.Fatalf("%s: %v", p.name, err)
		}
	}
}

func (s *system) get(base, path string, into any) error {
	resp, err := s.client.Get(base + path)
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", base, path, err)
	}
	return decode(resp, "GET", base+path, into)
}

func (s *system) put(base, path, body string, into any) error {
	req, err := http.NewRequest(http.MethodPut, base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s%s: %w", base, path, err)
	}
	return decode(resp, "PUT", base+path, into)
}

func decode(resp *http.Response, method, url string, into any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(body))
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}

// tracingStats is the "tracing" section every service's /stats has.
type tracingStats struct {
	Bridged      uint64 `json:"bridged"`
	Malformed    uint64 `json:"malformed"`
	Dropped      uint64 `json:"dropped"`
	Exported     uint64 `json:"exported"`
	ExportFailed uint64 `json:"export_failed"`
}

// snapshot is what the benchmark reads at each end of its window.
type snapshot struct {
	at        time.Time
	handled   uint64                   // results the consumer handled (not duplicates)
	tracing   map[string]tracingStats  // per service
	cpu       map[string]time.Duration // per process, Jaeger included
	self      time.Duration            // this process: polling, black hole
	machine   machineCPU
	producers map[string]producerStats
	workers   workersStats
}

type producerStats struct {
	Submitted map[string]uint64 `json:"submitted"`
	Rejected  map[string]uint64 `json:"rejected"`
	Failed    map[string]uint64 `json:"failed"`
	Steady    struct {
		Generated      uint64 `json:"generated"`
		InFlight       int    `json:"in_flight"`
		SkippedBacklog uint64 `json:"skipped_backlog"`
		SkippedBehind  uint64 `json:"skipped_behind"`
	} `json:"steady"`
	Tracing tracingStats `json:"tracing"`
}

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

type workersStats struct {
	Queue struct {
		Depth int `json:"depth"`
	} `json:"queue"`
	Results struct {
		Len         int `json:"len"`
		OverflowLen int `json:"overflow_len"`
		BlockedNow  int `json:"blocked_now"`
	} `json:"results"`
	Counters struct {
		Delivered       uint64 `json:"delivered"`
		Rejected        uint64 `json:"rejected"`
		DeliveryRetries uint64 `json:"delivery_retries"`
	} `json:"counters"`
	Tracing tracingStats `json:"tracing"`
}

type consumerStats struct {
	Handled    uint64       `json:"handled"`
	Duplicates uint64       `json:"duplicates"`
	Tracing    tracingStats `json:"tracing"`
}

type vendorStats struct {
	Requests uint64       `json:"requests"`
	Tracing  tracingStats `json:"tracing"`
}

func (s *system) snapshot() (snapshot, error) {
	snap := snapshot{
		at: time.Now(), tracing: map[string]tracingStats{}, cpu: map[string]time.Duration{},
		producers: map[string]producerStats{},
	}
	for _, p := range s.services() {
		var ts tracingStats
		var err error
		switch {
		case p.name == stack.Consumer:
			var c consumerStats
			err = s.get(p.url, "/stats", &c)
			snap.handled, ts = c.Handled, c.Tracing
		case p.name == stack.Workers:
			err = s.get(p.url, "/stats", &snap.workers)
			ts = snap.workers.Tracing
		case p.name == stack.VendorMock:
			var v vendorStats
			err = s.get(p.url, "/stats", &v)
			ts = v.Tracing
		default: // a producer
			var ps producerStats
			err = s.get(p.url, "/stats", &ps)
			snap.producers[p.name], ts = ps, ps.Tracing
		}
		if err != nil {
			return snap, fmt.Errorf("%s: %w", p.name, err)
		}
		snap.tracing[p.name] = ts
	}
	for _, p := range s.procs {
		st, err := readProcStat(p.pid)
		if err != nil {
			return snap, fmt.Errorf("%s (pid %d): %w", p.name, p.pid, err)
		}
		snap.cpu[p.name] = st.cpu
	}
	self, err := readProcStat(os.Getpid())
	if err != nil {
		return snap, err
	}
	snap.self = self.cpu
	snap.machine, err = readMachineCPU()
	return snap, err
}

// awaitHandled polls the consumer until it has handled at least n results.
func (s *system) awaitHandled(tb testing.TB, n uint64, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var c consumerStats
		err := s.get(s.st.URL(stack.Consumer), "/stats", &c)
		if err == nil && c.Handled >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("consumer handled %d results within %s, want %d (last error: %v)", c.Handled, timeout, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func printTail(tb testing.TB, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	tb.Logf("last %d lines of the processes' output:", len(lines))
	for _, l := range lines {
		tb.Log(l)
	}
}
