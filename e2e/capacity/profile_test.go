//go:build linux

package capacity

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startProfile records CPU samples of every process of sys with Linux perf
// for d, when HB_CAPACITY_PERF names a directory: the services have no
// pprof endpoint, and perf sees all of them, Jaeger and the kernel at once.
// Read a profile with
//
//	perf report -i <file> --comm workers --no-children --sort symbol
//
// The returned function waits for perf to finish.
func startProfile(b *testing.B, sys *system, d time.Duration) (wait func()) {
	dir := os.Getenv("HB_CAPACITY_PERF")
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	pids := make([]string, 0, len(sys.procs))
	for _, p := range sys.procs {
		pids = append(pids, strconv.Itoa(p.pid))
	}
	out := filepath.Join(dir, strings.NewReplacer("/", "_", "=", "-").Replace(b.Name())+".perf.data")
	// cpu-clock works in VMs without hardware counters; Go keeps frame
	// pointers, so -g gives whole Go call stacks.
	cmd := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-q",
		"-p", strings.Join(pids, ","), "-o", out, "--", "sleep", fmt.Sprint(d.Seconds()))
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Start(); err != nil {
		b.Fatalf("perf record: %v", err)
	}
	return func() {
		if err := cmd.Wait(); err != nil {
			b.Fatalf("perf record: %v\n%s", err, msg.Bytes())
		}
		b.Logf("perf profile of the window: %s", out)
	}
}
