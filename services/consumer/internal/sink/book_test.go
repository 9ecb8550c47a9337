package sink

import (
	"fmt"
	"testing"
	"time"
)

func TestFastJobWaited(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		fast      bool
		work, e2e time.Duration
		want      bool
	}{
		{true, 2 * ms, 1840 * ms, true},  // the incident's cache read
		{true, 2 * ms, 90 * ms, false},   // waited, but under 100 ms
		{true, 20 * ms, 150 * ms, false}, // under 10x its work
		{true, 20 * ms, 201 * ms, true},
		{true, 0, 101 * ms, true},
		{false, 200 * ms, 5 * time.Second, false}, // vendor calls are not flagged
	} {
		if got := FastJobWaited(c.fast, c.work, c.e2e); got != c.want {
			t.Errorf("FastJobWaited(%v, %v, %v) = %v, want %v", c.fast, c.work, c.e2e, got, c.want)
		}
	}
}

func TestBookSummarize(t *testing.T) {
	b := NewBook(100)
	for i := 1; i <= 100; i++ {
		b.Record(Outcome{JobID: fmt.Sprint("c", i), Type: "cache-read", Fast: true, OK: true,
			Work: time.Millisecond, EndToEnd: time.Duration(i) * time.Millisecond})
	}
	b.Record(Outcome{JobID: "v", Type: "vendor-api", OK: false, Work: time.Second, EndToEnd: 3 * time.Second})
	b.Duplicate()

	s := b.Summarize(3)
	if s.Handled != 101 || s.Duplicates != 1 {
		t.Errorf("handled %d duplicates %d, want 101 1", s.Handled, s.Duplicates)
	}
	c := s.ByType["cache-read"]
	// The ring holds 100: the vendor result pushed out c1.
	if c.Handled != 100 || c.EndToEnd.Samples != 99 || c.EndToEnd.Max != 100 || c.EndToEnd.P50 != 51 {
		t.Errorf("cache-read stats %+v", c)
	}
	if c.Flagged != 0 { // none took more than 100 ms
		t.Errorf("flagged %d cache reads, want 0", c.Flagged)
	}
	if v := s.ByType["vendor-api"]; v.Failed != 1 || v.EndToEnd.Max != 3000 {
		t.Errorf("vendor-api stats %+v", v)
	}
	if len(s.SlowestFastJobs) != 3 || s.SlowestFastJobs[0].JobID != "c100" || s.SlowestFastJobs[2].JobID != "c98" {
		t.Errorf("slowest fast jobs %+v, want c100, c99, c98", s.SlowestFastJobs)
	}
}

func TestBookCountsFastJobsThatWaited(t *testing.T) {
	b := NewBook(4)
	b.Record(Outcome{Type: "cache-read", Fast: true, Work: 2 * time.Millisecond, EndToEnd: 1840 * time.Millisecond})
	b.Record(Outcome{Type: "cache-read", Fast: true, Work: 2 * time.Millisecond, EndToEnd: 5 * time.Millisecond})
	if got := b.Summarize(5).ByType["cache-read"].Flagged; got != 1 {
		t.Errorf("flagged %d, want 1", got)
	}
}
