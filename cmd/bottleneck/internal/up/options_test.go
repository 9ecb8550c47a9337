package up

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

func TestFlagsBecomeEnvironment(t *testing.T) {
	o, err := parseOptions([]string{
		"--scenario", "steady", "--fix", "buffer", "--fix", "lanes", "--fix", "timeout", "--fix", "nonblocking",
		"--fault", "flaky", "--env", "LOG_LEVEL=debug", "--env", "workers:WORKERS=8", "--env", "workers:PRIORITY_LANES=off",
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	env := o.serviceEnv()
	want := map[string][]string{
		stack.Producer:   {"SCENARIO=steady", "LOG_LEVEL=debug"},
		stack.Workers:    {"RESULTS_BUFFER=800", "PRIORITY_LANES=on", "VENDOR_TIMEOUT=300ms", "RESULT_SEND=nonblocking", "LOG_LEVEL=debug", "WORKERS=8", "PRIORITY_LANES=off"},
		stack.VendorMock: {"FAULT_PRESET=flaky", "LOG_LEVEL=debug"},
		stack.Consumer:   {"LOG_LEVEL=debug"},
	}
	for name, w := range want {
		if !slices.Equal(env[name], w) {
			t.Errorf("%s env = %v, want %v (order matters: the last value wins)", name, env[name], w)
		}
	}
	if _, ok := env[stack.Jaeger]; ok {
		t.Errorf("jaeger got %v; --env without a service is for the four services", env[stack.Jaeger])
	}
}

func TestDefaultsLeaveTheIncidentAlone(t *testing.T) {
	o, err := parseOptions(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	env := o.serviceEnv()
	if len(env) != 1 || !slices.Equal(env[stack.Producer], []string{"SCENARIO=checkout"}) {
		t.Errorf("no flags gave %v; want only SCENARIO=checkout (the services' defaults are the incident)", env)
	}
	cfg, err := o.stackConfig(&bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ports != stack.DefaultPorts() || cfg.OTLPEndpoint != "" || cfg.Build != stack.BuildServices {
		t.Errorf("config %+v: want the standard ports, our own Jaeger, stale services rebuilt", cfg)
	}
}

func TestPortBaseAndExternalCollector(t *testing.T) {
	o, err := parseOptions([]string{"--port-base", "20000", "--jaeger=false", "--build=false"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.stackConfig(&bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ports.JaegerUI != 20000 || cfg.Ports.WorkersHTTP != 20007 {
		t.Errorf("ports %+v, want them from 20000", cfg.Ports)
	}
	if cfg.OTLPEndpoint != "http://127.0.0.1:4317" || cfg.Build != stack.BuildMissing {
		t.Errorf("OTLPEndpoint %q, build %v", cfg.OTLPEndpoint, cfg.Build)
	}
}

func TestBadFlagsAreRefusedWithTheReason(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "burst"}, `--scenario "burst": want checkout, steady, idle`},
		{[]string{"--fix", "faster"}, `unknown fix "faster" (want buffer, nonblocking, lanes, timeout)`},
		{[]string{"--fault", "down"}, `--fault "down": want healthy, degraded, slow, flaky, outage`},
		{[]string{"--env", "NOEQUALS"}, `want KEY=VALUE or service:KEY=VALUE`},
		{[]string{"--env", "db:X=1"}, `unknown service "db"`},
		{[]string{"--env", "HTTP_ADDR=:1"}, `HTTP_ADDR is set from the ports`},
		{[]string{"--otlp-endpoint", "http://x:4317"}, `add --jaeger=false`},
		{[]string{"--jaeger=false", "--otlp-endpoint", "x:4317"}, `want a URL with http://`},
		{[]string{"--port-base", "70000"}, `--port-base: port base 70000`},
		{[]string{"--color", "blue"}, `--color "blue"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, err := parseOptions(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to say %q", tc.args, err, tc.want)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseOptions([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"-scenario", "-fix", "-fault", "-env", "-jaeger", "-otlp-endpoint", "-port-base", "-build", "-color", "Examples:", "3-5 minutes"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help lacks %q:\n%s", f, out.String())
		}
	}
}

func TestExplainAddsTheWayOut(t *testing.T) {
	err := errors.Join(&stack.PortInUseError{Port: 8081, Owner: "workers HTTP_ADDR"}, errors.New("other"))
	got := explain(err)
	want := "port 8081 (workers HTTP_ADDR) is in use — stop what holds it or pass --port-base\nother"
	if got != want {
		t.Errorf("explain = %q, want %q", got, want)
	}
}

func TestConsoleAddr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "127.0.0.1:8090"},
		{[]string{"--port-base", "20000"}, "127.0.0.1:20011"},
		{[]string{"--console", "127.0.0.1:9999"}, "127.0.0.1:9999"},
		{[]string{"--console", "off"}, ""},
	} {
		o, err := parseOptions(tc.args, &strings.Builder{})
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := o.consoleAddr(); got != tc.want {
			t.Errorf("%v: console at %q, want %q", tc.args, got, tc.want)
		}
	}
	if _, err := parseOptions([]string{"--console", "nonsense"}, &strings.Builder{}); err == nil {
		t.Error("--console nonsense: accepted")
	}
}
