//go:build linux

package stack

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// send it SIGTERM if the parent dies without stopping it (kill -9, crash), so
// no orphan keeps its ports. Pdeathsig fires when the spawning OS thread
// exits; Go only retires threads of goroutines that exit while locked to
// them, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
