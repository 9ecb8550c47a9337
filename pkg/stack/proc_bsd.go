//go:build unix && !linux

package stack

import "syscall"

// sysProcAttr puts the child in its own process group. There is no
// parent-death signal outside Linux: a parent killed with -9 leaves its
// children running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
