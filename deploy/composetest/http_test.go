package composetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

var client = &http.Client{Timeout: 30 * time.Second}

// callJSON sends a JSON request (in may be nil) and decodes a 200 answer
// into out (may be nil).
func callJSON(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding %s: %w", method, u, data, err)
		}
	}
	return nil
}

// burst is the producer's answer to POST /admin/checkout: the fields the
// test reads.
type burst struct {
	Batch     string `json:"batch"`
	Completed int    `json:"completed"`
	Total     int    `json:"total"`
	TimedOut  bool   `json:"timed_out"`
	Jobs      []struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		TraceID string `json:"trace_id"`
		Done    bool   `json:"done"`
	} `json:"jobs"`
}

// checkout runs one checkout burst through the producer and returns when
// the producer says it completed or timed out.
func checkout(ctx context.Context, producer string) (burst, error) {
	var b burst
	if err := callJSON(ctx, http.MethodPost, producer+"/admin/checkout", nil, &b); err != nil {
		return b, err
	}
	if b.Total == 0 || len(b.Jobs) != b.Total {
		return b, fmt.Errorf("checkout %s answered %d jobs of %d", b.Batch, len(b.Jobs), b.Total)
	}
	for _, j := range b.Jobs {
		if j.TraceID == "" {
			return b, fmt.Errorf("checkout %s: job %s has no trace_id", b.Batch, j.ID)
		}
	}
	return b, nil
}

// complete is checkout that also wants every job of the burst done.
func (b burst) complete() error {
	if b.TimedOut || b.Completed != b.Total {
		return fmt.Errorf("checkout %s: %d of %d jobs completed (timed_out=%v)", b.Batch, b.Completed, b.Total, b.TimedOut)
	}
	return nil
}

func (b burst) traceIDs(jobType string) []string {
	var ids []string
	for _, j := range b.Jobs {
		if jobType == "" || j.Type == jobType {
			ids = append(ids, j.TraceID)
		}
	}
	return ids
}

// The part of Jaeger's /api/traces JSON the test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		StartTime int64 `json:"startTime"` // µs since the epoch
		Duration  int64 `json:"duration"`  // µs
		Tags      []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
		ProcessID string `json:"processID"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// span is a span of a fetched trace, with its service.
type span struct {
	name, service, id, parent string
	start, end                time.Time
	tags                      map[string]any
}

// boolTag reads a boolean attribute; the tracez bridge exports tags as
// strings ("true"), a typed exporter as booleans.
func (s span) boolTag(key string) bool {
	switch v := s.tags[key].(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	}
	return false
}

type trace struct {
	id    string
	spans []span
}

func newTrace(jt jaegerTrace) trace {
	t := trace{id: jt.TraceID}
	for _, js := range jt.Spans {
		s := span{
			name: js.OperationName, service: jt.Processes[js.ProcessID].ServiceName, id: js.SpanID,
			start: time.UnixMicro(js.StartTime), end: time.UnixMicro(js.StartTime + js.Duration),
			tags: map[string]any{},
		}
		for _, r := range js.References {
			if r.RefType == "CHILD_OF" {
				s.parent = r.SpanID
			}
		}
		for _, tag := range js.Tags {
			s.tags[tag.Key] = tag.Value
		}
		t.spans = append(t.spans, s)
	}
	return t
}

// named returns the spans called name, of service if it is not empty.
func (t trace) named(service, name string) []span {
	var out []span
	for _, s := range t.spans {
		if s.name == name && (service == "" || s.service == service) {
			out = append(out, s)
		}
	}
	return out
}

func (t trace) services() []string {
	var out []string
	for _, s := range t.spans {
		if !slices.Contains(out, s.service) {
			out = append(out, s.service)
		}
	}
	slices.Sort(out)
	return out
}

// shape checks that the trace is one tree: one root, and every other span's
// parent is in it.
func (t trace) shape() error {
	ids := map[string]bool{}
	for _, s := range t.spans {
		ids[s.id] = true
	}
	var roots, orphans []string
	for _, s := range t.spans {
		switch {
		case s.parent == "":
			roots = append(roots, s.service+" "+s.name)
		case !ids[s.parent]:
			orphans = append(orphans, s.service+" "+s.name)
		}
	}
	if len(roots) != 1 || len(orphans) > 0 {
		return fmt.Errorf("trace %s: roots %v (want 1), spans with a missing parent %v", t.id, roots, orphans)
	}
	return nil
}

func (t trace) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s, %d spans:", t.id, len(t.spans))
	for _, s := range t.spans {
		fmt.Fprintf(&b, "\n  %-12s %-32s %s", s.service, s.name, s.end.Sub(s.start).Round(time.Microsecond))
	}
	return b.String()
}

type jaeger struct{ base string }

// trace fetches one trace; found is false while Jaeger does not have it.
func (j jaeger) trace(ctx context.Context, id string) (t trace, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.base+"/api/traces/"+url.PathEscape(id), nil)
	if err != nil {
		return t, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return t, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return t, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return t, false, fmt.Errorf("jaeger /api/traces/%s: %s", id, resp.Status)
	}
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return t, false, fmt.Errorf("jaeger /api/traces/%s: %w", id, err)
	}
	if len(body.Data) == 0 {
		return t, false, nil
	}
	return newTrace(body.Data[0]), true, nil
}

// await polls Jaeger until ready accepts every trace, or until timeout;
// the error then says what each unfinished trace lacked. Each service
// exports on its own about every second, so a trace fills in over time.
func (j jaeger) await(ctx context.Context, ids []string, timeout time.Duration, ready func(trace) error) (map[string]trace, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got := map[string]trace{}
	why := map[string]error{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, id := range ids {
			if _, ok := got[id]; ok && why[id] == nil {
				continue
			}
			tr, found, err := j.trace(ctx, id)
			switch {
			case err != nil:
				why[id] = err
			case !found:
				why[id] = fmt.Errorf("trace %s: not in Jaeger", id)
			default:
				got[id], why[id] = tr, ready(tr)
			}
		}
		var pending []string
		for _, id := range ids {
			if why[id] != nil {
				pending = append(pending, why[id].Error())
			}
		}
		if len(pending) == 0 {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("after %s, %d of %d traces unfinished:\n  %s", timeout, len(pending), len(ids), strings.Join(pending, "\n  "))
		case <-tick.C:
		}
	}
}
