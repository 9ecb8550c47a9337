package report

import (
	"fmt"
	"strings"
	"time"
)

// LastWindow is the window from since ago until now.
func LastWindow(since time.Duration, now time.Time) Window {
	return newWindow(now.Add(-since), now, "last "+formatDuration(since))
}

// ParseWindow reads a window written "FROM..TO". Each side is either a
// duration ago ("10m", "90s", "1h30m"; "0" or "now" for now) or an RFC3339
// time ("2025-01-02T15:04:05Z"). "10m..5m" is from ten to five minutes ago.
func ParseWindow(s string, now time.Time) (Window, error) {
	from, to, ok := strings.Cut(s, "..")
	if !ok {
		return Window{}, fmt.Errorf("window %q: want FROM..TO, e.g. 10m..5m or 2025-01-02T15:04:05Z..2025-01-02T15:09:05Z", s)
	}
	start, err := parseInstant(from, now)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: start: %w", s, err)
	}
	end, err := parseInstant(to, now)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: end: %w", s, err)
	}
	if !start.Before(end) {
		return Window{}, fmt.Errorf("window %q: start must be before end (durations count back from now: 10m..5m)", s)
	}
	return newWindow(start, end, s), nil
}

func parseInstant(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return time.Time{}, fmt.Errorf("empty")
	case "0", "now":
		return now, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration ago can't be negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration ago (10m) nor an RFC3339 time", s)
	}
	return t, nil
}

func newWindow(start, end time.Time, label string) Window {
	return Window{Start: start.UTC(), End: end.UTC(), Label: label, Seconds: end.Sub(start).Seconds()}
}

// formatDuration prints 5m0s as 5m and 1h30m0s as 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
