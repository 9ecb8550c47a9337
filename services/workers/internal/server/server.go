// Package server is the workers' front: the gRPC WorkerPool service that
// takes jobs, and the HTTP endpoints /healthz, /stats and /admin/config.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/pool"
)

// Limits on a job's fields.
const (
	MaxJobIDBytes  = 128
	MaxTargetBytes = 256
	VendorPrefix   = "/v1/"
	// A job's trace context is a W3C carrier: traceparent, tracestate and
	// perhaps baggage. Anything bigger is not a trace context.
	MaxTraceContextEntries = 8
	MaxTraceContextBytes   = 512 // per key and per value
)

// Server implements jobs.v1.WorkerPool and the HTTP endpoints.
type Server struct {
	jobsv1.UnimplementedWorkerPoolServer
	pool *pool.Pool
	tr   *tracing.Provider
	log  *slog.Logger
}

// New returns a server in front of p.
func New(p *pool.Pool, tr *tracing.Provider, log *slog.Logger) *Server {
	return &Server{pool: p, tr: tr, log: log}
}

// Submit validates the job and queues it.
func (s *Server) Submit(ctx context.Context, req *jobsv1.SubmitRequest) (*jobsv1.SubmitResponse, error) {
	job := req.GetJob()
	if err := validate(job); err != nil {
		s.log.WarnContext(ctx, "job rejected", "err", err)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	depth, err := s.pool.Submit(ctx, job)
	var full *pool.FullError
	switch {
	case err == nil:
		return &jobsv1.SubmitResponse{QueueDepth: uint32(depth)}, nil
	case errors.Is(err, pool.ErrAlreadyHeld):
		// A re-submission of a job that is alive here: not an error, and
		// not work to do again.
		return &jobsv1.SubmitResponse{AlreadyHeld: true}, nil
	case errors.As(err, &full):
		s.log.WarnContext(ctx, "job rejected: queue full", spans.JobID, job.GetId(), "err", err)
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, pool.ErrShuttingDown):
		return nil, status.Error(codes.Unavailable, err.Error())
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	default:
		return nil, status.Error(codes.Internal, err.Error())
	}
}

// validate names the first field that is wrong.
func validate(job *jobsv1.Job) error {
	if job == nil {
		return errors.New("job: required")
	}
	switch id := job.GetId(); {
	case id == "":
		return errors.New("job.id: required")
	case len(id) > MaxJobIDBytes:
		return fmt.Errorf("job.id: %d bytes; at most %d", len(id), MaxJobIDBytes)
	default:
		// IDs are joined with ',' in the waited_behind.job_ids attribute
		// and written to logs: separators, spaces and control characters
		// would garble both.
		if i := strings.IndexFunc(id, func(r rune) bool { return !jobIDChar(r) }); i >= 0 {
			r, _ := utf8.DecodeRuneInString(id[i:])
			return fmt.Errorf("job.id: only [A-Za-z0-9._:-] allowed, 1 to %d bytes; %q has %q at byte %d",
				MaxJobIDBytes, id, r, i)
		}
	}
	switch t := job.GetType(); t {
	case jobsv1.JobType_JOB_TYPE_UNSPECIFIED:
		return fmt.Errorf("job.type: required (%s, %s or %s)", jobs.CacheRead, jobs.Database, jobs.VendorAPI)
	case jobsv1.JobType_JOB_TYPE_CACHE_READ, jobsv1.JobType_JOB_TYPE_DATABASE, jobsv1.JobType_JOB_TYPE_VENDOR_API:
	default:
		return fmt.Errorf("job.type: unknown value %d (want %s, %s or %s)", t, jobs.CacheRead, jobs.Database, jobs.VendorAPI)
	}
	if err := validateTraceContext(job.GetTraceContext()); err != nil {
		return err
	}
	target := job.GetTarget()
	if len(target) > MaxTargetBytes {
		return fmt.Errorf("job.target: %d bytes; at most %d", len(target), MaxTargetBytes)
	}
	if job.GetType() != jobsv1.JobType_JOB_TYPE_VENDOR_API {
		return nil
	}
	switch {
	case target == "":
		return errors.New("job.target: required for vendor-api jobs (a vendor path like /v1/payment/authorize)")
	case !strings.HasPrefix(target, VendorPrefix):
		return fmt.Errorf("job.target: vendor path %q must start with %s", target, VendorPrefix)
	case !cleanPath(target):
		// The path is appended to VENDOR_URL: it must not climb out of the
		// API or smuggle a query.
		return fmt.Errorf("job.target: vendor path %q: want a clean path of letters, digits, '/', '-', '_' and '.'", target)
	}
	return nil
}

// validateTraceContext bounds the carrier; what it says is the
// propagator's business (a malformed traceparent is ignored, and the job's
// spans hang under the Submit call instead).
func validateTraceContext(tc map[string]string) error {
	if len(tc) > MaxTraceContextEntries {
		return fmt.Errorf("job.trace_context: %d entries; at most %d", len(tc), MaxTraceContextEntries)
	}
	for k, v := range tc {
		switch {
		case k == "":
			return errors.New("job.trace_context: empty key")
		case len(k) > MaxTraceContextBytes:
			return fmt.Errorf("job.trace_context: key of %d bytes; at most %d", len(k), MaxTraceContextBytes)
		case len(v) > MaxTraceContextBytes:
			return fmt.Errorf("job.trace_context[%q]: %d bytes; at most %d", k, len(v), MaxTraceContextBytes)
		}
	}
	return nil
}

func jobIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)
}

func cleanPath(p string) bool {
	if path.Clean(p) != p {
		return false
	}
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("/-_.", r):
		default:
			return false
		}
	}
	return true
}
