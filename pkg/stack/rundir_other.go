//go:build !unix

package stack

import (
	"errors"
	"os"
)

// Without flock a run directory's owner cannot be told alive or dead: no
// owner file is made and nothing is swept. A run killed there leaves its
// directory behind.
func lockOwner(string, string) (*os.File, error) { return nil, nil }

func ownerGone(string) (bool, error) { return false, errors.ErrUnsupported }
