package readmeconfig

import (
	"slices"
	"strings"
	"testing"
)

const sample = "# title\n\n## Configuration\n\n" +
	"### All services\n\n" +
	"| variable | default | meaning |\n| --- | --- | --- |\n" +
	"| `LOG_LEVEL` | `info` | `debug`, `info` |\n" +
	"| `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` | samplers |\n" +
	"| `OTEL_RESOURCE_ATTRIBUTES` | — | extra |\n\n" +
	"### workers (gRPC 9090, HTTP 8081) — the fixes\n\n" +
	"| variable | default | meaning |\n| --- | --- | --- |\n" +
	"| `RESULTS_BUFFER` | `0` (= `WORKERS`) | **the bottleneck** |\n\n" +
	"## Next chapter\n\n| `NOT_CONFIG` | `x` | outside any ### section |\n"

func TestParse(t *testing.T) {
	tables, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tables.Names(AllServices), []string{"LOG_LEVEL", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_RESOURCE_ATTRIBUTES"}; !slices.Equal(got, want) {
		t.Errorf("All services = %v, want %v", got, want)
	}
	if got := tables.Names("workers"); !slices.Equal(got, []string{"RESULTS_BUFFER"}) {
		t.Errorf("workers = %v", got)
	}
	if v, _ := tables.Lookup("workers", "RESULTS_BUFFER"); v.Default != "0" || v.Line != 17 {
		t.Errorf("RESULTS_BUFFER = %+v, want default 0 on line 17", v)
	}
	if v, _ := tables.Lookup(AllServices, "OTEL_RESOURCE_ATTRIBUTES"); v.Default != "—" {
		t.Errorf("a default without code keeps its text: %+v", v)
	}
	if len(tables) != 2 {
		t.Errorf("sections = %v, want only the two ### ones", tables)
	}
}

func TestParseRejectsDuplicates(t *testing.T) {
	dup := strings.Replace(sample, "| `RESULTS_BUFFER` |", "| `RESULTS_BUFFER`, `RESULTS_BUFFER` |", 1)
	if _, err := Parse(dup); err == nil || !strings.Contains(err.Error(), "RESULTS_BUFFER listed again") {
		t.Errorf("Parse with a duplicate: %v", err)
	}
}
