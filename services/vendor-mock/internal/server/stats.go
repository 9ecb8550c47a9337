package server

import (
	"maps"
	"net/http"
	"sync"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
)

// maxRoutes bounds the per-path counters: callers choose the paths, and
// /v1/... accepts any of them. Paths past the limit count under otherRoute.
const (
	maxRoutes  = 64
	otherRoute = "(other)"
)

// Counts are the vendor calls seen, by what was decided for them.
type Counts struct {
	Requests uint64 `json:"requests"`
	// Degraded calls got the degraded latency.
	Degraded uint64 `json:"degraded"`
	// Errors are calls the error fault answered with an error status.
	Errors uint64 `json:"errors"`
	// Hangs are calls made to hang (until the caller gave up or the hang
	// timeout answered 503).
	Hangs uint64 `json:"hangs"`
	// Cancelled calls were given up by the caller before the answer.
	Cancelled uint64 `json:"cancelled"`
}

// Stats is what /stats answers.
type Stats struct {
	Counts
	// InFlight is the number of vendor calls being handled now.
	InFlight int64 `json:"in_flight"`
	// Preset is the current configuration's label.
	Preset string `json:"preset"`
	// Routes counts calls by request path.
	Routes  map[string]Counts `json:"routes"`
	Tracing tracing.Stats     `json:"tracing"`
}

// counters are guarded by one mutex: a vendor call holds it twice for a few
// additions, next to an injected wait of milliseconds to seconds.
type counters struct {
	mu       sync.Mutex
	total    Counts
	inFlight int64
	routes   map[string]*Counts
}

func newCounters() *counters { return &counters{routes: map[string]*Counts{}} }

// begin counts a call and its decision; the returned function counts its
// end and whether the caller gave up.
func (c *counters) begin(path string, d faults.Decision) (end func(cancelled bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	route, ok := c.routes[path]
	if !ok {
		if len(c.routes) >= maxRoutes {
			path = otherRoute
		}
		if route, ok = c.routes[path]; !ok {
			route = &Counts{}
			c.routes[path] = route
		}
	}
	for _, n := range []*Counts{&c.total, route} {
		n.Requests++
		if d.Degraded {
			n.Degraded++
		}
		if d.Error {
			n.Errors++
		}
		if d.Hang {
			n.Hangs++
		}
	}
	c.inFlight++
	return func(cancelled bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.inFlight--
		if cancelled {
			c.total.Cancelled++
			route.Cancelled++
		}
	}
}

func (c *counters) snapshot() (Counts, int64, map[string]Counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	routes := make(map[string]Counts, len(c.routes))
	for k, v := range maps.All(c.routes) {
		routes[k] = *v
	}
	return c.total, c.inFlight, routes
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	total, inFlight, routes := s.stats.snapshot()
	return Stats{
		Counts:   total,
		InFlight: inFlight,
		Preset:   s.faults.Load().Preset,
		Routes:   routes,
		Tracing:  s.tracing.Stats(),
	}
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, s.Stats())
}
