package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuildPolicy says what Start does about binaries.
type BuildPolicy int

const (
	// BuildMissing builds only binaries that are not in the bin directory.
	BuildMissing BuildPolicy = iota
	// BuildServices also runs `go build` for the four services when they
	// exist; Go skips relinking up-to-date binaries, so this costs about a
	// second and never runs stale code. Jaeger is still built only if missing.
	BuildServices
	// BuildNever uses the bin directory as it is; a missing binary is an error.
	BuildNever
)

// FindRepoRoot walks up from dir to the directory holding go.work and
// deploy/jaeger/config.yaml.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isFile(filepath.Join(d, "go.work")) && isFile(filepath.Join(d, JaegerConfigPath)) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no hidden-bottleneck checkout (go.work and %s) in %s or above", JaegerConfigPath, dir)
		}
	}
}

// JaegerConfigPath is the Jaeger config, relative to the repository root.
const JaegerConfigPath = "deploy/jaeger/config.yaml"

// BinDir is where binaries live: $HB_BIN_DIR, else <root>/bin.
func BinDir(root string) string {
	if d := os.Getenv("HB_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, "bin")
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// ensureBinaries builds what policy asks for. Progress goes to log so a first
// run explains its minutes of silence.
func ensureBinaries(ctx context.Context, root, binDir string, names []string, policy BuildPolicy, log io.Writer) error {
	var services []string
	needJaeger := false
	for _, n := range names {
		missing := !isFile(filepath.Join(binDir, n))
		switch {
		case n == Jaeger:
			needJaeger = missing
		case missing || policy == BuildServices:
			services = append(services, n)
		}
	}
	if policy == BuildNever {
		var missing []string
		for _, n := range names {
			if !isFile(filepath.Join(binDir, n)) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("missing in %s: %s (run `make build jaeger`)", binDir, strings.Join(missing, ", "))
		}
		return nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("bin directory: %w", err)
	}
	if len(services) > 0 {
		args := []string{"build", "-o", binDir + string(filepath.Separator)}
		for _, s := range services {
			args = append(args, "./services/"+s)
		}
		fmt.Fprintf(log, "building %s into %s\n", strings.Join(services, ", "), binDir)
		if err := goCmd(ctx, root, nil, args...); err != nil {
			return fmt.Errorf("build services: %w", err)
		}
	}
	if needJaeger {
		start := time.Now()
		fmt.Fprintf(log, "building Jaeger 2.13.0 from deploy/jaeger into %s: the first build takes ~3-5 minutes (later runs reuse it)\n", binDir)
		// A temporary name, so an interrupted build never leaves a broken bin/jaeger behind.
		tmp := filepath.Join(binDir, ".jaeger.building")
		err := goCmd(ctx, filepath.Join(root, "deploy", "jaeger"), []string{"GOWORK=off"},
			"build", "-o", tmp, "github.com/jaegertracing/jaeger/cmd/jaeger")
		if err == nil {
			err = os.Rename(tmp, filepath.Join(binDir, Jaeger))
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("build jaeger: %w", err)
		}
		fmt.Fprintf(log, "built Jaeger in %s\n", time.Since(start).Round(time.Second))
	}
	return nil
}

func goCmd(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("the Go toolchain is needed to build the binaries: %w", err)
		}
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// goTool is $GO (as in the Makefile), else go from PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
