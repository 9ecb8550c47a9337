package sink

import (
	"fmt"
	"testing"
	"time"
)

func TestLedgerClaimOnce(t *testing.T) {
	l := NewLedger(10)
	if got := l.Claim("a"); got != Claimed {
		t.Fatalf("first claim = %v, want Claimed", got)
	}
	// Not done yet: the earlier attempt may still give up, so this is not a
	// duplicate the caller could count as delivered.
	if got := l.Claim("a"); got != InProgress {
		t.Fatalf("second claim of a pending job = %v, want InProgress", got)
	}
	at := time.Unix(100, 0)
	l.Complete("a", at, true)
	if got := l.Claim("a"); got != Handled {
		t.Fatalf("claim of a completed job = %v, want Handled", got)
	}
	r, ok := l.Lookup("a")
	if !ok || !r.Done || !r.OK || !r.CompletedAt.Equal(at) {
		t.Errorf("Lookup(a) = %+v %v", r, ok)
	}
}

func TestLedgerForgetLetsARetryIn(t *testing.T) {
	l := NewLedger(10)
	l.Claim("a")
	l.Forget("a")
	if got := l.Claim("a"); got != Claimed {
		t.Fatalf("claim after Forget = %v, want Claimed", got)
	}
	l.Complete("a", time.Unix(1, 0), false)
	l.Forget("a") // completed IDs are not forgotten
	if r, ok := l.Lookup("a"); !ok || !r.Done || r.OK {
		t.Errorf("completed entry lost or changed by Forget: %+v %v", r, ok)
	}
}

func TestLedgerIsBounded(t *testing.T) {
	const capacity = 5
	l := NewLedger(capacity)
	for i := range 3 * capacity {
		id := fmt.Sprint(i)
		l.Claim(id)
		if i%3 == 0 {
			l.Forget(id) // stale ring slots must not break the bound or evict the wrong ID
			l.Claim(id)
		}
		l.Complete(id, time.Unix(int64(i), 0), true)
		if n := l.Len(); n > capacity {
			t.Fatalf("after %d IDs the ledger holds %d, more than its capacity %d", i+1, n, capacity)
		}
	}
	if _, ok := l.Lookup("0"); ok {
		t.Error("the oldest ID is still remembered")
	}
	if r, ok := l.Lookup(fmt.Sprint(3*capacity - 1)); !ok || !r.Done {
		t.Error("the newest ID is forgotten")
	}
}
