package stackctl

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
)

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets("localhost")
	want := Targets{"http://localhost:8080", "http://localhost:8081", "http://localhost:8082", "http://localhost:8083", "http://localhost:16686"}
	if err != nil || got != want {
		t.Errorf("localhost: %+v, %v", got, err)
	}
	got, err = ParseTargets("http://127.0.0.1/, jaeger=http://127.0.0.1:26686/")
	if err != nil || got.Jaeger != "http://127.0.0.1:26686" || got.Workers != "http://127.0.0.1:8081" {
		t.Errorf("host and jaeger: %+v, %v", got, err)
	}
	got, err = ParseTargets("producer=http://a:1,workers=http://b:2,vendor-mock=http://c:3,consumer=http://d:4,jaeger=https://e:5")
	if err != nil || got != (Targets{"http://a:1", "http://b:2", "http://c:3", "http://d:4", "https://e:5"}) {
		t.Errorf("all by name: %+v, %v", got, err)
	}
	if got, err := ParseTargets("[::1]"); err != nil || got.Producer != "http://[::1]:8080" {
		t.Errorf("IPv6 host: %+v, %v", got, err)
	}
	for _, c := range []struct{ in, want string }{
		{"", "no URL for producer, workers, vendor-mock, consumer, jaeger"},
		{"producer=http://a:1", "no URL for workers"},
		{"localhost,otherhost", "two hosts"},
		{"localhost:8080", "is not a host name"},
		{"localhost,db=http://x:1", `unknown name "db"`},
		{"localhost,jaeger=localhost:16686", "want a base URL"},
		{"localhost,jaeger=http://x:1/jaeger", "want a base URL"},
		{"localhost,jaeger=http://x:1,jaeger=http://y:1", "jaeger given twice"},
	} {
		if _, err := ParseTargets(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTargets(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestCheckLiveNamesEveryStartOnlySetting(t *testing.T) {
	p, err := plan.Parse([]byte(`
workload: {steady: {rate: 10}}
profile: {LOG_LEVEL: warn}
rows:
  - name: a
    profile: {RESULTS_BUFFER: 400, FAULT_PRESET: slow, CONCURRENCY: 4}
  - name: b
    profile: {DEDUP_CAPACITY: 10}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckLive(p)
	for _, want := range []string{
		`row "a": producer:LOG_LEVEL, workers:LOG_LEVEL, vendor-mock:LOG_LEVEL, consumer:LOG_LEVEL can only be set when the service starts`,
		`row "b": producer:LOG_LEVEL, workers:LOG_LEVEL, vendor-mock:LOG_LEVEL, consumer:DEDUP_CAPACITY, consumer:LOG_LEVEL`,
		"workers:RESULTS_BUFFER",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckLive = %v\nwant %q", err, want)
		}
	}
	p.Rows = p.Rows[:1]
	p.Rows[0].Profile = p.Rows[0].Profile[4:]
	if err := CheckLive(p); err != nil {
		t.Errorf("live settings only: %v", err)
	}
}

// fakeStack is the four services' admin and stats endpoints, enough for
// Target: it records every change and drains on demand.
type fakeStack struct {
	mu       sync.Mutex
	changes  []string
	inFlight int // results waiting; a boosted consumer clears them
	workers  map[string]any
	consumer map[string]any
	faults   json.RawMessage
	load     map[string]any
}

func (f *fakeStack) handler(service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodGet {
			f.changes = append(f.changes, service+" "+r.Method+" "+r.URL.Path+" "+string(body))
		}
		var patch map[string]any
		json.Unmarshal(body, &patch)
		switch {
		case r.URL.Path == "/stats":
			switch service {
			case "workers":
				json.NewEncoder(w).Encode(map[string]any{"counters": map[string]any{"submitted": 10, "completed": 10, "delivered": 10 - f.inFlight}})
			default:
				w.Write([]byte(`{}`))
			}
		case service == "workers" && r.URL.Path == "/admin/config":
			for k, v := range patch {
				f.workers[k] = v
			}
			// As the workers do: 0 is resolved against the workers in force.
			if f.workers["queue_size"] == 0.0 {
				f.workers["queue_size"] = f.workers["workers"].(float64) * 10
			}
			if f.workers["results_buffer"] == 0.0 {
				f.workers["results_buffer"] = f.workers["workers"]
			}
			json.NewEncoder(w).Encode(f.workers)
		case service == "consumer" && r.URL.Path == "/admin/config":
			for k, v := range patch {
				f.consumer[k] = v
			}
			if patch["process_delay"] == "0" {
				f.inFlight = 0
			}
			json.NewEncoder(w).Encode(f.consumer)
		case service == "vendor-mock" && r.URL.Path == "/admin/faults":
			if r.Method == http.MethodPut {
				f.faults = body
			}
			w.Write(f.faults)
		case service == "vendor-mock" && strings.HasPrefix(r.URL.Path, "/admin/faults/presets/"):
			f.faults = json.RawMessage(`{"preset":"` + strings.TrimPrefix(r.URL.Path, "/admin/faults/presets/") + `"}`)
			w.Write(f.faults)
		case service == "producer" && r.URL.Path == "/admin/load":
			if r.Method == http.MethodPut {
				f.load = patch
			}
			json.NewEncoder(w).Encode(f.load)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestTargetAppliesRowsOnTopOfWhatItFoundAndPutsItBack(t *testing.T) {
	f := &fakeStack{
		workers:  map[string]any{"workers": 4.0, "queue_size": 40.0, "results_buffer": 4.0, "result_send": "blocking", "priority_lanes": "off", "vendor_timeout": "0", "forwarders": 1.0, "submit_wait": "1s", "cache_latency": "1ms-5ms", "db_acquire_latency": "2ms-7ms", "db_query_latency": "10ms-50ms"},
		consumer: map[string]any{"process_delay": "50ms", "concurrency": 1.0, "dedup_capacity": 100000.0},
		faults:   json.RawMessage(`{"preset":"custom","global":{"latency":{"min":"1ms"}}}`),
		load:     map[string]any{"scenario": "checkout", "checkout_every": "20s"},
	}
	servers := map[string]*httptest.Server{}
	for _, s := range []string{"producer", "workers", "vendor-mock", "consumer"} {
		servers[s] = httptest.NewServer(f.handler(s))
		defer servers[s].Close()
	}
	ctx := context.Background()
	tg, err := NewTarget(ctx, Targets{Producer: servers["producer"].URL, Workers: servers["workers"].URL, VendorMock: servers["vendor-mock"].URL, Consumer: servers["consumer"].URL, Jaeger: "http://jaeger"})
	if err != nil {
		t.Fatal(err)
	}
	tg.BoostAfter, tg.Poll = 0, time.Millisecond

	env := settings.Env{}
	env.Apply(settings.Setting{Name: "RESULTS_BUFFER", Value: "400"}, settings.Setting{Name: "CONCURRENCY", Value: "8"}, settings.Setting{Name: "FAULT_PRESET", Value: "slow"})
	f.inFlight = 3 // a backlog from before: drained first
	if err := tg.Prepare(ctx, env); err != nil {
		t.Fatal(err)
	}
	if f.workers["results_buffer"] != 400.0 || f.workers["forwarders"] != 1.0 || f.consumer["concurrency"] != 8.0 || f.consumer["process_delay"] != "50ms" {
		t.Errorf("after Prepare: workers %v consumer %v; want the row's values, the rest as found (the drain's boost undone)", f.workers, f.consumer)
	}
	if string(f.faults) != `{"preset":"slow"}` || f.load["scenario"] != "idle" {
		t.Errorf("after Prepare: faults %s, load %v", f.faults, f.load)
	}
	joined := strings.Join(f.changes, "\n")
	for _, want := range []string{`consumer PUT /admin/config {"concurrency":64,"process_delay":"0"}`, `workers PUT /admin/config {"forwarders":64}`} {
		if !strings.Contains(joined, want) {
			t.Errorf("the drain did not boost the consumer (%s):\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "dedup_capacity") {
		t.Errorf("a read-only field was sent:\n%s", joined)
	}

	// More workers, the rest as at start: the queue and the results
	// channel found at their defaults follow WORKERS, as on a fresh start.
	more := settings.Env{}
	more.Apply(settings.Setting{Name: "WORKERS", Value: "8"})
	if err := tg.Prepare(ctx, more); err != nil {
		t.Fatal(err)
	}
	if f.workers["workers"] != 8.0 || f.workers["queue_size"] != 80.0 || f.workers["results_buffer"] != 8.0 {
		t.Errorf("WORKERS=8: workers %v", f.workers)
	}

	if err := tg.StartLoad(ctx, plan.Workload{Steady: &plan.Steady{Rate: 50, Mix: map[string]float64{"database": 1}}}); err != nil {
		t.Fatal(err)
	}
	if f.load["scenario"] != "steady" || f.load["rate"] != 50.0 || f.load["steady_duration"] != "0" {
		t.Errorf("load %v", f.load)
	}

	// The next row without the preset gets the faults found at the start.
	if err := tg.Prepare(ctx, settings.Env{}); err != nil {
		t.Fatal(err)
	}
	if string(f.faults) != `{"preset":"custom","global":{"latency":{"min":"1ms"}}}` || f.workers["results_buffer"] != 4.0 || f.workers["queue_size"] != 40.0 || f.workers["workers"] != 4.0 || f.consumer["concurrency"] != 1.0 {
		t.Errorf("a row without settings: faults %s workers %v consumer %v", f.faults, f.workers, f.consumer)
	}

	bad := settings.Env{}
	bad.Apply(settings.Setting{Service: "consumer", Name: "DEDUP_CAPACITY", Value: "5"})
	if err := tg.Prepare(ctx, bad); err == nil || !strings.Contains(err.Error(), "consumer:DEDUP_CAPACITY cannot change on a running stack") {
		t.Errorf("Prepare with a start-only setting: %v", err)
	}

	tg.StartLoad(ctx, plan.Workload{Checkout: &plan.Checkout{Every: time.Second, Timeout: time.Second}})
	if err := tg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.load["scenario"] != "checkout" || f.load["checkout_every"] != "20s" {
		t.Errorf("after Close the load is %v, want the one found", f.load)
	}
}

func TestTargetDrainTimesOutWithWhatIsStuck(t *testing.T) {
	f := &fakeStack{workers: map[string]any{}, consumer: map[string]any{}, faults: json.RawMessage(`{}`), load: map[string]any{}}
	servers := map[string]*httptest.Server{}
	for _, s := range []string{"producer", "workers", "vendor-mock", "consumer"} {
		servers[s] = httptest.NewServer(f.handler(s))
		defer servers[s].Close()
	}
	tg, err := NewTarget(context.Background(), Targets{Producer: servers["producer"].URL, Workers: servers["workers"].URL, VendorMock: servers["vendor-mock"].URL, Consumer: servers["consumer"].URL, Jaeger: "http://j"})
	if err != nil {
		t.Fatal(err)
	}
	tg.BoostAfter, tg.Poll, tg.DrainTimeout = time.Hour, time.Millisecond, 50*time.Millisecond
	f.inFlight = 2
	err = tg.Prepare(context.Background(), settings.Env{})
	if err == nil || !strings.Contains(err.Error(), "the pipeline did not empty within 50ms between rows: 2 results wait for delivery") {
		t.Errorf("Prepare with a stuck pipeline: %v", err)
	}
}
