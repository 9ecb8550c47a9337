package composecheck

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// endpoint is a host and port found in a setting.
type endpoint struct {
	host string
	port int
}

// wildcard: the address a server binds to be reachable from other
// containers. An empty host (":8080") means the same.
func (e endpoint) wildcard() bool {
	return e.host == "" || e.host == "0.0.0.0" || e.host == "::"
}

// loopback: inside a container this is the container itself.
func (e endpoint) loopback() bool {
	if e.host == "localhost" {
		return true
	}
	ip := net.ParseIP(e.host)
	return ip != nil && ip.IsLoopback()
}

var defaultPorts = map[string]int{"http": 80, "https": 443, "grpc": 80, "dns": 53}

// parseEndpoint finds a host:port in a setting: a URL with a host
// ("http://jaeger:4317") or a bare "host:port" / ":port". Anything else
// (durations, mixes, names) is not an endpoint.
func parseEndpoint(v string) (endpoint, bool) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil || u.Hostname() == "" {
			return endpoint{}, false
		}
		port := defaultPorts[u.Scheme]
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return endpoint{}, false
			}
			port = n
		}
		if port == 0 {
			return endpoint{}, false
		}
		return endpoint{host: u.Hostname(), port: port}, true
	}
	host, p, err := net.SplitHostPort(v)
	if err != nil {
		return endpoint{}, false
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return endpoint{}, false
	}
	if host != "" && !hostname.MatchString(host) && net.ParseIP(host) == nil {
		return endpoint{}, false
	}
	return endpoint{host: host, port: port}, true
}

var hostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

// ListenPorts lists the ports a service accepts connections on from other
// containers, learned from its own settings: every environment value that
// is an address with a wildcard host (":9090", "0.0.0.0:8081"), and, for a
// server started with `--config FILE` (an OpenTelemetry Collector such as
// Jaeger v2), every `endpoint:` of that file, with `${env:NAME:-default}`
// resolved against the service's environment; and the address after a
// `--listen` argument (the console). The value says where the port was
// learned.
func ListenPorts(p *types.Project, svc types.ServiceConfig) (map[int]string, error) {
	ports := map[int]string{}
	for k, v := range svc.Environment {
		if v == nil {
			continue
		}
		if e, ok := parseEndpoint(*v); ok && e.wildcard() {
			ports[e.port] = k
		}
	}
	args := append(append([]string(nil), svc.Entrypoint...), svc.Command...)
	for i := 1; i < len(args); i++ {
		if args[i-1] == "--listen" {
			if e, ok := parseEndpoint(args[i]); ok && e.wildcard() {
				ports[e.port] = "--listen"
			}
		}
	}
	cfg := configFile(p, svc)
	if cfg == "" {
		return ports, nil
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		return nil, fmt.Errorf("service %q: config file: %w", svc.Name, err)
	}
	for _, m := range endpointLine.FindAllStringSubmatch(string(data), -1) {
		v := m[1]
		if env := envDefault.FindStringSubmatch(v); env != nil {
			v = env[2]
			if set, ok := svc.Environment[env[1]]; ok && set != nil {
				v = *set
			}
		}
		if e, ok := parseEndpoint(v); ok && e.wildcard() {
			ports[e.port] = filepath.Base(cfg)
		}
	}
	return ports, nil
}

var (
	endpointLine = regexp.MustCompile(`(?m)^\s*endpoint:\s*"?([^"\s#]+)"?`)
	envDefault   = regexp.MustCompile(`^\$\{env:([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}$`)
)

// configFile is the host path of the file a service gets via
// `--config PATH`, when PATH is bind-mounted into it.
func configFile(p *types.Project, svc types.ServiceConfig) string {
	args := append(append([]string{}, svc.Entrypoint...), svc.Command...)
	var target string
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			target = v
		} else if a == "--config" && i+1 < len(args) {
			target = args[i+1]
		}
	}
	if target == "" {
		return ""
	}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			src := v.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(p.WorkingDir, src)
			}
			return src
		}
	}
	return ""
}
