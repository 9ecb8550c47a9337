package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	consumerconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	producerconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/producer/config"
	vendorconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
	workersconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
)

// TestExperimentKnowsEverySettingTheServicesRead asks `bottleneck
// experiment --check` about a plan that sets every variable each service's
// config package reads. The CLI does not import the producer's config (it
// would bring gRPC into the binary), so this is what keeps its list of the
// producer's settings true: a variable may be refused for its value, or
// because the experiment sets it itself, never as unknown.
func TestExperimentKnowsEverySettingTheServicesRead(t *testing.T) {
	services := map[string]func() []string{
		"producer": producerconfig.EnvNames, "workers": workersconfig.EnvNames,
		"vendor-mock": vendorconfig.EnvNames, "consumer": consumerconfig.EnvNames,
	}
	var plan strings.Builder
	plan.WriteString("workload: {steady: {rate: 1}}\nrows:\n")
	rows := 0
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		for _, name := range services[svc]() {
			fmt.Fprintf(&plan, "  - name: %s.%s\n    profile: {\"%s:%s\": \"1\"}\n", svc, name, svc, name)
			rows++
		}
	}
	path := filepath.Join(t.TempDir(), "every-setting.yaml")
	if err := os.WriteFile(path, []byte(plan.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, _ := runExperiment(t, time.Minute, "--plan", path, "--check")
	for _, line := range strings.Split(errOut, "\n") {
		if strings.Contains(line, "unknown setting") || strings.Contains(line, "does not read") {
			t.Errorf("the experiment does not know a setting a service reads: %s", strings.TrimSpace(line))
		}
	}
	if rows < 30 {
		t.Errorf("only %d settings in all four services' config: the test reads the wrong lists", rows)
	}
}
