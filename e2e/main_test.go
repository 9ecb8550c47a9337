package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// sys is the stack every test shares: starting it costs seconds, the tests
// change its run-time settings and look only at their own bursts' traces.
var sys *stack.Stack

var showLogs = flag.Bool("logs", false, "stream the processes' logs to stderr")

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (starts Jaeger and the services)")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("hidden-bottleneck-e2e-%d.log", os.Getpid()))
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.Remove(logPath)
	defer logFile.Close()
	var out interface{ Write([]byte) (int, error) } = logFile
	if *showLogs {
		out = teeWriter{logFile, os.Stderr}
	}

	ports, err := stack.FreePorts()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	sys, err = stack.Start(ctx, stack.Config{
		Ports:  ports,
		Output: out,
		// The tests drive every burst themselves.
		ServiceEnv: map[string][]string{
			stack.Producer: {"SCENARIO=idle"},
		},
		StartTimeout: time.Minute,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the stack: %v\n", err)
		if !*showLogs {
			printTail(logPath, 150)
		}
		return 1
	}
	fmt.Printf("e2e: stack up in %s (Jaeger %s)\n", time.Since(began).Round(time.Millisecond), sys.JaegerURL())

	code := m.Run()

	if err := sys.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the stack: %v\n", err)
		code = 1
	}
	if code != 0 && !*showLogs {
		printTail(logPath, 150)
	}
	return code
}

type teeWriter [2]*os.File

func (t teeWriter) Write(p []byte) (int, error) {
	t[1].Write(p)
	return t[0].Write(p)
}

// printTail shows the end of the processes' log after a failure, so CI
// output says what the services were doing.
func printTail(path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	fmt.Fprintf(os.Stderr, "\n--- last %d lines of the processes' output ---\n", len(lines))
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, l)
	}
}
