package dockerfilecheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fixture = "testdata/context"

// variant copies the fixture build context with one textual change to its
// Dockerfile and returns the Build for target "app".
func variant(t *testing.T, old, new string) Build {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(fixture, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(fixture, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "Dockerfile" && old != "" {
			if !strings.Contains(string(data), old) {
				t.Fatalf("fixture Dockerfile has no %q to replace", old)
			}
			data = []byte(strings.Replace(string(data), old, new, 1))
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return Build{ContextDir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"), Target: "app", Args: map[string]string{"APP": "app"}}
}

func TestFixturePasses(t *testing.T) {
	res, err := Check(variant(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Error(p)
	}
	if !slices.Equal(res.Entrypoint, []string{"/bin/app"}) || res.User != "65532:65532" {
		t.Errorf("final image: entrypoint %v user %q", res.Entrypoint, res.User)
	}
	if want := []string{"app/go.*", "app"}; !slices.Equal(res.Copied, want) {
		t.Errorf("copied from the context: %v, want %v", res.Copied, want)
	}
	if want := []string{"app/go.mod", "app/main.go"}; !slices.Equal(res.Files, want) {
		t.Errorf("files the build sees: %v, want %v", res.Files, want)
	}
}

func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     string // the one expected problem
	}{
		{"missing source", "COPY ${APP}/ ${APP}/", "COPY ${APP}/ ${APP}/\nCOPY README.md ./",
			"source README.md matches no file in the build context"},
		{"source excluded by .dockerignore", "COPY ${APP}/ ${APP}/", "COPY ${APP}/ ${APP}/\nCOPY secret/token ./",
			"source secret/token matches no file in the build context"},
		{"source outside the context", "COPY ${APP}/ ${APP}/", "COPY ${APP}/ ${APP}/\nCOPY ../x ./",
			"source ../x is outside the build context"},
		{"no USER", "USER 65532:65532\n", "",
			`target "app" runs as root: no USER in the final stage or its bases`},
		{"USER root", "FROM runtime AS app\n", "FROM runtime AS app\nUSER root\n",
			`target "app" runs as root: USER root`},
		{"USER 0:0", "FROM runtime AS app\n", "FROM runtime AS app\nUSER 0:0\n",
			`target "app" runs as root: USER 0:0`},
		{"latest base image", "gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12:latest",
			`uses the latest tag`},
		{"untagged base image", "ARG GO_IMAGE=golang:1.26", "ARG GO_IMAGE=golang",
			`image "golang" has no tag`},
		{"build arg not declared in the stage", "ARG APP\nWORKDIR", "WORKDIR",
			`"${APP}/go.*" uses APP, which is not set`},
		{"shell-form entrypoint", `ENTRYPOINT ["/bin/app"]`, `ENTRYPOINT /bin/app`,
			"ENTRYPOINT in shell form needs a shell"},
		{"entrypoint not copied", `ENTRYPOINT ["/bin/app"]`, `ENTRYPOINT ["/bin/server"]`,
			"ENTRYPOINT /bin/server is not a file any COPY puts into the image"},
		{"lint: FROM/as casing", "FROM runtime AS app", "FROM runtime as app",
			"lint FromAsCasing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(variant(t, tc.old, tc.new))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Error(), tc.want) {
				t.Errorf("problems = %q\nwant exactly one containing %q", res.Problems, tc.want)
			}
		})
	}
}

func TestBuildArgDecidesWhatIsCopied(t *testing.T) {
	b := variant(t, "", "")
	b.Args["APP"] = "missing"
	res, err := Check(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) == 0 || !strings.Contains(res.Problems[0].Error(), "source missing/go.* matches no file") {
		t.Errorf("APP=missing: problems = %q", res.Problems)
	}
}

// The base images follow the build args, so a mirror or a stand-in passed
// as GO_IMAGE is what the build starts from; stages are not images.
func TestBaseImagesFollowBuildArgs(t *testing.T) {
	b := variant(t, "", "")
	res, err := Check(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"gcr.io/distroless/static-debian12:nonroot", "golang:1.26"}; !slices.Equal(res.BaseImages, want) {
		t.Errorf("base images with the defaults: %v, want %v", res.BaseImages, want)
	}
	b.Args["GO_IMAGE"] = "mirror.example/library/golang:1.26"
	if res, err = Check(b); err != nil {
		t.Fatal(err)
	}
	if want := []string{"gcr.io/distroless/static-debian12:nonroot", "mirror.example/library/golang:1.26"}; !slices.Equal(res.BaseImages, want) {
		t.Errorf("base images with GO_IMAGE set: %v, want %v", res.BaseImages, want)
	}
}

func TestUnknownTarget(t *testing.T) {
	b := variant(t, "", "")
	b.Target = "nope"
	if _, err := Check(b); err == nil || !strings.Contains(err.Error(), `no stage "nope"`) {
		t.Errorf("Check with an unknown target: %v", err)
	}
}

func TestPinnedImage(t *testing.T) {
	for ref, pinned := range map[string]bool{
		"jaegertracing/jaeger:2.13.0":               true,
		"golang:1.26":                               true,
		"gcr.io/distroless/static-debian12:nonroot": true,
		"alpine@sha256:" + strings.Repeat("a", 64):  true,
		"jaegertracing/jaeger":                      false,
		"jaegertracing/jaeger:latest":               false,
		"localhost:5000/jaeger":                     false,
		"Not A Reference":                           false,
	} {
		if err := PinnedImage(ref); (err == nil) != pinned {
			t.Errorf("PinnedImage(%q) = %v, want pinned=%v", ref, err, pinned)
		}
	}
}
