package pool

import (
	"context"
	"sync"
	"time"

	"github.com/zoobzio/tracez"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
)

// delivery is a result on its way from a worker to the consumer.
type delivery struct {
	ctx      context.Context    // the job's context (see queued.ctx)
	span     *tracez.ActiveSpan // the job's pool.job, ended once the result is acknowledged
	result   *jobsv1.Result     // the worker does not touch it once sent
	jobID    string
	jobType  jobsv1.JobType
	accepted time.Time
	laneName string // results.lane

	// Set under the buffer's lock.
	sendStart time.Time     // the worker began handing it over
	enqueued  time.Time     // it entered the buffer
	sendBlock time.Duration // enqueued - sendStart when the send blocked
	entry     channelEntry  // what was ahead of it when it entered
}

// channelEntry is the results channel as a result found it when it went
// in: results.channel.wait's attributes.
type channelEntry struct {
	bufLen      int // results in the channel (not the overflow) ahead of it
	bufCap      int
	overflowLen int // results in the overflow ahead of it
	nonblocking bool
	aheadCount  int      // results the forwarders take before it, in its lane
	ahead       []string // the first of them, at most maxWaitedBehind
}

// sendReport is what a send saw: the result.send span's attributes.
type sendReport struct {
	mode        string
	lane        string
	bufLen      int // results in the channel when the send began
	bufCap      int
	overflowLen int
	blocked     bool
	fallback    bool // non-blocking mode, but the overflow was full too
	aheadCount  int  // results in the channel when the send blocked
	ahead       []string
	blockedFor  time.Duration
	enqueued    time.Time // when the result entered the channel
}

type sendWaiter struct {
	d        *delivery
	admitted chan struct{}
	// enqueued is set before admitted is closed: once admitted, d is the
	// forwarders', and the sender reads the time from here.
	enqueued time.Time
}

type resultLane struct {
	// items holds the lane's results in order. The first `capacity` of
	// them are "in the channel"; any beyond are in the overflow (spilled
	// by non-blocking sends, or left over when the buffer shrank).
	items   fifo[*delivery]
	waiters fifo[*sendWaiter] // blocked senders, in arrival order
}

// resultBuffer is the results channel between the workers and the
// forwarders: RESULTS_BUFFER slots per lane, blocking senders when full
// exactly like a buffered Go channel (blocked senders are admitted in
// order as the forwarders take results). Unlike a Go channel it can be
// resized while senders wait, it can tell a blocked sender which results
// it is waiting behind, and in non-blocking mode it spills into a bounded
// overflow instead of blocking.
//
// Lane fast carries results of fast jobs when priority lanes are on; lane
// slow carries everything else. The forwarders prefer lane fast.
type resultBuffer struct {
	mu          sync.Mutex
	lanes       [2]resultLane
	capacity    int
	nonblocking bool
	overflowCap int
	closed      bool
	// aborted admits every sender at once: the forwarders are gone, and a
	// worker must not hang at the shutdown deadline.
	aborted bool
	// idle forwarders wait here. They exist only while every lane is
	// empty, so a result that arrives goes straight to the first of them:
	// one result wakes one forwarder, which wakes holding it.
	idle waitList[*idler[*delivery]]
}

func newResultBuffer(capacity int, mode string, overflowCap int) *resultBuffer {
	return &resultBuffer{
		capacity:    capacity,
		nonblocking: mode == config.SendNonblocking,
		overflowCap: overflowCap,
	}
}

func (b *resultBuffer) mode() string {
	if b.nonblocking {
		return config.SendNonblocking
	}
	return config.SendBlocking
}

func (b *resultBuffer) hasRoom(l *resultLane) bool {
	n := l.items.len()
	switch {
	case b.aborted:
		return true
	case b.nonblocking:
		return n < b.capacity+b.overflowCap
	default:
		return n < b.capacity
	}
}

// put adds d to lane l, or hands it to an idle forwarder (then every lane
// is empty, so no result is overtaken), noting what is ahead of it. Caller
// holds b.mu and has checked the room.
func (b *resultBuffer) put(l *resultLane, d *delivery) {
	n := l.items.len()
	d.entry = channelEntry{
		bufLen:      min(n, b.capacity),
		bufCap:      b.capacity,
		overflowLen: max(0, n-b.capacity),
		nonblocking: b.nonblocking,
		aheadCount:  n,
	}
	if k := min(n, maxWaitedBehind); k > 0 {
		d.entry.ahead = make([]string, k)
		for i := range k {
			d.entry.ahead[i] = l.items.at(i).jobID
		}
	}
	if b.idle.len() > 0 {
		b.idle.pop().handOff(d)
		return
	}
	l.items.push(d)
}

// send hands d over in lane, blocking while the lane has no room.
func (b *resultBuffer) send(d *delivery, lane int) sendReport {
	b.mu.Lock()
	l := &b.lanes[lane]
	n := l.items.len()
	rep := sendReport{
		mode:        b.mode(),
		bufLen:      min(n, b.capacity),
		bufCap:      b.capacity,
		overflowLen: max(0, n-b.capacity),
	}
	d.sendStart = time.Now()
	if l.waiters.len() == 0 && b.hasRoom(l) {
		d.enqueued = d.sendStart
		rep.enqueued = d.enqueued
		b.put(l, d)
		b.mu.Unlock()
		return rep
	}
	rep.blocked = true
	rep.fallback = b.nonblocking
	rep.aheadCount = rep.bufLen
	for i := range min(rep.bufLen, maxWaitedBehind) {
		rep.ahead = append(rep.ahead, l.items.at(i).jobID)
	}
	w := &sendWaiter{d: d, admitted: make(chan struct{})}
	l.waiters.push(w)
	b.mu.Unlock()

	<-w.admitted
	rep.blockedFor = d.sendBlock
	rep.enqueued = w.enqueued
	return rep
}

// admit moves blocked senders into the lane while it has room. Caller
// holds b.mu.
func (b *resultBuffer) admit(l *resultLane) {
	for l.waiters.len() > 0 && b.hasRoom(l) {
		w := l.waiters.pop()
		now := time.Now()
		w.d.enqueued = now
		w.d.sendBlock = now.Sub(w.d.sendStart)
		w.enqueued = now
		b.put(l, w.d)
		close(w.admitted)
	}
}

// receive takes the next result, fast lane first. It returns false when
// the buffer is closed and empty, or when stop is closed (shutdown
// deadline: whatever is still queued stays for discard to count, instead
// of each result being taken only to fail on the cancelled delivery), or
// when retire is closed while it waits (this forwarder is no longer
// wanted).
func (b *resultBuffer) receive(stop, retire <-chan struct{}) (*delivery, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		select {
		case <-stop:
			return nil, false
		default:
		}
		for i := range b.lanes {
			l := &b.lanes[i]
			if l.items.len() > 0 {
				d := l.items.pop()
				b.admit(l)
				return d, true
			}
		}
		if b.closed {
			return nil, false
		}
		// A result handed over just as stop or retire closed is this
		// forwarder's to deliver.
		d, ok, quit := awaitHandOff(&b.mu, &b.idle, stop, retire)
		if ok || quit {
			return d, ok
		}
	}
}

// setCapacity resizes the buffer. Nothing is lost or reordered: growing
// admits blocked senders at once; shrinking leaves the surplus queued
// (shown as overflow) until the forwarder drains it.
func (b *resultBuffer) setCapacity(n int) {
	b.mu.Lock()
	b.capacity = n
	for i := range b.lanes {
		b.admit(&b.lanes[i])
	}
	b.mu.Unlock()
}

// setMode switches between blocking and non-blocking sends; switching to
// non-blocking releases the workers blocked right now.
func (b *resultBuffer) setMode(mode string) {
	b.mu.Lock()
	b.nonblocking = mode == config.SendNonblocking
	for i := range b.lanes {
		b.admit(&b.lanes[i])
	}
	b.mu.Unlock()
}

// close tells the forwarders no more results will come: they drain what
// is there and stop.
func (b *resultBuffer) close() {
	b.mu.Lock()
	b.closed = true
	for b.idle.len() > 0 {
		close(b.idle.pop().wake)
	}
	b.mu.Unlock()
}

// abort admits every blocked sender so no worker hangs once the forwarders
// have stopped.
func (b *resultBuffer) abort() {
	b.mu.Lock()
	b.aborted = true
	for i := range b.lanes {
		b.admit(&b.lanes[i])
	}
	b.mu.Unlock()
}

// ResultsStats is the results channel part of /stats.
type ResultsStats struct {
	Len         int    `json:"len"`
	Cap         int    `json:"cap"` // per lane
	OverflowLen int    `json:"overflow_len"`
	OverflowCap int    `json:"overflow_cap"`
	Mode        string `json:"mode"`
	// BlockedNow counts workers blocked sending right now.
	BlockedNow int                        `json:"blocked_now"`
	Lanes      map[string]ResultLaneStats `json:"lanes"`
}

// ResultLaneStats is one lane of the results channel.
type ResultLaneStats struct {
	Len         int `json:"len"`
	OverflowLen int `json:"overflow_len"`
	BlockedNow  int `json:"blocked_now"`
}

func (b *resultBuffer) stats(prioritize bool) ResultsStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := ResultsStats{Cap: b.capacity, OverflowCap: b.overflowCap, Mode: b.mode(), Lanes: map[string]ResultLaneStats{}}
	for i := range b.lanes {
		l := &b.lanes[i]
		ls := ResultLaneStats{
			Len:         min(l.items.len(), b.capacity),
			OverflowLen: max(0, l.items.len()-b.capacity),
			BlockedNow:  l.waiters.len(),
		}
		s.Len += ls.Len
		s.OverflowLen += ls.OverflowLen
		s.BlockedNow += ls.BlockedNow
		switch {
		case i == fast && (prioritize || l.items.len() > 0):
			s.Lanes[LaneFast] = ls
		case i == slow && prioritize:
			s.Lanes[LaneSlow] = ls
		case i == slow:
			s.Lanes[LaneShared] = ls
		}
	}
	return s
}

// discard empties the buffer once the workers and forwarders have
// stopped at the shutdown deadline, and returns the results no forwarder
// took.
func (b *resultBuffer) discard() []*delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*delivery
	for i := range b.lanes {
		l := &b.lanes[i]
		// No sender waits: abort admitted the blocked ones, and the
		// workers have returned.
		for l.items.len() > 0 {
			out = append(out, l.items.pop())
		}
	}
	return out
}
