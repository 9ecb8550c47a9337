package output

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/result"
)

//go:embed page.html.tmpl
var pageTemplate string

var page = template.Must(template.New("page").Parse(pageTemplate))

// Chart geometry, in SVG user units.
const (
	chartLabelW = 190.0
	chartBarW   = 470.0
	chartValueW = 120.0
	chartRowH   = 26.0
	chartTop    = 8.0
)

// bar is one row of a horizontal bar chart.
type bar struct {
	Label    string
	Value    string
	Y        float64
	Width    float64 // the value's bar
	Behind   float64 // a lighter bar behind it (offered load), 0 for none
	Missing  bool
	Limited  bool
	TextX    float64
	TextY    float64
	Tooltip  string
	Relation string
}

type chart struct {
	ID, Title, Caption string
	Width, Height      float64
	LabelW, BarX       float64
	Bars               []bar
	Ticks              []tick
	AxisY              float64
}

type tick struct {
	X     float64
	Label string
}

type pageData struct {
	Run        *result.Run
	When       string
	Wall       string
	Where      string
	Charts     []chart
	Main       *table
	Marks      []string // footnotes of the main table's marks
	Dashboards *table
	Links      []linkRow
	Saved      bool // some traces were saved to files (--traces)
	Notes      []string
	Legend     *table
	Machine    string
}

type linkRow struct {
	Row, Type, EndToEnd, URL, File string
}

// WriteHTML writes the run as one self-contained page: inline CSS and SVG,
// no script, nothing fetched from the network.
func WriteHTML(w io.Writer, run *result.Run) error {
	d := pageData{
		Run:   run,
		When:  run.StartedAt.UTC().Format("2006-01-02 15:04 UTC"),
		Wall:  time.Duration(run.WallSeconds * float64(time.Second)).Round(time.Second).String(),
		Where: "the experiment's own stack (pkg/stack, native processes on loopback)",
		Notes: Notes(run),
	}
	if run.Stack.Mode == result.ModeTarget {
		d.Where = "a running stack, through its admin APIs"
	}
	d.Machine = fmt.Sprintf("%d CPUs, %s/%s", run.Machine.CPUs, run.Machine.OS, run.Machine.Arch)
	if la := run.Machine.LoadAverage; la != nil {
		d.Machine += fmt.Sprintf(", load average %.2f before the run", *la)
	}
	d.Charts = []chart{deliveredChart(run), p99Chart(run)}

	d.Main, d.Marks = resultsTable(run)
	d.Dashboards = dashboardTable(run)
	for _, r := range run.Rows {
		if wst := r.Fast.Worst; wst != nil {
			d.Links = append(d.Links, linkRow{Row: r.Name, Type: wst.Type, EndToEnd: millis(wst.EndToEndMS), URL: wst.URL, File: wst.File})
			d.Saved = d.Saved || wst.File != ""
		}
	}
	d.Legend = &table{header: []string{"row", "load", "settings", "what it is"}, right: make([]bool, 4)}
	for _, r := range run.Rows {
		d.Legend.add(r.Name, r.Workload.Text, Settings(r), strings.TrimSpace(r.Description))
	}
	return page.Execute(w, d)
}

func newChart(id, title, caption string, n int) chart {
	h := chartTop + float64(n)*chartRowH + 26
	return chart{ID: id, Title: title, Caption: caption, Width: chartLabelW + chartBarW + chartValueW, Height: h,
		LabelW: chartLabelW - 10, BarX: chartLabelW, AxisY: chartTop + float64(n)*chartRowH + 4}
}

func deliveredChart(run *result.Run) chart {
	c := newChart("delivered", "Delivered jobs/s", "Each bar is a row's delivered jobs/s; the light bar behind it is the load offered.", len(run.Rows))
	top := 0.0
	for _, r := range run.Rows {
		top = math.Max(top, math.Max(val(r.DeliveredPerS), val(r.OfferedPerS)))
	}
	scale := niceMax(top)
	c.Ticks = ticks(scale, func(v float64) string { return fmt.Sprintf("%g", v) })
	for i, r := range run.Rows {
		b := c.newBar(i, r.Name)
		if r.Status == result.StatusMeasured && r.DeliveredPerS != nil {
			b.Width = chartBarW * *r.DeliveredPerS / scale
			b.Behind = chartBarW * val(r.OfferedPerS) / scale
			b.Value = Rate(r.DeliveredPerS) + "/s"
			b.Tooltip = fmt.Sprintf("%s: %s jobs/s delivered of %s offered", r.Name, Rate(r.DeliveredPerS), Rate(r.OfferedPerS))
			b.Limited = r.Harness.Limited
		} else {
			b.Missing, b.Value = true, naOr(r)
		}
		b.TextX = chartLabelW + math.Max(b.Width, b.Behind) + 6
		c.Bars = append(c.Bars, b)
	}
	return c
}

func p99Chart(run *result.Run) chart {
	c := newChart("fast-p99", "Fast jobs' p99, end to end", "Cache-read and database jobs, from submission to the consumer: the 99th percentile.", len(run.Rows))
	top := 0.0
	for _, r := range run.Rows {
		top = math.Max(top, val(r.Fast.P99MS))
	}
	scale := niceMax(top)
	c.Ticks = ticks(scale, func(v float64) string {
		if v == 0 {
			return "0"
		}
		return millis(v)
	})
	for i, r := range run.Rows {
		b := c.newBar(i, r.Name)
		if r.Status == result.StatusMeasured && r.Fast.P99MS != nil {
			b.Width = chartBarW * *r.Fast.P99MS / scale
			b.Value = Millis(r.Fast.P99MS)
			b.Tooltip = fmt.Sprintf("%s: fast jobs' p99 %s (p50 %s, %d samples)", r.Name, Millis(r.Fast.P99MS), Millis(r.Fast.P50MS), r.Fast.Samples)
			b.Limited = r.Harness.Limited
		} else {
			b.Missing, b.Value = true, naOr(r)
		}
		b.TextX = chartLabelW + b.Width + 6
		c.Bars = append(c.Bars, b)
	}
	return c
}

func (c chart) newBar(i int, label string) bar {
	y := chartTop + float64(i)*chartRowH
	return bar{Label: label, Y: y + 4, TextY: y + chartRowH/2 + 4}
}

func naOr(r result.Row) string {
	if r.Status != result.StatusMeasured {
		return r.Status
	}
	return na
}

func val(v *float64) float64 {
	if v == nil || math.IsNaN(*v) {
		return 0
	}
	return *v
}

// niceMax rounds v up to a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6
// or 8 times a power of ten), so the axis has round ticks and the longest
// bar fills most of the chart.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

func ticks(scale float64, label func(float64) string) []tick {
	var out []tick
	for i := 0; i <= 4; i++ {
		v := scale * float64(i) / 4
		out = append(out, tick{X: chartLabelW + chartBarW*float64(i)/4, Label: label(v)})
	}
	return out
}
