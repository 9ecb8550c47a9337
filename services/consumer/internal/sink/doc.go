// Package sink holds the consumer's in-memory bookkeeping, free of gRPC and
// tracing so it can be tested on its own: the slots that let CONCURRENCY
// results be handled at once in arrival order, and the book of recent
// outcomes behind /stats' percentiles. What must survive a restart (which
// jobs were handled, the counters) is in package ledger.
package sink
