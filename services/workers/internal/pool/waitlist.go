package pool

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
