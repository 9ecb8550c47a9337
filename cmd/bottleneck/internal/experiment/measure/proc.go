package measure

import "time"

// ProcSample is one process's CPU time so far and its memory now. Zero
// fields were not available.
type ProcSample struct {
	CPU     time.Duration
	HasCPU  bool
	RSS     uint64 // bytes
	PeakRSS uint64 // bytes, since the process started
	// Wait is how long the process's threads were ready to run but waited
	// for a CPU (Linux schedstat): a starved process runs slower than its
	// configuration allows.
	Wait    time.Duration
	HasWait bool
}

// MachineSample is the machine's CPU time so far, all CPUs together.
type MachineSample struct {
	Busy, Total time.Duration
}

// Snapshot is everything read at one moment.
type Snapshot struct {
	// At is when the counters were read; CPUAt when Procs, Machine and
	// Self were, one right after the other: CPU shares are taken over
	// CPUAt to CPUAt, so the stack's and the machine's cover the same time
	// however long the counters took to read.
	At       time.Time
	CPUAt    time.Time
	Counters Counters
	Procs    map[string]ProcSample
	// Machine and Self (the experiment's own CPU time) are nil when the
	// platform does not tell.
	Machine *MachineSample
	Self    *time.Duration
}
