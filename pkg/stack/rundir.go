package stack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A run's own data directory is os.TempDir()/hidden-bottleneck-run-*. The
// stack removes it when it stops; a run killed with SIGKILL cannot. So each
// run directory holds an owner file that its stack keeps locked while it
// runs, and the kernel unlocks when the stack's process dies, however it
// dies. Every Start sweeps the run directories whose owner file nobody holds.
const (
	runDirPrefix = "hidden-bottleneck-run-"
	ownerFile    = "owner.lock"
	// legacyRunDirAge: a run directory without an owner file was made
	// before there were any (or is being made right now: its owner file
	// comes a moment after it); it is removed once it is this old.
	legacyRunDirAge = 24 * time.Hour
)

// runDir is a run's data directory and the lock that says its owner lives.
type runDir struct {
	path  string
	owner *os.File // locked while the stack runs; nil where locks are unsupported
}

// makeRunDir sweeps the run directories of dead runs from tmp, then makes
// this run's, locked. The owner file is locked under another name and only
// then renamed into place, so a concurrent sweep never sees it unlocked.
func makeRunDir(tmp string, log io.Writer) (*runDir, error) {
	if removed := sweepRunDirs(tmp, time.Now()); len(removed) > 0 {
		fmt.Fprintf(log, "removed %d data directories left by runs that were killed: %s\n", len(removed), strings.Join(removed, ", "))
	}
	dir, err := os.MkdirTemp(tmp, runDirPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("data directory for this run: %w", err)
	}
	owner, err := lockOwner(filepath.Join(dir, ".owner-new"), filepath.Join(dir, ownerFile))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("data directory for this run: %w", err)
	}
	return &runDir{path: dir, owner: owner}, nil
}

// remove deletes the directory, then lets go of it.
func (d *runDir) remove() error {
	err := os.RemoveAll(d.path)
	if d.owner != nil {
		_ = d.owner.Close()
	}
	return err
}

// sweepRunDirs removes the run directories in tmp whose owner is gone, and
// those without an owner file older than legacyRunDirAge, and returns
// their paths. A directory it cannot judge is left alone.
func sweepRunDirs(tmp string, now time.Time) []string {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), runDirPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		stale, err := ownerGone(filepath.Join(dir, ownerFile))
		if errors.Is(err, os.ErrNotExist) {
			info, ierr := e.Info()
			stale = ierr == nil && now.Sub(info.ModTime()) > legacyRunDirAge
		} else if err != nil {
			continue
		}
		if stale && os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}
