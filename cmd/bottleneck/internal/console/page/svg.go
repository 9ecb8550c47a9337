package page

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/timeline"
)

// Timeline geometry, in SVG user units (the SVG scales to the page width).
const (
	svgWidth   = 1200
	labelWidth = 118
	plotLeft   = labelWidth + 8
	plotWidth  = svgWidth - plotLeft - 10
	rowHeight  = 16
	rowGap     = 5
	groupGap   = 22
	axisHeight = 22
	// minPx is the narrowest segment drawn on its own; narrower runs of
	// work on one row are drawn as one segment naming how many jobs it
	// holds, so a window of thousands of jobs stays a page of bounded size.
	minPx = 1.5
)

// SVGCache keeps each segment's markup between polls. The plot is an
// inner SVG whose viewBox is the time range in milliseconds since the
// cache's epoch, so a segment's markup does not change as time passes:
// each poll only joins the strings of the segments in range. Not safe for
// concurrent use.
type SVGCache struct {
	epoch   int64 // µs
	link    string
	segs    map[segKey]string
	collect map[segKey]string
}

type segKey struct {
	trace string
	kind  timeline.Kind
	start int64
	count int
}

func (c *SVGCache) reset(link string, epoch int64) {
	c.link, c.epoch = link, epoch
	c.segs = map[segKey]string{}
}

// timelineSVG draws the rows of tl as one inline SVG. settled is where
// complete traces end; after it, spans are still arriving.
func (c *SVGCache) timelineSVG(tl timeline.Timelines, settled time.Time, link func(traceID string) string) template.HTML {
	from, to := tl.From.UnixMicro(), tl.To.UnixMicro()
	span := float64(to - from)
	if span <= 0 {
		return ""
	}
	// A new epoch now and then keeps the coordinates small: browsers
	// draw SVG in single precision.
	if probe := link(""); c.segs == nil || probe != c.link || from-c.epoch > int64(6*time.Hour/time.Microsecond) {
		c.reset(probe, from-int64(time.Hour/time.Microsecond))
	}
	c.collect = make(map[segKey]string, len(c.segs))
	x := func(us int64) float64 { return plotLeft + plotWidth*float64(us-from)/span }
	pxMS := span / 1e3 / plotWidth // milliseconds per user unit of the outer SVG

	groups := []struct {
		name, title string
		rows        []timeline.Row
	}{
		{"worker", "Workers", tl.Workers},
		{"forwarder", "Forwarders (deliver to the consumer)", tl.Forwarders},
		{"consumer", "Consumer slots", tl.Consumer},
	}
	height := axisHeight
	for _, g := range groups {
		height += groupGap + len(g.rows)*(rowHeight+rowGap)
	}

	var b strings.Builder
	b.Grow(256 << 10)
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %d %d" role="img" aria-labelledby="tl-title tl-desc" xmlns="http://www.w3.org/2000/svg">`, svgWidth, height)
	b.WriteString(`<title id="tl-title">Worker timelines</title>`)
	fmt.Fprintf(&b, `<desc id="tl-desc">One row per worker, forwarder and consumer slot over the last %s: work coloured by job type, time blocked handing off a result in red, idle time empty.</desc>`,
		fmtDur(tl.To.Sub(tl.From)))
	b.WriteString(`<defs><pattern id="arriving" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" class="arriving-stripe"/></pattern></defs>`)

	// Axis: a tick every 10 s, labelled as seconds before now.
	step := 10 * time.Second
	if tl.To.Sub(tl.From) <= 30*time.Second {
		step = 5 * time.Second
	}
	for t := tl.To; !t.Before(tl.From); t = t.Add(-step) {
		xx := x(t.UnixMicro())
		label := "now"
		if d := tl.To.Sub(t); d > 0 {
			label = "−" + fmtDur(d)
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, xx, xx, axisHeight-4, height)
		anchor := "middle"
		if t.Equal(tl.To) {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>`, xx, axisHeight-8, anchor, label)
	}

	// Labels and lanes in the outer SVG; segments in the inner one, in
	// milliseconds since the epoch.
	y := axisHeight
	type placed struct {
		group string
		row   timeline.Row
		y     int
	}
	var rows []placed
	for _, g := range groups {
		if len(g.rows) == 0 {
			continue
		}
		y += groupGap
		fmt.Fprintf(&b, `<text class="group" x="0" y="%d">%s</text>`, y-6, html.EscapeString(g.title))
		for _, r := range g.rows {
			fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, labelWidth, y+rowHeight-4, html.EscapeString(r.Label))
			fmt.Fprintf(&b, `<rect class="lane" x="%d" y="%d" width="%d" height="%d"/>`, plotLeft, y, plotWidth, rowHeight)
			rows = append(rows, placed{g.name, r, y})
			y += rowHeight + rowGap
		}
	}
	fmt.Fprintf(&b, `<svg class="plot" x="%d" y="0" width="%d" height="%d" viewBox="%d 0 %d %d" preserveAspectRatio="none">`,
		plotLeft, plotWidth, height, (from-c.epoch)/1000, (to-from)/1000, height)
	for _, p := range rows {
		fmt.Fprintf(&b, `<g class="row" data-group="%s" data-label="%s" transform="translate(0 %d)">`, p.group, html.EscapeString(p.row.Label), p.y)
		c.drawRow(&b, p.row.Segments, pxMS, link)
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)

	// Spans still arriving: after the settled mark the rows are not
	// complete yet; say so instead of showing idle workers.
	if !settled.IsZero() && settled.Before(tl.To) {
		sx := x(max(from, settled.UnixMicro()))
		fmt.Fprintf(&b, `<rect class="arriving" x="%.1f" y="%d" width="%.1f" height="%d"><title>Spans still arriving: services export them in batches about once a second, and a job's trace is read once its result was handed off or handled.</title></rect>`,
			sx, axisHeight, plotLeft+plotWidth-sx, height-axisHeight)
	}
	b.WriteString(`</svg>`)
	c.segs, c.collect = c.collect, nil
	return template.HTML(b.String())
}

// drawRow draws one row's segments, collapsing runs too narrow to see.
func (c *SVGCache) drawRow(b *strings.Builder, segs []timeline.Segment, pxMS float64, link func(string) string) {
	var run []timeline.Segment // pending narrow work segments
	minMS := minPx * pxMS
	flush := func() {
		if len(run) == 0 {
			return
		}
		if len(run) == 1 {
			c.segment(b, run[0], 0, pxMS, link)
		} else {
			c.segment(b, collapse(run), len(run), pxMS, link)
		}
		run = run[:0]
	}
	for _, s := range segs {
		narrow := s.DurationMS() < minMS && s.Kind != timeline.Blocked
		if narrow && len(run) > 0 && float64(s.Start-run[len(run)-1].End)/1e3 > minMS {
			flush()
		}
		if narrow {
			run = append(run, s)
			continue
		}
		flush()
		c.segment(b, s, 0, pxMS, link)
	}
	flush()
}

// collapse makes one segment of a run: its extent, the longest member's
// trace, and a job type when they all share one.
func collapse(run []timeline.Segment) timeline.Segment {
	c := run[0]
	longest := run[0]
	for _, s := range run[1:] {
		c.End = max(c.End, s.End)
		if s.JobType != c.JobType {
			c.JobType = "mixed"
		}
		if s.End-s.Start > longest.End-longest.Start {
			longest = s
		}
	}
	c.TraceID, c.JobID = longest.TraceID, longest.JobID
	return c
}

// segment writes one segment's markup, from the cache when it was drawn
// before.
func (c *SVGCache) segment(b *strings.Builder, s timeline.Segment, count int, pxMS float64, link func(string) string) {
	k := segKey{s.TraceID, s.Kind, s.Start, count}
	if count > 0 {
		k.start = s.Start ^ s.End<<1 // a run is known by its extent
	}
	if m, ok := c.segs[k]; ok {
		c.collect[k] = m
		b.WriteString(m)
		return
	}
	x0 := float64(s.Start-c.epoch) / 1e3
	w := max(float64(s.End-s.Start)/1e3, pxMS)
	class := "seg k-" + string(s.Kind)
	if s.Kind != timeline.Blocked {
		class += " t-" + typeClass(s.JobType)
	}
	if s.Failed {
		class += " failed"
	}
	var title string
	switch {
	case count > 1:
		title = fmt.Sprintf("%d short jobs (%s), e.g. %s", count, s.JobType, s.JobID)
	case s.Kind == timeline.Blocked:
		title = fmt.Sprintf("BLOCKED %s handing off the result of %s %s", fmtMS(s.DurationMS()), s.JobType, s.JobID)
	case s.Kind == timeline.Deliver:
		title = fmt.Sprintf("delivering %s %s: %s (round trip, consumer wait and handling)", s.JobType, s.JobID, fmtMS(s.DurationMS()))
	case s.Kind == timeline.Handle:
		title = fmt.Sprintf("handling %s %s: %s", s.JobType, s.JobID, fmtMS(s.DurationMS()))
	default:
		title = fmt.Sprintf("%s %s: %s of work", s.JobType, s.JobID, fmtMS(s.DurationMS()))
	}
	if s.Failed {
		title += " (failed)"
	}
	m := fmt.Sprintf(`<a href="%s"><rect class="%s" x="%.1f" y="1" width="%.1f" height="%d" data-kind="%s" data-start="%d"><title>%s</title></rect></a>`,
		html.EscapeString(link(s.TraceID)), class, x0, w, rowHeight-2, s.Kind, s.Start/1000, html.EscapeString(title))
	c.collect[k] = m
	b.WriteString(m)
}

func typeClass(t string) string {
	switch t {
	case "cache-read":
		return "cache"
	case "database":
		return "db"
	case "vendor-api":
		return "vendor"
	}
	return "other"
}

func fmtDur(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return d.Round(100 * time.Millisecond).String()
}

// fmtMS formats milliseconds for people: 0.4 ms, 12 ms, 1.84 s.
func fmtMS(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f s", ms/1000)
}
