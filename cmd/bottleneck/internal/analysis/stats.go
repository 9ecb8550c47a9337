package analysis

import (
	"math"
	"slices"
	"strconv"
)

// Percentile is the nearest-rank q-quantile (0 < q ≤ 1) of sorted values;
// 0 for none. The report, the experiment and the console all use it, so
// their percentiles of the same values agree.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// median sorts a copy of v.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return Percentile(s, 0.5)
}

// Latency summarizes durations in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	AvgMS float64 `json:"avg_ms"`
	P50MS float64 `json:"p50_ms"`
	P90MS float64 `json:"p90_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

// summarize sorts v in place.
func summarize(v []float64) Latency {
	if len(v) == 0 {
		return Latency{}
	}
	slices.Sort(v)
	return Latency{
		Count: len(v), AvgMS: mean(v),
		P50MS: Percentile(v, 0.5), P90MS: Percentile(v, 0.9), P99MS: Percentile(v, 0.99), MaxMS: v[len(v)-1],
	}
}

// FormatMS prints milliseconds at a precision that fits their size: 0.42ms,
// 12.5ms, 340ms, 1.25s.
func FormatMS(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}

// FormatRate prints a rate per second with three significant digits at
// most: 0.52, 19.8, 100, 1250.
func FormatRate(r float64) string {
	switch {
	case r >= 99.95:
		return strconv.FormatFloat(r, 'f', 0, 64)
	case r >= 9.995:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

// FormatShare prints a fraction as a whole percentage.
func FormatShare(s float64) string { return strconv.FormatFloat(s*100, 'f', 0, 64) + "%" }

// FormatSeconds prints seconds: 0.05 s, 4.9 s, 13 s.
func FormatSeconds(s float64) string {
	switch {
	case s >= 10:
		return strconv.FormatFloat(s, 'f', 0, 64) + " s"
	case s >= 1:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + " s"
}

// FormatRatio prints a ratio: 2.5x, 79x.
func FormatRatio(r float64) string {
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "x"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "x"
}

// Plural prints a count with its noun: "1 worker", "4 workers".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
