//go:build !linux

package up

// stopWithParent has no portable equivalent of Linux's parent-death signal.
func stopWithParent() {}
