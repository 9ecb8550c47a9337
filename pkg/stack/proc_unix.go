//go:build unix

package stack

import "syscall"

// killGroup signals the child's whole process group: SIGTERM, or SIGKILL when
// hard. Each child leads its own group (Setpgid), so Ctrl-C in a terminal
// reaches only the parent, which then stops the children in order.
func killGroup(pid int, hard bool) {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	// ESRCH (already gone) is the expected outcome after an exit.
	_ = syscall.Kill(-pid, sig)
}
