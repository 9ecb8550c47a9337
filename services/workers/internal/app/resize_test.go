package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/fakes"
)

// The whole service, resized over its admin API while producers submit
// over gRPC and results go to a consumer over gRPC: every accepted job
// reaches the consumer exactly once, no refused one does, and the
// service's counters agree with what the producers and the consumer saw.
func TestResizeOverTheAdminAPIUnderLoad(t *testing.T) {
	vendor := fakes.StartVendor(t)
	vendor.Answer(func(string) (time.Duration, int) { return 2 * time.Millisecond, http.StatusOK })
	fc := fakes.StartConcurrentConsumer(t, "127.0.0.1:0", time.Millisecond, 4)
	r := start(t, vendor.URL, fc.Addr())
	admin := "http://" + r.HTTPAddr() + "/admin/config"

	const producers, perProducer = 3, 150
	types := []jobsv1.JobType{jobsv1.JobType_JOB_TYPE_CACHE_READ, jobsv1.JobType_JOB_TYPE_DATABASE, jobsv1.JobType_JOB_TYPE_VENDOR_API}
	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		refused  = map[string]bool{}
		wg       sync.WaitGroup
	)
	for w := range producers {
		wg.Go(func() {
			for i := range perProducer {
				j := &jobsv1.Job{Id: fmt.Sprintf("r%d-%03d", w, i), Type: types[(w+i)%len(types)], Target: "/v1/tax/calculate"}
				_, err := r.client.Submit(context.Background(), &jobsv1.SubmitRequest{Job: j})
				mu.Lock()
				switch status.Code(err) {
				case codes.OK:
					accepted[j.GetId()] = true
				case codes.ResourceExhausted:
					refused[j.GetId()] = true
				default:
					t.Errorf("Submit %s: %v", j.GetId(), err)
				}
				mu.Unlock()
			}
		})
	}
	producersDone := make(chan struct{})
	go func() { wg.Wait(); close(producersDone) }()

	bodies := []string{
		`{"workers":1,"queue_size":2,"submit_wait":"5ms"}`,
		`{"workers":12,"queue_size":100}`,
		`{"workers":3,"queue_size":0}`, // 30
		`{"workers":8,"queue_size":5,"priority_lanes":"on"}`,
		`{"workers":2,"queue_size":1}`,
		`{"workers":16,"queue_size":40,"priority_lanes":"off"}`,
	}
	puts := 0
	for done := false; !done; puts++ {
		body := bodies[puts%len(bodies)]
		req, err := http.NewRequest(http.MethodPut, admin, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var view struct {
			Workers   int `json:"workers"`
			QueueSize int `json:"queue_size"`
		}
		err = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || view.Workers != r.Pool().Workers() || view.QueueSize != r.Pool().QueueSize() {
			t.Fatalf("PUT %s = %d %+v (%v); the pool has %d workers, queue %d", body, resp.StatusCode, view, err, r.Pool().Workers(), r.Pool().QueueSize())
		}
		// Let a few results through at this size, unless the producers
		// are done.
		target := len(fc.Results()) + 5
		fakes.Eventually(t, 10*time.Second, func() bool {
			select {
			case <-producersDone:
				done = true
				return true
			default:
				return len(fc.Results()) >= target
			}
		}, "results flowing after PUT %s", body)
	}
	if puts < 6 {
		t.Errorf("only %d resizes while jobs flowed", puts)
	}

	r.stop(t) // SIGTERM: the pool drains every accepted job first
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) == 0 || len(accepted)+len(refused) != producers*perProducer {
		t.Fatalf("%d accepted + %d refused of %d", len(accepted), len(refused), producers*perProducer)
	}
	counts := fc.Counts()
	for id := range accepted {
		if counts[id] != 1 {
			t.Errorf("accepted job %s delivered %d times", id, counts[id])
		}
	}
	for id := range refused {
		if counts[id] != 0 {
			t.Errorf("refused job %s delivered %d times", id, counts[id])
		}
	}
	if len(counts) != len(accepted) {
		t.Errorf("consumer got %d distinct jobs; %d were accepted", len(counts), len(accepted))
	}
	c := r.Pool().Stats().Counters
	n := uint64(len(accepted))
	if c.Submitted != n || c.Rejected != uint64(len(refused)) || c.Completed != n || c.Delivered != n ||
		c.DeliveryFailed != 0 || c.Abandoned != 0 || c.AbandonedJobs != 0 {
		t.Errorf("counters %+v; the producers saw %d accepted, %d refused", c, n, len(refused))
	}
	t.Logf("%d accepted, %d refused, %d resizes", n, len(refused), puts)
}
