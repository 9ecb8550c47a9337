// Package stack runs hidden-bottleneck natively: Jaeger and the four
// services as child processes on loopback ports, with the same environment
// as the compose file. `bottleneck up` and the end-to-end tests share it.
//
// Children start in dependency order and each must answer its health
// endpoint before the next level starts; their output is streamed line by
// line with a "name | " prefix. On stop (context cancelled, Stop, or a child
// dying on its own) every child gets SIGTERM to its process group in the
// order producer, workers, vendor-mock, consumer, Jaeger — so in-flight jobs
// can still reach the vendor and the consumer, and spans are flushed into a
// Jaeger that is still up — then SIGKILL after a timeout.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Process names, also the binary names in the bin directory and the
// services' OTEL_SERVICE_NAME.
const (
	Jaeger     = "jaeger"
	Producer   = "producer"
	Workers    = "workers"
	VendorMock = "vendor-mock"
	Consumer   = "consumer"
)

// startLevels are started one level at a time; a level's members only
// depend on earlier levels.
func startLevels() [][]string {
	return [][]string{{Jaeger}, {Consumer, VendorMock}, {Workers}, {Producer}}
}

// stopOrder lets upstream stop sending before what it sends to goes away.
func stopOrder() []string {
	return []string{Producer, Workers, VendorMock, Consumer, Jaeger}
}

// Config says where and how to run the stack. Zero values get defaults.
type Config struct {
	// RepoRoot is the checkout (for deploy/jaeger/config.yaml and builds);
	// found from the working directory when empty.
	RepoRoot string
	// BinDir holds the binaries; BinDir(RepoRoot) when empty.
	BinDir string
	Build  BuildPolicy

	// Ports are where everything listens on 127.0.0.1; DefaultPorts() when zero.
	Ports Ports
	// OTLPEndpoint, when set (e.g. "http://127.0.0.1:4317"), is a collector
	// that is already running: Jaeger is not started and its ports are unused.
	OTLPEndpoint string

	// Env is KEY=VALUE for every service, applied after the stack's own
	// variables (so it can override them) and after the inherited environment.
	Env []string
	// ServiceEnv is KEY=VALUE for one process (by name, Jaeger included),
	// applied last.
	ServiceEnv map[string][]string

	// DataDir holds what the services keep on disk: the consumer's ledger,
	// in DataDir/consumer (its DATA_DIR). Processes restarted with Restart
	// or StartProcess find it again. Empty: a new directory under the OS
	// temp dir for this Start, removed when the stack stops — the ledger
	// names the jobs of one run, and a later run's producer starts new
	// batches, so nothing in it would be of use. The directory of a run
	// that was killed before it could remove it is removed by the next
	// Start on the machine (see rundir.go). A DataDir given here is kept.
	DataDir string

	// Output receives every child's output, one prefixed line at a time, and
	// build progress; nil discards it.
	Output io.Writer
	// Color paints each prefix in its own ANSI color.
	Color bool

	// StartTimeout bounds each process's wait for health (default 30s).
	StartTimeout time.Duration
	// StopTimeout bounds each process's graceful stop before SIGKILL
	// (default 15s: more than the services' SHUTDOWN_TIMEOUT of 10s).
	StopTimeout time.Duration
}

// Stack is a running set of processes.
type Stack struct {
	cfg   Config
	procs map[string]*process
	names []string // in start order

	// mu serialises Restart against stopping.
	mu       sync.Mutex
	stopping bool

	dataDir string
	runDir  *runDir // made by Start: removed at stop

	stopOnce sync.Once
	stopReq  chan struct{}
	failed   chan error // first unexpected exit
	done     chan struct{}
	err      error
}

// Start checks the ports, builds what cfg.Build asks for, starts the
// processes and waits until all are healthy. Cancelling ctx later stops the
// stack; Wait reports how it ended.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	s := &Stack{
		cfg:     cfg,
		procs:   map[string]*process{},
		stopReq: make(chan struct{}),
		failed:  make(chan error, 1),
		done:    make(chan struct{}),
	}
	for _, level := range startLevels() {
		for _, n := range level {
			if n == Jaeger && cfg.OTLPEndpoint != "" {
				continue
			}
			s.names = append(s.names, n)
		}
	}
	if err := checkFree(s.portUses()); err != nil {
		return nil, err
	}
	out := &logOutput{w: cfg.Output}
	if err := ensureBinaries(ctx, cfg.RepoRoot, cfg.BinDir, s.names, cfg.Build, cfg.outputOrDiscard()); err != nil {
		return nil, err
	}
	if err := s.makeDataDir(); err != nil {
		return nil, err
	}
	width := 0
	for _, n := range s.names {
		width = max(width, len(n))
	}
	for i, n := range s.names {
		color := 0
		if cfg.Color {
			color = ansiColors[i%len(ansiColors)]
		}
		s.procs[n] = &process{
			name:   n,
			path:   filepath.Join(cfg.BinDir, n),
			args:   s.args(n),
			env:    s.env(n),
			health: s.healthURL(n),
			dir:    cfg.RepoRoot,
			out:    out,
			prefix: prefixFor(n, width, color),
			tail:   newTail(tailLines),
		}
	}

	for _, level := range startLevels() {
		var started []*process
		for _, n := range level {
			p, ok := s.procs[n]
			if !ok {
				continue
			}
			if err := p.start(s.onUnexpectedExit); err != nil {
				return nil, errors.Join(err, s.stopAll())
			}
			started = append(started, p)
		}
		errs := make([]error, len(started))
		var wg sync.WaitGroup
		for i, p := range started {
			wg.Go(func() { errs[i] = p.waitHealthy(ctx, cfg.StartTimeout) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, errors.Join(err, s.stopAll())
		}
	}
	go s.supervise(ctx)
	return s, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.RepoRoot == "" {
		wd, err := os.Getwd()
		if err != nil {
			return cfg, err
		}
		if cfg.RepoRoot, err = FindRepoRoot(wd); err != nil {
			return cfg, err
		}
	}
	if cfg.BinDir == "" {
		cfg.BinDir = BinDir(cfg.RepoRoot)
	}
	if cfg.Ports == (Ports{}) {
		cfg.Ports = DefaultPorts()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 15 * time.Second
	}
	if err := checkServiceEnv(cfg.ServiceEnv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func checkServiceEnv(env map[string][]string) error {
	for name := range env {
		if !slices.Contains(stopOrder(), name) {
			return fmt.Errorf("environment for unknown process %q (want one of %s)", name, strings.Join(stopOrder(), ", "))
		}
	}
	return nil
}

func (c Config) outputOrDiscard() io.Writer {
	if c.Output == nil {
		return io.Discard
	}
	return c.Output
}

// portUses are the ports this stack will bind, named for error messages.
func (s *Stack) portUses() []portUse {
	p := s.cfg.Ports
	var uses []portUse
	if s.cfg.OTLPEndpoint == "" {
		uses = append(uses,
			portUse{p.JaegerUI, "jaeger query HTTP/UI"},
			portUse{p.JaegerQueryGRPC, "jaeger query gRPC"},
			portUse{p.JaegerOTLPGRPC, "jaeger OTLP/gRPC"},
			portUse{p.JaegerOTLPHTTP, "jaeger OTLP/HTTP"},
			portUse{p.JaegerHealth, "jaeger health"},
		)
	}
	return append(uses,
		portUse{p.ProducerHTTP, "producer HTTP_ADDR"},
		portUse{p.WorkersGRPC, "workers GRPC_ADDR"},
		portUse{p.WorkersHTTP, "workers HTTP_ADDR"},
		portUse{p.VendorHTTP, "vendor-mock HTTP_ADDR"},
		portUse{p.ConsumerGRPC, "consumer GRPC_ADDR"},
		portUse{p.ConsumerHTTP, "consumer HTTP_ADDR"},
	)
}

func (s *Stack) args(name string) []string {
	if name == Jaeger {
		return []string{"--config", filepath.Join(s.cfg.RepoRoot, JaegerConfigPath)}
	}
	return nil
}

// env is the inherited environment, then what the compose file sets (with
// loopback addresses), then the caller's overrides; the last value of a key wins.
func (s *Stack) env(name string) []string {
	p := s.cfg.Ports
	env := os.Environ()
	if name == Jaeger {
		env = append(env,
			"JAEGER_OTLP_GRPC_ENDPOINT="+Addr(p.JaegerOTLPGRPC),
			"JAEGER_OTLP_HTTP_ENDPOINT="+Addr(p.JaegerOTLPHTTP),
			"JAEGER_QUERY_HTTP_ENDPOINT="+Addr(p.JaegerUI),
			"JAEGER_QUERY_GRPC_ENDPOINT="+Addr(p.JaegerQueryGRPC),
			"JAEGER_HEALTH_ENDPOINT="+Addr(p.JaegerHealth),
			// Jaeger's info lines are long and about Jaeger; warnings still show.
			"JAEGER_LOG_LEVEL=warn",
		)
		return append(env, s.cfg.ServiceEnv[name]...)
	}
	env = append(env,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+s.OTLPEndpoint(),
		"OTEL_SERVICE_NAME="+name,
	)
	switch name {
	case Producer:
		env = append(env,
			"HTTP_ADDR="+Addr(p.ProducerHTTP),
			"WORKERS_ADDR="+Addr(p.WorkersGRPC),
			"CONSUMER_ADDR="+Addr(p.ConsumerGRPC),
		)
	case Workers:
		env = append(env,
			"GRPC_ADDR="+Addr(p.WorkersGRPC),
			"HTTP_ADDR="+Addr(p.WorkersHTTP),
			"VENDOR_URL="+HTTPURL(p.VendorHTTP),
			"CONSUMER_ADDR="+Addr(p.ConsumerGRPC),
		)
	case VendorMock:
		env = append(env, "HTTP_ADDR="+Addr(p.VendorHTTP))
	case Consumer:
		env = append(env,
			"GRPC_ADDR="+Addr(p.ConsumerGRPC),
			"HTTP_ADDR="+Addr(p.ConsumerHTTP),
			"DATA_DIR="+filepath.Join(s.dataDir, Consumer),
		)
	}
	env = append(env, s.cfg.Env...)
	return append(env, s.cfg.ServiceEnv[name]...)
}

func (s *Stack) healthURL(name string) string {
	p := s.cfg.Ports
	switch name {
	case Jaeger:
		return HTTPURL(p.JaegerHealth) + "/status"
	case Producer:
		return HTTPURL(p.ProducerHTTP) + "/healthz"
	case Workers:
		return HTTPURL(p.WorkersHTTP) + "/healthz"
	case VendorMock:
		return HTTPURL(p.VendorHTTP) + "/healthz"
	case Consumer:
		return HTTPURL(p.ConsumerHTTP) + "/healthz"
	}
	return ""
}

// Ports are the ports the stack uses.
func (s *Stack) Ports() Ports { return s.cfg.Ports }

// OTLPEndpoint is where the services export spans.
func (s *Stack) OTLPEndpoint() string {
	if s.cfg.OTLPEndpoint != "" {
		return s.cfg.OTLPEndpoint
	}
	return HTTPURL(s.cfg.Ports.JaegerOTLPGRPC)
}

// JaegerURL is Jaeger's query API and UI, or "" when an external collector is used.
func (s *Stack) JaegerURL() string {
	if s.cfg.OTLPEndpoint != "" {
		return ""
	}
	return HTTPURL(s.cfg.Ports.JaegerUI)
}

// URL is the base HTTP URL of a service ("http://127.0.0.1:8081"), or "".
func (s *Stack) URL(name string) string {
	p := s.cfg.Ports
	switch name {
	case Jaeger:
		return s.JaegerURL()
	case Producer:
		return HTTPURL(p.ProducerHTTP)
	case Workers:
		return HTTPURL(p.WorkersHTTP)
	case VendorMock:
		return HTTPURL(p.VendorHTTP)
	case Consumer:
		return HTTPURL(p.ConsumerHTTP)
	}
	return ""
}

// onUnexpectedExit records the first child that died on its own; the
// supervisor then stops the rest.
func (s *Stack) onUnexpectedExit(p *process, err error) {
	if err == nil {
		err = errors.New("exit status 0")
	}
	select {
	case s.failed <- fmt.Errorf("%s exited unexpectedly (%v); last lines:\n%s", p.name, err, p.tail):
	default:
	}
}

func (s *Stack) supervise(ctx context.Context) {
	var cause error
	select {
	case <-ctx.Done():
	case <-s.stopReq:
	case cause = <-s.failed:
	}
	s.err = errors.Join(cause, s.stopAll())
	close(s.done)
}

// Stop stops every process (see the package comment) and returns what Wait
// returns.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() { close(s.stopReq) })
	return s.Wait()
}

// Wait blocks until the stack has stopped: after ctx was cancelled, Stop was
// called, or a child exited on its own (then that is the error). Errors also
// name children that had to be killed or exited non-zero on SIGTERM.
func (s *Stack) Wait() error {
	<-s.done
	return s.err
}

// Done is closed once the stack has stopped.
func (s *Stack) Done() <-chan struct{} { return s.done }

func (s *Stack) stopAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	var errs []error
	for _, n := range stopOrder() {
		if p, ok := s.procs[n]; ok {
			errs = append(errs, p.terminate(s.cfg.StopTimeout))
		}
	}
	if s.runDir != nil {
		if err := s.runDir.remove(); err != nil {
			errs = append(errs, fmt.Errorf("removing the run's data directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// makeDataDir makes the directory the services keep their data in.
func (s *Stack) makeDataDir() error {
	if s.cfg.DataDir != "" {
		dir, err := filepath.Abs(s.cfg.DataDir)
		if err != nil {
			return fmt.Errorf("data directory %s: %w", s.cfg.DataDir, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		s.dataDir = dir
		return nil
	}
	d, err := makeRunDir(os.TempDir(), s.cfg.outputOrDiscard())
	if err != nil {
		return err
	}
	s.dataDir, s.runDir = d.path, d
	return nil
}

// DataDir is where the services keep their data for this run (the
// consumer's ledger is in DataDir()/consumer).
func (s *Stack) DataDir() string { return s.dataDir }

// Restart stops one process gracefully and starts it again on the same
// ports, waiting for its health. The others keep running, which is the point:
// the end-to-end tests restart Jaeger under load.
func (s *Stack) Restart(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("restart " + name + ": the stack is stopping")
	}
	p, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("restart %s: no such process in this stack", name)
	}
	if err := p.terminate(s.cfg.StopTimeout); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	if err := p.start(s.onUnexpectedExit); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return p.waitHealthy(ctx, s.cfg.StartTimeout)
}

// services are the stack's processes other than Jaeger, in stop order.
func (s *Stack) services() []*process {
	var ps []*process
	for _, n := range stopOrder() {
		if p, ok := s.procs[n]; ok && n != Jaeger {
			ps = append(ps, p)
		}
	}
	return ps
}

// StopServices stops the four services gracefully, in stop order (see the
// package comment), and leaves Jaeger running, so that their last spans
// reach it and stay queryable. The stack itself keeps running: Wait does not
// return, and StartServices starts the services again. `bottleneck
// experiment` uses the pair to give every row of a plan fresh processes.
func (s *Stack) StopServices() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("stop services: the stack is stopping")
	}
	var errs []error
	for _, p := range s.services() {
		errs = append(errs, p.terminate(s.cfg.StopTimeout))
	}
	return errors.Join(errs...)
}

// StartServices starts the four services again after StopServices, on the
// same ports, with serviceEnv in place of Config.ServiceEnv (an entry for
// Jaeger is ignored: it keeps running), and waits until all are healthy,
// in dependency order. A service that is still running is restarted.
func (s *Stack) StartServices(ctx context.Context, serviceEnv map[string][]string) error {
	if err := checkServiceEnv(serviceEnv); err != nil {
		return fmt.Errorf("start services: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("start services: the stack is stopping")
	}
	env := make(map[string][]string, len(serviceEnv)+1)
	for n, kv := range serviceEnv {
		if n != Jaeger {
			env[n] = slices.Clone(kv)
		}
	}
	if kv, ok := s.cfg.ServiceEnv[Jaeger]; ok {
		env[Jaeger] = kv
	}
	s.cfg.ServiceEnv = env
	for _, p := range s.services() {
		if err := p.terminate(s.cfg.StopTimeout); err != nil {
			return fmt.Errorf("start services: %w", err)
		}
	}
	for _, level := range startLevels() {
		var started []*process
		for _, n := range level {
			p, ok := s.procs[n]
			if !ok || n == Jaeger {
				continue
			}
			p.env = s.env(n)
			if err := p.start(s.onUnexpectedExit); err != nil {
				return fmt.Errorf("start services: %w", err)
			}
			started = append(started, p)
		}
		errs := make([]error, len(started))
		var wg sync.WaitGroup
		for i, p := range started {
			wg.Go(func() { errs[i] = p.waitHealthy(ctx, s.cfg.StartTimeout) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("start services: %w", err)
		}
	}
	return nil
}
