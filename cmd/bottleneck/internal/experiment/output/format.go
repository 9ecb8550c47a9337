// Package output shows a run: the terminal table (with a progress line on
// stderr while rows run), the JSON of --json and the self-contained HTML
// page of --html.
package output

import (
	"fmt"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

// na is how a number that was not measured shows.
const na = "n/a"

// Rate formats jobs per second: "996.3", "19.8", "0.0".
func Rate(v *float64) string {
	if v == nil {
		return na
	}
	return fmt.Sprintf("%.1f", *v)
}

// Millis formats a latency: "0.8 ms", "41 ms", "1.84 s".
func Millis(v *float64) string {
	if v == nil {
		return na
	}
	return millis(*v)
}

func millis(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2f s", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.1f ms", ms)
	}
}

// Percent formats a share (0..1) as "93%".
func Percent(share *float64) string {
	if share == nil {
		return na
	}
	p := *share * 100
	if p > 0 && p < 1 {
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", p)
}

// Bottleneck is the verdict in a few words: "consumer (capacity)".
func Bottleneck(b result.Bottleneck) string {
	switch {
	case !b.Available:
		return na
	case b.Stage == "" || b.Stage == "none":
		return "none"
	case b.Kind == "" || b.Kind == "none":
		return b.Stage
	}
	return b.Stage + " (" + b.Kind + ")"
}

// Status is "" for a measured row, else "failed" or "skipped".
func status(r result.Row) string {
	if r.Status == result.StatusMeasured {
		return ""
	}
	return r.Status
}

// Settings lists a row's settings briefly: a setting that every service
// reading it got the same way shows without its service ("WORKERS=8",
// "LOG_LEVEL=warn"); one given to some of its readers keeps it
// ("workers:LOG_LEVEL=debug").
func Settings(r result.Row) string {
	if len(r.Settings) == 0 {
		return "the defaults"
	}
	services := map[string][]string{} // NAME=VALUE → services
	var order []string
	for _, s := range r.Settings {
		svc, kv, _ := strings.Cut(s, ":")
		if _, seen := services[kv]; !seen {
			order = append(order, kv)
		}
		services[kv] = append(services[kv], svc)
	}
	var out []string
	for _, kv := range order {
		name, _, _ := strings.Cut(kv, "=")
		if len(services[kv]) >= len(settings.Readers(name)) {
			out = append(out, kv)
			continue
		}
		for _, svc := range services[kv] {
			out = append(out, svc+":"+kv)
		}
	}
	return strings.Join(out, " ")
}
