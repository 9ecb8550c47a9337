package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The subset of Jaeger's /api/traces JSON the tests read.
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []tag       `json:"tags"`
	ProcessID     string      `json:"processID"`
}

type reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type tag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type jaegerProcess struct {
	ServiceName string `json:"serviceName"`
}

// trace is a fetched trace with its spans indexed.
type trace struct {
	id     string
	spans  []*span
	byID   map[string]*span
	roots  []*span
	orphan []*span // parent not in the trace
}

type span struct {
	jaegerSpan
	service  string
	parentID string
	parent   *span
	children []*span
	// links are the span IDs this span links to (OTel links, which Jaeger
	// shows as FOLLOWS_FROM references).
	links []string
}

func (s *span) start() time.Time        { return time.UnixMicro(s.StartTime) }
func (s *span) end() time.Time          { return time.UnixMicro(s.StartTime + s.Duration) }
func (s *span) duration() time.Duration { return time.Duration(s.Duration) * time.Microsecond }

func (s *span) tag(key string) (any, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return nil, false
}

// boolTag reads a boolean attribute. The tracez bridge exports every tag as
// a string ("true"), a typed exporter would send a bool: accept both.
func (s *span) boolTag(key string) (value, ok bool) {
	switch v, _ := s.tag(key); v := v.(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

func (s *span) stringTag(key string) string {
	v, _ := s.tag(key)
	str, _ := v.(string)
	return str
}

// intTag reads an integer attribute (Jaeger's JSON has numbers as float64).
func (s *span) intTag(key string) (int64, bool) {
	switch v, _ := s.tag(key); v := v.(type) {
	case float64:
		return int64(v), true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// isError is Jaeger's view of an OTel span with status Error.
func (s *span) isError() bool {
	b, _ := s.boolTag("error")
	return b || s.stringTag("otel.status_code") == "ERROR"
}

func newTrace(jt jaegerTrace) *trace {
	t := &trace{id: jt.TraceID, byID: map[string]*span{}}
	for _, js := range jt.Spans {
		s := &span{jaegerSpan: js, service: jt.Processes[js.ProcessID].ServiceName}
		for _, r := range js.References {
			switch r.RefType {
			case "CHILD_OF":
				s.parentID = r.SpanID
			case "FOLLOWS_FROM":
				s.links = append(s.links, r.SpanID)
			}
		}
		t.spans = append(t.spans, s)
		t.byID[s.SpanID] = s
	}
	sort.Slice(t.spans, func(i, j int) bool { return t.spans[i].StartTime < t.spans[j].StartTime })
	for _, s := range t.spans {
		switch p, ok := t.byID[s.parentID]; {
		case s.parentID == "":
			t.roots = append(t.roots, s)
		case !ok:
			t.orphan = append(t.orphan, s)
		default:
			s.parent = p
			p.children = append(p.children, s)
		}
	}
	return t
}

// named returns the spans with an operation name, in start order.
func (t *trace) named(op string) []*span {
	var out []*span
	for _, s := range t.spans {
		if s.OperationName == op {
			out = append(out, s)
		}
	}
	return out
}

func (t *trace) services() []string {
	var out []string
	for _, s := range t.spans {
		if !slices.Contains(out, s.service) {
			out = append(out, s.service)
		}
	}
	slices.Sort(out)
	return out
}

// serviceChain is the services on the path from the root to s, each once,
// in order: producer → workers → vendor-mock for a vendor span.
func serviceChain(s *span) []string {
	var path []string
	for ; s != nil; s = s.parent {
		if len(path) == 0 || path[len(path)-1] != s.service {
			path = append(path, s.service)
		}
	}
	slices.Reverse(path)
	return path
}

// extent is the trace's wall time: first span start to last span end.
func (t *trace) extent() time.Duration {
	if len(t.spans) == 0 {
		return 0
	}
	first, last := t.spans[0].start(), t.spans[0].end()
	for _, s := range t.spans {
		if s.end().After(last) {
			last = s.end()
		}
	}
	return last.Sub(first)
}

// String draws the trace as a tree for failure messages.
func (t *trace) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s: %d spans, services %v, %d root(s), %d with a missing parent, %s\n",
		t.id, len(t.spans), t.services(), len(t.roots), len(t.orphan), t.extent().Round(time.Microsecond))
	var origin time.Time
	if len(t.spans) > 0 {
		origin = t.spans[0].start()
	}
	var draw func(s *span, depth int)
	draw = func(s *span, depth int) {
		fmt.Fprintf(&b, "  %s%-12s %-28s +%-9s %-9s %s\n", strings.Repeat("  ", depth), s.service, s.OperationName,
			s.start().Sub(origin).Round(time.Microsecond), s.duration().Round(time.Microsecond), interestingTags(s))
		for _, c := range s.children {
			draw(c, depth+1)
		}
	}
	for _, r := range t.roots {
		draw(r, 0)
	}
	for _, o := range t.orphan {
		fmt.Fprintf(&b, "  (parent %s missing)\n", o.parentID)
		draw(o, 1)
	}
	return b.String()
}

func interestingTags(s *span) string {
	var parts []string
	for _, tg := range s.Tags {
		switch {
		case strings.HasPrefix(tg.Key, "job."), strings.HasPrefix(tg.Key, "channel."), strings.HasPrefix(tg.Key, "fault."),
			strings.HasPrefix(tg.Key, "block."), tg.Key == "error", tg.Key == "otel.status_description":
			parts = append(parts, fmt.Sprintf("%s=%v", tg.Key, tg.Value))
		}
	}
	return strings.Join(parts, " ")
}

// search asks Jaeger for the IDs of traces of service with a span named
// operation and the given tags, as the UI's Search does.
func (j *jaegerClient) search(ctx context.Context, service, operation string, tags map[string]string, since time.Time) ([]string, error) {
	tagJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, err
	}
	q := url.Values{
		"service": {service}, "operation": {operation}, "tags": {string(tagJSON)}, "limit": {"1000"},
		"start": {strconv.FormatInt(since.UnixMicro(), 10)}, "end": {strconv.FormatInt(time.Now().Add(time.Minute).UnixMicro(), 10)},
	}
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	if _, err := j.get(ctx, "/api/traces?"+q.Encode(), &body); err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range body.Data {
		ids = append(ids, t.TraceID)
	}
	return ids, nil
}

// spansOf counts the distinct spans of service in Jaeger, in traces with a
// span of it that started after since.
func (j *jaegerClient) spansOf(ctx context.Context, service string, since time.Time) (int, error) {
	const limit = 20000
	q := url.Values{
		"service": {service}, "limit": {strconv.Itoa(limit)},
		"start": {strconv.FormatInt(since.UnixMicro(), 10)}, "end": {strconv.FormatInt(time.Now().Add(time.Minute).UnixMicro(), 10)},
	}
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	if _, err := j.get(ctx, "/api/traces?"+q.Encode(), &body); err != nil {
		return 0, err
	}
	if len(body.Data) >= limit {
		return 0, fmt.Errorf("%d traces or more of %s: the count would be cut", limit, service)
	}
	seen := map[string]bool{}
	for _, tr := range body.Data {
		for _, s := range tr.Spans {
			if tr.Processes[s.ProcessID].ServiceName == service {
				seen[s.SpanID] = true
			}
		}
	}
	return len(seen), nil
}

// jaegerClient reads Jaeger's query API.
type jaegerClient struct {
	base string
	http *http.Client
}

func newJaeger(base string) *jaegerClient {
	return &jaegerClient{base: base, http: &http.Client{Timeout: 5 * time.Second}}
}

// trace fetches one trace; found is false while Jaeger does not have it (yet).
func (j *jaegerClient) trace(ctx context.Context, id string) (t *trace, found bool, err error) {
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	status, err := j.get(ctx, "/api/traces/"+url.PathEscape(id), &body)
	if err != nil {
		return nil, false, err
	}
	if status == http.StatusNotFound || len(body.Data) == 0 {
		return nil, false, nil
	}
	return newTrace(body.Data[0]), true, nil
}

func (j *jaegerClient) services(ctx context.Context) ([]string, error) {
	var body struct {
		Data []string `json:"data"`
	}
	_, err := j.get(ctx, "/api/services", &body)
	return body.Data, err
}

// get decodes a 200 answer into v and returns the status; 404 is not an error.
func (j *jaegerClient) get(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := j.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("jaeger %s: %w", path, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return resp.StatusCode, fmt.Errorf("jaeger %s: decoding: %w", path, err)
		}
	case http.StatusNotFound:
	default:
		return resp.StatusCode, fmt.Errorf("jaeger %s: %s", path, resp.Status)
	}
	return resp.StatusCode, nil
}

// awaitTraces polls Jaeger until every trace satisfies complete, or fails
// the test after timeout showing the traces as they were.
func awaitTraces(t *testing.T, ids []string, timeout time.Duration, complete func(*trace) error) map[string]*trace {
	t.Helper()
	got, err := pollTraces(ids, timeout, complete)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// pollTraces polls Jaeger until every trace satisfies complete, or the
// deadline passes; the error then shows the incomplete traces as they were.
// Spans reach Jaeger ~1-2 s after they end (the services' batch delay), and
// each service exports on its own, so a trace fills in over time.
func pollTraces(ids []string, timeout time.Duration, complete func(*trace) error) (map[string]*trace, error) {
	return pollTracesIn(sys.JaegerURL(), ids, timeout, complete)
}

// pollTracesIn is pollTraces against the Jaeger at base URL.
func pollTracesIn(base string, ids []string, timeout time.Duration, complete func(*trace) error) (map[string]*trace, error) {
	j := newJaeger(base)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got := map[string]*trace{}
	why := map[string]error{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := 0
		for _, id := range ids {
			if got[id] != nil && why[id] == nil {
				continue
			}
			tr, found, err := j.trace(ctx, id)
			switch {
			case err != nil:
				why[id] = err
			case !found:
				why[id] = fmt.Errorf("not in Jaeger")
			default:
				got[id], why[id] = tr, complete(tr)
			}
			if why[id] != nil {
				pending++
			}
		}
		if pending == 0 {
			return got, nil
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for _, id := range ids {
				if why[id] == nil {
					continue
				}
				fmt.Fprintf(&b, "\n%s: %v\n", id, why[id])
				if got[id] != nil {
					b.WriteString(got[id].String())
				}
			}
			return got, fmt.Errorf("%d of %d traces not complete in Jaeger after %s:%s", pending, len(ids), timeout, b.String())
		case <-tick.C:
		}
	}
}
