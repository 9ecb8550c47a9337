package servicedrift

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	consumerconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	producerconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/producer/config"
	vendorconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
	workersconfig "github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/drift"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/readmeconfig"
)

// envNames is each service's own account of the variables it reads.
var envNames = map[string]func() []string{
	"producer":    producerconfig.EnvNames,
	"workers":     workersconfig.EnvNames,
	"vendor-mock": vendorconfig.EnvNames,
	"consumer":    consumerconfig.EnvNames,
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readme(t *testing.T) readmeconfig.Tables {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := readmeconfig.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

func TestReadmeCodeAndComposeNameTheSameVariables(t *testing.T) {
	tables := readme(t)
	p, err := composecheck.Load(context.Background(), composecheck.Options{Dir: repoRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	for name, names := range envNames {
		t.Run(name, func(t *testing.T) {
			svc, ok := p.Services[name]
			if !ok {
				t.Fatalf("docker-compose.yml has no service %q", name)
			}
			env := map[string]string{}
			for k, v := range svc.Environment {
				if v != nil {
					env[k] = *v
				}
			}
			for _, problem := range drift.Check(tables, drift.Service{
				Name:    name,
				CodePkg: "services/" + name + "/config",
				Code:    names(),
				Compose: env,
			}) {
				t.Error(problem)
			}
		})
	}
}

func TestComposeDefaultsAreTheReadmeDefaults(t *testing.T) {
	raw, err := composecheck.Load(context.Background(), composecheck.Options{Dir: repoRoot(t), Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	knobs, problems := composecheck.Knobs(raw)
	for _, p := range problems {
		t.Error(p)
	}
	for _, p := range drift.CheckKnobDefaults(readme(t), knobs) {
		t.Error(p)
	}
}
