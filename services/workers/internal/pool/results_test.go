package pool

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
)

// Concurrent senders, a receiver and constant resizing and mode switches:
// every result arrives once, and each sender's results arrive in the order
// it sent them (the buffer never reorders).
func TestResultBufferResizeKeepsOrderAndLosesNothing(t *testing.T) {
	const senders, each = 8, 300
	b := newResultBuffer(1, config.SendBlocking, 16)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				b.send(&delivery{jobID: fmt.Sprintf("%d/%d", s, i)}, s%2)
			}
		})
	}
	stop := make(chan struct{})
	resized := make(chan struct{})
	go func() {
		defer close(resized)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b.setCapacity([]int{1, 7, 2, 100, 1}[i%5])
			if i%3 == 0 {
				b.setMode([]string{config.SendBlocking, config.SendNonblocking}[i%2])
			}
		}
	}()
	next := make([]int, senders)
	for range senders * each {
		d, ok := b.receive(nil, nil)
		if !ok {
			t.Fatal("receive: buffer closed early")
		}
		var s, i int
		fmt.Sscanf(d.jobID, "%d/%d", &s, &i)
		if i != next[s] {
			t.Fatalf("sender %d: got result %d, want %d", s, i, next[s])
		}
		next[s]++
	}
	close(stop)
	<-resized
	wg.Wait()
	b.close()
	if d, ok := b.receive(nil, nil); ok {
		t.Fatalf("extra result %s", d.jobID)
	}
}

// A blocked send reports what it waited behind and for how long.
func TestResultBufferBlockedSendReport(t *testing.T) {
	b := newResultBuffer(2, config.SendBlocking, 4)
	b.send(&delivery{jobID: "a"}, slow)
	b.send(&delivery{jobID: "b"}, slow)
	got := make(chan sendReport)
	go func() { got <- b.send(&delivery{jobID: "c"}, slow) }()
	waitFor(t, func() bool { return b.stats(false).BlockedNow == 1 })
	if d, _ := b.receive(nil, nil); d.jobID != "a" {
		t.Fatalf("received %s first", d.jobID)
	}
	rep := <-got
	if !rep.blocked || rep.aheadCount != 2 || fmt.Sprint(rep.ahead) != "[a b]" || rep.bufLen != 2 || rep.bufCap != 2 {
		t.Fatalf("report %+v", rep)
	}
	// Non-blocking: the next send spills instead of blocking.
	b.setMode(config.SendNonblocking)
	if rep := b.send(&delivery{jobID: "d"}, slow); rep.blocked || rep.overflowLen != 0 || rep.bufLen != 2 {
		t.Fatalf("non-blocking report %+v", rep)
	}
	if s := b.stats(false); s.OverflowLen != 1 || s.Len != 2 {
		t.Fatalf("stats %+v", s)
	}
	// The fast lane is preferred by the forwarder.
	b.send(&delivery{jobID: "fast"}, fast)
	if d, _ := b.receive(nil, nil); d.jobID != "fast" {
		t.Fatalf("received %s before the fast result", d.jobID)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestTruncateKeepsResultErrorsWithinTheConsumersLimit(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2,000 bytes
	got := truncate(long, maxResultError)
	if len(got) > maxResultError || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if short := "vendor answered 503"; truncate(short, maxResultError) != short {
		t.Error("a short error was changed")
	}
}
