package jobs

import (
	"testing"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

func TestTypeNamesRoundTrip(t *testing.T) {
	for _, typ := range Types {
		got, err := ParseType(TypeName(typ))
		if err != nil || got != typ {
			t.Errorf("ParseType(TypeName(%v)) = %v, %v", typ, got, err)
		}
	}
	if _, err := ParseType("cache_read"); err == nil {
		t.Error("ParseType accepted cache_read")
	}
	if TypeName(jobsv1.JobType_JOB_TYPE_UNSPECIFIED) != "unknown" {
		t.Error("unspecified type has a name")
	}
}

func TestPriorities(t *testing.T) {
	p, err := ParsePriority("Critical")
	if err != nil || p != jobsv1.Priority_PRIORITY_CRITICAL {
		t.Errorf("ParsePriority(Critical) = %v, %v", p, err)
	}
	if _, err := ParsePriority("urgent"); err == nil {
		t.Error("ParsePriority accepted urgent")
	}
	if PriorityName(jobsv1.Priority_PRIORITY_UNSPECIFIED) != "normal" {
		t.Error("unset priority is not normal")
	}
}
