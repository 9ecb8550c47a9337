//go:build linux

package ledger

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// The test binary doubles as a consumer whose disk fills up: with
// LEDGER_FILE_LIMIT_DIR set, TestMain caps the size of the files this
// process may write (RLIMIT_FSIZE, as a full disk would stop the file
// growing) and writes outcomes until the ledger refuses one.
func TestMain(m *testing.M) {
	if dir := os.Getenv("LEDGER_FILE_LIMIT_DIR"); dir != "" {
		os.Exit(fillUntilRefused(dir))
	}
	os.Exit(m.Run())
}

func fillUntilRefused(dir string) int {
	l, err := Open(Options{Dir: dir, Capacity: 1_000_000})
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	defer l.Close()
	st, _ := os.Stat(l.Path())
	limit := uint64(st.Size()) + 64<<10
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		fmt.Println("getrlimit:", err)
		return 2
	}
	// Only the soft limit: lowering the hard one could not be undone.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: orig.Max}); err != nil {
		fmt.Println("setrlimit:", err)
		return 2
	}
	for i := range 100_000 {
		id := fmt.Sprintf("job-%06d-%s", i, strings.Repeat("x", 100))
		if _, err := l.Claim(id); err != nil {
			fmt.Println("claim:", err)
			return 2
		}
		_, err := l.Complete(Outcome{JobID: id, Type: "cache-read", OK: true})
		if err == nil {
			continue
		}
		if _, found, _ := l.Lookup(id); found {
			fmt.Println("a refused outcome was recorded")
			return 1
		}
		if r, _ := l.Claim(id); r != Claimed {
			fmt.Println("the refused job's claim was kept:", r)
			return 1
		}
		fmt.Printf("refused after %d outcomes: healthy=%v\n%v\n", i, l.Healthy(), err)
		// Room again (the disk was cleaned up): the retry is recorded and
		// the ledger is healthy again, with nothing lost on the way.
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
			fmt.Println("setrlimit:", err)
			return 2
		}
		if _, err := l.Complete(Outcome{JobID: id, Type: "cache-read", OK: true}); err != nil {
			fmt.Println("retry with room:", err)
			return 1
		}
		fmt.Printf("retry recorded: remembered=%d healthy=%v\n", l.Len(), l.Healthy())
		return 0
	}
	fmt.Println("never refused")
	return 1
}

// A real write error from the operating system (the file may not grow, as
// on a full disk) is an error for the Deliver, never an acknowledgement.
func TestFileThatCannotGrowIsAnErrorNeverAnAck(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "LEDGER_FILE_LIMIT_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"healthy=ledger", "write failed", "file too large", "retry recorded: remembered=", "healthy=<nil>"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	t.Log(strings.TrimSpace(got))
}
