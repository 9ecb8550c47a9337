package sink

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func usageIs(s *Slots, held, waiting int) func() bool {
	return func() bool { h, w := s.Usage(); return h == held && w == waiting }
}

func TestSlotsAdmitInArrivalOrderAndSayWhatIsAhead(t *testing.T) {
	s := NewSlots(1)
	rel1, ahead, err := s.Acquire(context.Background(), "a")
	if err != nil || ahead.Count != 0 {
		t.Fatalf("first acquire: ahead %+v err %v", ahead, err)
	}

	var (
		mu     sync.Mutex
		order  []string
		aheads = map[string]Ahead{}
		wg     sync.WaitGroup
	)
	for i, id := range []string{"b", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, ah, err := s.Acquire(context.Background(), id)
			if err != nil {
				t.Errorf("acquire %s: %v", id, err)
				return
			}
			mu.Lock()
			order = append(order, id)
			aheads[id] = ah
			mu.Unlock()
			rel()
		}()
		// Queue them one by one so arrival order is known.
		waitFor(t, id+" waiting", usageIs(s, 1, i+1))
	}
	rel1()
	rel1() // idempotent: must not free a second slot
	wg.Wait()

	if want := []string{"b", "c", "d"}; !slices.Equal(order, want) {
		t.Errorf("admitted %v, want arrival order %v", order, want)
	}
	if a := aheads["d"]; a.Count != 3 || !slices.Equal(a.IDs, []string{"a", "b", "c"}) {
		t.Errorf("d found ahead %+v, want 3: a (held), b, c (waiting)", a)
	}
	if h, w := s.Usage(); h != 0 || w != 0 {
		t.Errorf("after all released: held %d waiting %d, want 0 0", h, w)
	}
}

func TestSlotsAheadIDsAreBounded(t *testing.T) {
	s := NewSlots(MaxAheadIDs + 5)
	for i := range MaxAheadIDs + 5 {
		if _, _, err := s.Acquire(context.Background(), string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // every slot is held: "late" would wait
	_, ah, err := s.Acquire(ctx, "late")
	if err == nil {
		t.Fatal("Acquire with every slot held and a cancelled context succeeded")
	}
	if ah.Count != MaxAheadIDs+5 || len(ah.IDs) != MaxAheadIDs {
		t.Errorf("ahead %d with %d IDs, want %d with %d", ah.Count, len(ah.IDs), MaxAheadIDs+5, MaxAheadIDs)
	}
}

func TestSlotsCancelWhileWaitingLeaksNothing(t *testing.T) {
	s := NewSlots(1)
	rel, _, _ := s.Acquire(context.Background(), "holder")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		r, _, err := s.Acquire(ctx, "quitter")
		if r != nil {
			t.Error("a cancelled Acquire returned a release func")
		}
		errc <- err
	}()
	waitFor(t, "quitter waiting", usageIs(s, 1, 1))
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("cancelled wait returned %v, want context.Canceled", err)
	}
	if h, w := s.Usage(); h != 1 || w != 0 {
		t.Fatalf("after cancel: held %d waiting %d, want 1 0", h, w)
	}
	rel()
	// The slot is free again: a newcomer gets it at once.
	r2, ah, err := s.Acquire(context.Background(), "next")
	if err != nil || ah.Count != 0 {
		t.Fatalf("after release: ahead %+v err %v", ah, err)
	}
	r2()
}

// Many waiters giving up while slots are granted and released must leave
// the slots exactly empty: a slot granted to a waiter that just gave up is
// passed on, never leaked.
func TestSlotsCancelRacesGrant(t *testing.T) {
	s := NewSlots(2)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel()
			} else {
				go cancel()
			}
			if rel, _, err := s.Acquire(ctx, "x"); err == nil {
				rel()
			}
		}()
	}
	wg.Wait()
	if h, w := s.Usage(); h != 0 || w != 0 {
		t.Fatalf("held %d waiting %d after every acquire ended, want 0 0", h, w)
	}
	rel, _, err := s.Acquire(context.Background(), "after")
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestSlotsSetLimitKeepsHoldersAndAdmitsWaiters(t *testing.T) {
	s := NewSlots(1)
	var rels []func()
	r, _, _ := s.Acquire(context.Background(), "h")
	rels = append(rels, r)
	got := make(chan func(), 4)
	for range 4 {
		go func() {
			r, _, err := s.Acquire(context.Background(), "w")
			if err == nil {
				got <- r
			}
		}()
	}
	waitFor(t, "4 waiting", usageIs(s, 1, 4))

	s.SetLimit(3)
	waitFor(t, "2 admitted by the raise", usageIs(s, 3, 2))
	rels = append(rels, <-got, <-got)

	s.SetLimit(1) // holders keep their slots
	if h, w := s.Usage(); h != 3 || w != 2 {
		t.Fatalf("after lowering: held %d waiting %d, want 3 2", h, w)
	}
	rels[0]()
	rels[1]()
	if h, w := s.Usage(); h != 1 || w != 2 {
		t.Fatalf("two released under limit 1: held %d waiting %d, want 1 2 (no admission yet)", h, w)
	}
	rels[2]()
	waitFor(t, "one admitted", usageIs(s, 1, 1))
	(<-got)()
	waitFor(t, "last admitted", usageIs(s, 1, 0))
	(<-got)()
	if h, w := s.Usage(); h != 0 || w != 0 {
		t.Fatalf("held %d waiting %d, want 0 0", h, w)
	}
}
