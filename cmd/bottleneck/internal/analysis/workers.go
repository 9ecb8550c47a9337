package analysis

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WorkerTime splits the workers' time over the period: working (a job's
// worker.process), blocked (handing a result to a full results channel)
// and idle. A worker blocked sending looks busy to every dashboard, yet
// does no work and takes no job.
type WorkerTime struct {
	Workers      int     `json:"workers"`
	WorkingShare float64 `json:"working_share"` // of workers × period
	BlockedShare float64 `json:"blocked_share"`
	IdleShare    float64 `json:"idle_share"`
	// BlockedOfBusy is blocked / (working + blocked): the share of the
	// time workers looked busy that they spent blocked.
	BlockedOfBusy float64     `json:"blocked_of_busy"`
	PerWorker     []WorkerUse `json:"per_worker"`
}

// WorkerUse is one worker's share.
type WorkerUse struct {
	WorkerID     string  `json:"worker_id"`
	Jobs         int     `json:"jobs"`
	BlockedSends int     `json:"blocked_sends"`
	WorkingMS    float64 `json:"working_ms"`
	BlockedMS    float64 `json:"blocked_ms"`
	IdleMS       float64 `json:"idle_ms"`
	BlockedShare float64 `json:"blocked_share"` // blocked / (working + blocked)
}

func workerTime(jobs []Job, p Period, workers int) WorkerTime {
	from, to := p.from(), p.to()
	if p.EndsAt == "window" {
		// The jobs read are those that arrived in the window; the workers'
		// time on them spans from the first taken to the last handed over
		// (see eventRate).
		from, to = spanOfWork(jobs, from, to)
	}
	clip := func(a, b int64) float64 {
		a, b = max(a, from), min(b, to)
		if b <= a {
			return 0
		}
		return float64(b-a) / 1e3
	}
	per := map[string]*WorkerUse{}
	for i := range jobs {
		j := &jobs[i]
		if j.WorkerID == "" || j.WorkStart == 0 {
			continue
		}
		u := per[j.WorkerID]
		if u == nil {
			u = &WorkerUse{WorkerID: j.WorkerID}
			per[j.WorkerID] = u
		}
		u.WorkingMS += clip(j.WorkStart, j.WorkEnd)
		if j.Blocked {
			u.BlockedMS += clip(j.SendStart, j.SendStart+int64(j.SendBlockMS*1e3))
		}
		if p.contains(j.WorkStart) {
			u.Jobs++
			if j.Blocked {
				u.BlockedSends++
			}
		}
	}
	periodMS := float64(to-from) / 1e3
	wt := WorkerTime{Workers: max(workers, len(per))}
	var working, blocked float64
	for _, u := range per {
		u.IdleMS = max(0, periodMS-u.WorkingMS-u.BlockedMS)
		if busy := u.WorkingMS + u.BlockedMS; busy > 0 {
			u.BlockedShare = u.BlockedMS / busy
		}
		working += u.WorkingMS
		blocked += u.BlockedMS
		wt.PerWorker = append(wt.PerWorker, *u)
	}
	slices.SortFunc(wt.PerWorker, func(a, b WorkerUse) int { return CompareIDs(a.WorkerID, b.WorkerID) })
	if total := float64(wt.Workers) * periodMS; total > 0 {
		wt.WorkingShare = min(1, working/total)
		wt.BlockedShare = min(1-wt.WorkingShare, blocked/total)
		wt.IdleShare = max(0, 1-wt.WorkingShare-wt.BlockedShare)
	}
	if busy := working + blocked; busy > 0 {
		wt.BlockedOfBusy = blocked / busy
	}
	return wt
}

func spanOfWork(jobs []Job, from, to int64) (int64, int64) {
	lo, hi := int64(0), int64(0)
	for i := range jobs {
		j := &jobs[i]
		if j.WorkStart == 0 {
			continue
		}
		if lo == 0 || j.WorkStart < lo {
			lo = j.WorkStart
		}
		hi = max(hi, j.WorkEnd, j.SendEnd)
	}
	if hi <= lo {
		return from, to
	}
	return lo, hi
}

// CompareIDs orders "2" before "10" and numbers before names.
func CompareIDs(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return cmp.Compare(len(a), len(b))
	}
	return cmp.Compare(a, b)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Timelines are what each worker, forwarder and consumer slot did over the
// period, for drawing: one row each, segments in time order; the gaps are
// idle time.
type Timelines struct {
	Workers       []Timeline `json:"workers"`
	Forwarders    []Timeline `json:"forwarders"`
	ConsumerSlots []Timeline `json:"consumer_slots"`
}

// Timeline is one row.
type Timeline struct {
	Name     string    `json:"name"` // worker.id, or "1", "2", … for forwarders and slots
	Segments []Segment `json:"segments"`
}

// Segment kinds.
const (
	SegmentWork    = "work"    // a worker doing a job's work
	SegmentBlocked = "blocked" // a worker blocked handing a result over
	SegmentDeliver = "deliver" // a forwarder delivering a result
	SegmentProcess = "process" // a consumer slot handling a result
)

// Segment is one stretch of one row.
type Segment struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Kind    string    `json:"kind"`
	JobID   string    `json:"job_id"`
	JobType string    `json:"job_type"`
	TraceID string    `json:"trace_id"`
}

func timelines(jobs []Job, p Period) Timelines {
	from, to := p.from(), p.to()
	overlaps := func(a, b int64) bool { return a > 0 && b >= from && a <= to }
	seg := func(j *Job, kind string, a, b int64) Segment {
		return Segment{Start: time.UnixMicro(a), End: time.UnixMicro(b), Kind: kind, JobID: j.ID, JobType: j.Type, TraceID: j.TraceID}
	}
	byWorker := map[string][]Segment{}
	var deliveries, processes []Segment
	for i := range jobs {
		j := &jobs[i]
		if j.WorkerID != "" && overlaps(j.WorkStart, j.WorkEnd) {
			byWorker[j.WorkerID] = append(byWorker[j.WorkerID], seg(j, SegmentWork, j.WorkStart, j.WorkEnd))
		}
		if end := j.SendStart + int64(j.SendBlockMS*1e3); j.WorkerID != "" && j.Blocked && overlaps(j.SendStart, end) {
			byWorker[j.WorkerID] = append(byWorker[j.WorkerID], seg(j, SegmentBlocked, j.SendStart, end))
		}
		if overlaps(j.Taken, j.DeliverEnd) && j.DeliverEnd > 0 {
			deliveries = append(deliveries, seg(j, SegmentDeliver, j.Taken, j.DeliverEnd))
		}
		if overlaps(j.Start, j.Done) && j.Done > 0 {
			processes = append(processes, seg(j, SegmentProcess, j.Start, j.Done))
		}
	}
	var t Timelines
	for id, segs := range byWorker {
		sortSegments(segs)
		t.Workers = append(t.Workers, Timeline{Name: id, Segments: segs})
	}
	slices.SortFunc(t.Workers, func(a, b Timeline) int { return CompareIDs(a.Name, b.Name) })
	t.Forwarders = partition(deliveries)
	t.ConsumerSlots = partition(processes)
	return t
}

func sortSegments(s []Segment) {
	slices.SortFunc(s, func(a, b Segment) int { return a.Start.Compare(b.Start) })
}

// partition lays intervals on the fewest rows where none overlap, each on
// the lowest free row: the forwarders and consumer slots have no IDs in
// the spans, but what they did at once shows how many were at work.
func partition(segs []Segment) []Timeline {
	sortSegments(segs)
	var rows []Timeline
	var ends []time.Time
	for _, s := range segs {
		row := -1
		for i, e := range ends {
			if !s.Start.Before(e) {
				row = i
				break
			}
		}
		if row < 0 {
			row = len(rows)
			rows = append(rows, Timeline{Name: strconv.Itoa(row + 1)})
			ends = append(ends, time.Time{})
		}
		rows[row].Segments = append(rows[row].Segments, s)
		ends[row] = s.End
	}
	return rows
}
