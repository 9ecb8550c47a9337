package report

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// traceBuilder makes synthetic traces shaped like the project's: tags are
// strings, as the tracez bridge sends them; times are ms from base.
type traceBuilder struct {
	t    jaegerapi.Trace
	base int64 // µs
}

const baseMicros = 1_700_000_000_000_000

func newTrace(n int) *traceBuilder {
	id := fmt.Sprintf("%032x", n+1)
	return &traceBuilder{
		t: jaegerapi.Trace{TraceID: id, Processes: map[string]jaegerapi.Process{
			"p1": {ServiceName: "producer"}, "p2": {ServiceName: "workers"},
			"p3": {ServiceName: "vendor-mock"}, "p4": {ServiceName: "consumer"},
		}},
		base: baseMicros + int64(n)*1_000_000,
	}
}

var processOf = map[string]string{"producer": "p1", "workers": "p2", "vendor-mock": "p3", "consumer": "p4"}

// span adds a span and returns its ID; tags are key, value pairs.
func (b *traceBuilder) span(op, service, parent string, startMS, durMS float64, tags ...string) string {
	id := fmt.Sprintf("%016x", len(b.t.Spans)+1)
	s := jaegerapi.Span{
		TraceID: b.t.TraceID, SpanID: id, OperationName: op, ProcessID: processOf[service],
		StartTime: b.base + int64(startMS*1000), Duration: int64(durMS * 1000),
	}
	if parent != "" {
		s.References = []jaegerapi.Reference{{RefType: jaegerapi.ChildOf, TraceID: b.t.TraceID, SpanID: parent}}
	}
	for i := 0; i+1 < len(tags); i += 2 {
		v, _ := json.Marshal(tags[i+1])
		s.Tags = append(s.Tags, jaegerapi.KeyValue{Key: tags[i], Type: "string", Value: v})
	}
	b.t.Spans = append(b.t.Spans, s)
	return id
}

// jobSpec describes one synthetic job.
type jobSpec struct {
	id, typ, worker string
	queueMS, workMS float64
	blockMS         float64 // 0 = send not blocked
	consumerWaitMS  float64
	behind          string // waited_behind.job_ids on queue.wait
	bufferCap       int
	degraded        bool
}

// jobTrace builds the trace of one job with the span contract's shape.
func jobTrace(n int, j jobSpec) jaegerapi.Trace {
	b := newTrace(n)
	e2e := j.queueMS + j.workMS + j.blockMS + j.consumerWaitMS + 50
	root := b.span(spans.JobSubmit, "producer", "", 0, 2, spans.JobID, j.id, spans.JobType, j.typ)
	server := b.span("jobs.v1.WorkerPool/Submit", "workers", root, 0.5, 1)
	b.span(spans.QueueWait, "workers", server, 1, j.queueMS, spans.WaitedBehindJobs, j.behind)
	at := 1 + j.queueMS
	wp := b.span(spans.WorkerProcess, "workers", server, at, j.workMS, spans.WorkerID, j.worker, spans.JobID, j.id, spans.JobType, j.typ)
	switch j.typ {
	case "cache-read":
		b.span(spans.CacheRead, "workers", wp, at, j.workMS-0.1)
	case "database":
		dq := b.span(spans.DatabaseQuery, "workers", wp, at, j.workMS-0.1)
		b.span(spans.PoolAcquire, "workers", dq, at, 3)
		b.span(spans.QueryExecute, "workers", dq, at+3, j.workMS-3.2)
	case "vendor-api":
		va := b.span(spans.VendorAPI, "workers", wp, at, j.workMS-0.1)
		b.span(spans.VendorHandle, "vendor-mock", va, at+0.5, j.workMS-1, spans.FaultPreset, "degraded", spans.FaultDegraded, strconv.FormatBool(j.degraded))
	}
	at += j.workMS
	b.span(spans.ResultSend, "workers", server, at, j.blockMS+0.01, spans.JobID, j.id,
		spans.ChannelBlocked, strconv.FormatBool(j.blockMS > 0), spans.BlockDurationMS, strconv.FormatFloat(j.blockMS, 'f', 1, 64),
		spans.ResultsBufferCap, strconv.Itoa(j.bufferCap), spans.ResultSendMode, "blocking")
	b.span(spans.ResultProcess, "consumer", root, e2e-50, 50, spans.JobID, j.id, spans.JobType, j.typ,
		spans.EndToEndMS, strconv.FormatFloat(e2e, 'f', 1, 64), spans.WorkMS, strconv.FormatFloat(j.workMS, 'f', 1, 64))
	return b.t
}
