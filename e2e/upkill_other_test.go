//go:build !linux

package e2e

import "testing"

// upKilledDrainsAndFlushes needs Linux: the parent-death signal that stops
// up's services, and a child subreaper to see how they exit.
func upKilledDrainsAndFlushes(t *testing.T, _, _ string) {
	t.Skip("Linux only")
}
