//go:build linux

package capacity

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// comm with a space and a parenthesis, as a process may name itself.
	line := "4242 (vendor (mock) x) S 17 4242 4242 0 -1 4194560 1290 0 0 0 250 37 0 0 20 0 9 0 812 1000 200 18446744073709551615\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 17 {
		t.Errorf("ppid = %d, want 17", st.ppid)
	}
	if want := 2870 * time.Millisecond; st.cpu != want { // (250+37) ticks of 10 ms
		t.Errorf("cpu = %s, want %s", st.cpu, want)
	}
	for _, bad := range []string{"", "1 (x S 2", "1 (x) S 2 3"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q): want an error", bad)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tworkers\nVmPeak:\t 1300000 kB\nVmHWM:\t   24576 kB\nVmRSS:\t   20000 kB\n"
	got, err := parseStatusKB([]byte(status), "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	if got != 24576<<10 {
		t.Errorf("VmHWM = %d bytes, want %d", got, 24576<<10)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("missing key: want an error")
	}
	if _, err := parseStatusKB([]byte("VmHWM:\t12 MB\n"), "VmHWM"); err == nil {
		t.Error("unit other than kB: want an error")
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	m, err := parseMachineCPU([]byte("cpu  100 5 40 800 50 3 2 0 0 0\ncpu0 50 2 20 400 25 1 1 0 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 1500 * time.Millisecond; m.busy != want { // 100+5+40+3+2 ticks
		t.Errorf("busy = %s, want %s", m.busy, want)
	}
	if want := 10 * time.Second; m.total != want {
		t.Errorf("total = %s, want %s", m.total, want)
	}
	if _, err := parseMachineCPU([]byte("intr 1 2 3\n")); err == nil {
		t.Error("no cpu line: want an error")
	}
}

// TestReadOwnProcess checks the readers against a live process: this one.
func TestReadOwnProcess(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid = %d, want %d", st.ppid, os.Getppid())
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("peak RSS of a Go test binary = %d bytes; want at least 1 MiB", rss)
	}
}
