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

func TestBookRecent(t *testing.T) {
	b := NewBook(100)
	for i := 1; i <= 100; i++ {
		b.Record(Outcome{JobID: fmt.Sprint("c", i), Type: "cache-read", Fast: true, OK: true,
			Work: time.Millisecond, EndToEnd: time.Duration(i) * time.Millisecond})
	}
	b.Record(Outcome{JobID: "v", Type: "vendor-api", OK: false, Work: time.Second, EndToEnd: 3 * time.Second})
	r := b.Recent(3)
	// The ring holds 100: the vendor result pushed out c1.
	if c := r.EndToEnd["cache-read"]; c.Samples != 99 || c.Max != 100 || c.P50 != 51 {
		t.Errorf("cache-read percentiles %+v", c)
	}
	if v := r.EndToEnd["vendor-api"]; v.Samples != 1 || v.Max != 3000 {
		t.Errorf("vendor-api percentiles %+v", v)
	}
	if len(r.SlowestFastJobs) != 3 || r.SlowestFastJobs[0].JobID != "c100" || r.SlowestFastJobs[2].JobID != "c98" {
		t.Errorf("slowest fast jobs %+v, want c100, c99, c98", r.SlowestFastJobs)
	}
	if r.Window != 100 {
		t.Errorf("window %d", r.Window)
	}
	if got := NewBook(4).Recent(5).SlowestFastJobs; got == nil || len(got) != 0 {
		t.Errorf("an empty book's slowest fast jobs: %#v, want an empty list", got)
	}
}
