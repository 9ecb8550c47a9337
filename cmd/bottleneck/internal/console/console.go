// Package console is `bottleneck console`: a live page of the pipeline,
// the verdict of the analysis, the worker timelines drawn from the traces,
// what the standard metrics said beside what the traces show, the
// controls, and a trace view for a Jaeger without UI. It reads only what a
// user has: the services' HTTP APIs and Jaeger's query API.
//
// One collector polls once a second and the page is rendered once per
// poll; every open tab gets the same bytes.
package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/collect"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/controls"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/page"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/timeline"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/traceview"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
)

// Options configure a console.
type Options struct {
	Listen string // e.g. 127.0.0.1:8090
	// Jaeger is the query API; UI the base URL browsers open traces at
	// (Jaeger's when empty). In compose they differ: the console reaches
	// jaeger:16686, the browser localhost:16686.
	Jaeger, UI                              string
	Producer, Workers, VendorMock, Consumer string
	// Window is how much the timelines show; DiagnosisWindow how much
	// the verdict and the traces' numbers cover.
	Window, DiagnosisWindow time.Duration
	Interval                time.Duration
	Diagnoser               diagnose.Diagnoser
	Log                     *slog.Logger
}

// Defaults: the ports `bottleneck up` and compose publish.
func Defaults() Options {
	return Options{
		Listen: "127.0.0.1:8090", Jaeger: "http://localhost:16686",
		Producer: "http://localhost:8080", Workers: "http://localhost:8081",
		VendorMock: "http://localhost:8082", Consumer: "http://localhost:8083",
		Window: 60 * time.Second, DiagnosisWindow: 30 * time.Second, Interval: time.Second,
	}
}

// diagEvery is how often the analysis reruns at most.
const diagEvery = 3 * time.Second

// Console is a running console.
type Console struct {
	opt       Options
	jaeger    *jaegerapi.Client
	collector *collect.Collector
	listener  net.Listener
	server    *http.Server

	// The page is rendered lazily, once per poll, by the first request
	// that needs it; with nobody watching, nothing is rendered.
	renderMu sync.Mutex
	rendered atomic.Pointer[rendered]
	timeline timeline.Cache
	svg      page.SVGCache
	// diagnosis is recomputed only when the traces changed.
	diagMu      sync.Mutex
	diag        diagnose.Diagnosis
	diagVersion uint64
	diagAt      time.Time
}

// rendered is one poll's page, shared by every viewer.
type rendered struct {
	seq      uint64
	view     page.View
	fragment []byte
	snapshot []byte // JSON
	jaegerUI string
	link     func(string) string
}

// Start listens, starts the collector and serves until ctx ends; Done
// reports when it has stopped.
func Start(ctx context.Context, o Options) (*Console, error) {
	def := Defaults()
	if o.Listen == "" {
		o.Listen = def.Listen
	}
	if o.Window <= 0 {
		o.Window = def.Window
	}
	if o.DiagnosisWindow <= 0 {
		o.DiagnosisWindow = def.DiagnosisWindow
	}
	if o.Interval <= 0 {
		o.Interval = def.Interval
	}
	if o.Diagnoser == nil {
		o.Diagnoser = diagnose.Model{SimBudget: simBudget, Admin: analysis.AdminURLs{Workers: adminAddr(o.Workers), Consumer: adminAddr(o.Consumer)}}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.UI = strings.TrimRight(o.UI, "/")
	if o.UI == "" {
		o.UI = strings.TrimRight(o.Jaeger, "/")
	}
	jc, err := jaegerapi.New(o.Jaeger, jaegerapi.WithTimeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	for name, u := range map[string]string{"producer": o.Producer, "workers": o.Workers, "vendor": o.VendorMock, "consumer": o.Consumer} {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("--%s %q: want http(s)://host:port", name, u)
		}
	}
	c := &Console{opt: o, jaeger: jc}
	c.collector = collect.New(collect.Config{
		URLs: map[string]string{
			collect.Producer: strings.TrimRight(o.Producer, "/"), collect.Workers: strings.TrimRight(o.Workers, "/"),
			collect.VendorMock: strings.TrimRight(o.VendorMock, "/"), collect.Consumer: strings.TrimRight(o.Consumer, "/"),
		},
		Jaeger:   jc,
		Interval: o.Interval,
		Window:   collect.WindowOptions{Keep: o.Window + 30*time.Second},
		Log:      o.Log,
	})

	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("console: listen on %s: %w", o.Listen, err)
	}
	c.listener = l
	c.server = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second}

	go c.collector.Run(ctx)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.server.Shutdown(sctx)
	}()
	go func() {
		if err := c.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("console stopped serving", "err", err)
		}
	}()
	return c, nil
}

// adminAddr turns a service's base URL (http://host:port) into the
// host:port the analysis' fixes name in their curl commands and admin
// URLs (which add the http:// themselves).
func adminAddr(base string) string {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Host == "" {
		return base
	}
	return u.Host + u.Path
}

// URL is where the console answers.
func (c *Console) URL() string { return "http://" + c.listener.Addr().String() }

// Collector is the console's collector (tests poll it).
func (c *Console) Collector() *collect.Collector { return c.collector }

// DefaultDiagnoser is the analysis the console shows: the capacity model,
// with a simulation small enough to rerun every few seconds.
func DefaultDiagnoser() diagnose.Diagnoser { return diagnose.Model{SimBudget: simBudget} }

// simBudget bounds the arrivals the model's simulation replays per run
// (the report's default is 4,000): the console reruns it every few
// seconds, on a 30 s window.
const simBudget = 1500

// current returns the page rendered for the latest poll, rendering it
// first if no request has yet.
func (c *Console) current() *rendered {
	s := c.collector.Latest()
	if r := c.rendered.Load(); r != nil && r.seq == s.Seq {
		return r
	}
	c.renderMu.Lock()
	defer c.renderMu.Unlock()
	if r := c.rendered.Load(); r != nil && r.seq == s.Seq {
		return r
	}
	c.render(s)
	return c.rendered.Load()
}

// render builds and renders the page for one snapshot. Caller holds
// renderMu.
func (c *Console) render(s *collect.Snapshot) {
	jaegerUI := ""
	if s.JaegerChecked && !s.JaegerPlaceholder {
		jaegerUI = c.opt.UI
	}
	link := func(id string) string { return "/trace/" + id }
	if jaegerUI != "" {
		link = func(id string) string { return jaegerUI + "/trace/" + id }
	}

	to := s.At
	tl := c.timeline.Build(s.Traces, timeline.Options{
		From: to.Add(-c.opt.Window), To: to, Recent: c.opt.DiagnosisWindow,
		Workers: workersOf(s), Forwarders: forwardersOf(s), ConsumerSlots: slotsOf(s),
	})
	d := c.diagnosis(s)
	v := page.Build(page.Input{
		Snap: s, Diagnosis: d, DiagnosisWindow: c.opt.DiagnosisWindow, Timelines: tl,
		TraceLink: link, JaegerUI: jaegerUI, SVG: &c.svg,
	})
	frag, err := page.Fragment(v)
	if err != nil {
		c.opt.Log.Error("console render", "err", err)
		frag = []byte("<div class=\"fragment errors\">render failed: " + html.EscapeString(err.Error()) + "</div>")
	}
	snap, _ := json.Marshal(map[string]any{"snapshot": s, "diagnosis": d, "traces": tl.Summary})
	c.rendered.Store(&rendered{seq: s.Seq, view: v, fragment: frag, snapshot: snap, jaegerUI: jaegerUI, link: link})
}

// diagnosis runs the analysis over the jobs that arrived in the last
// DiagnosisWindow, as the report does: the analysis computes the offered
// load, the stages' rates and the shed share from the jobs of a window of
// arrivals, whatever became of them since (handled, shed, or still in
// flight). Jobs picked by when their last span ended instead would be
// those that finished in the window, which under long end-to-end times
// arrived well before it: the analysis would then see fewer arrivals than
// came, and more shed jobs than arrivals. The window ends where the trace
// window holds every arrival (collect.WindowStats.ArrivedUntil: a few
// seconds ago, as spans reach Jaeger late). A verdict over 30 s barely
// moves in a second, so it is rerun at most every diagEvery when traces
// changed (and every 10 s as the window slides), not on every poll: the
// analysis is the costliest part of one.
func (c *Console) diagnosis(s *collect.Snapshot) diagnose.Diagnosis {
	c.diagMu.Lock()
	defer c.diagMu.Unlock()
	since := s.At.Sub(c.diagAt)
	fresh := !c.diagAt.IsZero() && (since < diagEvery || (s.TracesVersion == c.diagVersion && since < 10*time.Second))
	if fresh {
		return c.diag
	}
	to := s.Window.ArrivedUntil
	if to.IsZero() || to.After(s.At) {
		to = s.At
	}
	from := to.Add(-c.opt.DiagnosisWindow)
	lo, hi := from.UnixMicro(), to.UnixMicro()
	in := make([]jaegerapi.Trace, 0, len(s.Traces))
	var done []jaegerapi.Trace
	for _, t := range s.Traces {
		switch at := arrival(t); {
		case at >= lo && at < hi:
			in = append(in, *t)
		case at < lo && handledIn(t, lo, hi):
			done = append(done, *t)
		}
	}
	c.diag = c.opt.Diagnoser.Diagnose(in, done, from, to)
	c.diag.WindowStart, c.diag.WindowEnd = from, to
	c.diagVersion, c.diagAt = s.TracesVersion, s.At
	return c.diag
}

// handledIn says whether the consumer handled t's job in [lo, hi) µs.
// Behind a full 400-slot results channel a job takes longer end to end
// than the diagnosis window: the jobs handled in it arrived before it, and
// only they show the consumer's pace (the analysis's Completions).
func handledIn(t *jaegerapi.Trace, lo, hi int64) bool {
	for i := range t.Spans {
		if s := &t.Spans[i]; s.OperationName == spans.ResultProcess && s.StartTime >= lo && s.StartTime < hi {
			return true
		}
	}
	return false
}

// arrival is when a trace's job arrived, in µs: its earliest span, the
// root the producer starts on arrival (or, while the root is not
// exported yet, the first job.submit, which starts with it).
func arrival(t *jaegerapi.Trace) int64 {
	var first int64
	for i := range t.Spans {
		if st := t.Spans[i].StartTime; first == 0 || st < first {
			first = st
		}
	}
	return first
}

func workersOf(s *collect.Snapshot) int {
	if s.Workers != nil {
		return s.Workers.Config.Workers
	}
	return 0
}

func forwardersOf(s *collect.Snapshot) int {
	if s.Workers != nil {
		return s.Workers.Config.Forwarders
	}
	return 0
}

func slotsOf(s *collect.Snapshot) int {
	if s.Consumer != nil {
		return s.Consumer.Config.Concurrency
	}
	return 0
}

// Handler serves the console.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.servePage)
	mux.HandleFunc("GET /fragment", c.serveFragment)
	mux.Handle("GET /static/", page.Static())
	mux.HandleFunc("GET /trace/{id}", c.serveTrace)
	mux.HandleFunc("GET /api/trace/{id}", c.serveTraceJSON)
	mux.HandleFunc("GET /api/snapshot", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(c.current().snapshot)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "service": "console"})
	})
	mux.Handle("/api/control/", controls.Handler(controls.URLs{
		Producer: strings.TrimRight(c.opt.Producer, "/"), Workers: strings.TrimRight(c.opt.Workers, "/"),
		VendorMock: strings.TrimRight(c.opt.VendorMock, "/"), Consumer: strings.TrimRight(c.opt.Consumer, "/"),
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.WriteError(w, &httpjson.Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no page at %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

func (c *Console) servePage(w http.ResponseWriter, _ *http.Request) {
	r := c.current()
	var b bytes.Buffer
	if err := page.Page(&b, page.NewPageData(r.view, r.jaegerUI)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// serveFragment answers the page's refresh: 304 when nothing new was
// polled, else the fragment rendered for this poll. It is not compressed:
// the page is read over loopback, where compressing costs more CPU than
// the bytes do.
func (c *Console) serveFragment(w http.ResponseWriter, r *http.Request) {
	rd := c.current()
	etag := `"` + strconv.FormatUint(rd.seq, 10) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(rd.fragment)
}

// trace returns a trace from the window, else from Jaeger.
func (c *Console) trace(ctx context.Context, id string) (*jaegerapi.Trace, error) {
	if len(id) == 0 || len(id) > 32 || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" {
		return nil, &httpjson.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("trace ID %q: want up to 32 hex digits", id)}
	}
	if w := c.collector.Window(); w != nil {
		if t, ok := w.Trace(id); ok {
			return t, nil
		}
	}
	t, err := c.jaeger.Trace(ctx, id)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (c *Console) serveTrace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	t, err := c.trace(r.Context(), id)
	if err != nil {
		status := http.StatusBadGateway
		var he *httpjson.Error
		switch {
		case errors.Is(err, jaegerapi.ErrTraceNotFound):
			status = http.StatusNotFound
		case errors.As(err, &he):
			status = he.Status
		}
		w.WriteHeader(status)
		_, _ = w.Write(traceview.NotFound(id, err.Error()))
		return
	}
	rd := c.current()
	v := traceview.Build(t, rd.link)
	if rd.jaegerUI != "" {
		v.JaegerUI = rd.jaegerUI + "/trace/" + t.TraceID
	}
	body, err := traceview.Render(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(body)
}

func (c *Console) serveTraceJSON(w http.ResponseWriter, r *http.Request) {
	t, err := c.trace(r.Context(), r.PathValue("id"))
	if err != nil {
		var he *httpjson.Error
		switch {
		case errors.Is(err, jaegerapi.ErrTraceNotFound):
			err = &httpjson.Error{Status: http.StatusNotFound, Message: err.Error()}
		case !errors.As(err, &he):
			err = &httpjson.Error{Status: http.StatusBadGateway, Message: err.Error()}
		}
		httpjson.WriteError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, t)
}
