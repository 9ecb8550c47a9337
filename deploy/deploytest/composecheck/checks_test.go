package composecheck

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

const fixture = "testdata/project"

// loadVariant copies the fixture project with one textual change to
// docker-compose.yml and loads it.
func loadVariant(t *testing.T, old, new string, o Options) *types.Project {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"docker-compose.yml", "collector.yaml", ".env"} {
		data, err := os.ReadFile(filepath.Join(fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "docker-compose.yml" && old != "" {
			if !strings.Contains(string(data), old) {
				t.Fatalf("fixture has no %q to replace", old)
			}
			data = []byte(strings.Replace(string(data), old, new, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o.Dir = dir
	p, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFixturePasses(t *testing.T) {
	p := loadVariant(t, "", "", Options{})
	for _, err := range Check(p) {
		t.Error(err)
	}
	ports, err := ListenPorts(p, p.Services["collector"])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ports[4317]; !ok {
		t.Errorf("collector ports from its --config file = %v, want 4317 among them", ports)
	}
}

// Each variant breaks one rule; Check must report exactly that.
func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string // one substring per expected problem
	}{
		{"latest image", "example/db:1.2.3", "example/db:latest",
			[]string{`service "db": image "example/db:latest" uses the latest tag`}},
		{"untagged image", "example/db:1.2.3", "example/db",
			[]string{`service "db": image "example/db" has no tag`}},
		{"unknown service host", "DB_URL: http://db:8082", "DB_URL: http://database:8082",
			[]string{`service "api": DB_URL=http://database:8082 names host "database", which is not a service`}},
		{"port the service does not listen on", "DB_URL: http://db:8082", "DB_URL: http://db:9999",
			[]string{`service "api": DB_URL=http://db:9999 uses port 9999, but "db" listens on 8082 (HTTP_ADDR)`}},
		{"loopback address", "DB_URL: http://db:8082", "DB_URL: http://localhost:8082",
			[]string{`service "api": DB_URL=http://localhost:8082 points at the container itself`}},
		{"loopback link to an unpublished port", `"http://localhost:8080"]`, `"http://localhost:9999"]`,
			[]string{`service "api": command[1]=http://localhost:9999 points at the container itself`}},
		{"collector bound to loopback by env", "COLLECTOR_LOG: info", "OTLP_GRPC_ENDPOINT: 127.0.0.1:4317",
			[]string{
				`OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317 uses port 4317, but "collector" listens on 13133 (collector.yaml)`,
				`service "collector": OTLP_GRPC_ENDPOINT=127.0.0.1:4317 points at the container itself`,
			}},
		{"server bound to loopback", `HTTP_ADDR: ":8082"`, `HTTP_ADDR: "127.0.0.1:8082"`,
			[]string{
				`DB_URL=http://db:8082 uses port 8082, but "db" listens on no port`,
				`service "db": HTTP_ADDR=127.0.0.1:8082 points at the container itself: to reach another service use its name (api, collector); to serve other containers bind :8082`,
				`service "db" publishes container port 8082, but listens on no port`,
			}},
		{"duplicate host port", `"127.0.0.1:8082:8082"`, `"8080:8082"`,
			[]string{`host port 8080/tcp is published by both "api" and "db"`}},
		{"published port not listened on", `"127.0.0.1:8082:8082"`, `"127.0.0.1:8082:8083"`,
			[]string{`service "db" publishes container port 8083, but listens on 8082 (HTTP_ADDR)`}},
		{"no healthcheck", `    healthcheck:
      test: ["CMD", "/app/db", "-healthcheck"]
`, "",
			[]string{`service "api" waits for db to be healthy, but db has no healthcheck`, `service "db" has no healthcheck`}},
		{"shell healthcheck", `test: ["CMD", "/app/db", "-healthcheck"]`, `test: ["CMD-SHELL", "/app/db -healthcheck"]`,
			[]string{`service "db": healthcheck [CMD-SHELL /app/db -healthcheck] must be exec form`}},
		{"healthcheck on a closed port", "http://127.0.0.1:13133/status", "http://127.0.0.1:13134/status",
			[]string{`service "collector": healthcheck probes port 13134`}},
		{"started instead of healthy", `      db:
        condition: service_healthy`, `      db:
        condition: service_started`,
			[]string{
				`service "api": DB_URL=http://db:8082 needs depends_on db with condition: service_healthy`,
				`service "api": depends_on db has condition "service_started", want service_healthy`,
			}},
		{"no memory limit", "  db:\n    <<: *limits\n", "  db:\n",
			[]string{`service "db" has no memory limit`}},
		{"no restart policy", "    restart: unless-stopped\n    depends_on:", "    restart: \"no\"\n    depends_on:",
			[]string{`service "api" has restart policy "no"`}},
		{"grace period shorter than shutdown", "stop_grace_period: 15s", "stop_grace_period: 11s",
			[]string{`service "api": stop_grace_period 11s leaves no room for SHUTDOWN_TIMEOUT=5s`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadVariant(t, tc.old, tc.new, Options{})
			problems := Check(p)
			if len(problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:", len(problems), len(tc.want))
				for _, p := range problems {
					t.Log(p)
				}
				return
			}
			for i, want := range tc.want {
				if !strings.Contains(problems[i].Error(), want) {
					t.Errorf("problem %d = %q\nwant it to contain %q", i, problems[i], want)
				}
			}
		})
	}
}

func TestShellWinsOverDotEnv(t *testing.T) {
	level := func(p *types.Project) string { return *p.Services["api"].Environment["LOG_LEVEL"] }
	if got := level(loadVariant(t, "", "", Options{})); got != "info" {
		t.Errorf("from .env: LOG_LEVEL=%q, want info", got)
	}
	if got := level(loadVariant(t, "", "", Options{Shell: []string{"LOG_LEVEL=debug"}})); got != "debug" {
		t.Errorf("from the shell: LOG_LEVEL=%q, want debug", got)
	}
}

func TestKnobs(t *testing.T) {
	raw := loadVariant(t, "", "", Options{Raw: true})
	knobs, problems := Knobs(raw)
	if len(problems) > 0 || len(knobs) != 1 || knobs[0] != (Knob{Service: "api", Var: "LOG_LEVEL", Default: "info"}) {
		t.Fatalf("Knobs = %v, %v; want the one LOG_LEVEL knob", knobs, problems)
	}
	if problems := CheckDotEnv(knobs, map[string]string{"LOG_LEVEL": "info"}); len(problems) > 0 {
		t.Errorf("matching .env: %v", problems)
	}

	for _, tc := range []struct{ name, new, want string }{
		{"other shell name", "${LEVEL:-info}", "LOG_LEVEL reads shell variable LEVEL"},
		{"no default", "${LOG_LEVEL}", "write it as ${LOG_LEVEL:-default}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Knobs(loadVariant(t, "${LOG_LEVEL:-info}", tc.new, Options{Raw: true}))
			if len(problems) != 1 || !strings.Contains(problems[0].Error(), tc.want) {
				t.Errorf("problems = %v, want one containing %q", problems, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		dotenv map[string]string
		want   string
	}{
		{"unused .env entry", map[string]string{"LOG_LEVEL": "info", "LOG_LEVL": "debug"}, ".env sets LOG_LEVL, but docker-compose.yml never reads ${LOG_LEVL}"},
		{"other default", map[string]string{"LOG_LEVEL": "debug"}, ".env sets LOG_LEVEL=debug, but docker-compose.yml defaults it to info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := CheckDotEnv(knobs, tc.dotenv)
			if len(problems) != 1 || !strings.Contains(problems[0].Error(), tc.want) {
				t.Errorf("problems = %v, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://jaeger:4317":     "jaeger:4317",
		"http://vendor-mock":     "vendor-mock:80",
		"workers:9090":           "workers:9090",
		":8081":                  ":8081",
		"0.0.0.0:13133":          "0.0.0.0:13133",
		"[::]:8083":              ":::8083",
		"cache-read=60,db=20":    "",
		"10ms-50ms":              "",
		"20s":                    "",
		"k=v:1":                  "",
		"degraded":               "",
		"parentbased_always_on":  "",
		"http://:8080/no-host":   "",
		"workers:not-a-port":     "",
		"file:///etc/config.yml": "",
	} {
		e, ok := parseEndpoint(in)
		got := ""
		if ok {
			got = e.host + ":" + strconv.Itoa(e.port)
		}
		if got != want {
			t.Errorf("parseEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
