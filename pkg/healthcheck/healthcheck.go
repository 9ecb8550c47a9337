// Package healthcheck is the services' container health probe: the binary
// run with -healthcheck asks its own /healthz, so the final image needs no
// shell or curl.
package healthcheck

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// URL turns a listen address (":8081", "0.0.0.0:8081", "[::]:8081") into the
// loopback URL of its /healthz.
func URL(listenAddr string) (string, error) {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listenAddr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// Probe GETs url and wants 200 within timeout.
func Probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health probe: %s answered %s", url, resp.Status)
	}
	return nil
}

// Handler answers /healthz: 200 {"status":"ok"} while ready() is nil, else
// 503 with the reason.
func Handler(service string, ready func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if ready != nil {
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "{\"status\":\"unavailable\",\"service\":%q,\"reason\":%q}\n", service, err.Error())
				return
			}
		}
		fmt.Fprintf(w, "{\"status\":\"ok\",\"service\":%q}\n", service)
	}
}
