package server

import (
	"errors"
	"fmt"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// Limits on what a result may carry. The ledger, the /stats rings and the
// span attributes keep these strings, so they must be small whatever a
// caller sends. The job ID rule is the one the worker pool applies.
const (
	MaxJobIDBytes  = 128
	MaxTargetBytes = 256
	MaxErrorBytes  = 1024
)

// validateDeliver names the first field of req that is wrong.
func validateDeliver(req *jobsv1.DeliverRequest) error {
	res := req.GetResult()
	if res == nil {
		return errors.New("result: required")
	}
	job := res.GetJob()
	if job == nil {
		return errors.New("result.job: required")
	}
	if err := validateJobID(job.GetId()); err != nil {
		return fmt.Errorf("result.job.id: %w", err)
	}
	if n := len(job.GetTarget()); n > MaxTargetBytes {
		return fmt.Errorf("result.job.target: %d bytes; at most %d", n, MaxTargetBytes)
	}
	if n := len(res.GetError()); n > MaxErrorBytes {
		return fmt.Errorf("result.error: %d bytes; at most %d", n, MaxErrorBytes)
	}
	return nil
}

// validateJobID checks a job ID: 1 to MaxJobIDBytes of [A-Za-z0-9._:-].
func validateJobID(id string) error {
	switch {
	case id == "":
		return errors.New("required")
	case len(id) > MaxJobIDBytes:
		return fmt.Errorf("%d bytes; at most %d", len(id), MaxJobIDBytes)
	}
	for i := range len(id) {
		if !idByte(id[i]) {
			return fmt.Errorf("byte %d is %q; want only letters, digits, '.', '_', ':' and '-'", i, id[i])
		}
	}
	return nil
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '.' || c == '_' || c == ':' || c == '-'
}
