package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// reportFindings is the part of `bottleneck report --json` these tests read.
type reportFindings struct {
	Traces       int `json:"traces"`
	BlockedSends struct {
		Sends   int `json:"sends"`
		Blocked int `json:"blocked"`
	} `json:"blocked_sends"`
	VendorCacheRatio float64 `json:"vendor_cache_ratio"`
	Config           struct {
		ResultsBufferCap int `json:"results_buffer_cap"`
	} `json:"config"`
}

// bottleneckBinary is bin/bottleneck (make build), or a fresh build of it.
func bottleneckBinary(t *testing.T) string {
	t.Helper()
	root, err := stack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(stack.BinDir(root), "bottleneck")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	bin = filepath.Join(t.TempDir(), "bottleneck")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bottleneck")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building bottleneck: %v\n%s", err, out)
	}
	return bin
}

// runReport runs `bottleneck report` with args and returns stdout, stderr
// and the exit code.
func runReport(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bottleneckBinary(t), append([]string{"report"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	default:
		t.Fatalf("bottleneck report: %v", err)
		return "", "", -1
	}
}

// TestReportNamesTheBottleneckThenSeesTheFix is the report issue's
// end-to-end check: a default burst, then one after the buffer fix, and
// the report compares the two windows from Jaeger.
func TestReportNamesTheBottleneckThenSeesTheFix(t *testing.T) {
	stamp := func() string { return time.Now().UTC().Format(time.RFC3339Nano) }

	beforeStart := stamp()
	awaitBurst(t, checkout(t))
	beforeEnd := stamp()

	setWorkersConfig(t, map[string]any{"results_buffer": 400})
	afterStart := stamp()
	awaitBurst(t, checkout(t))
	afterEnd := stamp()

	out, errOut, code := runReport(t, "--json", "--jaeger", sys.JaegerURL(),
		"--compare", beforeStart+".."+beforeEnd, afterStart+".."+afterEnd)
	if code != 0 {
		t.Fatalf("report exited %d\nstderr: %s\nstdout: %s", code, errOut, out)
	}
	var cmp struct {
		A reportFindings `json:"a"`
		B reportFindings `json:"b"`
	}
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	if cmp.A.BlockedSends.Blocked == 0 {
		t.Errorf("defaults: report found no blocked sends (%d sends in %d traces)", cmp.A.BlockedSends.Sends, cmp.A.Traces)
	}
	if cmp.A.VendorCacheRatio <= 10 {
		t.Errorf("defaults: vendor/cache ratio %.1f, want > 10", cmp.A.VendorCacheRatio)
	}
	if cmp.B.BlockedSends.Sends == 0 || cmp.B.BlockedSends.Blocked != 0 {
		t.Errorf("after results_buffer 400: %d of %d sends blocked, want 0 of some", cmp.B.BlockedSends.Blocked, cmp.B.BlockedSends.Sends)
	}
	if cmp.B.Config.ResultsBufferCap != 400 {
		t.Errorf("after the fix the report saw results buffer cap %d, want 400", cmp.B.Config.ResultsBufferCap)
	}

	// The text a person reads names the finding and links the traces.
	text, errOut, code := runReport(t, "--jaeger", sys.JaegerURL(), "--since", "10m", "--console", "")
	if code != 0 {
		t.Fatalf("report exited %d: %s", code, errOut)
	}
	for _, want := range []string{"blocked result sends", sys.JaegerURL() + "/trace/"} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q:\n%s", want, text)
		}
	}
}

func TestReportSaysWhenJaegerIsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	out, errOut, code := runReport(t, "--jaeger", closed)
	if code != 3 {
		t.Errorf("exit %d, want 3 (Jaeger unreachable)\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "cannot reach Jaeger") || strings.Contains(errOut, "goroutine ") {
		t.Errorf("stderr = %q, want a plain 'cannot reach Jaeger' message", errOut)
	}
}
