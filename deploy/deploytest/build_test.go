package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/dockerfilecheck"
)

// The image build without Docker: copy exactly the files the Dockerfile's
// COPYs take from the context (after .dockerignore) into an empty
// directory and compile the binary there the way the build stage does,
// without go.work. It fails when .dockerignore drops a file the build
// needs or a module cannot build on its own. Modules come from the local
// module cache only (GOPROXY=off), so the test needs no network.
func TestImageSourcesCompileAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every image's binary")
	}
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
			src := t.TempDir()
			mainDir := ""
			for _, f := range res.Files {
				data, err := os.ReadFile(filepath.Join(svc.Build.Context, f))
				if err != nil {
					t.Fatal(err)
				}
				dst := filepath.Join(src, filepath.FromSlash(f))
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if filepath.Base(f) == "main.go" && strings.Count(f, "/") == 2 {
					mainDir = filepath.Dir(dst) // services/<name>/main.go, cmd/<name>/main.go
				}
			}
			if mainDir == "" {
				t.Fatalf("the build context for %s holds no <dir>/<name>/main.go (files: %v)", name, res.Files)
			}
			cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), "bin"), ".")
			cmd.Dir = mainDir
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "GOPROXY=off", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("building %s from its Docker build context alone: %v\n%s", name, err, out)
			}
		})
	}
}
