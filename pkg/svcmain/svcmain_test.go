package svcmain

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/healthcheck"
)

type cfg struct{ addr string }

func service(addr string, loadErr, runErr error, ran *bool) Service[cfg] {
	return Service[cfg]{
		Name:     "svc",
		Load:     func() (cfg, error) { return cfg{addr}, loadErr },
		HTTPAddr: func(c cfg) string { return c.addr },
		Run:      func(context.Context, cfg) error { *ran = true; return runErr },
	}
}

func TestServiceMain(t *testing.T) {
	healthy := httptest.NewServer(healthcheck.Handler("svc", nil))
	defer healthy.Close()
	sick := httptest.NewServer(healthcheck.Handler("svc", func() error { return errors.New("draining") }))
	defer sick.Close()
	addr := func(url string) string { return strings.TrimPrefix(url, "http://") }

	tests := []struct {
		name    string
		args    []string
		addr    string
		loadErr error
		runErr  error
		code    int
		ran     bool
		stderr  string
	}{
		{name: "runs", code: 0, ran: true},
		{name: "run fails", runErr: errors.New("listen: in use"), code: 1, ran: true, stderr: "svc: listen: in use"},
		{name: "bad config", loadErr: errors.New(`WORKERS="x": want an integer`), code: 2, stderr: `svc: WORKERS="x"`},
		{name: "probe healthy", args: []string{"-healthcheck"}, addr: addr(healthy.URL), code: 0},
		{name: "probe unhealthy", args: []string{"-healthcheck"}, addr: addr(sick.URL), code: 1, stderr: "503"},
		{name: "probe bad addr", args: []string{"-healthcheck"}, addr: "nonsense", code: 1, stderr: "svc:"},
		{name: "unknown flag", args: []string{"-verbose"}, code: 2, stderr: "flag provided but not defined"},
		{name: "stray argument", args: []string{"up"}, code: 2, stderr: "unexpected arguments"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "environment variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			ran := false
			code := service(tt.addr, tt.loadErr, tt.runErr, &ran).main(context.Background(), tt.args, &stderr)
			if code != tt.code || ran != tt.ran || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("code %d ran %v stderr %q; want code %d ran %v stderr containing %q",
					code, ran, stderr.String(), tt.code, tt.ran, tt.stderr)
			}
		})
	}
}
