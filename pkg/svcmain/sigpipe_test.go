package svcmain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a service: with SVCMAIN_FAKE_DIR set, TestMain
// runs Main with a Run that logs to stderr on the way down, as every
// service does, and leaves a file behind when it has "drained".
func TestMain(m *testing.M) {
	if dir := os.Getenv("SVCMAIN_FAKE_DIR"); dir != "" {
		fakeService(dir)
		return
	}
	os.Exit(m.Run())
}

func fakeService(dir string) {
	if os.Getenv("SVCMAIN_FAKE_NO_IGNORE") == "" {
		Main(Service[cfg]{
			Name:     "fake",
			Load:     func() (cfg, error) { return cfg{}, nil },
			HTTPAddr: func(cfg) string { return "" },
			Run:      func(ctx context.Context, _ cfg) error { return fakeRun(ctx, dir) },
		})
		return
	}
	// What Main did before SIGPIPE was ignored, to show the test can fail.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := fakeRun(ctx, dir); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

func fakeRun(ctx context.Context, dir string) error {
	fmt.Fprintln(os.Stderr, "ready")
	<-ctx.Done()
	for i := range 3 { // the shutdown's log lines, into the broken pipe
		if _, err := fmt.Fprintf(os.Stderr, "shutting down, step %d\n", i); err != nil && !errors.Is(err, syscall.EPIPE) {
			return err
		}
	}
	time.Sleep(50 * time.Millisecond) // the drain
	return os.WriteFile(filepath.Join(dir, "drained"), []byte("ok"), 0o644)
}

// A service whose stderr pipe is gone (its reader died) still drains on
// SIGTERM and exits 0, instead of dying of SIGPIPE at its first log line.
func TestServiceDrainsOnSIGTERMAfterItsLogPipeCloses(t *testing.T) {
	for _, c := range []struct {
		name     string
		noIgnore bool
	}{{"as Main runs it", false}, {"without ignoring SIGPIPE", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), "SVCMAIN_FAKE_DIR="+dir)
			if c.noIgnore {
				cmd.Env = append(cmd.Env, "SVCMAIN_FAKE_NO_IGNORE=1")
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			line, err := bufio.NewReader(r).ReadString('\n')
			if err != nil || line != "ready\n" {
				_ = cmd.Process.Kill()
				t.Fatalf("first line %q, %v; want ready", line, err)
			}
			r.Close() // the reader dies: the pipe is broken
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			_, statErr := os.Stat(filepath.Join(dir, "drained"))
			if c.noIgnore {
				// The control: Go's default kills it at the first log line.
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGPIPE || statErr == nil {
					t.Fatalf("without the fix: exit %v, drained %v; want death by SIGPIPE before the drain", err, statErr == nil)
				}
				return
			}
			if err != nil {
				t.Fatalf("service exited with %v after SIGTERM with its log pipe closed; want 0", err)
			}
			if statErr != nil {
				t.Fatalf("service did not drain: %v", statErr)
			}
		})
	}
}
