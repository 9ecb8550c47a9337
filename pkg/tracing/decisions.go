package tracing

import (
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// decisions remembers the sampling decision of traces that arrived from
// another process, so every span this process adds to such a trace follows
// the caller's decision, as a parent-based sampler would. tracez keeps no
// flags, and the bridge sees finished spans without their context, so the
// decision is looked up by trace ID. Bounded: the oldest entries go first;
// a trace whose entry was evicted falls back to the root sampler.
type decisions struct {
	mu   sync.RWMutex
	m    map[trace.TraceID]bool
	ring []trace.TraceID
	next int
}

func newDecisions(size int) *decisions {
	return &decisions{m: make(map[trace.TraceID]bool, size), ring: make([]trace.TraceID, 0, size)}
}

func (d *decisions) put(tid trace.TraceID, sampled bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.m[tid]; ok {
		d.m[tid] = sampled
		return
	}
	if len(d.ring) < cap(d.ring) {
		d.ring = append(d.ring, tid)
	} else {
		delete(d.m, d.ring[d.next])
		d.ring[d.next] = tid
		d.next = (d.next + 1) % len(d.ring)
	}
	d.m[tid] = sampled
}

func (d *decisions) get(tid trace.TraceID) (sampled, ok bool) {
	d.mu.RLock()
	sampled, ok = d.m[tid]
	d.mu.RUnlock()
	return sampled, ok
}
