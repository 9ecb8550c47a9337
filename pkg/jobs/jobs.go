// Package jobs holds what the services share about jobs beyond the
// generated API: the names of job types and priorities as they appear in
// env vars, JSON, logs and span attributes ("cache-read", not
// JOB_TYPE_CACHE_READ), the API's limits, and the job attributes every
// span about a job carries (Tag).
package jobs

import (
	"fmt"
	"strings"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// MaxStatusIDs bounds the job IDs of one ResultSink/Status call, as the
// API promises (proto/jobs/v1/jobs.proto): the consumer refuses more,
// and its clients ask in batches of at most this many.
const MaxStatusIDs = 1000

// Type names.
const (
	CacheRead = "cache-read"
	Database  = "database"
	VendorAPI = "vendor-api"
)

// Types lists every job type, fast ones first.
var Types = []jobsv1.JobType{jobsv1.JobType_JOB_TYPE_CACHE_READ, jobsv1.JobType_JOB_TYPE_DATABASE, jobsv1.JobType_JOB_TYPE_VENDOR_API}

// TypeName returns the wire name of t, or "unknown".
func TypeName(t jobsv1.JobType) string {
	switch t {
	case jobsv1.JobType_JOB_TYPE_CACHE_READ:
		return CacheRead
	case jobsv1.JobType_JOB_TYPE_DATABASE:
		return Database
	case jobsv1.JobType_JOB_TYPE_VENDOR_API:
		return VendorAPI
	}
	return "unknown"
}

// ParseType reads a wire name.
func ParseType(s string) (jobsv1.JobType, error) {
	for _, t := range Types {
		if strings.EqualFold(s, TypeName(t)) {
			return t, nil
		}
	}
	return jobsv1.JobType_JOB_TYPE_UNSPECIFIED, fmt.Errorf("unknown job type %q (want %s, %s or %s)", s, CacheRead, Database, VendorAPI)
}

// PriorityName returns "low", "normal", "high" or "critical" ("normal" when unset).
func PriorityName(p jobsv1.Priority) string {
	switch p {
	case jobsv1.Priority_PRIORITY_LOW:
		return "low"
	case jobsv1.Priority_PRIORITY_HIGH:
		return "high"
	case jobsv1.Priority_PRIORITY_CRITICAL:
		return "critical"
	}
	return "normal"
}

// ParsePriority reads a priority name.
func ParsePriority(s string) (jobsv1.Priority, error) {
	for _, p := range []jobsv1.Priority{jobsv1.Priority_PRIORITY_LOW, jobsv1.Priority_PRIORITY_NORMAL, jobsv1.Priority_PRIORITY_HIGH, jobsv1.Priority_PRIORITY_CRITICAL} {
		if strings.EqualFold(s, PriorityName(p)) {
			return p, nil
		}
	}
	return jobsv1.Priority_PRIORITY_UNSPECIFIED, fmt.Errorf("unknown priority %q (want low, normal, high or critical)", s)
}

// IsFast says whether a job type is one of the fast ones that priority
// lanes keep apart from vendor calls.
func IsFast(t jobsv1.JobType) bool { return t != jobsv1.JobType_JOB_TYPE_VENDOR_API }
