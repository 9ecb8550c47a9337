package experiment

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These cases end before any process starts.
func TestMainRefusesBadInputBeforeRunningAnything(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("workload: {steady: {rate: 10}}\nrows: [{name: a}, {name: b, profile: {WORKERS: 8}}]\n"), 0o644)
	startOnly := filepath.Join(dir, "start-only.yaml")
	os.WriteFile(startOnly, []byte("workload: {steady: {rate: 10}}\nrows: [{name: a}, {name: b, profile: {DEDUP_CAPACITY: 8}}]\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("workload: {steady: {rate: 10}}\nrows:\n  - name: a\n    profile: {WORKER: 8}\n"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, ExitOK, ""},
		{"unknown flag", []string{"--nope"}, ExitUsage, "flag provided but not defined"},
		{"argument", []string{"now"}, ExitUsage, `unexpected argument "now"`},
		{"missing plan", []string{"--plan", filepath.Join(dir, "none.yaml")}, ExitUsage, "none.yaml: no such file"},
		{"bad plan", []string{"--plan", bad}, ExitUsage, `row "a": profile: unknown setting WORKER: no service reads it (did you mean WORKERS?)`},
		{"unknown row", []string{"--plan", good, "--rows", "c"}, ExitUsage, `--rows: no row "c" in the plan (rows: a, b)`},
		{"short duration", []string{"--plan", good, "--duration", "10ms"}, ExitUsage, "--duration: duration 10ms: want 1s to 1h0m0s"},
		{"keep with target", []string{"--plan", good, "--target", "localhost", "--keep"}, ExitUsage, "--keep and --logs are for the experiment's own stack"},
		{"bad target", []string{"--plan", good, "--target", "localhost:8080"}, ExitUsage, "is not a host name"},
		{"start-only setting on a target", []string{"--plan", startOnly, "--target", "localhost"}, ExitUsage, `row "b": consumer:DEDUP_CAPACITY can only be set when the service starts`},
		{"unwritable page", []string{"--plan", good, "--html", filepath.Join(dir, "no", "such", "dir.html")}, ExitUsage, "--html:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, want %d\nstderr: %s", code, c.code, stderr.String())
			}
			if c.name == "help" && !strings.Contains(stdout.String(), "Usage: bottleneck experiment") {
				t.Errorf("--help printed:\n%s", stdout.String())
			}
		})
	}
}

func TestMainFindsTheDefaultPlanInTheCheckout(t *testing.T) {
	o := options{rows: "production"}
	p, err := loadPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "incident" || len(p.Rows) != 1 || p.Rows[0].Name != "production" {
		t.Errorf("default plan %q with rows %v", p.Name, p.Rows)
	}
	if !strings.HasSuffix(p.File, DefaultPlan) {
		t.Errorf("default plan read from %s", p.File)
	}
}
