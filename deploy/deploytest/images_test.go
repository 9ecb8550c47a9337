package deploytest

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/dockerfilecheck"
)

// The base images, by the variable that names them, and their upstream
// defaults. A registry mirror, or CI's local stand-ins, come in through
// these variables.
var upstreamImages = map[string]string{
	"JAEGER_IMAGE":  "jaegertracing/jaeger:2.13.0",
	"GO_IMAGE":      "golang:1.26",
	"RUNTIME_IMAGE": "gcr.io/distroless/static-debian12:nonroot",
}

// buildBases checks every image Compose builds and returns its base images.
func buildBases(t *testing.T, p *types.Project) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		if svc.Build == nil {
			continue
		}
		res, err := dockerfilecheck.Check(composecheck.ImageBuild(p, svc.Build))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = res.BaseImages
	}
	if len(out) == 0 {
		t.Fatal("no service is built")
	}
	return out
}

func TestBaseImagesDefaultToUpstream(t *testing.T) {
	p := load(t, composecheck.Options{Profiles: []string{"tools"}})
	if got, want := p.Services["jaeger"].Image, upstreamImages["JAEGER_IMAGE"]; got != want {
		t.Errorf("jaeger image = %q, want %q", got, want)
	}
	want := slices.Sorted(slices.Values([]string{upstreamImages["GO_IMAGE"], upstreamImages["RUNTIME_IMAGE"]}))
	for name, bases := range buildBases(t, p) {
		if !slices.Equal(bases, want) {
			t.Errorf("image for %s builds on %v, want %v", name, bases, want)
		}
	}
}

// docker-compose.yml passes both base images as build args with fallbacks
// of its own; those must be the Dockerfile's ARG defaults, or `docker
// compose build` and a plain `docker build` would start from different
// images.
func TestComposeBuildArgsRepeatTheDockerfileDefaults(t *testing.T) {
	p := load(t, composecheck.Options{Profiles: []string{"tools"}})
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		if svc.Build == nil {
			continue
		}
		b := composecheck.ImageBuild(p, svc.Build)
		withArgs, err := dockerfilecheck.Check(b)
		if err != nil {
			t.Fatal(err)
		}
		b.Args = maps.Clone(b.Args)
		for _, arg := range []string{"GO_IMAGE", "RUNTIME_IMAGE"} {
			if _, ok := b.Args[arg]; !ok {
				t.Errorf("service %s: build args %v lack %s: ${%s} from the shell would not reach the build", name, slices.Sorted(maps.Keys(b.Args)), arg, arg)
			}
			delete(b.Args, arg)
		}
		defaults, err := dockerfilecheck.Check(b)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(withArgs.BaseImages, defaults.BaseImages) {
			t.Errorf("service %s: docker-compose.yml's fallbacks build on %v, the Dockerfile's ARG defaults on %v",
				name, withArgs.BaseImages, defaults.BaseImages)
		}
	}
}

// The README's mirror line: the three variables in the shell replace every
// base image, and nothing else changes.
func TestBaseImagesComeFromTheShell(t *testing.T) {
	mirror := map[string]string{
		"JAEGER_IMAGE":  "mirror.example/jaegertracing/jaeger:2.13.0",
		"GO_IMAGE":      "mirror.example/library/golang:1.26",
		"RUNTIME_IMAGE": "mirror.example/distroless/static-debian12:nonroot",
	}
	var shell []string
	for k, v := range mirror {
		shell = append(shell, k+"="+v)
	}
	p := load(t, composecheck.Options{Profiles: []string{"tools"}, Shell: shell})
	if got := p.Services["jaeger"].Image; got != mirror["JAEGER_IMAGE"] {
		t.Errorf("JAEGER_IMAGE=%s: jaeger image = %q", mirror["JAEGER_IMAGE"], got)
	}
	want := slices.Sorted(slices.Values([]string{mirror["GO_IMAGE"], mirror["RUNTIME_IMAGE"]}))
	for name, bases := range buildBases(t, p) {
		if !slices.Equal(bases, want) {
			t.Errorf("with a mirror, the image for %s builds on %v, want %v", name, bases, want)
		}
	}
	reportProblems(t, composecheck.Check(p))
}

// The Jaeger stand-in (deploy/standins) has the upstream image's layout
// where docker-compose.yml relies on it: the entrypoint the command line
// is appended to, and a non-root user.
func TestJaegerStandInIsLaidOutLikeUpstream(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "standins")
	// The context is staged by build.sh; only the image's facts matter.
	res, err := dockerfilecheck.Check(dockerfilecheck.Build{ContextDir: dir, Dockerfile: filepath.Join(dir, "jaeger.Dockerfile")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/cmd/jaeger/jaeger-linux"}; !slices.Equal(res.Entrypoint, want) {
		t.Errorf("entrypoint %v, want %v as upstream", res.Entrypoint, want)
	}
	if res.User != "10001" {
		t.Errorf("user %q, want 10001 as upstream", res.User)
	}
}

// A stand-in must never be tagged with an upstream image's name: it would
// shadow the real image for every other project on the engine.
func TestStandInsRefuseUpstreamNames(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := filepath.Join(repoRoot(t), "deploy", "standins", "build.sh")
	for _, tc := range []struct{ variable, name string }{
		{"GO_IMAGE", "golang:1.26"},
		{"GO_IMAGE", "docker.io/library/golang:1.26"},
		{"RUNTIME_IMAGE", "gcr.io/distroless/static-debian12:nonroot"},
		{"JAEGER_IMAGE", "jaegertracing/jaeger:2.13.0"},
		{"JAEGER_IMAGE", "docker.io/jaegertracing/jaeger:2.13.0"},
	} {
		t.Run(tc.variable+"="+tc.name, func(t *testing.T) {
			cmd := exec.Command("bash", script)
			// No Jaeger binary: should the refusal ever fail, the script
			// stops there instead of building anything.
			cmd.Env = append(os.Environ(), tc.variable+"="+tc.name, "JAEGER_BIN=/nonexistent")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("build.sh accepted %s=%s:\n%s", tc.variable, tc.name, out)
			}
			if !strings.Contains(string(out), "upstream image name") {
				t.Errorf("build.sh refused %s=%s without saying why:\n%s", tc.variable, tc.name, out)
			}
		})
	}
}
