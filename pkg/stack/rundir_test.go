//go:build unix

package stack

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func runDirsIn(t *testing.T, tmp string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(tmp, runDirPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// A sweep removes the run directories whose owner died, and old ones from
// before there were owner files; it leaves a live run's directory, a fresh
// directory whose owner file is still being made, and everything else.
func TestSweepRemovesOnlyDeadRunsDirectories(t *testing.T) {
	tmp := t.TempDir()
	live, err := makeRunDir(tmp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	mkdir := func(name string) string {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, Consumer), 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dead := mkdir(runDirPrefix + "dead")
	// What a killed run leaves: an owner file nobody holds.
	if err := os.WriteFile(filepath.Join(dead, ownerFile), []byte("12345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := mkdir(runDirPrefix + "old")
	then := time.Now().Add(-legacyRunDirAge - time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	fresh := mkdir(runDirPrefix + "fresh")
	other := mkdir("someone-elses-dir")

	removed := sweepRunDirs(tmp, time.Now())
	slices.Sort(removed)
	if want := []string{dead, old}; !slices.Equal(removed, want) {
		t.Errorf("swept %v, want %v", removed, want)
	}
	for _, dir := range []string{live.path, fresh, other} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
	if err := live.remove(); err != nil {
		t.Fatal(err)
	}
	if left := runDirsIn(t, tmp); !slices.Equal(left, []string{fresh}) {
		t.Errorf("left after the live run stopped: %v, want only %s", left, fresh)
	}
}

// `bottleneck up` killed with SIGKILL cannot remove its run's directory; the
// next Start on the machine does, and says so.
func TestKilledRunsDataDirIsRemovedByTheNextStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Setenv("TMPDIR", t.TempDir())
	cfg, _, out := testConfig(t)
	parent := startFakeParent(t, cfg)
	parent.Process.Kill()
	parent.Wait()
	left := runDirsIn(t, os.TempDir())
	if len(left) != 1 {
		t.Fatalf("run directories after the kill: %v, want the killed run's", left)
	}
	if _, err := os.Stat(filepath.Join(left[0], ownerFile)); err != nil {
		t.Fatalf("the killed run's directory has no owner file: %v", err)
	}

	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := os.Stat(left[0]); !os.IsNotExist(err) {
		t.Errorf("the killed run's directory %s is still there (%v)", left[0], err)
	}
	if now := runDirsIn(t, os.TempDir()); !slices.Equal(now, []string{s.DataDir()}) {
		t.Errorf("run directories now %v, want only this run's %s", now, s.DataDir())
	}
	if !strings.Contains(out.String(), "removed 1 data directories left by runs that were killed: "+left[0]) {
		t.Errorf("Start did not say what it removed:\n%s", out)
	}
}
