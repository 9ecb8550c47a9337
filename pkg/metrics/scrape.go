package metrics

import (
	"fmt"
	"io"
	"maps"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape of a /metrics page, by series name.
type Families map[string]*dto.MetricFamily

// Parse reads Prometheus' text exposition format, as a scraper would; a
// page that does not parse is an error.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	f, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return Families(f), nil
}

// Names returns the series names, sorted.
func (f Families) Names() []string { return slices.Sorted(maps.Keys(f)) }

// Value returns the value of the first sample of name whose labels include
// every label of match (name=value pairs); gauges, counters and untyped
// series have one, a summary or histogram gives its sample sum. ok is false
// when no such sample exists.
func (f Families) Value(name string, match ...string) (v float64, ok bool) {
	fam, found := f[name]
	if !found {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, match) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		case m.Summary != nil:
			return m.GetSummary().GetSampleSum(), true
		case m.Histogram != nil:
			return m.GetHistogram().GetSampleSum(), true
		}
	}
	return 0, false
}

// Sum adds the values of every sample of name whose labels include match.
func (f Families) Sum(name string, match ...string) float64 {
	fam, found := f[name]
	if !found {
		return 0
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, match) {
			continue
		}
		switch {
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, match []string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == match[i] && l.GetValue() == match[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
