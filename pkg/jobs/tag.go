package jobs

import (
	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Tagger is the part of a span that Tag writes to; *tracez.ActiveSpan is
// one.
type Tagger interface {
	SetTag(key, value string)
	SetIntTag(key string, value int)
}

// Tag sets the job's attributes on span, the same in every service so that
// a search by job.id or job.batch finds each of its spans: job.id,
// job.type, job.priority, and those of job.target, job.batch, job.scenario
// and job.sequence that are set. The attempt is not among them: which
// attempt a span belongs to is for the caller to say (job.attempt).
func Tag(span Tagger, job *jobsv1.Job) {
	span.SetTag(spans.JobID, job.GetId())
	span.SetTag(spans.JobType, TypeName(job.GetType()))
	span.SetTag(spans.JobPriority, PriorityName(job.GetPriority()))
	if job.GetTarget() != "" {
		span.SetTag(spans.JobTarget, job.GetTarget())
	}
	if job.GetBatch() != "" {
		span.SetTag(spans.JobBatch, job.GetBatch())
	}
	if job.GetScenario() != "" {
		span.SetTag(spans.JobScenario, job.GetScenario())
	}
	if job.GetSequence() != 0 {
		span.SetIntTag(spans.JobSequence, int(job.GetSequence()))
	}
}
