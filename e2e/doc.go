// Package e2e holds the end-to-end tests: they run Jaeger and the four
// services natively on free loopback ports (pkg/stack, the same code as
// `bottleneck up`), drive checkout bursts through the producer, and check
// the traces Jaeger stores against the trace contract of pkg/spans.
//
// `go test -short` skips them. They use the binaries in $HB_BIN_DIR (the
// Makefile sets it to bin/ after `make build jaeger`) and build the missing
// ones; a first Jaeger build takes ~3-5 minutes.
package e2e
