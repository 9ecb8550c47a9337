// Package analysis is the capacity model of hidden-bottleneck: the traces
// of a time window in, the pipeline's stages, the bottleneck and the fixes
// out. It is the one analysis behind several views: `bottleneck report`
// prints it, the experiment records it per row, the console draws it.
//
// It is pure: no I/O, no clock. Analyze reads whatever Jaeger returned for
// a search by the producer's service (every job's trace has the producer's
// root, and a shed job has nothing else), in trace contract v1 or v2 (see
// pkg/spans), and works in four steps, one file each:
//
//   - jobs.go: each trace becomes a Job: its arrival, its outcome (delivered,
//     failed, rejected = load shed, lost, in flight), and the times it
//     entered and left each part of the pipeline.
//   - period.go, stages.go, config.go: the period the traces cover, the
//     configuration the spans show (or imply, marked inferred), and per stage
//     the arrival rate λ, service time S, servers c, utilization ρ = λS/c,
//     wait W and queue length L = λW.
//   - verdict.go, fixes.go: the stage with the least capacity μ = c/(V·S)
//     governs throughput (every stage upstream of it only looks busy or
//     blocked); the kind of trouble (capacity, burst, head-of-line, none);
//     and the fixes, each computed from the measured numbers with its
//     predicted effect.
//   - sim.go: a small deterministic discrete-event simulation of the
//     pipeline (queue and lanes, workers, results channel, forwarders,
//     consumer) replaying the measured arrivals and service times, which
//     predicts what formulas can't (fast jobs' p99, bursts) and checks
//     itself against the measurement (ModelFit).
//
// docs/report.md explains the formulas and where the model can be wrong.
package analysis
