// Package traceview draws one trace as a waterfall, for users whose Jaeger
// has no UI (the build from the Go module serves a placeholder): spans
// grouped by service, in tree order within each, the waits marked and
// summed, attributes a click away, links followed.
package traceview

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// View is the template's data.
type View struct {
	TraceID  string
	Title    string
	Start    string
	Total    string
	Services []Group
	Waits    []Wait
	WorkMS   float64
	Work     string
	JaegerUI string // link to the same trace in Jaeger's real UI, if any
	Spans    int
	Axis     []Tick
}

// Group is one service's spans.
type Group struct {
	Name  string
	Class string
	Rows  []Row
}

// Row is one span.
type Row struct {
	ID, Name, Kind string
	Depth          int
	Left, Width    float64 // % of the trace
	Duration       string
	Offset         string // start, from the trace's start
	Wait           string // what it waited for; "" when it is no wait
	Error          bool
	Attrs          []Attr
	Links          []Link
	Parent         string
	ParentName     string
}

// Attr is one attribute.
type Attr struct{ Key, Value string }

// Link points at another span: the parent in another service, or an
// attempt before (a FOLLOWS_FROM link).
type Link struct {
	Label, Href string
}

// Wait sums one kind of waiting in the trace.
type Wait struct {
	Name, What string
	MS         float64
	Duration   string
}

// Tick is an axis label.
type Tick struct {
	Left  float64
	Label string
}

// serviceOrder puts the services in the order a job meets them.
var serviceOrder = []string{"producer", "workers", "vendor-mock", "consumer"}

// waitOf says whether a span is time spent waiting, and for what.
func waitOf(s *jaegerapi.Span) string {
	switch s.OperationName {
	case spans.QueueWait:
		return "in the job queue, for a worker"
	case spans.ResultSend:
		if s.TagBool(spans.ChannelBlocked) {
			return "blocked: the results channel was full"
		}
	case spans.ResultsChannelWait:
		return "in the results channel, for a forwarder"
	case spans.ResultWait:
		return "for a consumer slot"
	}
	return ""
}

// Build lays out t. linkTo makes the URL of another trace.
func Build(t *jaegerapi.Trace, linkTo func(traceID string) string) View {
	v := View{TraceID: t.TraceID, Spans: len(t.Spans)}
	if len(t.Spans) == 0 {
		return v
	}
	byID := map[string]*jaegerapi.Span{}
	children := map[string][]*jaegerapi.Span{}
	var start, end int64 = t.Spans[0].StartTime, t.Spans[0].End()
	for i := range t.Spans {
		s := &t.Spans[i]
		byID[s.SpanID] = s
		start, end = min(start, s.StartTime), max(end, s.End())
	}
	var roots []*jaegerapi.Span
	for i := range t.Spans {
		s := &t.Spans[i]
		if p := s.ParentID(); p != "" && byID[p] != nil && p != s.SpanID {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, b *jaegerapi.Span) int {
		return cmp.Or(cmp.Compare(a.StartTime, b.StartTime), cmp.Compare(a.SpanID, b.SpanID))
	}
	slices.SortFunc(roots, byStart)
	for _, c := range children {
		slices.SortFunc(c, byStart)
	}
	total := max(end-start, 1)
	v.Total = fmtMS(float64(end-start) / 1e3)
	v.Start = time.UnixMicro(start).Format("15:04:05.000")

	groups := map[string]*Group{}
	waits := map[string]*Wait{}
	seen := map[string]bool{}
	var walk func(s *jaegerapi.Span, depth int)
	walk = func(s *jaegerapi.Span, depth int) {
		if seen[s.SpanID] { // a malformed trace with a cycle
			return
		}
		seen[s.SpanID] = true
		svc := t.Service(s)
		g, ok := groups[svc]
		if !ok {
			g = &Group{Name: svc, Class: serviceClass(svc)}
			groups[svc] = g
		}
		r := Row{
			ID: s.SpanID, Name: s.OperationName, Depth: depth, Kind: s.TagString("span.kind"),
			Left:     100 * float64(s.StartTime-start) / float64(total),
			Width:    100 * float64(s.Duration) / float64(total),
			Duration: fmtMS(s.DurationMS()), Offset: "+" + fmtMS(float64(s.StartTime-start)/1e3),
			Wait: waitOf(s), Error: s.TagBool("error"),
		}
		if p := byID[s.ParentID()]; p != nil {
			r.Parent, r.ParentName = p.SpanID, p.OperationName
			if ps := t.Service(p); ps != svc {
				r.Links = append(r.Links, Link{Label: "called by " + ps + " " + p.OperationName, Href: "#span-" + p.SpanID})
			}
		}
		for _, ref := range s.References {
			if ref.RefType != jaegerapi.FollowsFrom || ref.SpanID == s.ParentID() {
				continue
			}
			if ref.TraceID == "" || ref.TraceID == t.TraceID {
				label := "link to span " + ref.SpanID
				if o := byID[ref.SpanID]; o != nil {
					label = "link to " + o.OperationName + " (" + t.Service(o) + ")"
				}
				r.Links = append(r.Links, Link{Label: label, Href: "#span-" + ref.SpanID})
			} else {
				r.Links = append(r.Links, Link{Label: "link to trace " + ref.TraceID, Href: linkTo(ref.TraceID)})
			}
		}
		for _, kv := range s.Tags {
			r.Attrs = append(r.Attrs, Attr{kv.Key, kv.String()})
		}
		slices.SortFunc(r.Attrs, func(a, b Attr) int { return strings.Compare(a.Key, b.Key) })
		if r.Wait != "" {
			w, ok := waits[s.OperationName]
			if !ok {
				w = &Wait{Name: s.OperationName, What: r.Wait}
				waits[s.OperationName] = w
			}
			w.MS += s.DurationMS()
		}
		if s.OperationName == spans.WorkerProcess {
			v.WorkMS += s.DurationMS()
		}
		if depth == 0 && v.Title == "" {
			v.Title = s.OperationName
			if id := s.TagString(spans.JobID); id != "" {
				v.Title += " · " + id
			}
		}
		g.Rows = append(g.Rows, r)
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}

	for _, name := range serviceOrder {
		if g, ok := groups[name]; ok {
			v.Services = append(v.Services, *g)
			delete(groups, name)
		}
	}
	rest := make([]string, 0, len(groups))
	for name := range groups {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	for _, name := range rest {
		v.Services = append(v.Services, *groups[name])
	}
	for _, op := range []string{spans.QueueWait, spans.ResultSend, spans.ResultsChannelWait, spans.ResultWait} {
		if w, ok := waits[op]; ok {
			w.Duration = fmtMS(w.MS)
			v.Waits = append(v.Waits, *w)
		}
	}
	if v.WorkMS > 0 {
		v.Work = fmtMS(v.WorkMS)
	}
	for i := 0; i <= 4; i++ {
		v.Axis = append(v.Axis, Tick{Left: float64(i) * 25, Label: fmtMS(float64(total) * float64(i) / 4 / 1e3)})
	}
	return v
}

func serviceClass(s string) string {
	switch s {
	case "producer", "workers", "vendor-mock", "consumer":
		return "svc-" + s
	}
	return "svc-other"
}

func fmtMS(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0f µs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

//go:embed trace.html
var files embed.FS

var tmpl = template.Must(template.New("trace").Funcs(template.FuncMap{
	"pct":    func(f float64) string { return fmt.Sprintf("%.3f%%", f) },
	"indent": func(d int) string { return fmt.Sprintf("%dpx", 8+14*min(d, 12)) },
}).ParseFS(files, "trace.html"))

// Render writes the trace page.
func Render(v View) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, "trace.html", v); err != nil {
		return nil, fmt.Errorf("render trace: %w", err)
	}
	return b.Bytes(), nil
}

// NotFound is the page for a trace Jaeger does not have (yet).
func NotFound(id, why string) []byte {
	var b bytes.Buffer
	_ = tmpl.ExecuteTemplate(&b, "missing", struct{ ID, Why string }{id, why})
	return b.Bytes()
}
