package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// The consumer dies (SIGKILL) in the middle of a burst and is started again
// on the same DATA_DIR. Its ledger keeps what it handled: the burst
// completes, no job is lost or handled twice, Status still knows the jobs
// of the burst before, and /stats goes on counting from where it was.
func TestConsumerCrashMidBurstKeepsItsLedger(t *testing.T) {
	c := dialStack(t)
	earlier := checkout(t)
	// Earlier tests' jobs still in flight would be handled in this
	// burst's window and counted as its own.
	quiesce(t)
	before := statsOf(t, stack.Consumer)

	type outcome struct {
		res checkoutResult
		err error
	}
	done := make(chan outcome, 1)
	began := time.Now()
	go func() {
		// A generous timeout: this test is about what is lost, not how fast.
		res, err := runCheckoutWith(`{"timeout": "60s"}`)
		done <- outcome{res, err}
	}()
	// Kill it once it has handled a few of the burst's results.
	waitUntil(t, 30*time.Second, "the consumer to handle 3 results of the burst", func() bool {
		return statsOf(t, stack.Consumer).Handled >= before.Handled+3
	})
	killedAt := time.Since(began)
	if err := sys.StopProcess(stack.Consumer, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sys.StartProcess(ctx, stack.Consumer); err != nil {
		t.Fatalf("starting the consumer again: %v", err)
	}
	restartedAt := time.Since(began)
	out := <-done
	if out.err != nil {
		t.Fatalf("the burst across the consumer's crash: %v", out.err)
	}
	t.Logf("burst %s: consumer killed at %s, healthy again at %s; burst completed in %.0f ms",
		out.res.Batch, killedAt.Round(time.Millisecond), restartedAt.Round(time.Millisecond), out.res.DurationMS)

	after := statsOf(t, stack.Consumer)
	if got := after.Handled - before.Handled; got != uint64(out.res.Total) {
		t.Errorf("consumer handled %d results for a burst of %d (its count starts from the ledger's)", got, out.res.Total)
	}
	t.Logf("duplicates answered: +%d (results recorded just before the kill, redelivered)", after.Duplicates-before.Duplicates)

	// The restarted consumer remembers the earlier burst, handled before
	// it died.
	ids := make([]string, 0, len(earlier.Jobs))
	for _, j := range earlier.Jobs {
		ids = append(ids, j.ID)
	}
	resp, err := c.sink.Status(ctx, &jobsv1.StatusRequest{JobIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range resp.GetJobs() {
		if !s.GetDone() || s.GetCompletedAt() == nil {
			t.Errorf("after the restart, Status(%s) = %v; want done, as before the crash", s.GetJobId(), s)
		}
	}
	// And a redelivery of one of them is a duplicate, not handled again.
	dup := &jobsv1.DeliverRequest{Result: &jobsv1.Result{Ok: true, Work: durationpb.New(time.Millisecond),
		Job: &jobsv1.Job{Id: ids[0], Type: jobsv1.JobType_JOB_TYPE_CACHE_READ, SubmittedAt: timestamppb.Now()}}}
	if r, err := c.sink.Deliver(ctx, dup); err != nil || !r.GetDuplicate() {
		t.Errorf("redelivering %s after the restart: %v, %v; want duplicate=true", ids[0], r, err)
	}
}

// A service whose log pipe is gone (the process reading its output died)
// still drains on SIGTERM: a consumer in the middle of a result finishes
// it, answers the caller, flushes its spans and exits 0.
func TestConsumerDrainsOnSIGTERMWithItsLogPipeClosed(t *testing.T) {
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(filepath.Join(stack.BinDir(repoRoot(t)), stack.Consumer))
	cmd.Env = append(os.Environ(),
		"GRPC_ADDR="+grpcAddr, "HTTP_ADDR="+httpAddr, "DATA_DIR="+t.TempDir(),
		"PROCESS_DELAY=1500ms", "SHUTDOWN_TIMEOUT=10s",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+sys.OTLPEndpoint(), "OTEL_SERVICE_NAME=consumer-sigpipe",
	)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(r)
	for lines.Scan() && !strings.Contains(lines.Text(), "consumer started") {
	}

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	job := newJobs(runPrefix("sigpipe"), 1)[0]
	delivered := make(chan error, 1)
	go func() {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", job.job.GetTraceContext()["traceparent"])
		_, err := jobsv1.NewResultSinkClient(conn).Deliver(ctx, &jobsv1.DeliverRequest{Result: &jobsv1.Result{
			Job: job.job, Ok: true, Work: durationpb.New(2 * time.Millisecond)}})
		delivered <- err
	}()
	waitUntil(t, 10*time.Second, "the result to be in handling", func() bool {
		var s struct {
			InFlight int `json:"in_flight"`
		}
		resp, err := http.Get("http://" + httpAddr + "/stats")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&s) == nil && s.InFlight == 1
	})

	r.Close() // whoever read the logs is gone
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-delivered; err != nil {
		t.Errorf("the result in handling at SIGTERM: %v; want it finished and acknowledged", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consumer with a closed log pipe exited with %v after SIGTERM; want 0 (a drain, not death by SIGPIPE)", err)
	}
	awaitTraces(t, []string{job.traceID}, 20*time.Second, func(tr *trace) error {
		if len(tr.named(spans.ResultProcess)) == 0 {
			return fmt.Errorf("no %s span yet", spans.ResultProcess)
		}
		return nil
	})
}

// runCheckoutWith is runCheckout with a request body.
func runCheckoutWith(body string) (checkoutResult, error) {
	return runCheckoutAt(sys.URL(stack.Producer), body)
}

// runCheckoutAt runs a burst on the producer at base URL. A burst that
// did not complete is an error, returned with the producer's report.
func runCheckoutAt(base, body string) (checkoutResult, error) {
	var res checkoutResult
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/checkout", strings.NewReader(body))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, fmt.Errorf("POST /admin/checkout: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || res.TimedOut || res.Total == 0 || res.Completed != res.Total {
		return res, fmt.Errorf("POST /admin/checkout: %s, %d of %d completed, timed_out=%v", resp.Status, res.Completed, res.Total, res.TimedOut)
	}
	return res, nil
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.FindRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}
