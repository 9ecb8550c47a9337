package console

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/analysis/analysistest"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/collect"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/diagnose"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/jaegerapi"
)

// exportingJaeger answers searches as Jaeger would while the system runs:
// a span is there once the service exported it, exportDelay after it
// ended; a trace matches when one of its spans of the service (and
// operation, and tags) started in [Start, End].
type exportingJaeger struct {
	traces []jaegerapi.Trace
	now    time.Time
}

const exportDelay = time.Second

func (f *exportingJaeger) FindTraces(_ context.Context, q jaegerapi.Query) ([]jaegerapi.Trace, error) {
	cut := f.now.Add(-exportDelay).UnixMicro()
	var out []jaegerapi.Trace
	for i := range f.traces {
		t := f.traces[i]
		seen := jaegerapi.Trace{TraceID: t.TraceID, Processes: t.Processes}
		match := false
		for j := range t.Spans {
			s := &t.Spans[j]
			if s.End() > cut {
				continue
			}
			seen.Spans = append(seen.Spans, *s)
			if t.Service(s) != q.Service || (q.Operation != "" && s.OperationName != q.Operation) ||
				s.StartTime < q.Start.UnixMicro() || s.StartTime > q.End.UnixMicro() {
				continue
			}
			tagsMatch := true
			for k, v := range q.Tags {
				tagsMatch = tagsMatch && s.TagString(k) == v
			}
			match = match || tagsMatch
		}
		if match {
			out = append(out, seen)
		}
	}
	return out, nil
}

// The review's case: RESULTS_BUFFER=400 under a steady 100 jobs/s, the
// consumer at 20/s. Accepted jobs take about 22 s from arrival to the
// consumer, and four in five are shed. The console's verdict must see the
// load that arrived in its window (100/s, most of it shed), not the jobs
// that happened to finish in it (which arrived 22 s earlier): before, it
// said "57.8 jobs/s arrive" and "81.2 shed", more shed than arrived. With
// QUEUE_SIZE=400 instead, accepted jobs wait 20 s in the queue, where no
// span of theirs has ended but their job.submit: the window must still
// hold them.
func TestDiagnosisIsOverTheJobsThatArrivedInItsWindow(t *testing.T) {
	for _, c := range []struct {
		name          string
		buffer, queue int
		handedOff     bool // the collector reads results as they are handed off
	}{
		{"results buffer 400", 400, 40, true},
		{"queue 400", 4, 400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := analysistest.IncidentConfig()
			cfg.ResultsBuffer, cfg.QueueSize = c.buffer, c.queue
			diagnoseSteadyOverload(t, cfg, c.handedOff)
		})
	}
}

// overloadRate is the steady load of overloadSnapshot, in jobs/s.
const overloadRate = 100.0

// overloadSnapshot is what the console's collector holds after 75 s of a
// steady overloadRate of cache reads under cfg, the consumer at 50 ms a
// result: the trace window polled once a second, as the collector does.
func overloadSnapshot(t *testing.T, cfg analysis.SimConfig, handedOff bool) *collect.Snapshot {
	t.Helper()
	const seconds = 75
	run := analysistest.Simulate(cfg, analysistest.Load{Rate: overloadRate, Seconds: seconds, Mix: [3]float64{1, 0, 0}, ConsumerMS: 50, RTTMS: 1, Seed: 3})
	jaeger := &exportingJaeger{traces: run.Traces(2)}
	window := collect.NewTraceWindow(jaeger, collect.WindowOptions{Keep: 90 * time.Second, MaxTraces: 20000, Limit: 5000})
	window.SetEnabled(collect.StreamHandedOff, handedOff)

	base := time.UnixMicro(analysistest.Base)
	var now time.Time
	for sec := 1; sec <= seconds; sec++ {
		now = base.Add(time.Duration(sec) * time.Second)
		jaeger.now = now
		if _, err := window.Poll(context.Background(), now); err != nil {
			t.Fatal(err)
		}
	}
	traces, version := window.Traces()
	stats, _ := window.Stats()
	return &collect.Snapshot{At: now, Traces: traces, TracesVersion: version, Window: stats}
}

// modelConsole is a console whose diagnosis covers window, with the
// capacity model.
func modelConsole(window time.Duration) *Console {
	return &Console{opt: Options{DiagnosisWindow: window, Diagnoser: diagnose.Model{SimBudget: simBudget, Admin: testAdmin}, Log: slog.New(slog.DiscardHandler)}}
}

func diagnoseSteadyOverload(t *testing.T, cfg analysis.SimConfig, handedOff bool) {
	const rate = overloadRate
	s := overloadSnapshot(t, cfg, handedOff)
	base, now := time.UnixMicro(analysistest.Base), s.At
	d := modelConsole(30 * time.Second).diagnosis(s)
	t.Logf("window %s..%s (now %s): %d jobs, %d shed; %.1f/s offered, %.1f/s shed, %.1f/s handled: %s",
		d.WindowStart.Sub(base), d.WindowEnd.Sub(base), now.Sub(base), d.Jobs, d.Rejected, d.OfferedPerS, d.ShedPerS, d.Throughput, d.Verdict)

	if lag := now.Sub(d.WindowEnd); lag < 2*time.Second || lag > 8*time.Second || d.WindowEnd.Sub(d.WindowStart) != 30*time.Second {
		t.Errorf("window %s..%s at %s: want the 30 s up to where every arrival is in (2–7 s ago)", d.WindowStart, d.WindowEnd, now)
	}
	// 30 s at 100/s: the jobs that arrived, in flight or not.
	if want := int(30 * rate); math.Abs(float64(d.Jobs-want)) > 0.05*float64(want) {
		t.Errorf("%d jobs analysed, want the ~%d that arrived in the window", d.Jobs, want)
	}
	if math.Abs(d.OfferedPerS-rate) > 0.1*rate {
		t.Errorf("offered %.1f jobs/s, want %.0f ±10%%", d.OfferedPerS, rate)
	}
	if d.Rejected > d.Jobs || d.ShedPerS > d.OfferedPerS {
		t.Errorf("%d of %d jobs shed, %.1f/s of %.1f/s: more shed than arrived", d.Rejected, d.Jobs, d.ShedPerS, d.OfferedPerS)
	}
	if d.Stage != "consumer" {
		t.Errorf("stage %q (%s), want the consumer", d.Stage, d.Verdict)
	}
	// The fix cards' ready commands name the services' admin host:port.
	if len(d.Fixes) == 0 || len(d.Fixes[0].Also) == 0 {
		t.Fatalf("fixes %+v, want the consumer's capacity with the forwarders", d.Fixes)
	}
	for _, c := range []struct{ curl, want string }{{d.Fixes[0].Curl, "curl -X PUT 127.0.0.1:18083/admin/config "}, {d.Fixes[0].Also[0].Curl, "curl -X PUT 127.0.0.1:18081/admin/config "}} {
		if !strings.HasPrefix(c.curl, c.want) {
			t.Errorf("curl %q, want it to start %q", c.curl, c.want)
		}
	}
}

// testAdmin is what Start makes of --workers http://127.0.0.1:18081/ and
// --consumer http://127.0.0.1:18083.
var testAdmin = analysis.AdminURLs{Workers: adminAddr("http://127.0.0.1:18081/"), Consumer: adminAddr("http://127.0.0.1:18083")}

// The console hands the analysis host:port, as AdminURLs wants: given its
// http://host:port flags as they are, the fixes' admin URLs came out as
// http://http://….
func TestConsoleGivesTheAnalysisItsAdminAddresses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Start(ctx, Options{Listen: "127.0.0.1:0", Jaeger: "http://127.0.0.1:1", Producer: "http://127.0.0.1:18080",
		Workers: "http://127.0.0.1:18081/", VendorMock: "http://127.0.0.1:18082", Consumer: "http://127.0.0.1:18083"})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.opt.Diagnoser.(diagnose.Model)
	if !ok || m.Admin != testAdmin || m.Admin.Workers != "127.0.0.1:18081" || m.Admin.Consumer != "127.0.0.1:18083" {
		t.Errorf("diagnoser %#v: want the capacity model with admin 127.0.0.1:18081 and 127.0.0.1:18083", c.opt.Diagnoser)
	}
}

// /api/snapshot's diagnosis speaks the same snake_case as the rest of it.
func TestDiagnosisJSONIsSnakeCase(t *testing.T) {
	b, err := json.Marshal(diagnose.Diagnosis{Stages: map[string]diagnose.Stage{"consumer": {}}, Fixes: []diagnose.Fix{{Also: []diagnose.Fix{{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range regexp.MustCompile(`"([A-Za-z_]+)":`).FindAllStringSubmatch(string(b), -1) {
		if k := key[1]; k != strings.ToLower(k) && k != "consumer" {
			t.Errorf("key %q in %s is not snake_case", k, b)
		}
	}
	for _, want := range []string{`"stage":`, `"verdict":`, `"fixes":`, `"curl":`, `"offered_per_s":`, `"window_start":`, `"arrivals_per_s":`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("diagnosis JSON lacks %s: %s", want, b)
		}
	}
}

// A diagnosis window shorter than the jobs take end to end (a full
// 400-slot results channel makes it ~22 s; `--diagnosis-window 10s`): none
// of the jobs that arrived in it is handled yet. The jobs the consumer
// handled in it arrived before it, and they are what shows its pace; the
// console hands them to the analysis as its completions.
func TestDiagnosisWindowShorterThanTheJobsTake(t *testing.T) {
	cfg := analysistest.IncidentConfig()
	cfg.ResultsBuffer = 400
	d := modelConsole(10 * time.Second).diagnosis(overloadSnapshot(t, cfg, true))
	t.Logf("%d jobs; %.1f/s offered, %.1f/s handled: %s", d.Jobs, d.OfferedPerS, d.Throughput, d.Verdict)
	if d.Stage != "consumer" || d.Throughput < 15 || d.Throughput > 25 {
		t.Errorf("stage %q at %.1f jobs/s handled (%s); want the consumer, at its ~20/s", d.Stage, d.Throughput, d.Verdict)
	}
}
