package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"time"
)

// process is one child: how to run it, how to tell it is healthy, and its
// current incarnation (Restart replaces it).
type process struct {
	name   string
	path   string
	args   []string
	env    []string
	health string // URL answering 200 when ready
	dir    string
	out    *logOutput
	prefix string
	tail   *tail

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current incarnation exited
	exitErr  error
	stopping bool // an exit now is expected
}

// start launches a new incarnation. onExit runs once it exits by itself
// (not through terminate).
func (p *process) start(onExit func(p *process, err error)) error {
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Dir = p.dir
	cmd.SysProcAttr = sysProcAttr()
	stdout := &lineWriter{out: p.out, prefix: p.prefix, tail: p.tail}
	stderr := &lineWriter{out: p.out, prefix: p.prefix, tail: p.tail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A grandchild holding the output pipes open must not keep Wait from
	// returning after the child itself exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s (%s): %w", p.name, p.path, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.exitErr, p.stopping = cmd, done, nil, false
	p.mu.Unlock()

	go func() {
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		// The leader is gone; anything it left in its group goes with it.
		killGroup(cmd.Process.Pid, true)
		p.mu.Lock()
		expected := p.stopping && p.cmd == cmd
		p.exitErr = err
		close(done)
		p.mu.Unlock()
		if !expected && onExit != nil {
			onExit(p, err)
		}
	}()
	return nil
}

// terminate asks the current incarnation to stop (SIGTERM to its process
// group), waits up to timeout, then kills the group. It reports a kill or a
// non-zero exit.
func (p *process) terminate(timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.stopping = true
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		// It exited by itself earlier; onExit has reported that already.
		return nil
	default:
	}
	killGroup(cmd.Process.Pid, false)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return p.exitError()
	case <-timer.C:
		killGroup(cmd.Process.Pid, true)
		<-done
		return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.name, timeout)
	}
}

// kill ends the current incarnation at once (SIGKILL to its group), as a
// crash would, and waits for it to be gone. The exit is expected: it does
// not stop the stack.
func (p *process) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.stopping = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	killGroup(cmd.Process.Pid, true)
	<-done
}

func (p *process) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitErr != nil {
		return fmt.Errorf("%s: %w", p.name, p.exitErr)
	}
	return nil
}

// exited is closed when the current incarnation has exited.
func (p *process) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// waitHealthy polls the health URL until it answers 200, the process exits,
// or the deadline passes; errors quote the process's last lines.
func (p *process) waitHealthy(ctx context.Context, timeout time.Duration) error {
	if p.health == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	exited := p.exited()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = probe(ctx, client, p.health)
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was healthy (%v); last lines:\n%s", p.name, p.exitError(), p.tail)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not healthy within %s at %s (%v); last lines:\n%s", p.name, timeout, p.health, last, p.tail)
			}
			return fmt.Errorf("%s: waiting for health: %w", p.name, ctx.Err())
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
