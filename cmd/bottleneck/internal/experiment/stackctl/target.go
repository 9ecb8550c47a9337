package stackctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

// Targets are the base URLs of a running stack.
type Targets struct {
	Producer, Workers, VendorMock, Consumer, Jaeger string
}

// Standard ports of the compose file and `bottleneck up`.
var standardPorts = map[string]string{
	settings.Producer: "8080", settings.Workers: "8081", settings.VendorMock: "8082", settings.Consumer: "8083", "jaeger": "16686",
}

var targetNames = []string{settings.Producer, settings.Workers, settings.VendorMock, settings.Consumer, "jaeger"}

// ParseTargets reads the --target flag: a host (or http://host) whose
// standard ports serve the stack, e.g. "localhost" for `docker compose up`,
// and/or name=URL entries for what lives elsewhere, comma-separated:
// "localhost,jaeger=http://localhost:26686".
func ParseTargets(s string) (Targets, error) {
	urls := map[string]string{}
	host := ""
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, u, ok := strings.Cut(item, "=")
		if !ok {
			if host != "" {
				return Targets{}, fmt.Errorf("--target %q: two hosts (%s and %s); give one host and name=URL for the rest", s, host, item)
			}
			h := strings.TrimPrefix(strings.TrimPrefix(item, "http://"), "https://")
			h = strings.TrimSuffix(h, "/")
			if h == "" || strings.ContainsAny(h, "/:") && !strings.HasPrefix(h, "[") {
				return Targets{}, fmt.Errorf("--target %q: %q is not a host name (the standard ports are added: producer :8080 ... jaeger :16686)", s, item)
			}
			host = h
			continue
		}
		if !slices.Contains(targetNames, name) {
			return Targets{}, fmt.Errorf("--target %q: unknown name %q (want %s)", s, name, strings.Join(targetNames, ", "))
		}
		if _, dup := urls[name]; dup {
			return Targets{}, fmt.Errorf("--target %q: %s given twice", s, name)
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") {
			return Targets{}, fmt.Errorf("--target %q: %s=%q: want a base URL like http://localhost:8081", s, name, u)
		}
		urls[name] = strings.TrimSuffix(u, "/")
	}
	var missing []string
	for _, n := range targetNames {
		if urls[n] == "" {
			if host == "" {
				missing = append(missing, n)
				continue
			}
			urls[n] = "http://" + net.JoinHostPort(strings.Trim(host, "[]"), standardPorts[n])
		}
	}
	if len(missing) > 0 {
		return Targets{}, fmt.Errorf("--target %q: no URL for %s: give a host (e.g. localhost) or name=URL for each", s, strings.Join(missing, ", "))
	}
	return Targets{Producer: urls[settings.Producer], Workers: urls[settings.Workers], VendorMock: urls[settings.VendorMock], Consumer: urls[settings.Consumer], Jaeger: urls["jaeger"]}, nil
}

// CheckLive reports every setting of the plan that a running stack cannot
// change, by row, before anything runs. Settings a recommended fix will
// bring are checked when that row runs.
func CheckLive(p *plan.Plan) error {
	var errs []string
	for _, r := range p.Rows {
		env := settings.Env{}
		env.Apply(r.Profile...)
		var bad []string
		for _, s := range env.Settings() {
			if _, ok := settings.LiveField(s.Service, s.Name); !ok {
				bad = append(bad, s.Key())
			}
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Sprintf("row %q: %s can only be set when the service starts", r.Name, strings.Join(bad, ", ")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("these settings cannot change on a running stack (--target); run the plan on the experiment's own stack (no --target), or drop them:\n  %s\nsettings a running stack can change: %s",
		strings.Join(errs, "\n  "), strings.Join(settings.LiveNames(), ", "))
}

// Target is a running stack, driven through its admin APIs. It remembers
// the settings it found and puts them back on Close.
type Target struct {
	urls  Targets
	admin *admin
	stats *measure.StatsClient
	local bool // the services run on this machine: its CPU counts

	baseWorkers  map[string]any
	baseConsumer map[string]any
	baseFaults   json.RawMessage
	baseLoad     map[string]any

	// DrainTimeout bounds the wait for an empty pipeline between rows.
	DrainTimeout time.Duration
	// BoostAfter is how long a drain waits before it speeds up the consumer.
	BoostAfter time.Duration
	// SpanDelay is how long spans take to reach Jaeger: the services'
	// batch timeout (1s) plus Jaeger's own.
	SpanDelay time.Duration
	// Poll is how often a drain reads /stats.
	Poll time.Duration
}

// NewTarget connects to a running stack and records its settings.
func NewTarget(ctx context.Context, t Targets) (*Target, error) {
	a := &admin{http: newHTTPClient(), producer: t.Producer, workers: t.Workers, vendor: t.VendorMock, consumer: t.Consumer}
	tg := &Target{
		urls: t, admin: a, DrainTimeout: 2 * time.Minute, BoostAfter: time.Second, SpanDelay: 1500 * time.Millisecond, Poll: 200 * time.Millisecond,
		stats: &measure.StatsClient{URLs: measure.StatsURLs{Producer: t.Producer, Workers: t.Workers, VendorMock: t.VendorMock, Consumer: t.Consumer}, HTTP: a.http},
		local: isLocal(t.Producer) && isLocal(t.Workers) && isLocal(t.VendorMock) && isLocal(t.Consumer),
	}
	for _, g := range []struct {
		url  string
		into any
	}{
		{t.Workers + "/admin/config", &tg.baseWorkers},
		{t.Consumer + "/admin/config", &tg.baseConsumer},
		{t.VendorMock + "/admin/faults", &tg.baseFaults},
		{t.Producer + "/admin/load", &tg.baseLoad},
	} {
		if err := a.do(ctx, http.MethodGet, g.url, nil, g.into); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
	}
	return tg, nil
}

func isLocal(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := pu.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Prepare implements runner.System: drain what an earlier row (or the
// target's own load) left, then apply env's live settings on top of the
// settings found at the start.
func (t *Target) Prepare(ctx context.Context, env settings.Env) error {
	if err := t.admin.stopLoad(ctx); err != nil {
		return err
	}
	if err := t.drain(ctx); err != nil {
		return err
	}
	return t.apply(ctx, env)
}

// apply sets every live field: env's value, else the one found at start.
func (t *Target) apply(ctx context.Context, env settings.Env) error {
	bodies := map[string]map[string]any{settings.Workers: {}, settings.Consumer: {}}
	base := map[string]map[string]any{settings.Workers: t.baseWorkers, settings.Consumer: t.baseConsumer}
	preset := ""
	for _, name := range settings.LiveNames() {
		svc, env0, _ := strings.Cut(name, ":")
		l, _ := settings.LiveField(svc, env0)
		v, set := env[svc][env0]
		if l.Field == settings.Preset {
			if set {
				preset = v
			}
			continue
		}
		if !set {
			if bv, ok := base[svc][l.Field]; ok {
				bodies[svc][l.Field] = bv
			}
			continue
		}
		jv, err := l.JSONValue(v)
		if err != nil {
			return err
		}
		bodies[svc][l.Field] = jv
	}
	// QUEUE_SIZE and RESULTS_BUFFER default to multiples of WORKERS when
	// a service starts. Where the stack was found with those defaults, a
	// row keeps them (0 = resolved against the row's workers), as the own
	// stack's fresh processes would.
	if w, ok := number(t.baseWorkers["workers"]); ok {
		for field, factor := range map[string]int{"queue_size": 10, "results_buffer": 1} {
			_, set := env[settings.Workers][map[string]string{"queue_size": "QUEUE_SIZE", "results_buffer": "RESULTS_BUFFER"}[field]]
			if v, ok := number(t.baseWorkers[field]); ok && !set && v == w*factor {
				bodies[settings.Workers][field] = 0
			}
		}
	}
	for _, s := range settings.Services {
		for n := range env[s] {
			if _, ok := settings.LiveField(s, n); !ok {
				return fmt.Errorf("%s:%s cannot change on a running stack", s, n)
			}
		}
	}
	if err := t.admin.do(ctx, http.MethodPut, t.urls.Workers+"/admin/config", bodies[settings.Workers], nil); err != nil {
		return fmt.Errorf("workers settings: %w", err)
	}
	if err := t.admin.do(ctx, http.MethodPut, t.urls.Consumer+"/admin/config", bodies[settings.Consumer], nil); err != nil {
		return fmt.Errorf("consumer settings: %w", err)
	}
	var err error
	if preset != "" {
		err = t.admin.do(ctx, http.MethodPost, t.urls.VendorMock+"/admin/faults/presets/"+url.PathEscape(preset), nil, nil)
	} else {
		err = t.admin.do(ctx, http.MethodPut, t.urls.VendorMock+"/admin/faults", t.baseFaults, nil)
	}
	if err != nil {
		return fmt.Errorf("vendor faults: %w", err)
	}
	return nil
}

// drain waits until nothing is in flight. After a second it lets the
// consumer run at full speed (no delay, all slots, all forwarders), so a
// row's backlog of thousands of results takes seconds, not minutes; the
// next row's settings replace that.
func (t *Target) drain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.DrainTimeout)
	defer cancel()
	start := time.Now()
	boosted := false
	last := ""
	for {
		c, err := t.stats.Read(ctx)
		if err == nil {
			idle, what := c.Idle()
			if idle {
				return nil
			}
			last = what
		} else if ctx.Err() == nil {
			last = err.Error()
		}
		if !boosted && time.Since(start) >= t.BoostAfter {
			boosted = true
			_ = t.admin.do(ctx, http.MethodPut, t.urls.Consumer+"/admin/config", map[string]any{"process_delay": "0", "concurrency": 64}, nil)
			_ = t.admin.do(ctx, http.MethodPut, t.urls.Workers+"/admin/config", map[string]any{"forwarders": 64}, nil)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the pipeline did not empty within %s between rows: %s", t.DrainTimeout, last)
			}
			return ctx.Err()
		case <-time.After(t.Poll):
		}
	}
}

// StartLoad implements runner.System.
func (t *Target) StartLoad(ctx context.Context, w plan.Workload) error {
	return t.admin.startLoad(ctx, w)
}

// StopLoad implements runner.System.
func (t *Target) StopLoad(ctx context.Context) error { return t.admin.stopLoad(ctx) }

// Snapshot implements runner.System: counters from /stats, CPU and memory
// from each service's /metrics when it has one.
func (t *Target) Snapshot(ctx context.Context) (measure.Snapshot, error) {
	s := measure.Snapshot{At: time.Now(), Procs: map[string]measure.ProcSample{}}
	c, err := t.stats.Read(ctx)
	if err != nil {
		return s, err
	}
	s.Counters = c
	// The CPU readings together, after the counters: the machine's and
	// our own first, then each service's /metrics in the same order every
	// time, so every interval is about the same.
	s.CPUAt = time.Now()
	if t.local {
		s.Machine, _ = measure.ReadMachine()
	}
	s.Self, _ = measure.ReadSelf()
	for _, svc := range []struct{ name, url string }{
		{settings.Producer, t.urls.Producer}, {settings.Workers, t.urls.Workers},
		{settings.VendorMock, t.urls.VendorMock}, {settings.Consumer, t.urls.Consumer},
	} {
		if p, err := measure.ReadMetrics(ctx, t.admin.http, svc.url); err == nil {
			s.Procs[svc.name] = p
		}
	}
	return s, nil
}

// Settle implements runner.System: the services export spans in batches
// about once a second, so the window's last spans arrive that much later.
func (t *Target) Settle(ctx context.Context) error {
	timer := time.NewTimer(t.SpanDelay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Close stops the experiment's load, lets the pipeline drain, and puts
// back the settings and the load the target had at the start.
func (t *Target) Close(ctx context.Context) error {
	errs := []error{t.admin.stopLoad(ctx), t.drain(ctx)}
	bw := map[string]any{}
	for _, name := range settings.LiveNames() {
		svc, n, _ := strings.Cut(name, ":")
		if l, _ := settings.LiveField(svc, n); svc == settings.Workers {
			if v, ok := t.baseWorkers[l.Field]; ok {
				bw[l.Field] = v
			}
		}
	}
	bc := map[string]any{}
	for _, f := range []string{"process_delay", "concurrency"} {
		if v, ok := t.baseConsumer[f]; ok {
			bc[f] = v
		}
	}
	errs = append(errs,
		t.admin.do(ctx, http.MethodPut, t.urls.Workers+"/admin/config", bw, nil),
		t.admin.do(ctx, http.MethodPut, t.urls.Consumer+"/admin/config", bc, nil),
		t.admin.do(ctx, http.MethodPut, t.urls.VendorMock+"/admin/faults", t.baseFaults, nil),
		t.admin.do(ctx, http.MethodPut, t.urls.Producer+"/admin/load", t.baseLoad, nil),
	)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restoring the target's settings: %w", err)
	}
	return nil
}

// number reads a JSON number that is a whole number.
func number(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}
