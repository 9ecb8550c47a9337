package output

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
)

// rowOverhead is a row's time beyond its warm-up and measurement:
// restarting the services, stopping them, reading the traces.
const rowOverhead = 4 * time.Second

// Progress is the line on a terminal that says what runs now, and a line
// per finished row. It implements runner.Observer.
type Progress struct {
	mu   sync.Mutex
	w    io.Writer
	rows []plan.Row
	now  func() time.Time
	// rowStart is when the current row began.
	rowStart time.Time
	cur      int
}

// NewProgress writes to w, which should be a terminal.
func NewProgress(w io.Writer, rows []plan.Row) *Progress {
	return &Progress{w: w, rows: rows, now: time.Now}
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// RowStarted implements runner.Observer.
func (p *Progress) RowStarted(i, _ int, _ plan.Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.rowStart = i, p.now()
}

// Phase implements runner.Observer.
func (p *Progress) Phase(i int, phase string, elapsed, total time.Duration, live string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := []string{fmt.Sprintf("[%d/%d] %s", i+1, len(p.rows), p.rows[i].Name), phase}
	if total > 0 {
		parts[1] = fmt.Sprintf("%s %s of %s", phase, elapsed.Round(time.Second), total)
	}
	if live != "" {
		parts = append(parts, live)
	}
	parts = append(parts, "about "+p.left(i).Round(time.Second).String()+" left")
	fmt.Fprintf(p.w, "\r\033[K%s", strings.Join(parts, " · "))
}

// left estimates the time until the last row ends.
func (p *Progress) left(i int) time.Duration {
	var d time.Duration
	for _, r := range p.rows[i:] {
		d += r.Warmup + r.Duration + rowOverhead
	}
	return max(d-p.now().Sub(p.rowStart), 0)
}

// RowDone implements runner.Observer.
func (p *Progress) RowDone(i int, r result.Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("[%d/%d] %s: delivered %s/s of %s/s offered, fast p99 %s, blocked %s",
		i+1, len(p.rows), r.Name, Rate(r.DeliveredPerS), Rate(r.OfferedPerS), Millis(r.Fast.P99MS), Percent(r.Blocked.Share))
	if r.Status != result.StatusMeasured {
		line = fmt.Sprintf("[%d/%d] %s: %s: %s", i+1, len(p.rows), r.Name, r.Status, r.Error)
	}
	fmt.Fprintf(p.w, "\r\033[K%s\n", line)
}

// Clear removes the progress line.
func (p *Progress) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}
