// Package deploytest checks the repository's docker-compose.yml, .env,
// deploy/Dockerfile and .dockerignore with the loaders Docker itself uses
// (compose-go, BuildKit's Dockerfile parser), so `docker compose up` is
// known to be sound on a machine without a Docker engine.
package deploytest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/mod/modfile"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/dockerfilecheck"
)

const modulePrefix = "github.com/hidden-bottleneck/hidden-bottleneck/"

// The services `docker compose up` starts, and the tools behind a profile.
var (
	upServices   = []string{"console", "consumer", "jaeger", "producer", "vendor-mock", "workers"}
	toolServices = []string{"report"}
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

func load(t *testing.T, o composecheck.Options) *types.Project {
	t.Helper()
	if o.Dir == "" {
		o.Dir = repoRoot(t)
	}
	p, err := composecheck.Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func reportProblems(t *testing.T, problems []error) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

func TestComposeUpStartsTheServicesAndTheConsole(t *testing.T) {
	p := load(t, composecheck.Options{})
	if got := p.ServiceNames(); !slices.Equal(got, upServices) {
		t.Errorf("docker compose up starts %v, want %v", got, upServices)
	}
	for _, name := range toolServices {
		if _, ok := p.DisabledServices[name]; !ok {
			t.Errorf("%s should exist but stay off without its profile", name)
		}
	}
	reportProblems(t, composecheck.Check(p))
}

func TestComposeToolsProfileAddsReport(t *testing.T) {
	p := load(t, composecheck.Options{Profiles: []string{"tools"}})
	want := slices.Sorted(slices.Values(append(slices.Clone(upServices), toolServices...)))
	if got := p.ServiceNames(); !slices.Equal(got, want) {
		t.Fatalf("with profile tools: services %v, want %v", got, want)
	}
	report := p.Services["report"]
	if !slices.Equal(report.Profiles, []string{"tools"}) {
		t.Errorf("report profiles = %v, want [tools]", report.Profiles)
	}
	// In the entrypoint, so `docker compose run --rm report --since 5m`
	// adds flags instead of replacing them.
	if got := strings.Join(report.Entrypoint, " "); !strings.HasPrefix(got, "/app/bottleneck report --jaeger http://jaeger:16686") {
		t.Errorf("report entrypoint = %q", got)
	}
	reportProblems(t, composecheck.Check(p))
}

// The documented way to try a fix or a fault: a variable set in the shell
// reaches the service, over .env.
func TestShellOverridesReachTheServices(t *testing.T) {
	for _, tc := range []struct {
		service, name, shell, dotenvDefault string
	}{
		{"workers", "RESULTS_BUFFER", "400", "0"},
		{"workers", "PRIORITY_LANES", "on", "off"},
		{"vendor-mock", "FAULT_PRESET", "healthy", "degraded"},
		{"consumer", "PROCESS_DELAY", "5ms", "50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := func(p *types.Project) string {
				v := p.Services[tc.service].Environment[tc.name]
				if v == nil {
					t.Fatalf("%s has no %s", tc.service, tc.name)
				}
				return *v
			}
			if got := env(load(t, composecheck.Options{})); got != tc.dotenvDefault {
				t.Errorf("without a shell variable: %s %s=%q, want %q", tc.service, tc.name, got, tc.dotenvDefault)
			}
			got := env(load(t, composecheck.Options{Shell: []string{tc.name + "=" + tc.shell}}))
			if got != tc.shell {
				t.Errorf("%s=%s docker compose up: %s sees %q", tc.name, tc.shell, tc.service, got)
			}
		})
	}
}

// Without .env the file still works and gives the same values: the
// ${VAR:-default} fallbacks and .env agree.
func TestDotEnvAgreesWithComposeDefaults(t *testing.T) {
	root := repoRoot(t)
	raw := load(t, composecheck.Options{Raw: true, Profiles: []string{"tools"}})
	knobs, problems := composecheck.Knobs(raw)
	reportProblems(t, problems)
	if len(knobs) == 0 {
		t.Fatal("docker-compose.yml has no ${VAR:-default} knobs")
	}
	dotenv, err := composecheck.ReadDotEnv(filepath.Join(root, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	reportProblems(t, composecheck.CheckDotEnv(knobs, dotenv))
}

// Every image Compose builds gets the Go modules it needs: the Dockerfile
// builds one module without the workspace, so each in-repo module it
// requires must be replaced by a directory the build copies.
func TestImagesGetTheModulesTheyNeed(t *testing.T) {
	root := repoRoot(t)
	p := load(t, composecheck.Options{Profiles: []string{"tools"}})
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		if svc.Build == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res, err := dockerfilecheck.Check(composecheck.ImageBuild(p, svc.Build))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("target %s: entrypoint %v, user %s, copies %v", svc.Build.Target, res.Entrypoint, res.User, res.Copied)
			copied := map[string]bool{}
			for _, c := range res.Copied {
				copied[strings.TrimSuffix(c, "/")] = true
			}
			modules := 0
			for dir := range copied {
				if st, err := os.Stat(filepath.Join(root, dir)); err != nil || !st.IsDir() {
					continue
				}
				gomod := filepath.Join(root, dir, "go.mod")
				data, err := os.ReadFile(gomod)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				modules++
				for _, problem := range inRepoRequirements(t, root, dir, data, copied) {
					t.Errorf("image for %s: %s", name, problem)
				}
			}
			if modules == 0 {
				t.Errorf("image for %s copies no Go module directory (copied %v)", name, res.Copied)
			}
		})
	}
}

// inRepoRequirements checks the go.mod in dir: each requirement on a module
// of this repository is replaced by a local directory that is copied too.
func inRepoRequirements(t *testing.T, root, dir string, data []byte, copied map[string]bool) []string {
	t.Helper()
	f, err := modfile.Parse(filepath.Join(dir, "go.mod"), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	replaced := map[string]string{}
	for _, r := range f.Replace {
		if modfile.IsDirectoryPath(r.New.Path) {
			replaced[r.Old.Path] = r.New.Path
		}
	}
	var problems []string
	for _, r := range f.Require {
		if !strings.HasPrefix(r.Mod.Path, modulePrefix) {
			continue
		}
		local, ok := replaced[r.Mod.Path]
		if !ok {
			problems = append(problems, dir+"/go.mod requires "+r.Mod.Path+" without a replace to its directory: the build runs without go.work")
			continue
		}
		target, err := filepath.Rel(root, filepath.Join(root, dir, local))
		if err != nil {
			t.Fatal(err)
		}
		if !copied[filepath.ToSlash(target)] {
			problems = append(problems, dir+"/go.mod needs "+r.Mod.Path+" from "+filepath.ToSlash(target)+", which the Dockerfile does not copy")
		}
	}
	return problems
}
