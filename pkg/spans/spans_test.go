package spans

import "testing"

// The report finds a job's root by its name (a producer span without a
// parent whose name JobRootName could have made), so every name the
// producer gives a root must be recognised, and no other span of the
// contract may be taken for one.
func TestJobRootNamesAreRecognised(t *testing.T) {
	for _, c := range []struct{ scenario, typ, want string }{
		{"checkout", "cache-read", "checkout cache-read"},
		{"checkout", "database", "checkout database"},
		{"steady", "vendor-api", "steady vendor-api"},
		{"", "cache-read", "job cache-read"}, // a job without a scenario
		{"steady", "unknown", "steady unknown"},
	} {
		got := JobRootName(c.scenario, c.typ)
		if got != c.want {
			t.Errorf("JobRootName(%q, %q) = %q, want %q", c.scenario, c.typ, got, c.want)
		}
		if !IsJobRootName(got) {
			t.Errorf("IsJobRootName(%q) = false for a name JobRootName made", got)
		}
	}
}

func TestOtherNamesAreNotJobRoots(t *testing.T) {
	for _, name := range []string{
		JobSubmit, PoolJob, QueueWait, WorkerProcess, CacheRead, DatabaseQuery, PoolAcquire, QueryExecute,
		VendorAPI, ResultSend, ResultsChannelWait, ResultDeliver, VendorHandle, ResultWait, ResultProcess,
		"jobs.v1.WorkerPool/Submit", "jobs.v1.ResultSink/Deliver", // otelgrpc's span names
		"", "checkout", " cache-read", "checkout ", "checkout  cache-read", "checkout cache read",
	} {
		if IsJobRootName(name) {
			t.Errorf("IsJobRootName(%q) = true", name)
		}
	}
}
