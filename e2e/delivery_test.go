package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// producer is a second producer process beside the shared stack's, with
// settings of its own (short retry timeouts, a consumer it cannot reach),
// submitting to the shared worker pool and exporting to the shared Jaeger.
type producer struct {
	url  string
	cmd  *exec.Cmd
	done chan error
}

// startProducer runs bin/producer with env on top of what the stack gives
// its own producer; it is stopped (SIGTERM) when the test ends.
func startProducer(t *testing.T, env ...string) *producer {
	t.Helper()
	root, err := stack.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := sys.Ports()
	cmd := exec.Command(filepath.Join(stack.BinDir(root), stack.Producer))
	cmd.Env = append(os.Environ(),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+sys.OTLPEndpoint(), "OTEL_SERVICE_NAME="+stack.Producer,
		"HTTP_ADDR="+addr, "WORKERS_ADDR="+stack.Addr(p.WorkersGRPC), "CONSUMER_ADDR="+stack.Addr(p.ConsumerGRPC),
		"SCENARIO=idle")
	cmd.Env = append(cmd.Env, env...)
	out := &logLines{prefix: "producer-2 | "}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a second producer: %v", err)
	}
	pr := &producer{url: "http://" + addr, cmd: cmd, done: make(chan error, 1)}
	go func() { pr.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := pr.stop(15 * time.Second); err != nil {
			t.Errorf("second producer: %v", err)
		}
		if t.Failed() {
			t.Logf("second producer's log:\n%s", out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(pr.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return pr
			}
		}
		select {
		case err := <-pr.done:
			t.Fatalf("the second producer exited: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second producer not healthy after 30s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the process to exit; idempotent.
func (p *producer) stop(timeout time.Duration) error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for a second stop
		if err != nil {
			return fmt.Errorf("exit after SIGTERM: %w", err)
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("did not exit within %s of SIGTERM", timeout)
	}
}

// checkout runs one burst and returns the producer's report whatever it
// says (the tests here expect bursts that do not complete).
func (p *producer) checkout(t *testing.T) checkoutResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/admin/checkout", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /admin/checkout: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res checkoutResult
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res.Jobs) != res.Total || res.Total == 0 {
		t.Fatalf("POST /admin/checkout: %s %s", resp.Status, body)
	}
	for _, j := range res.Jobs {
		if j.TraceID == "" {
			t.Fatalf("job %s has no trace_id: %s", j.ID, body)
		}
	}
	return res
}

// freeAddr is a loopback address nobody listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// logLines keeps a process's output for failure messages.
type logLines struct {
	prefix string
	mu     sync.Mutex
	b      strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			l.b.WriteString(l.prefix + line)
		}
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A job the consumer has not confirmed after RETRY_AFTER is re-submitted;
// the worker pool, still holding it, answers already_held. Every attempt
// is a job.submit under the job's one root, linked to the attempt before,
// and the workers' pool.job hangs under the same root.
func TestResubmittedJobsAttemptsHangUnderOneRoot(t *testing.T) {
	// A burst takes at least 20 x 50 ms at the serial consumer: the jobs
	// at its end are re-submitted at least once at 100 ms.
	p := startProducer(t, "RETRY_AFTER=100ms")
	res := p.checkout(t)
	if res.TimedOut || res.Completed != res.Total {
		t.Fatalf("burst %s: %d of %d completed, timed out %v", res.Batch, res.Completed, res.Total, res.TimedOut)
	}
	var ids []string
	for _, j := range res.Jobs {
		if j.Attempts > 1 {
			ids = append(ids, j.TraceID)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("no job of burst %s was re-submitted with RETRY_AFTER=100ms", res.Batch)
	}
	traces := awaitTraces(t, ids, traceWait, func(tr *trace) error {
		if err := jobComplete(res.job(tr.id).Type)(tr); err != nil {
			return err
		}
		if n, want := len(tr.named(spans.JobSubmit)), res.job(tr.id).Attempts; n != want {
			return fmt.Errorf("%d job.submit spans of %d attempts", n, want)
		}
		// A re-submission that reached the pool just after it let the job
		// go (the consumer had acknowledged it; the producer had not yet
		// seen it confirmed) is accepted and runs again, after the root
		// ended: its pool.job arrives later than the rest of the trace.
		accepted := 0
		for _, s := range tr.named(spans.JobSubmit) {
			if s.stringTag(spans.SubmitOutcome) == spans.SubmitAccepted {
				accepted++
			}
		}
		if n := len(tr.named(spans.PoolJob)); n < accepted {
			return fmt.Errorf("%d pool.job spans of %d accepted attempts so far", n, accepted)
		}
		return nil
	})
	for _, id := range ids {
		tr, job := traces[id], res.job(id)
		root := tr.roots[0]
		if n, _ := root.intTag(spans.JobAttempts); int(n) != job.Attempts {
			t.Errorf("job %s: root %s=%d, the burst says %d attempts\n%s", job.ID, spans.JobAttempts, n, job.Attempts, tr)
		}
		accepted := 0
		for i, s := range tr.named(spans.JobSubmit) {
			if s.parent != root {
				t.Errorf("job %s: attempt %d hangs under %v, not the root\n%s", job.ID, i+1, s.parent, tr)
			}
			if n, _ := s.intTag(spans.JobAttempt); int(n) != i+1 {
				t.Errorf("job %s: the job.submit #%d says job.attempt=%d\n%s", job.ID, i+1, n, tr)
			}
			if s.stringTag(spans.SubmitOutcome) == spans.SubmitAccepted {
				accepted++
			}
			if i > 0 && (len(s.links) != 1 || s.links[0] != tr.named(spans.JobSubmit)[i-1].SpanID) {
				t.Errorf("job %s: attempt %d links to %v, want the attempt before\n%s", job.ID, i+1, s.links, tr)
			}
		}
		// Re-submissions the pool answered already_held queued nothing,
		// and the burst counts only the accepted ones as requeued.
		if pools := tr.named(spans.PoolJob); len(pools) != accepted {
			t.Errorf("job %s: %d pool.job spans for %d accepted attempts\n%s", job.ID, len(pools), accepted, tr)
		}
		if job.Requeued != accepted-1 {
			t.Errorf("job %s: the burst says %d requeued, the trace has %d accepted attempts\n%s", job.ID, job.Requeued, accepted, tr)
		}
		for _, pj := range tr.named(spans.PoolJob) {
			if pj.parent != root {
				t.Errorf("job %s: pool.job hangs under %v, not the root\n%s", job.ID, pj.parent, tr)
			}
		}
	}
	t.Logf("%d of %d jobs re-submitted; one of them:\n%s", len(ids), len(res.Jobs), traces[ids[0]])
}

// A producer that cannot hear from the consumer never sees its jobs
// confirmed: after MAX_ATTEMPTS it reports them lost, and each root ends
// with an error status saying so, found by Jaeger's search for
// job.outcome=lost.
func TestJobNeverConfirmedEndsItsRootWithAnError(t *testing.T) {
	began := time.Now()
	// The consumer is down, as far as this producer can tell: nothing
	// listens where it asks.
	p := startProducer(t, "CONSUMER_ADDR="+freeAddr(t), "RETRY_AFTER=100ms", "MAX_ATTEMPTS=2")
	res := p.checkout(t)
	if res.Completed != 0 || res.TimedOut {
		t.Fatalf("burst %s: %d completed, timed out %v; want none confirmed, every job lost before the timeout", res.Batch, res.Completed, res.TimedOut)
	}
	for _, j := range res.Jobs {
		if j.Outcome != spans.OutcomeLost || j.Attempts != 2 {
			t.Errorf("job %s: outcome %q after %d attempts; want lost after 2", j.ID, j.Outcome, j.Attempts)
		}
	}
	traces := awaitTraces(t, res.traceIDs(), traceWait, func(tr *trace) error {
		if len(tr.roots) != 1 || tr.roots[0].service != stack.Producer {
			return fmt.Errorf("no producer root yet")
		}
		return nil
	})
	for _, j := range res.Jobs {
		root := traces[j.TraceID].roots[0]
		if !root.isError() || root.stringTag(spans.JobOutcome) != spans.OutcomeLost ||
			!strings.HasPrefix(root.stringTag("otel.status_description"), "lost: not confirmed by the consumer after 2 attempts") {
			t.Errorf("job %s: root error=%v %s=%q status %q; want an error status saying it was lost\n%s", j.ID, root.isError(),
				spans.JobOutcome, root.stringTag(spans.JobOutcome), root.stringTag("otel.status_description"), traces[j.TraceID])
		}
	}
	// What the README says to do in Jaeger's Search. (Not error=true: the
	// in-memory store of Jaeger 2.13.0 compares that tag, which its query
	// API passes as a string, as a bool, and so never matches a span with
	// an error status. The trace view still marks the root as an error.)
	op := spans.JobRootName("checkout", "cache-read")
	found, err := newJaeger(sys.JaegerURL()).search(context.Background(), stack.Producer, op,
		map[string]string{spans.JobOutcome: spans.OutcomeLost}, began)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range res.traceIDs("cache-read") {
		if !slices.Contains(found, id) {
			t.Errorf("Jaeger's search for %s with %s=%s does not find the lost job's trace %s", op, spans.JobOutcome, spans.OutcomeLost, id)
		}
	}
}

// A producer stopped (SIGTERM) with jobs unconfirmed ends their roots as
// abandoned, with an error status, before it exits: none is left
// unexported.
func TestStoppedProducerEndsUnconfirmedRootsAsAbandoned(t *testing.T) {
	p := startProducer(t, "CONSUMER_ADDR="+freeAddr(t), "RETRY_AFTER=10m", "CHECKOUT_TIMEOUT=300ms", "SHUTDOWN_TIMEOUT=1s")
	res := p.checkout(t)
	if !res.TimedOut || res.Completed != 0 {
		t.Fatalf("burst %s: completed %d, timed out %v; want a TIMEOUT with every job outstanding", res.Batch, res.Completed, res.TimedOut)
	}
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	traces := awaitTraces(t, res.traceIDs(), traceWait, func(tr *trace) error {
		if len(tr.roots) != 1 || tr.roots[0].service != stack.Producer {
			return fmt.Errorf("no producer root")
		}
		return nil
	})
	for _, j := range res.Jobs {
		root := traces[j.TraceID].roots[0]
		if !root.isError() || root.stringTag(spans.JobOutcome) != spans.OutcomeAbandoned {
			t.Errorf("job %s: root error=%v %s=%q; want an abandoned job's error status\n%s", j.ID, root.isError(),
				spans.JobOutcome, root.stringTag(spans.JobOutcome), traces[j.TraceID])
		}
	}
}
