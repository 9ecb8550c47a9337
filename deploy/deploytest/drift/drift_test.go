package drift

import (
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/readmeconfig"
)

const readme = "### All services\n\n| variable | default | meaning |\n| --- | --- | --- |\n" +
	"| `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4317` | endpoint |\n" +
	"| `LOG_LEVEL` | `info` | level |\n\n" +
	"### workers (HTTP 8081)\n\n| variable | default | meaning |\n| --- | --- | --- |\n" +
	"| `HTTP_ADDR` | `:8081` | admin |\n" +
	"| `RESULTS_BUFFER` | `0` (= `WORKERS`) | the bottleneck |\n"

func tables(t *testing.T) readmeconfig.Tables {
	t.Helper()
	tb, err := readmeconfig.Parse(readme)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func good() Service {
	return Service{
		Name:    "workers",
		CodePkg: "services/workers/config",
		Code:    []string{"HTTP_ADDR", "LOG_LEVEL", "RESULTS_BUFFER"},
		Compose: map[string]string{
			"HTTP_ADDR":                   ":8081",
			"RESULTS_BUFFER":              "0",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317",
			"GOMEMLIMIT":                  "200MiB",
		},
	}
}

func TestCheckAgreeing(t *testing.T) {
	for _, p := range Check(tables(t), good()) {
		t.Error(p)
	}
}

func TestCheckNamesTheDrift(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Service)
		want   []string // one substring per expected problem
	}{
		{"code reads an undocumented var", func(s *Service) { s.Code = append(s.Code, "RESULTS_BUFER") },
			[]string{"RESULTS_BUFER: services/workers/config reads it, but the README does not list it"}},
		{"README lists a var the code ignores", func(s *Service) { s.Code = []string{"HTTP_ADDR", "LOG_LEVEL"} },
			[]string{
				`RESULTS_BUFFER: the README "### workers" table lists it, but services/workers/config.EnvNames() does not read it`,
				"RESULTS_BUFFER: docker-compose.yml sets it on workers, which does not read it",
			}},
		{"common var the code ignores", func(s *Service) { s.Code = []string{"HTTP_ADDR", "RESULTS_BUFFER"} },
			[]string{`LOG_LEVEL: the README "### All services" table lists it, but services/workers/config.EnvNames() does not read it`}},
		{"compose sets an unknown var", func(s *Service) { s.Compose["RESULT_BUFFER"] = "400" },
			[]string{"RESULT_BUFFER: docker-compose.yml sets it on workers, which does not read it"}},
		{"compose misses a README var", func(s *Service) { delete(s.Compose, "RESULTS_BUFFER") },
			[]string{"RESULTS_BUFFER: the README \"### workers\" table lists it, but docker-compose.yml does not set it on workers"}},
		{"compose moves a listen address", func(s *Service) { s.Compose["HTTP_ADDR"] = ":9999" },
			[]string{`HTTP_ADDR: docker-compose.yml sets ":9999" on workers, but the README "### workers" table says ":8081"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.change(&s)
			problems := Check(tables(t), s)
			if len(problems) != len(tc.want) {
				t.Fatalf("problems = %q\nwant %d", problems, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.Contains(problems[i].Error(), want) {
					t.Errorf("problem %d = %q\nwant it to contain %q", i, problems[i], want)
				}
			}
		})
	}
}

func TestCheckMissingSection(t *testing.T) {
	s := good()
	s.Name = "producer"
	problems := Check(tables(t), s)
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), `README "### producer" table: missing`) {
		t.Errorf("problems = %q", problems)
	}
}

func TestCheckKnobDefaults(t *testing.T) {
	tb := tables(t)
	ok := []composecheck.Knob{{Service: "workers", Var: "RESULTS_BUFFER", Default: "0"}, {Service: "workers", Var: "LOG_LEVEL", Default: "info"}}
	if problems := CheckKnobDefaults(tb, ok); len(problems) > 0 {
		t.Errorf("agreeing defaults: %q", problems)
	}
	for _, tc := range []struct {
		knob composecheck.Knob
		want string
	}{
		{composecheck.Knob{Service: "workers", Var: "RESULTS_BUFFER", Default: "400"},
			`RESULTS_BUFFER: docker-compose.yml defaults it to "400" for workers, but the README "### workers" table (line 13) says "0"`},
		{composecheck.Knob{Service: "workers", Var: "LOG_LEVEL", Default: "debug"},
			`LOG_LEVEL: docker-compose.yml defaults it to "debug" for workers, but the README "### All services" table`},
		{composecheck.Knob{Service: "workers", Var: "QUEUE", Default: "1"},
			"QUEUE: docker-compose.yml reads ${QUEUE} for workers, but no README table lists it"},
	} {
		problems := CheckKnobDefaults(tb, []composecheck.Knob{tc.knob})
		if len(problems) != 1 || !strings.Contains(problems[0].Error(), tc.want) {
			t.Errorf("%+v: problems = %q\nwant one containing %q", tc.knob, problems, tc.want)
		}
	}
}
