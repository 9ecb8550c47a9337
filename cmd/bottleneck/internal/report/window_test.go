package report

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in         string
		start, end time.Time
	}{
		{"10m..5m", now.Add(-10 * time.Minute), now.Add(-5 * time.Minute)},
		{"5m..now", now.Add(-5 * time.Minute), now},
		{"90s..0", now.Add(-90 * time.Second), now},
		{"2025-03-01T11:00:00Z..2025-03-01T11:05:00Z", now.Add(-time.Hour), now.Add(-55 * time.Minute)},
		{"2025-03-01T12:30:00+01:00..10m", now.Add(-30 * time.Minute), now.Add(-10 * time.Minute)},
	}
	for _, tt := range tests {
		w, err := ParseWindow(tt.in, now)
		if err != nil {
			t.Errorf("ParseWindow(%q): %v", tt.in, err)
			continue
		}
		if !w.Start.Equal(tt.start) || !w.End.Equal(tt.end) || w.Label != tt.in {
			t.Errorf("ParseWindow(%q) = %v..%v %q, want %v..%v", tt.in, w.Start, w.End, w.Label, tt.start, tt.end)
		}
	}
}

func TestParseWindowErrors(t *testing.T) {
	now := time.Now()
	for in, want := range map[string]string{
		"10m":             "want FROM..TO",
		"5m..10m":         "start must be before end",
		"..5m":            "start: empty",
		"10m..yesterday":  "neither a duration ago",
		"-5m..0":          "can't be negative",
		"2025-13-01..now": "neither a duration ago",
	} {
		_, err := ParseWindow(in, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWindow(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestLastWindowLabel(t *testing.T) {
	now := time.Now()
	for d, want := range map[time.Duration]string{5 * time.Minute: "last 5m", 90 * time.Second: "last 1m30s", 2 * time.Hour: "last 2h"} {
		if got := LastWindow(d, now).Label; got != want {
			t.Errorf("LastWindow(%v).Label = %q, want %q", d, got, want)
		}
	}
}
