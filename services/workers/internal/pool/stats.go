package pool

import (
	"slices"
	"sync"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// samplesPerType bounds the latency samples kept per job type and measure:
// percentiles describe recent behaviour, and memory stays fixed.
const samplesPerType = 1024

// Counters are the pool's running totals.
type Counters struct {
	Submitted uint64 `json:"submitted"`
	// Rejected counts Submits the pool refused (queue full, shutting down).
	Rejected  uint64 `json:"rejected"`
	Completed uint64 `json:"completed"` // jobs run, ok or not
	Failed    uint64 `json:"failed"`    // jobs whose result says ok=false
	Delivered uint64 `json:"delivered"` // results the consumer accepted
	// DeliveryFailed counts results the consumer rejected for good.
	DeliveryFailed uint64 `json:"delivery_failed"`
	// Abandoned counts results cut off at the shutdown deadline and never
	// acknowledged: still in the results channel, or in a delivery the
	// consumer says it did not handle. Once the pool has stopped,
	// completed = delivered + delivery_failed + abandoned.
	Abandoned uint64 `json:"abandoned"`
	// DeliveredAtDeadline counts results whose delivery the shutdown
	// deadline cut, but which the consumer's Status says it handled:
	// counted in delivered, not abandoned.
	DeliveredAtDeadline uint64 `json:"delivered_at_deadline"`
	// AlreadyHeld counts Submits for a job the pool held already (a
	// producer's re-submission that found it alive): answered
	// already_held, nothing queued, not counted in submitted.
	AlreadyHeld uint64 `json:"already_held"`
	// AbandonedJobs counts jobs still queued at the shutdown deadline,
	// never run: submitted = completed + abandoned_jobs.
	AbandonedJobs   uint64 `json:"abandoned_jobs"`
	DeliveryRetries uint64 `json:"delivery_retries"`
	BlockedSends    uint64 `json:"blocked_sends"`
	BlockedMSTotal  int64  `json:"blocked_ms_total"`
	// OverflowSends counts results a non-blocking send spilled into the
	// overflow; FallbackSends those that blocked because it was full too.
	OverflowSends     uint64            `json:"overflow_sends"`
	FallbackSends     uint64            `json:"fallback_sends"`
	CompletedByType   map[string]uint64 `json:"completed_by_type"`
	blockedTotal      time.Duration
	completedByTypeID [4]uint64
}

// Percentiles summarise recent samples, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Latencies are the percentiles of one job type.
type Latencies struct {
	// EndToEnd runs from accept (Submit) to the consumer's acknowledgement.
	EndToEnd  Percentiles `json:"end_to_end"`
	QueueWait Percentiles `json:"queue_wait"`
	Work      Percentiles `json:"work"`
	SendBlock Percentiles `json:"send_block"`
}

type ring struct {
	v    [samplesPerType]time.Duration
	next int
	n    int
}

func (r *ring) add(d time.Duration) {
	r.v[r.next] = d
	r.next = (r.next + 1) % len(r.v)
	r.n = min(r.n+1, len(r.v))
}

func (r *ring) percentiles() Percentiles {
	if r.n == 0 {
		return Percentiles{}
	}
	s := slices.Clone(r.v[:r.n])
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return Percentiles{Count: r.n, P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type typeSamples struct {
	endToEnd, queueWait, work, sendBlock ring
}

// recorder keeps the counters and samples. One mutex: updates are a few
// additions per job, far below the cost of the job itself.
type recorder struct {
	mu      sync.Mutex
	c       Counters
	samples [4]*typeSamples // by JobType
}

func typeIndex(t jobsv1.JobType) int {
	if t < 0 || int(t) >= 4 {
		return 0
	}
	return int(t)
}

func (r *recorder) update(f func(c *Counters)) {
	r.mu.Lock()
	f(&r.c)
	r.mu.Unlock()
}

func (r *recorder) sample(t jobsv1.JobType, f func(s *typeSamples)) {
	r.mu.Lock()
	i := typeIndex(t)
	if r.samples[i] == nil {
		r.samples[i] = &typeSamples{}
	}
	f(r.samples[i])
	r.mu.Unlock()
}

func (r *recorder) snapshot() (Counters, map[string]Latencies) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.c
	c.BlockedMSTotal = c.blockedTotal.Milliseconds()
	c.CompletedByType = map[string]uint64{}
	lat := map[string]Latencies{}
	for _, t := range jobs.Types {
		c.CompletedByType[jobs.TypeName(t)] = c.completedByTypeID[typeIndex(t)]
		if s := r.samples[typeIndex(t)]; s != nil {
			lat[jobs.TypeName(t)] = Latencies{
				EndToEnd:  s.endToEnd.percentiles(),
				QueueWait: s.queueWait.percentiles(),
				Work:      s.work.percentiles(),
				SendBlock: s.sendBlock.percentiles(),
			}
		}
	}
	return c, lat
}
