//go:build !unix

package stack

import (
	"os"
	"syscall"
)

// Process groups and SIGTERM are Unix notions; elsewhere a stop is a kill.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int, _ bool) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
