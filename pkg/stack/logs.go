package stack

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// maxLine bounds one log line in memory; longer output is passed on in pieces.
const maxLine = 64 << 10

// tailLines is how many recent lines of a process an error message quotes.
const tailLines = 15

// logOutput serialises whole lines from every process onto one writer, so
// lines never interleave mid-way.
type logOutput struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *logOutput) writeLine(prefix string, line []byte) {
	if o == nil || o.w == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	// A failing log writer must not stop the process whose output it carries.
	_, _ = fmt.Fprintf(o.w, "%s%s\n", prefix, line)
}

// ansiColors are picked per process in start order; 0 means plain.
var ansiColors = []int{36, 33, 32, 35, 34, 31}

// prefixFor pads name to width so the pipes line up: "workers     | ".
func prefixFor(name string, width int, color int) string {
	p := fmt.Sprintf("%-*s | ", width, name)
	if color == 0 {
		return p
	}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", color, p)
}

// tail remembers a process's last lines for error messages ("workers exited:
// ... last lines: ..."), shared by its stdout and stderr.
type tail struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

func newTail(n int) *tail { return &tail{lines: make([]string, n)} }

func (t *tail) add(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines[t.next] = string(line)
	t.next = (t.next + 1) % len(t.lines)
	if t.next == 0 {
		t.full = true
	}
}

// String is the remembered lines, oldest first, each indented.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ordered []string
	if t.full {
		ordered = append(ordered, t.lines[t.next:]...)
	}
	ordered = append(ordered, t.lines[:t.next]...)
	if len(ordered) == 0 {
		return "  (no output)"
	}
	return "  " + strings.Join(ordered, "\n  ")
}

// lineWriter is an io.Writer for one output stream of one process. exec
// copies the stream from a single goroutine, so it needs no lock of its own.
type lineWriter struct {
	out    *logOutput
	prefix string
	tail   *tail
	buf    []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lw.buf = append(lw.buf, p...)
			if len(lw.buf) >= maxLine {
				lw.emit(lw.buf)
				lw.buf = lw.buf[:0]
			}
			break
		}
		if len(lw.buf) > 0 {
			lw.buf = append(lw.buf, p[:i]...)
			lw.emit(lw.buf)
			lw.buf = lw.buf[:0]
		} else {
			lw.emit(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a last line that had no newline; call after the stream ended.
func (lw *lineWriter) flush() {
	if len(lw.buf) > 0 {
		lw.emit(lw.buf)
		lw.buf = lw.buf[:0]
	}
}

func (lw *lineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	lw.tail.add(line)
	lw.out.writeLine(lw.prefix, line)
}
