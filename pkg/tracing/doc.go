// Package tracing bridges github.com/zoobzio/tracez into OpenTelemetry.
//
// Application code makes every span with tracez. When a tracez span
// finishes, the bridge re-creates it as an OpenTelemetry span with the same
// trace ID, span ID, parent ID, start and end time, and its tags as
// attributes, and hands it to an OTLP exporter through a batch processor.
// Transport spans (HTTP and gRPC, client and server) come from otelhttp and
// otelgrpc; the helpers here wire them so that tracez spans and transport
// spans form one trace across processes:
//
//   - at a server entry, [Provider.StartSpan] makes the first tracez span a
//     child of the caller's span (tracez has no API for remote parents);
//   - on an outgoing call, the current tracez span becomes the parent of the
//     client span, whose context travels as a W3C traceparent.
//
// Exporting never blocks the caller: spans pass through a bounded queue and
// are counted when it is full (see [Stats]).
package tracing
