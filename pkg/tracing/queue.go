package tracing

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// counters are the bridge's self-observation; see Stats.
type counters struct {
	bridged   atomic.Uint64
	malformed atomic.Uint64
	dropped   atomic.Uint64
	exported  atomic.Uint64
	failed    atomic.Uint64
}

// Stats says what happened to the spans this process made.
type Stats struct {
	// Bridged counts tracez spans turned into OTel spans.
	Bridged uint64 `json:"bridged"`
	// Malformed counts tracez spans dropped because their IDs were not valid W3C IDs.
	Malformed uint64 `json:"malformed"`
	// Dropped counts spans thrown away because a queue was full (the
	// collector is down or slower than the span rate): the bridge's queue of
	// finished tracez spans or the export queue behind it.
	Dropped uint64 `json:"dropped"`
	// Exported counts spans the exporter accepted.
	Exported uint64 `json:"exported"`
	// ExportFailed counts spans in batches the exporter failed to send.
	ExportFailed uint64 `json:"export_failed"`
}

// queueProcessor puts a bounded, counted, never-blocking queue in front of a
// batch processor that blocks when full. The SDK's own batch processor drops
// silently when full; this way every drop happens here and is counted, and
// neither a worker nor an HTTP handler ever waits for the collector.
type queueProcessor struct {
	next  sdktrace.SpanProcessor
	queue chan sdktrace.ReadOnlySpan
	stats *counters

	// pending counts spans accepted but not yet handed to next, so that
	// ForceFlush knows when everything reached the batch processor.
	pending atomic.Int64

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newQueueProcessor(next sdktrace.SpanProcessor, size int, stats *counters) *queueProcessor {
	p := &queueProcessor{
		next:  next,
		queue: make(chan sdktrace.ReadOnlySpan, size),
		stats: stats,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *queueProcessor) run() {
	defer close(p.done)
	for {
		select {
		case s := <-p.queue:
			p.next.OnEnd(s)
			p.pending.Add(-1)
		case <-p.stop:
			// Hand over what is already queued so Shutdown flushes it.
			for {
				select {
				case s := <-p.queue:
					p.next.OnEnd(s)
					p.pending.Add(-1)
				default:
					return
				}
			}
		}
	}
}

func (p *queueProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *queueProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	select {
	case <-p.stop:
		p.stats.dropped.Add(1)
		return
	default:
	}
	p.pending.Add(1)
	select {
	case p.queue <- s:
	default:
		p.pending.Add(-1)
		p.stats.dropped.Add(1)
	}
}

// ForceFlush waits until every queued span reached the batch processor,
// then flushes it.
func (p *queueProcessor) ForceFlush(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for p.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return p.next.ForceFlush(ctx)
		case <-tick.C:
		}
	}
	return p.next.ForceFlush(ctx)
}

func (p *queueProcessor) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.next.Shutdown(ctx)
}

// countingExporter counts what the real exporter accepted or failed to send.
type countingExporter struct {
	sdktrace.SpanExporter
	stats *counters
}

func (e countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.stats.failed.Add(uint64(len(spans)))
		return err
	}
	e.stats.exported.Add(uint64(len(spans)))
	return nil
}
