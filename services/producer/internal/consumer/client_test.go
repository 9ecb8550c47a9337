package consumer

import (
	"context"
	"fmt"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
)

func TestStatusSplitsLargeRequests(t *testing.T) {
	sink := &fakes.Sink{}
	c, err := New(fakes.Serve(t, nil, sink))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids := make([]string, 2*jobs.MaxStatusIDs+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	got, err := c.Status(context.Background(), ids)
	if err != nil || len(got) != len(ids) || sink.Polls() != 3 {
		t.Fatalf("got %d statuses in %d calls, err %v; want %d in 3", len(got), sink.Polls(), err, len(ids))
	}
}
