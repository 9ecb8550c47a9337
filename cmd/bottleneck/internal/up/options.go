package up

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// options are the parsed command line of `bottleneck up`.
type options struct {
	scenario     string
	fixes        []string
	fault        string
	env          []string // [service:]KEY=VALUE
	jaeger       bool
	otlpEndpoint string
	portBase     int
	build        bool
	color        string
	// console is where the console listens: "" = the default for the
	// ports (127.0.0.1:8090, or port-base+11), "off" = no console.
	console string
}

// Choices, in the order --help lists them.
var (
	scenarios = []string{"checkout", "steady", "idle"}
	fixNames  = []string{"buffer", "nonblocking", "lanes", "timeout"}
	faults    = []string{"healthy", "degraded", "slow", "flaky", "outage"}
	colors    = []string{"auto", "always", "never"}
)

// managedEnv are set by the stack from the ports; overriding them would
// point services at the wrong place.
var managedEnv = []string{"HTTP_ADDR", "GRPC_ADDR", "WORKERS_ADDR", "CONSUMER_ADDR", "VENDOR_URL",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}

const usage = `Usage: bottleneck up [flags]

Starts Jaeger (in memory) and the four services -- producer, workers,
vendor-mock, consumer -- as local processes on 127.0.0.1, with the same
settings as docker-compose.yml. Binaries come from bin/ (or $HB_BIN_DIR) and
are built when missing; the first Jaeger build takes ~3-5 minutes, later
starts take seconds. Waits until everything is healthy, prints the URLs, then
shows every process's log lines prefixed with its name. Ctrl-C (or SIGTERM)
stops the services in order and Jaeger last.

With no flags the incident happens: checkout bursts every 20s against a
degraded vendor and a results channel of 4 slots.

Flags:
`

const examples = `
Examples:
  bottleneck up                                  the incident, as it happened
  bottleneck up --fix buffer                     the same with RESULTS_BUFFER=400
  bottleneck up --fix lanes --fix timeout        two fixes at once
  bottleneck up --scenario steady --fault flaky  steady load, a vendor that fails
  bottleneck up --env workers:WORKERS=8 --env LOG_LEVEL=debug
  bottleneck up --port-base 20000                beside another stack (ports 20000-20011)
  bottleneck up --console off                    without the live console
  bottleneck up --jaeger=false --otlp-endpoint http://127.0.0.1:4317
`

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bottleneck up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
		fmt.Fprint(stderr, examples)
	}
	fs.StringVar(&o.scenario, "scenario", "checkout", "producer load `NAME`: "+strings.Join(scenarios, ", ")+" (SCENARIO)")
	fs.Func("fix", "start with fix `NAME` on the workers (repeatable):\n"+
		"buffer = RESULTS_BUFFER=WORKERS*100, nonblocking = RESULT_SEND=nonblocking,\n"+
		"lanes = PRIORITY_LANES=on, timeout = VENDOR_TIMEOUT=300ms", func(s string) error {
		if !slices.Contains(fixNames, s) {
			return fmt.Errorf("unknown fix %q (want %s)", s, strings.Join(fixNames, ", "))
		}
		if !slices.Contains(o.fixes, s) {
			o.fixes = append(o.fixes, s)
		}
		return nil
	})
	fs.StringVar(&o.fault, "fault", "", "vendor fault `PRESET` at start: "+strings.Join(faults, ", ")+"\n(FAULT_PRESET; default: the vendor's own, degraded)")
	fs.Func("env", "extra setting `[service:]KEY=VALUE` for every service, or only the named one\n(producer, workers, vendor-mock, consumer, jaeger); repeatable; wins over --fix", func(s string) error {
		o.env = append(o.env, s)
		return nil
	})
	fs.BoolVar(&o.jaeger, "jaeger", true, "start Jaeger; --jaeger=false exports to --otlp-endpoint instead")
	fs.StringVar(&o.otlpEndpoint, "otlp-endpoint", "", "`URL` of an OTLP/gRPC collector already running, with --jaeger=false\n(default http://127.0.0.1:4317)")
	fs.IntVar(&o.portBase, "port-base", 0, "use ports `N`..N+10 instead of the standard ones (Jaeger UI = N, OTLP = N+2,\nproducer = N+5, workers = N+7, vendor-mock = N+8, consumer = N+10)")
	fs.BoolVar(&o.build, "build", true, "rebuild service binaries that are out of date (go build; about a second when\nnothing changed); --build=false only builds missing ones")
	fs.StringVar(&o.console, "console", "", "`ADDR` for the live console (default 127.0.0.1:8090, or 127.0.0.1:N+11 with --port-base);\n\"off\" starts none")
	fs.StringVar(&o.color, "color", "auto", "`WHEN` to color the log prefixes: auto (when a terminal, unless NO_COLOR), always, never")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	return o, o.validate()
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o options) validate() error {
	var errs []error
	if !slices.Contains(scenarios, o.scenario) {
		errs = append(errs, fmt.Errorf("--scenario %q: want %s", o.scenario, strings.Join(scenarios, ", ")))
	}
	if o.fault != "" && !slices.Contains(faults, o.fault) {
		errs = append(errs, fmt.Errorf("--fault %q: want %s", o.fault, strings.Join(faults, ", ")))
	}
	if !slices.Contains(colors, o.color) {
		errs = append(errs, fmt.Errorf("--color %q: want %s", o.color, strings.Join(colors, ", ")))
	}
	if o.jaeger && o.otlpEndpoint != "" {
		errs = append(errs, errors.New("--otlp-endpoint is for an external collector: add --jaeger=false"))
	}
	if o.otlpEndpoint != "" && !strings.HasPrefix(o.otlpEndpoint, "http://") && !strings.HasPrefix(o.otlpEndpoint, "https://") {
		errs = append(errs, fmt.Errorf("--otlp-endpoint %q: want a URL with http:// (plain gRPC) or https://", o.otlpEndpoint))
	}
	if o.portBase != 0 {
		if _, err := stack.PortsFrom(o.portBase); err != nil {
			errs = append(errs, fmt.Errorf("--port-base: %w", err))
		}
	}
	if o.console != "" && o.console != "off" {
		if _, _, err := net.SplitHostPort(o.console); err != nil {
			errs = append(errs, fmt.Errorf("--console %q: want host:port or off", o.console))
		}
	}
	for _, e := range o.env {
		if _, _, _, err := splitEnv(e); err != nil {
			errs = append(errs, fmt.Errorf("--env %q: %w", e, err))
		}
	}
	return errors.Join(errs...)
}

// splitEnv parses "[service:]KEY=VALUE"; service is "" for all services.
func splitEnv(s string) (service, key, value string, err error) {
	kv := s
	if before, after, ok := strings.Cut(s, ":"); ok && !strings.Contains(before, "=") {
		service, kv = before, after
		if !slices.Contains([]string{stack.Producer, stack.Workers, stack.VendorMock, stack.Consumer, stack.Jaeger}, service) {
			return "", "", "", fmt.Errorf("unknown service %q (want producer, workers, vendor-mock, consumer or jaeger)", service)
		}
	}
	key, value, ok := strings.Cut(kv, "=")
	if !ok || !envKey.MatchString(key) {
		return "", "", "", errors.New("want KEY=VALUE or service:KEY=VALUE")
	}
	if slices.Contains(managedEnv, key) {
		return "", "", "", fmt.Errorf("%s is set from the ports; use --port-base, or --jaeger=false with --otlp-endpoint", key)
	}
	return service, key, value, nil
}

// serviceEnv turns the flags into each process's extra environment, in the
// order of precedence: scenario, faults and fixes first, then --env for all,
// then --env for one service (the last value of a key wins).
func (o options) serviceEnv() map[string][]string {
	env := map[string][]string{
		stack.Producer: {"SCENARIO=" + o.scenario},
	}
	if o.fault != "" {
		env[stack.VendorMock] = append(env[stack.VendorMock], "FAULT_PRESET="+o.fault)
	}
	for _, f := range o.fixes {
		env[stack.Workers] = append(env[stack.Workers], fixEnv(f, o.workers()))
	}
	all := []string{stack.Producer, stack.Workers, stack.VendorMock, stack.Consumer}
	for _, e := range o.env {
		if service, key, value, _ := splitEnv(e); service == "" {
			for _, s := range all {
				env[s] = append(env[s], key+"="+value)
			}
		}
	}
	for _, e := range o.env {
		if service, key, value, _ := splitEnv(e); service != "" {
			env[service] = append(env[service], key+"="+value)
		}
	}
	return env
}

func fixEnv(fix string, workers int) string {
	switch fix {
	case "buffer":
		return "RESULTS_BUFFER=" + strconv.Itoa(workers*100)
	case "nonblocking":
		return "RESULT_SEND=nonblocking"
	case "lanes":
		return "PRIORITY_LANES=on"
	case "timeout":
		return "VENDOR_TIMEOUT=300ms"
	}
	return ""
}

// workers is the WORKERS the workers process will see (4 unless --env sets
// it), so --fix buffer scales with it as the incident's fix does.
func (o options) workers() int {
	n := 4
	// The same precedence as serviceEnv: --env for all, then for workers.
	for _, scope := range []string{"", stack.Workers} {
		for _, e := range o.env {
			service, key, value, _ := splitEnv(e)
			if key != "WORKERS" || service != scope {
				continue
			}
			if v, err := strconv.Atoi(value); err == nil && v > 0 {
				n = v
			}
		}
	}
	return n
}

// consoleAddr is where the console listens, "" for none.
func (o options) consoleAddr() string {
	switch {
	case o.console == "off":
		return ""
	case o.console != "":
		return o.console
	case o.portBase != 0:
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(o.portBase+stack.PortCount))
	}
	return "127.0.0.1:8090"
}
