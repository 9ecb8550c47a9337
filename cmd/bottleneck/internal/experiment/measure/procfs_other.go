//go:build !linux

package measure

import (
	"errors"
	"time"
)

var errNoProc = errors.New("process CPU and memory are read from /proc, which only Linux has")

// ReadProc is Linux-only; elsewhere CPU and memory are not measured.
func ReadProc(int) (ProcSample, error) { return ProcSample{}, errNoProc }

// ReadMachine is Linux-only.
func ReadMachine() (*MachineSample, error) { return nil, errNoProc }

// ReadSelf is Linux-only.
func ReadSelf() (*time.Duration, error) { return nil, errNoProc }

// LoadAverage is Linux-only.
func LoadAverage() (*float64, error) { return nil, errNoProc }
