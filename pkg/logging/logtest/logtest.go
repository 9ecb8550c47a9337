// Package logtest helps tests read what a service logged.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer collects log output from any number of goroutines; String may be
// called while they still write.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
