// Package controls proxies the console's buttons and forms to the
// services' admin APIs, so the page talks to one origin and needs no CORS.
// Only a fixed set of calls goes through; the service's status and body
// come back unchanged, so an error reads as the API worded it.
package controls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
)

// URLs are the services' base URLs.
type URLs struct {
	Producer, Workers, VendorMock, Consumer string
}

// Presets the vendor accepts (it answers anything else with its own 404).
var presets = []string{"healthy", "degraded", "slow", "flaky", "outage"}

// Handler serves POST /api/control/{what...}:
//
//	config/workers   → PUT  workers  /admin/config
//	config/consumer  → PUT  consumer /admin/config
//	preset/{name}    → POST vendor   /admin/faults/presets/{name}
//	load             → PUT  producer /admin/load
//	checkout         → POST producer /admin/checkout (answers when the burst is done)
func Handler(u URLs) http.Handler {
	hc := &http.Client{Timeout: 45 * time.Second}
	mux := http.NewServeMux()
	route := func(pattern, method string, target func(r *http.Request) (string, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := sameOrigin(r); err != nil {
				httpjson.WriteError(w, err)
				return
			}
			to, err := target(r)
			if err != nil {
				httpjson.WriteError(w, err)
				return
			}
			forward(w, r, hc, method, to)
		})
	}
	route("POST /api/control/config/{service}", http.MethodPut, func(r *http.Request) (string, error) {
		switch r.PathValue("service") {
		case "workers":
			return u.Workers + "/admin/config", nil
		case "consumer":
			return u.Consumer + "/admin/config", nil
		}
		return "", &httpjson.Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no config to change on %q; want workers or consumer", r.PathValue("service"))}
	})
	route("POST /api/control/preset/{name}", http.MethodPost, func(r *http.Request) (string, error) {
		name := r.PathValue("name")
		if !slices.Contains(presets, name) {
			return "", &httpjson.Error{Status: http.StatusNotFound, Message: fmt.Sprintf("unknown preset %q (want %s)", name, strings.Join(presets, ", "))}
		}
		return u.VendorMock + "/admin/faults/presets/" + url.PathEscape(name), nil
	})
	route("POST /api/control/load", http.MethodPut, func(*http.Request) (string, error) {
		return u.Producer + "/admin/load", nil
	})
	route("POST /api/control/checkout", http.MethodPost, func(*http.Request) (string, error) {
		return u.Producer + "/admin/checkout", nil
	})
	mux.HandleFunc("/api/control/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.WriteError(w, &httpjson.Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no control at %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// sameOrigin refuses requests another site's page makes: a browser marks
// them (Sec-Fetch-Site, Origin), and the JSON content type the page sends
// forces a CORS preflight this server never grants.
func sameOrigin(r *http.Request) error {
	forbidden := func(why string) error {
		return &httpjson.Error{Status: http.StatusForbidden, Message: "refused: " + why}
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return forbidden("the request came from another site (" + site + ")")
	}
	if o := r.Header.Get("Origin"); o != "" {
		ou, err := url.Parse(o)
		if err != nil || ou.Host != r.Host {
			return forbidden("origin " + o + " is not this console")
		}
	}
	ct := r.Header.Get("Content-Type")
	if r.ContentLength != 0 && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return &httpjson.Error{Status: http.StatusUnsupportedMediaType, Message: "send JSON (Content-Type: application/json)"}
	}
	return nil
}

// forward sends the body on and copies the answer back.
func forward(w http.ResponseWriter, r *http.Request, hc *http.Client, method, to string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpjson.MaxBody+1))
	if err != nil {
		httpjson.WriteError(w, fmt.Errorf("reading the request: %w", err))
		return
	}
	if len(body) > httpjson.MaxBody {
		httpjson.WriteError(w, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body larger than %d bytes", httpjson.MaxBody)})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hc.Timeout)
	defer cancel()
	// The admin calls that change settings take a JSON body; the POSTs
	// (a preset, a burst) take none.
	var rd io.Reader
	if method == http.MethodPut {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, to, rd)
	if err != nil {
		httpjson.WriteError(w, err)
		return
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			err = u
		}
		httpjson.WriteError(w, &httpjson.Error{Status: http.StatusBadGateway, Message: fmt.Sprintf("%s %s: %v", method, to, err)})
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		httpjson.WriteError(w, &httpjson.Error{Status: http.StatusBadGateway, Message: fmt.Sprintf("%s %s: reading the answer: %v", method, to, err)})
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}
