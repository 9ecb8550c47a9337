// Package capacity measures how many jobs per second the four services
// carry end to end — producer → workers → consumer over loopback gRPC —
// when every simulated delay is zero, with tracing off, to Jaeger and to a
// black-hole OTLP endpoint, and how much CPU and memory each process needs
// to do it.
//
// Nothing here runs in `make test`. The benchmark runs only when asked for,
//
//	cd e2e && go test -run '^$' -bench Capacity ./capacity
//
// and the span-loss check at 1,000 jobs/s only with HB_CAPACITY=1:
//
//	cd e2e && HB_CAPACITY=1 go test -run SpansNotDropped -v ./capacity
//
// Both need Linux (/proc) and the binaries in $HB_BIN_DIR or bin/ (`make
// build jaeger`); they skip when one is missing or under -short. Each
// sub-benchmark starts its own stack (pkg/stack) on free ports.
//
// Optional settings: HB_CAPACITY_LOG_LEVEL (default warn, so two log lines
// per job are not part of the measurement), HB_CAPACITY_PRODUCERS (producers
// at load=max, default 1) and HB_CAPACITY_PERF=<dir> (record each window
// with Linux perf). The services inherit the environment, so e.g.
// OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1
// measures sampling.
package capacity
