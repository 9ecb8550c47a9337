package stack

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func envOf(t *testing.T, root, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name+".env"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// Each Start gets a data directory of its own for the consumer's ledger,
// which outlives a restart of the consumer and goes when the stack stops.
func TestRunDataDirIsTheConsumersAndRemovedAtStop(t *testing.T) {
	cfg, events, _ := testConfig(t)
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.DataDir()
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Errorf("data dir %s is not under the temp dir %s", dir, os.TempDir())
	}
	want := "DATA_DIR=" + filepath.Join(dir, Consumer)
	if env := envOf(t, cfg.RepoRoot, Consumer); !slices.Contains(env, want) {
		t.Errorf("consumer env %v lacks %s", env, want)
	}
	for _, n := range []string{Producer, Workers, VendorMock} {
		if env := envOf(t, cfg.RepoRoot, n); slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "DATA_DIR=") }) {
			t.Errorf("%s got a DATA_DIR: %v", n, env)
		}
	}

	// A crash and a start again: same directory.
	pid := s.Pid(Consumer)
	if err := s.StopProcess(Consumer, true); err != nil {
		t.Fatal(err)
	}
	if s.Pid(Consumer) != 0 {
		t.Error("a killed consumer still has a pid")
	}
	if err := s.StartProcess(context.Background(), Consumer); err != nil {
		t.Fatal(err)
	}
	if s.Pid(Consumer) == pid || s.Pid(Consumer) == 0 {
		t.Errorf("pid after the restart %d, before %d", s.Pid(Consumer), pid)
	}
	if env := envOf(t, cfg.RepoRoot, Consumer); !slices.Contains(env, want) {
		t.Errorf("restarted consumer env %v lacks %s", env, want)
	}
	if n := len(eventLines(t, events, "stop")); n != 0 {
		t.Errorf("SIGKILL let %d processes stop gracefully", n)
	}
	if err := s.StartProcess(context.Background(), Consumer); err == nil {
		t.Error("StartProcess of a running process succeeded")
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the run's data dir %s is still there after stop (%v)", dir, err)
	}
}

func TestGivenDataDirIsKept(t *testing.T) {
	cfg, _, _ := testConfig(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "keep")
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if env := envOf(t, cfg.RepoRoot, Consumer); !slices.Contains(env, "DATA_DIR="+filepath.Join(cfg.DataDir, Consumer)) {
		t.Errorf("consumer env %v", env)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.DataDir); err != nil {
		t.Errorf("a data dir the caller gave was removed: %v", err)
	}
}
