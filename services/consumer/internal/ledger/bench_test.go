package ledger

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkComplete is the ledger's cost per Deliver: one Claim and one
// durable Complete, from 1 caller (the default CONCURRENCY=1: each result
// pays a whole commit), from 4 (the capacity profile's FORWARDERS) and from
// 16 and 64 at once (commits are shared).
// fsync=off shows what the fsync itself costs; the consumer always syncs.
func BenchmarkComplete(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, callers := range []int{1, 4, 16, 64} {
			b.Run(fmt.Sprintf("fsync=%v/callers=%d", sync, callers), func(b *testing.B) {
				l, err := Open(Options{Dir: b.TempDir(), Capacity: 100_000, noSync: !sync})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				benchCallers(b, l, callers)
			})
		}
	}
}

func benchCallers(b *testing.B, l *Ledger, callers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range callers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				id := fmt.Sprintf("checkout-0123abcd-%09d", i)
				if _, err := l.Claim(id); err != nil {
					b.Error(err)
					return
				}
				if _, err := l.Complete(Outcome{JobID: id, Type: "cache-read", OK: true}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(b.N)/float64(max(st.Commits, 1)), "outcomes/commit")
}
