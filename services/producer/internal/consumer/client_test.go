package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/fakes"
)

func TestAwaitDone(t *testing.T) {
	sink := &fakes.Sink{}
	c, err := New(fakes.Serve(t, nil, sink))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sink.Complete("a")
	go func() {
		// Completed after a few polls.
		for sink.Polls() < 3 {
			time.Sleep(time.Millisecond)
		}
		sink.Complete("b")
	}()
	got, err := c.AwaitDone(context.Background(), []string{"a", "b"}, time.Millisecond)
	if err != nil || !got["a"].GetDone() || !got["b"].GetDone() {
		t.Fatalf("AwaitDone = %v, %v", got, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got, err = c.AwaitDone(ctx, []string{"a", "never"}, time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !got["a"].GetDone() || got["never"].GetDone() {
		t.Fatalf("AwaitDone with a job never done = %v, %v; want a done, never not, DeadlineExceeded", got, err)
	}
}

func TestStatusSplitsLargeRequests(t *testing.T) {
	sink := &fakes.Sink{}
	c, err := New(fakes.Serve(t, nil, sink))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids := make([]string, 2*MaxIDsPerCall+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	got, err := c.Status(context.Background(), ids)
	if err != nil || len(got) != len(ids) || sink.Polls() != 3 {
		t.Fatalf("got %d statuses in %d calls, err %v; want %d in 3", len(got), sink.Polls(), err, len(ids))
	}
}
