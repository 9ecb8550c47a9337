package analysis

import (
	"cmp"
	"slices"
	"strings"
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
	BlockedOfBusy float64 `json:"blocked_of_busy"`
	// BlockedOfActive is blocked / (workers × the period's active time):
	// the share of the workers' capacity blocking took while the pipeline
	// had work. Unlike BlockedShare, idle time between bursts doesn't
	// dilute it.
	BlockedOfActive float64     `json:"blocked_of_active"`
	PerWorker       []WorkerUse `json:"per_worker"`
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
		if j.WorkerID == "" || j.WorkStart == 0 || j.Earlier {
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
	if active := float64(wt.Workers) * p.ActiveSeconds * 1e3; active > 0 {
		wt.BlockedOfActive = min(1, blocked/active)
	}
	return wt
}

func spanOfWork(jobs []Job, from, to int64) (int64, int64) {
	lo, hi := int64(0), int64(0)
	for i := range jobs {
		j := &jobs[i]
		if j.WorkStart == 0 || j.Earlier {
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
