//go:build linux

package capacity

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat and /proc/stat.
// Linux fixes it at 100 for user space whatever the kernel's tick rate.
const userHZ = 100

// childPIDs finds the stack's processes: children of this process whose
// executable is in binDir, by name. pkg/stack does not expose its PIDs, and
// it starts every binary directly, so each is a child of the test process.
func childPIDs(binDir string, names []string) (map[string]int, error) {
	binDir, err := filepath.EvalSymlinks(binDir)
	if err != nil {
		return nil, fmt.Errorf("bin directory: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	found := map[string]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.ppid != self {
			continue // gone already, or not ours
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Dir(exe) != binDir || !want[filepath.Base(exe)] {
			continue
		}
		found[filepath.Base(exe)] = pid
	}
	var missing []string
	for _, n := range names {
		if _, ok := found[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return found, fmt.Errorf("no child process running %s from %s", strings.Join(missing, ", "), binDir)
	}
	return found, nil
}

// procStat is the part of /proc/<pid>/stat the benchmark uses.
type procStat struct {
	ppid int
	cpu  time.Duration // user + system time of all threads
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// parseProcStat reads "pid (comm) state ppid ... utime stime ...". comm may
// hold spaces and parentheses, so fields are counted after the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("/proc stat: no ')' after the command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// After comm: state(0) ppid(1) pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime(11) stime(12).
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseUint(f[11], 10, 64)
	stime, err3 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("/proc stat: %w", err)
	}
	return procStat{ppid: ppid, cpu: ticks(utime + stime)}, nil
}

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// peakRSS is VmHWM of /proc/<pid>/status: the most resident memory the
// process has had since it started.
func peakRSS(pid int) (bytes uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(data, "VmHWM")
}

// parseStatusKB reads a "Key:   1234 kB" line of /proc/<pid>/status, in bytes.
func parseStatusKB(data []byte, key string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		if unit != "kB" {
			return 0, fmt.Errorf("/proc status %s: unit %q, want kB", key, unit)
		}
		kb, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status %s: %w", key, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no %s line", key)
}

// machineCPU is the whole machine's busy and total CPU time from /proc/stat.
type machineCPU struct {
	busy, total time.Duration
}

func readMachineCPU() (machineCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineCPU(data)
}

// parseMachineCPU reads the aggregate "cpu user nice system idle iowait irq
// softirq steal ..." line; idle and iowait are not busy.
func parseMachineCPU(data []byte) (machineCPU, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var m machineCPU
	for i, s := range f[1:9] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: %w", err)
		}
		m.total += ticks(n)
		if i != 3 && i != 4 { // idle, iowait
			m.busy += ticks(n)
		}
	}
	return m, nil
}
