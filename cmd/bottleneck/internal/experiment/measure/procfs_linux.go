//go:build linux

package measure

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of CPU times in /proc: Linux fixes it at 100 for user
// space whatever the kernel's tick rate.
const userHZ = 100

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// ReadProc samples process pid from /proc.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, err
	}
	cpu, err := parseProcStatCPU(stat)
	if err != nil {
		return ProcSample{}, err
	}
	s := ProcSample{CPU: cpu, HasCPU: true}
	s.Wait, s.HasWait = readWait(pid)
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		s.RSS, _ = parseStatusKB(status, "VmRSS")
		s.PeakRSS, _ = parseStatusKB(status, "VmHWM")
	}
	return s, nil
}

// readWait sums the run-queue wait of every thread of pid from
// /proc/<pid>/task/*/schedstat ("on-cpu-ns wait-ns timeslices"). Threads
// that exited since an earlier reading take their wait with them, so a
// difference of two readings may undercount, never overcount by much.
func readWait(pid int) (time.Duration, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var total time.Duration
	ok := false
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if w, err := parseSchedstatWait(data); err == nil {
			total += w
			ok = true
		}
	}
	return total, ok
}

func parseSchedstatWait(data []byte) (time.Duration, error) {
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, errors.New("schedstat: want at least 2 fields")
	}
	ns, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schedstat: %w", err)
	}
	return time.Duration(ns), nil
}

// parseProcStatCPU reads utime + stime from "pid (comm) state ppid ...".
// comm may hold spaces and parentheses, so fields count after the last ')'.
func parseProcStatCPU(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no ')' after the command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// After comm: state(0) ppid(1) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return ticks(utime + stime), nil
}

// parseStatusKB reads a "Key:   1234 kB" line of /proc/<pid>/status, in bytes.
func parseStatusKB(data []byte, key string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status %s: %w", key, err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no %s", key)
}

// ReadMachine samples the machine's CPU time from /proc/stat.
func ReadMachine() (*MachineSample, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return parseMachine(data)
}

// parseMachine reads the "cpu  user nice system idle iowait irq softirq
// steal ..." line; idle and iowait are not busy.
func parseMachine(data []byte) (*MachineSample, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return nil, errors.New("/proc/stat: no cpu line")
	}
	var total, idle uint64
	for i, s := range f[1:] {
		if i >= 8 { // guest times are already in user and nice
			break
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return &MachineSample{Busy: ticks(total - idle), Total: ticks(total)}, nil
}

// ReadSelf is the experiment's own CPU time.
func ReadSelf() (*time.Duration, error) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		return nil, err
	}
	return &s.CPU, nil
}

// LoadAverage is the 1-minute load average.
func LoadAverage() (*float64, error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return nil, errors.New("/proc/loadavg: empty")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
