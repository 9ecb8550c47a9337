package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// The robustness tests drive the worker pool themselves over gRPC, as the
// producer does, so that they know every job they sent and its trace, and
// ask the consumer about them.

// rpcClients are gRPC clients of the workers and the consumer.
type rpcClients struct {
	pool jobsv1.WorkerPoolClient
	sink jobsv1.ResultSinkClient
}

func dialStack(t *testing.T) rpcClients {
	t.Helper()
	return dialStackOf(t, sys)
}

// dialStackOf is dialStack for a stack other than the shared one.
func dialStackOf(t *testing.T, s *stack.Stack) rpcClients {
	t.Helper()
	dial := func(port int) *grpc.ClientConn {
		conn, err := grpc.NewClient(stack.Addr(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	p := s.Ports()
	return rpcClients{
		pool: jobsv1.NewWorkerPoolClient(dial(p.WorkersGRPC)),
		sink: jobsv1.NewResultSinkClient(dial(p.ConsumerGRPC)),
	}
}

// testJob is a job the test made, with the trace it belongs to.
type testJob struct {
	job     *jobsv1.Job
	traceID string
}

// newJobs makes n cache-read jobs (the fastest kind: a few ms of work, no
// vendor) named prefix-<n>, each the root of its own W3C trace.
func newJobs(prefix string, n int) []testJob {
	out := make([]testJob, n)
	for i := range out {
		tid, sid := randomHex(16), randomHex(8)
		out[i] = testJob{traceID: tid, job: &jobsv1.Job{
			Id:           fmt.Sprintf("%s-%05d", prefix, i+1),
			Type:         jobsv1.JobType_JOB_TYPE_CACHE_READ,
			Target:       "user:premium_customer",
			Priority:     jobsv1.Priority_PRIORITY_NORMAL,
			Scenario:     "e2e",
			Batch:        prefix,
			Sequence:     uint32(i + 1),
			Attempt:      1,
			TraceContext: map[string]string{"traceparent": "00-" + tid + "-" + sid + "-01"},
		}}
	}
	return out
}

// runPrefix makes job ID prefixes unique to this test run.
func runPrefix(name string) string { return name + "-" + randomHex(4) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// submit sends one job; the trace context goes in the gRPC metadata too,
// as the producer's instrumented client sends it.
func (c rpcClients) submit(ctx context.Context, j testJob) error {
	j.job.SubmittedAt = timestamppb.Now()
	ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", j.job.GetTraceContext()["traceparent"])
	_, err := c.pool.Submit(ctx, &jobsv1.SubmitRequest{Job: j.job})
	return err
}

// awaitDone asks the consumer until every job is done or timeout passes,
// and returns the jobs still not done.
func (c rpcClients) awaitDone(t *testing.T, jobs []testJob, timeout time.Duration) []string {
	t.Helper()
	pending := map[string]bool{}
	for _, j := range jobs {
		pending[j.job.GetId()] = true
	}
	deadline := time.Now().Add(timeout)
	for len(pending) > 0 && time.Now().Before(deadline) {
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
			if len(ids) == 1000 {
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.sink.Status(ctx, &jobsv1.StatusRequest{JobIds: ids})
		cancel()
		if err == nil {
			for _, s := range resp.GetJobs() {
				if s.GetDone() {
					delete(pending, s.GetJobId())
				}
			}
		}
		if len(pending) > 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	var left []string
	for id := range pending {
		left = append(left, id)
	}
	return left
}

// pacedLoad submits jobs at a fixed rate from a few goroutines until all
// are sent or ctx ends, and counts the answers.
type pacedLoad struct {
	sentIn   time.Duration // first Submit to the last one started
	mu       sync.Mutex
	accepted []testJob
	refused  map[string]int // gRPC code -> count
}

func runPaced(ctx context.Context, c rpcClients, jobs []testJob, rate float64, senders int) *pacedLoad {
	l := &pacedLoad{refused: map[string]int{}}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	next := make(chan int)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i := range next {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := c.submit(sctx, jobs[i])
				cancel()
				l.mu.Lock()
				if err == nil {
					l.accepted = append(l.accepted, jobs[i])
				} else {
					l.refused[grpcCode(err)]++
				}
				l.mu.Unlock()
			}
		})
	}
	for i := range jobs {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	l.sentIn = time.Since(start)
	close(next)
	wg.Wait()
	return l
}

func grpcCode(err error) string { return status.Code(err).String() }

// rss is a service's resident memory now (VmRSS), in MiB.
func rss(t *testing.T, name string) float64 {
	t.Helper()
	pid := sys.Pid(name)
	if pid == 0 {
		t.Fatalf("%s is not running", name)
	}
	v, err := rssOf(pid)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func rssOf(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// tracingStats is the tracing section every service's /stats has.
type tracingStats struct {
	Bridged      uint64 `json:"bridged"`
	Dropped      uint64 `json:"dropped"`
	Exported     uint64 `json:"exported"`
	ExportFailed uint64 `json:"export_failed"`
}

// serviceStats is what the robustness tests read of a /stats document.
type serviceStats struct {
	// consumer
	Handled        uint64 `json:"handled"`
	Duplicates     uint64 `json:"duplicates"`
	RetriesAsked   uint64 `json:"retries_asked"`
	CancelledWaits uint64 `json:"cancelled_waits"`
	Ledger         struct {
		WriteFailures uint64 `json:"write_failures"`
	} `json:"ledger"`
	// workers
	Held     int `json:"held"` // jobs the pool holds: queued, in work or in delivery
	Counters struct {
		Submitted uint64 `json:"submitted"`
		Rejected  uint64 `json:"rejected"`
		Delivered uint64 `json:"delivered"`
	} `json:"counters"`

	Tracing tracingStats `json:"tracing"`
}

func statsOf(t *testing.T, name string) serviceStats {
	t.Helper()
	return statsAt(t, sys.URL(name))
}

// statsAt reads the /stats of the service at base URL.
func statsAt(t *testing.T, base string) serviceStats {
	t.Helper()
	var s serviceStats
	if code, body := call(t, "GET", base+"/stats", nil, &s); code != 200 {
		t.Fatalf("GET %s/stats: %d %s", base, code, body)
	}
	return s
}
