//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

// upKilledDrainsAndFlushes runs the real `bottleneck up`, with a burst in
// progress, and kills it with SIGKILL. The kernel sends each service
// SIGTERM (the parent-death signal `up` asks for); their log pipe died with
// `up`. Each must still drain and flush: exit 0 (not die of SIGPIPE at its
// first "shutting down" line, as in issue 12), leave no process or port
// behind, and get the burst's spans into Jaeger — every job's root, and the
// whole trace of every job handled, including those handled after the
// signal.
//
// The services export to the chaos suite's Jaeger (`up --jaeger=false`):
// a Jaeger started by `up` would be stopped by the same signal.
func upKilledDrainsAndFlushes(t *testing.T, otlpEndpoint, jaegerURL string) {
	// The test process adopts the services when `up` dies, so it can see
	// how each of them exits.
	if err := setChildSubreaper(true); err != nil {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	defer func() { _ = setChildSubreaper(false) }()

	base, err := stack.FreePortBase()
	if err != nil {
		t.Fatal(err)
	}
	ports, _ := stack.PortsFrom(base)
	out := &procLog{}
	var stderr bytes.Buffer
	up := exec.Command(bottleneckBinary(t), "up", "--jaeger=false", "--otlp-endpoint", otlpEndpoint,
		"--port-base", strconv.Itoa(base), "--build=false", "--color", "never", "--scenario", "idle")
	up.Stdout, up.Stderr = out, &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	upDone := make(chan struct{})
	go func() { _ = up.Wait(); close(upDone) }()
	var children []int
	t.Cleanup(func() {
		_ = up.Process.Kill()
		<-upDone
		for _, pid := range children {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}
		if t.Failed() {
			t.Logf("output of bottleneck up:\n%s\nstderr: %s", out.tail(150), stderr.String())
		}
	})
	waitUntil(t, 90*time.Second, "bottleneck up to be ready", func() bool {
		select {
		case <-upDone:
			t.Fatalf("bottleneck up exited before it was ready")
		default:
		}
		return len(out.find("Logs follow.")) > 0
	})
	if m := regexp.MustCompile(`consumer ledger\s+(\S+)`).FindStringSubmatch(strings.Join(out.find("consumer ledger"), "\n")); m != nil {
		// Nobody removes the run's data directory when up is killed.
		t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(m[1])) })
	}
	children = childPIDs(up.Process.Pid)
	nameOf := map[int]string{}
	var names []string
	for _, pid := range children {
		nameOf[pid] = processName(pid)
		names = append(names, nameOf[pid])
	}
	slices.Sort(names)
	if want := []string{stack.Consumer, stack.Producer, stack.VendorMock, stack.Workers}; !slices.Equal(names, want) {
		t.Fatalf("up runs %v (pids %v); want %v", names, children, want)
	}

	// A burst; the answer may never come (the producer is stopped in the
	// middle of it).
	go func() {
		client := &http.Client{Timeout: time.Minute}
		if resp, err := client.Post(stack.HTTPURL(ports.ProducerHTTP)+"/admin/checkout", "", nil); err == nil {
			resp.Body.Close()
		}
	}()
	var batch string
	waitUntil(t, 30*time.Second, "the burst to start", func() bool {
		m := regexp.MustCompile(`checkout ([0-9a-f]{8}): submitting`).FindStringSubmatch(strings.Join(out.grep(stack.Producer, "submitting"), "\n"))
		if m != nil {
			batch = m[1]
		}
		return batch != ""
	})
	traceOf := map[string]string{} // job ID -> trace ID, from the producer's "submitted" lines
	jobLine := regexp.MustCompile(`job\.id=(checkout-` + batch + `-\d+) .*trace_id=([0-9a-f]{32})`)
	waitUntil(t, 30*time.Second, "the burst's 20 submissions", func() bool {
		for _, l := range out.grep(stack.Producer, "msg=submitted", batch) {
			if m := jobLine.FindStringSubmatch(l); m != nil {
				traceOf[m[1]] = m[2]
			}
		}
		return len(traceOf) == burstSize
	})
	// Mid-burst: a few handled, the rest queued, in work or in delivery.
	waitUntil(t, 30*time.Second, "the consumer to handle 5 of the burst", func() bool {
		return statsAt(t, stack.HTTPURL(ports.ConsumerHTTP)).Handled >= 5
	})

	killed := time.Now()
	if err := up.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-upDone

	// Every service exits on its own, 0, within its SHUTDOWN_TIMEOUT (10 s)
	// plus the 5 s its spans may take to flush.
	type exit struct {
		pid  int
		name string
		ws   syscall.WaitStatus
		err  error
		at   time.Duration
	}
	exits := make(chan exit, len(children))
	for _, pid := range children {
		go func() {
			var ws syscall.WaitStatus
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			exits <- exit{pid, nameOf[pid], ws, err, time.Since(killed)}
		}()
	}
	timeout := time.After(45 * time.Second)
	for range children {
		select {
		case e := <-exits:
			switch {
			case e.err != nil:
				t.Errorf("%s (pid %d): waiting for it: %v (not adopted by the test?)", e.name, e.pid, e.err)
			case e.ws.Signaled():
				t.Errorf("%s died of %v %s after up was killed; want a drain and exit 0", e.name, e.ws.Signal(), e.at.Round(time.Millisecond))
			case e.ws.ExitStatus() != 0:
				t.Errorf("%s exited %d %s after up was killed; want 0", e.name, e.ws.ExitStatus(), e.at.Round(time.Millisecond))
			default:
				t.Logf("%s exited 0, %s after up was killed", e.name, e.at.Round(time.Millisecond))
			}
		case <-timeout:
			t.Fatalf("services still running 45 s after up was killed")
		}
	}
	children = nil // reaped
	for p := base + 5; p < base+stack.PortCount; p++ {
		if l, err := net.Listen("tcp", stack.Addr(p)); err != nil {
			t.Errorf("port %d still taken after the services exited: %v", p, err)
		} else {
			l.Close()
		}
	}

	// Their spans reached Jaeger: every job's root, ended with its
	// outcome, and the whole trace of every job the consumer handled.
	ids := make([]string, 0, len(traceOf))
	for _, id := range traceOf {
		ids = append(ids, id)
	}
	traces, err := pollTracesIn(jaegerURL, ids, traceWait, func(tr *trace) error {
		if len(tr.roots) != 1 || tr.roots[0].service != stack.Producer {
			return fmt.Errorf("no producer root")
		}
		switch root := tr.roots[0]; root.stringTag(spans.JobOutcome) {
		case spans.OutcomeDelivered:
			return jobComplete(root.stringTag(spans.JobType))(tr)
		case spans.OutcomeFailed:
			if len(handledSpans(tr)) == 0 || len(tr.orphan) > 0 {
				return fmt.Errorf("failed job: no %s yet, or a span without its parent", spans.ResultProcess)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	afterKill := 0
	for _, id := range ids {
		tr := traces[id]
		root := tr.roots[0]
		outcome := root.stringTag(spans.JobOutcome)
		outcomes[outcome]++
		// The vendor mock stops too: a vendor call made after the signal
		// fails, and its job is handled as failed. Every other job is
		// delivered: the services drain what they hold before they exit.
		if outcome != spans.OutcomeDelivered && (outcome != spans.OutcomeFailed || root.stringTag(spans.JobType) != "vendor-api") {
			t.Errorf("job %s (%s) ended %q; want delivered (or failed, for a vendor call)\n%s", root.stringTag(spans.JobID), root.stringTag(spans.JobType), outcome, tr)
		}
		for _, s := range handledSpans(tr) {
			if s.start().After(killed) {
				afterKill++
			}
		}
	}
	t.Logf("burst %s after up was killed: outcomes %v; %d jobs handled after the kill", batch, outcomes, afterKill)
	if afterKill == 0 {
		t.Errorf("no job of burst %s was handled after up was killed; the burst was in progress: the drain did nothing", batch)
	}
}

func setChildSubreaper(on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, v, 0); errno != 0 {
		return errno
	}
	return nil
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// processName is the executable's name of a running process.
func processName(pid int) string {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "?"
	}
	return filepath.Base(exe)
}
