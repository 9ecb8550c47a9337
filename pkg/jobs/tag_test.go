package jobs

import (
	"maps"
	"strconv"
	"testing"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// tags records what Tag sets, as strings.
type tags map[string]string

func (t tags) SetTag(k, v string)        { t[k] = v }
func (t tags) SetIntTag(k string, v int) { t[k] = "int:" + strconv.Itoa(v) }

func TestTagSetsTheJobsAttributes(t *testing.T) {
	full := &jobsv1.Job{
		Id: "checkout-ab12cd34-04", Type: jobsv1.JobType_JOB_TYPE_VENDOR_API, Priority: jobsv1.Priority_PRIORITY_CRITICAL,
		Target: "/v1/payment/authorize", Batch: "ab12cd34", Scenario: "checkout", Sequence: 4, Attempt: 2,
	}
	got := tags{}
	Tag(got, full)
	want := tags{
		spans.JobID: "checkout-ab12cd34-04", spans.JobType: "vendor-api", spans.JobPriority: "critical",
		spans.JobTarget: "/v1/payment/authorize", spans.JobBatch: "ab12cd34", spans.JobScenario: "checkout",
		spans.JobSequence: "int:4",
	}
	if !maps.Equal(got, want) {
		t.Errorf("Tag(full job) set %v\nwant %v", got, want)
	}

	// What a job leaves unset is not set as an empty attribute.
	got = tags{}
	Tag(got, &jobsv1.Job{Id: "steady-1", Type: jobsv1.JobType_JOB_TYPE_CACHE_READ})
	want = tags{spans.JobID: "steady-1", spans.JobType: "cache-read", spans.JobPriority: "normal"}
	if !maps.Equal(got, want) {
		t.Errorf("Tag(bare job) set %v\nwant %v", got, want)
	}
}
