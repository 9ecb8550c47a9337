package stack

import (
	"context"
	"errors"
	"fmt"
)

// StopProcess stops one process and leaves it stopped, while the others
// run on: gracefully (SIGTERM, then SIGKILL after the stop timeout), or at
// once with SIGKILL when kill is set — a crash, for the tests that check
// nothing is lost when a service dies mid-work. StartProcess brings it back
// on the same ports and data directory.
func (s *Stack) StopProcess(name string, kill bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("stop " + name + ": the stack is stopping")
	}
	p, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("stop %s: no such process in this stack", name)
	}
	if kill {
		p.kill()
		return nil
	}
	if err := p.terminate(s.cfg.StopTimeout); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

// StartProcess starts a process that StopProcess stopped and waits for its
// health.
func (s *Stack) StartProcess(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("start " + name + ": the stack is stopping")
	}
	p, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("start %s: no such process in this stack", name)
	}
	select {
	case <-p.exited():
	default:
		return fmt.Errorf("start %s: it is still running", name)
	}
	if err := p.start(s.onUnexpectedExit); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return p.waitHealthy(ctx, s.cfg.StartTimeout)
}

// Pid is the process ID of a running process, or 0.
func (s *Stack) Pid(name string) int {
	p, ok := s.procs[name]
	if !ok {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return 0
	default:
	}
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
