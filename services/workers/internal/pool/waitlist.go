package pool

import "sync"

// waitList is a FIFO of parked goroutines (Submits waiting for room, idle
// workers, idle forwarders). Unlike a fifo, a waiter can leave from the
// middle in O(1) when it gives up (submit wait over, context cancelled,
// shutdown deadline), so waiters that left take no memory and are never
// woken.
type waitList[W any] struct {
	first, last *waitLink[W]
	n           int
}

// waitLink is a waiter's place in a waitList.
type waitLink[W any] struct {
	w          W
	prev, next *waitLink[W]
	list       *waitList[W] // nil once the waiter left the list
}

func (l *waitList[W]) len() int { return l.n }

// push appends w; the link lets it leave early with remove.
func (l *waitList[W]) push(w W) *waitLink[W] {
	k := &waitLink[W]{w: w, prev: l.last, list: l}
	if l.last != nil {
		l.last.next = k
	} else {
		l.first = k
	}
	l.last = k
	l.n++
	return k
}

// front returns the longest-waiting waiter; the list must not be empty.
func (l *waitList[W]) front() W { return l.first.w }

// pop removes and returns the longest-waiting waiter; the list must not be
// empty.
func (l *waitList[W]) pop() W {
	k := l.first
	l.remove(k)
	return k.w
}

// remove takes k out of the list; it does nothing if k already left.
func (l *waitList[W]) remove(k *waitLink[W]) {
	if k.list != l {
		return
	}
	if k.prev != nil {
		k.prev.next = k.next
	} else {
		l.first = k.next
	}
	if k.next != nil {
		k.next.prev = k.prev
	} else {
		l.last = k.prev
	}
	k.prev, k.next, k.list = nil, nil, nil
	l.n--
}

// idler waits for one item to be handed to it: a worker for a job, a
// forwarder for a result. The giver pops it from the owner's idle list,
// sets the item and closes wake under the owner's lock (handOff), so the
// item is the idler's from that instant, whatever it wakes to.
type idler[T any] struct {
	link   *waitLink[*idler[T]]
	item   T
	handed bool
	wake   chan struct{}
	// retire is closed when the idler is no longer wanted (nil: never);
	// from then on it is handed nothing.
	retire <-chan struct{}
}

// handOff gives item to w, which the caller has just popped from its idle
// list, and wakes it. Caller holds the owner's lock.
func (w *idler[T]) handOff(item T) {
	w.item, w.handed = item, true
	close(w.wake)
}

// awaitHandOff parks the caller in idle until an item is handed to it, or
// stop or retire closes. The caller holds mu; it is released while the
// caller waits and held again on return. ok: an item was handed over,
// perhaps just as stop or retire closed, and is the caller's now. quit:
// nothing was, and stop or retire closed. Neither: woken with nothing (the
// owner is closing); look again.
func awaitHandOff[T any](mu *sync.Mutex, idle *waitList[*idler[T]], stop, retire <-chan struct{}) (item T, ok, quit bool) {
	w := &idler[T]{wake: make(chan struct{}), retire: retire}
	w.link = idle.push(w)
	mu.Unlock()
	select {
	case <-w.wake:
	case <-stop:
	case <-retire:
	}
	mu.Lock()
	if w.handed {
		return w.item, true, false
	}
	idle.remove(w.link)
	return item, false, isClosed(stop) || isClosed(retire)
}
