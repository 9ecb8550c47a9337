package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/spans"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/tracing"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
)

// vendor answers any /v1/... call after the wait and with the status its
// fault decision says. The decision is made per request.
func (s *Server) vendor(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		methodNotAllowed(w, r, "GET", "HEAD", "POST")
		return
	}
	// Read the body before waiting: Go's server notices a caller that gave
	// up (and cancels r.Context()) only once the body has been consumed, so
	// an unread POST body would keep a hung handler waiting for its full
	// injected time after the workers' VENDOR_TIMEOUT fired.
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, httpjson.MaxBody)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpjson.WriteError(w, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body larger than %d bytes", httpjson.MaxBody)})
		}
		return // otherwise the caller is gone mid-body: nobody to answer
	}
	ctx, span := s.tracing.StartSpan(r.Context(), spans.VendorHandle)
	defer span.Finish()

	cfg := s.faults.Load()
	rule, ruleName := cfg.RuleFor(r.URL.Path)
	d := s.decider.Decide(rule)
	end := s.stats.begin(r.URL.Path, d)

	span.SetTag(spans.FaultPreset, cfg.Preset)
	span.SetTag(spans.FaultRule, ruleName)
	span.SetTag(spans.VendorPath, r.URL.Path)
	span.SetBoolTag(spans.FaultDegraded, d.Degraded)
	span.SetBoolTag(spans.FaultError, d.Error)
	span.SetBoolTag(spans.FaultHang, d.Hang)

	start := time.Now()
	outcome := s.wait(ctx, d)
	waited := time.Since(start)
	// The time actually held, not the plan: a hang has no planned end, and
	// a cancelled call ends early.
	span.SetIntTag(spans.FaultInjectedLatencyMS, int(waited.Milliseconds()))
	end(outcome == waitCancelled)

	seq := s.requestSeq.Add(1)
	reqID := "req-" + strconv.FormatUint(seq, 10)
	status := d.Status
	errDesc := fmt.Sprintf("injected %d %s", status, http.StatusText(status))
	var body any
	switch {
	case outcome == waitCancelled:
		// The caller is gone; nothing to write. The span says why it ended.
		span.SetTag(tracing.TagError, fmt.Sprintf("caller gave up after %dms", waited.Milliseconds()))
		s.log.DebugContext(ctx, "vendor call cancelled by the caller", "path", r.URL.Path, "waited", waited, "err", context.Cause(ctx))
		return
	case outcome == waitStopped:
		status = http.StatusServiceUnavailable
		errDesc = "vendor-mock is shutting down"
		body = errorBody{Error: errDesc, RequestID: reqID}
	case d.Hang:
		body = errorBody{Error: fmt.Sprintf("vendor unavailable: no answer within %s", d.Delay), RequestID: reqID}
	case d.Error:
		body = errorBody{Error: "injected fault: " + http.StatusText(status), RequestID: reqID}
	default:
		body = answer(r.URL.Path, seq, fault{
			Preset: cfg.Preset, Rule: ruleName, Degraded: d.Degraded, InjectedLatencyMS: waited.Milliseconds(),
		})
	}
	span.SetIntTag(spans.HTTPStatus, status)
	if status >= 400 {
		span.SetTag(tracing.TagError, errDesc)
	}
	s.log.DebugContext(ctx, "vendor call", "path", r.URL.Path, "status", status, "rule", ruleName,
		"degraded", d.Degraded, "hang", d.Hang, "waited", waited)
	httpjson.Write(w, status, body)
}

type waitOutcome int

const (
	waitDone waitOutcome = iota
	waitCancelled
	waitStopped
)

// wait holds the call for the decision's delay, or until the caller gives
// up for a hang without timeout. Every wait ends as soon as the caller
// cancels or the server stops, so no handler outlives its caller.
func (s *Server) wait(ctx context.Context, d faults.Decision) waitOutcome {
	// Checked first: a call with no delay would otherwise be answered as if
	// the server were not stopping.
	select {
	case <-s.stopping:
		return waitStopped
	default:
	}
	var timeout <-chan time.Time
	if !d.Hang || d.Delay > 0 {
		if d.Delay <= 0 {
			return waitDone
		}
		t := time.NewTimer(d.Delay)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return waitDone
	case <-ctx.Done():
		return waitCancelled
	case <-s.stopping:
		return waitStopped
	}
}

type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

// fault tells a caller reading bodies what was done to its call.
type fault struct {
	Preset            string `json:"preset"`
	Rule              string `json:"rule"`
	Degraded          bool   `json:"degraded"`
	InjectedLatencyMS int64  `json:"injected_latency_ms"`
}

// answer is a small plausible reply for the vendor endpoint at path.
func answer(path string, seq uint64, f fault) map[string]any {
	a := map[string]any{"request_id": "req-" + strconv.FormatUint(seq, 10), "fault": f}
	switch path {
	case "/v1/payment/authorize":
		a["status"] = "approved"
		a["authorization_code"] = fmt.Sprintf("AUTH-%06d", seq)
	case "/v1/fraud/check":
		a["status"] = "pass"
		a["risk_score"] = 0.07
	case "/v1/shipping/calculate":
		a["status"] = "ok"
		a["amount"] = "7.99"
		a["currency"] = "USD"
		a["estimated_days"] = 3
	case "/v1/tax/calculate":
		a["status"] = "ok"
		a["rate"] = 0.0825
	default:
		a["status"] = "ok"
	}
	return a
}
