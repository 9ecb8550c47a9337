package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/pool"
)

// HTTPHandler serves /healthz, /stats and /admin/config. None of them is
// traced: polling would bury the jobs' traces. A known path with the wrong
// method answers 405 with Allow, an unknown one 404, both in JSON
// (httpjson.Routes).
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthcheck.Handler("workers", func() error {
		if !s.pool.Accepting() {
			return errors.New("shutting down")
		}
		return nil
	}))
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("GET /admin/config", s.getConfig)
	mux.HandleFunc("PUT /admin/config", s.putConfig)
	return httpjson.Routes(mux)
}

// ConfigView is the JSON of GET/PUT /admin/config. Durations are strings
// ("300ms", "0"), latencies ranges ("1ms-5ms"). Every field is live.
type ConfigView struct {
	Workers          int    `json:"workers"`
	QueueSize        int    `json:"queue_size"`
	ResultsBuffer    int    `json:"results_buffer"`
	ResultSend       string `json:"result_send"`
	PriorityLanes    string `json:"priority_lanes"`
	VendorTimeout    string `json:"vendor_timeout"`
	Forwarders       int    `json:"forwarders"`
	SubmitWait       string `json:"submit_wait"`
	CacheLatency     string `json:"cache_latency"`
	DBAcquireLatency string `json:"db_acquire_latency"`
	DBQueryLatency   string `json:"db_query_latency"`
}

// configPatch is a PUT body: any subset of the fields. queue_size 0 and
// results_buffer 0 mean what QUEUE_SIZE=0 and RESULTS_BUFFER=0 mean at
// start (workers*10, workers), resolved against the workers in force after
// the request, once: a later change of workers moves neither.
type configPatch struct {
	Workers          *int    `json:"workers"`
	QueueSize        *int    `json:"queue_size"`
	ResultsBuffer    *int    `json:"results_buffer"`
	ResultSend       *string `json:"result_send"`
	PriorityLanes    *string `json:"priority_lanes"`
	VendorTimeout    *string `json:"vendor_timeout"`
	Forwarders       *int    `json:"forwarders"`
	SubmitWait       *string `json:"submit_wait"`
	CacheLatency     *string `json:"cache_latency"`
	DBAcquireLatency *string `json:"db_acquire_latency"`
	DBQueryLatency   *string `json:"db_query_latency"`
}

func (s *Server) view(l config.Live) ConfigView {
	lanes := "off"
	if l.PriorityLanes {
		lanes = "on"
	}
	return ConfigView{
		Workers:          l.Workers,
		QueueSize:        l.QueueSize,
		ResultsBuffer:    l.ResultsBuffer,
		ResultSend:       l.ResultSend,
		PriorityLanes:    lanes,
		VendorTimeout:    formatDuration(l.VendorTimeout),
		Forwarders:       l.Forwarders,
		SubmitWait:       formatDuration(l.SubmitWait),
		CacheLatency:     formatRange(l.CacheLatency),
		DBAcquireLatency: formatRange(l.DBAcquireLatency),
		DBQueryLatency:   formatRange(l.DBQueryLatency),
	}
}

func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

func formatRange(r envconfig.Range) string {
	if r.Min == r.Max {
		return formatDuration(r.Min)
	}
	return formatDuration(r.Min) + "-" + formatDuration(r.Max)
}

func (s *Server) getConfig(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, s.view(s.pool.Settings()))
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	var patch configPatch
	if err := httpjson.Decode(w, r, &patch, 0); err != nil {
		httpjson.WriteError(w, err)
		return
	}
	before, after, err := s.pool.Update(func(l *config.Live) error { return s.apply(patch, l) })
	if err != nil {
		httpjson.WriteError(w, httpjson.BadRequest("%v", err))
		return
	}
	old, cur := s.view(before), s.view(after)
	for _, f := range []struct{ name, old, cur string }{
		{"workers", fmt.Sprint(old.Workers), fmt.Sprint(cur.Workers)},
		{"queue_size", fmt.Sprint(old.QueueSize), fmt.Sprint(cur.QueueSize)},
		{"results_buffer", fmt.Sprint(old.ResultsBuffer), fmt.Sprint(cur.ResultsBuffer)},
		{"result_send", old.ResultSend, cur.ResultSend},
		{"priority_lanes", old.PriorityLanes, cur.PriorityLanes},
		{"vendor_timeout", old.VendorTimeout, cur.VendorTimeout},
		{"forwarders", fmt.Sprint(old.Forwarders), fmt.Sprint(cur.Forwarders)},
		{"submit_wait", old.SubmitWait, cur.SubmitWait},
		{"cache_latency", old.CacheLatency, cur.CacheLatency},
		{"db_acquire_latency", old.DBAcquireLatency, cur.DBAcquireLatency},
		{"db_query_latency", old.DBQueryLatency, cur.DBQueryLatency},
	} {
		if f.old != f.cur {
			s.log.InfoContext(r.Context(), "config changed", "field", f.name, "from", f.old, "to", f.cur)
		}
	}
	httpjson.Write(w, http.StatusOK, cur)
}

// apply checks each field of patch and writes it into l; the first bad
// field is the error.
func (s *Server) apply(patch configPatch, l *config.Live) error {
	if v := patch.Workers; v != nil {
		if *v < 1 || *v > config.MaxWorkers {
			return fmt.Errorf("workers: %d is out of range 1..%d", *v, config.MaxWorkers)
		}
		l.Workers = *v
	}
	if v := patch.QueueSize; v != nil {
		if *v < 0 || *v > config.MaxQueueSize {
			return fmt.Errorf("queue_size: %d is out of range 1..%d (0 = workers*10)", *v, config.MaxQueueSize)
		}
		l.QueueSize = *v
	}
	if v := patch.ResultsBuffer; v != nil {
		if *v < 0 || *v > config.MaxResultsBuffer {
			return fmt.Errorf("results_buffer: %d is out of range %d..%d (0 = workers)", *v, config.MinResultsBuffer, config.MaxResultsBuffer)
		}
		l.ResultsBuffer = *v
	}
	// After workers, whichever order the fields came in.
	l.ResolveDerived()
	if v := patch.Forwarders; v != nil {
		if *v < config.MinForwarders || *v > config.MaxForwarders {
			return fmt.Errorf("forwarders: %d is out of range %d..%d", *v, config.MinForwarders, config.MaxForwarders)
		}
		l.Forwarders = *v
	}
	if v := patch.ResultSend; v != nil {
		if *v != config.SendBlocking && *v != config.SendNonblocking {
			return fmt.Errorf("result_send: %q: want %q or %q", *v, config.SendBlocking, config.SendNonblocking)
		}
		l.ResultSend = *v
	}
	if v := patch.PriorityLanes; v != nil {
		switch *v {
		case "on":
			l.PriorityLanes = true
		case "off":
			l.PriorityLanes = false
		default:
			return fmt.Errorf("priority_lanes: %q: want \"on\" or \"off\"", *v)
		}
	}
	for _, d := range []struct {
		name string
		v    *string
		dst  *time.Duration
		max  time.Duration
	}{
		{"vendor_timeout", patch.VendorTimeout, &l.VendorTimeout, config.MaxVendorTimeout},
		{"submit_wait", patch.SubmitWait, &l.SubmitWait, config.MaxSubmitWait},
	} {
		if d.v == nil {
			continue
		}
		v, err := envconfig.ParseDuration(*d.v)
		if err != nil || v < 0 || v > d.max {
			return fmt.Errorf("%s: %q: want a duration from 0 to %s, like \"300ms\"", d.name, *d.v, d.max)
		}
		*d.dst = v
	}
	for _, g := range []struct {
		name string
		v    *string
		dst  *envconfig.Range
	}{
		{"cache_latency", patch.CacheLatency, &l.CacheLatency},
		{"db_acquire_latency", patch.DBAcquireLatency, &l.DBAcquireLatency},
		{"db_query_latency", patch.DBQueryLatency, &l.DBQueryLatency},
	} {
		if g.v == nil {
			continue
		}
		v, err := envconfig.ParseRange(*g.v)
		if err != nil || v.Max > config.MaxLatency {
			return fmt.Errorf("%s: %q: want a range like \"1ms-5ms\" (0 <= min <= max <= %s)", g.name, *g.v, config.MaxLatency)
		}
		*g.dst = v
	}
	return nil
}

// StatsView is the JSON of GET /stats.
type StatsView struct {
	pool.Stats
	Config  ConfigView    `json:"config"`
	Tracing tracing.Stats `json:"tracing"`
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, StatsView{
		Stats:   s.pool.Stats(),
		Config:  s.view(s.pool.Settings()),
		Tracing: s.tr.Stats(),
	})
}
