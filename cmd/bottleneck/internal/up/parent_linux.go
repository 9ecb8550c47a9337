//go:build linux

package up

import (
	"os"
	"syscall"
)

// stopWithParent asks the kernel to send this process SIGTERM when its
// parent dies. `go run` does not pass SIGTERM on to the program it runs (an
// IDE's stop button, `kill <pid of go run>`): without this, up and the whole
// stack would keep running. SIGTERM then stops the stack as Ctrl-C does.
func stopWithParent() {
	parent := os.Getppid()
	// Errors leave the old behaviour: nothing else depends on it.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	// The parent may have died before prctl: then nobody would signal us.
	if os.Getppid() != parent {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
