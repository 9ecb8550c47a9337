// Package sink holds the consumer's bookkeeping, free of gRPC and tracing so
// it can be tested on its own: the slots that let CONCURRENCY results be
// handled at once in arrival order, the ledger that remembers which job IDs
// were seen (de-duplication) and completed (Status), and the book of recent
// outcomes behind /stats.
package sink
