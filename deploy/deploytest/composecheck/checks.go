package composecheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/dockerfilecheck"
)

// ShutdownGraceMargin is how much longer than a service's own
// SHUTDOWN_TIMEOUT Docker must wait before SIGKILL: the span flush's own
// budget (tracing.ShutdownBudget, 5s) after the drain, plus 2s of slack.
const ShutdownGraceMargin = 7 * time.Second

// Check runs every rule on a loaded (interpolated) project and returns one
// error per violation, each naming the service and the setting.
func Check(p *types.Project) []error {
	var problems []error
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		problems = append(problems, checkReferences(p, svc)...)
		problems = append(problems, checkHealthcheck(p, svc)...)
		problems = append(problems, checkDependsOn(p, svc)...)
		problems = append(problems, checkImage(svc)...)
		problems = append(problems, checkLimits(svc)...)
		problems = append(problems, checkBuild(p, svc)...)
	}
	problems = append(problems, checkHostPorts(p)...)
	return problems
}

// longRunning services are the ones `docker compose up` starts; a service
// under a profile is a tool run on demand (`docker compose run --rm`).
func longRunning(svc types.ServiceConfig) bool { return len(svc.Profiles) == 0 }

// checkReferences: every environment value or command argument that names
// another container must name a service of this project, on a port that
// service listens on, and wait for that service to be healthy. Loopback
// addresses are wrong in a container: they point at the container itself.
func checkReferences(p *types.Project, svc types.ServiceConfig) []error {
	var problems []error
	hostPorts := publishedHostPorts(p)
	check := func(where, value string, isArg bool) {
		e, ok := parseEndpoint(value)
		if !ok || e.wildcard() {
			return
		}
		// A command-line URL on a port published to the host is a link
		// for the user's browser (e.g. report --ui), not a connection.
		if e.loopback() && isArg && hostPorts[e.port] {
			return
		}
		if e.loopback() {
			problems = append(problems, fmt.Errorf("service %q: %s=%s points at the container itself: "+
				"to reach another service use its name (%s); to serve other containers bind :%d",
				svc.Name, where, value, strings.Join(otherServices(p, svc.Name), ", "), e.port))
			return
		}
		target, ok := p.Services[e.host]
		if !ok {
			problems = append(problems, fmt.Errorf("service %q: %s=%s names host %q, which is not a service of this project (services: %s)",
				svc.Name, where, value, e.host, strings.Join(p.ServiceNames(), ", ")))
			return
		}
		ports, err := ListenPorts(p, target)
		if err != nil {
			problems = append(problems, err)
			return
		}
		if _, ok := ports[e.port]; !ok {
			problems = append(problems, fmt.Errorf("service %q: %s=%s uses port %d, but %q listens on %s",
				svc.Name, where, value, e.port, target.Name, describePorts(ports)))
		}
		if dep, ok := svc.DependsOn[target.Name]; !ok || dep.Condition != types.ServiceConditionHealthy {
			problems = append(problems, fmt.Errorf("service %q: %s=%s needs depends_on %s with condition: service_healthy",
				svc.Name, where, value, target.Name))
		}
	}
	for _, k := range sortedKeys(svc.Environment) {
		if v := svc.Environment[k]; v != nil {
			check(k, *v, false)
		}
	}
	for i, a := range svc.Entrypoint {
		check(fmt.Sprintf("entrypoint[%d]", i), a, true)
	}
	for i, a := range svc.Command {
		check(fmt.Sprintf("command[%d]", i), a, true)
	}
	return problems
}

// publishedHostPorts: the host ports any service publishes.
func publishedHostPorts(p *types.Project) map[int]bool {
	ports := map[int]bool{}
	for _, svc := range p.Services {
		for _, pc := range svc.Ports {
			if n, err := strconv.Atoi(pc.Published); err == nil {
				ports[n] = true
			}
		}
	}
	return ports
}

// checkHealthcheck: every service `up` starts has a healthcheck in exec form
// (the images have no shell), and one that probes a port the service
// listens on.
func checkHealthcheck(p *types.Project, svc types.ServiceConfig) []error {
	if !longRunning(svc) {
		return nil
	}
	hc := svc.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return []error{fmt.Errorf("service %q has no healthcheck", svc.Name)}
	}
	if hc.Test[0] != "CMD" || len(hc.Test) < 2 {
		return []error{fmt.Errorf("service %q: healthcheck %v must be exec form [\"CMD\", binary, args...]: the images have no shell",
			svc.Name, []string(hc.Test))}
	}
	ports, err := ListenPorts(p, svc)
	if err != nil {
		return []error{err}
	}
	var problems []error
	for _, a := range hc.Test[1:] {
		e, ok := parseEndpoint(a)
		if !ok || !e.loopback() {
			continue
		}
		if _, ok := ports[e.port]; !ok {
			problems = append(problems, fmt.Errorf("service %q: healthcheck probes port %d, but the service listens on %s",
				svc.Name, e.port, describePorts(ports)))
		}
	}
	return problems
}

// checkDependsOn: start order waits for health, not just for a started
// container, and only on services that have a healthcheck to wait for.
func checkDependsOn(p *types.Project, svc types.ServiceConfig) []error {
	var problems []error
	for _, name := range sortedKeys(svc.DependsOn) {
		dep := svc.DependsOn[name]
		if dep.Condition != types.ServiceConditionHealthy {
			problems = append(problems, fmt.Errorf("service %q: depends_on %s has condition %q, want service_healthy",
				svc.Name, name, dep.Condition))
		}
		target, ok := p.Services[name]
		if ok && (target.HealthCheck == nil || target.HealthCheck.Disable) {
			problems = append(problems, fmt.Errorf("service %q waits for %s to be healthy, but %s has no healthcheck",
				svc.Name, name, name))
		}
	}
	return problems
}

// checkImage: a pulled image names a fixed version.
func checkImage(svc types.ServiceConfig) []error {
	if svc.Build != nil {
		return nil
	}
	if err := dockerfilecheck.PinnedImage(svc.Image); err != nil {
		return []error{fmt.Errorf("service %q: %w", svc.Name, err)}
	}
	return nil
}

// checkLimits: memory limit, a restart policy for what `up` starts, and a
// stop grace period that outlasts the service's own shutdown timeout.
func checkLimits(svc types.ServiceConfig) []error {
	var problems []error
	if memoryLimit(svc) <= 0 {
		problems = append(problems, fmt.Errorf("service %q has no memory limit (deploy.resources.limits.memory)", svc.Name))
	}
	if longRunning(svc) {
		policy, _, _ := strings.Cut(svc.Restart, ":")
		if !slices.Contains([]string{"always", "unless-stopped", "on-failure"}, policy) {
			problems = append(problems, fmt.Errorf("service %q has restart policy %q, want unless-stopped, always or on-failure",
				svc.Name, svc.Restart))
		}
	}
	if v, ok := svc.Environment["SHUTDOWN_TIMEOUT"]; ok && v != nil {
		timeout, err := time.ParseDuration(*v)
		if err != nil {
			problems = append(problems, fmt.Errorf("service %q: SHUTDOWN_TIMEOUT=%s: %w", svc.Name, *v, err))
			return problems
		}
		grace := 10 * time.Second // Docker's default
		if svc.StopGracePeriod != nil {
			grace = time.Duration(*svc.StopGracePeriod)
		}
		if grace < timeout+ShutdownGraceMargin {
			problems = append(problems, fmt.Errorf("service %q: stop_grace_period %s leaves no room for SHUTDOWN_TIMEOUT=%s (want at least %s): Docker would SIGKILL a draining service",
				svc.Name, grace, timeout, timeout+ShutdownGraceMargin))
		}
	}
	return problems
}

func memoryLimit(svc types.ServiceConfig) int64 {
	if svc.Deploy != nil && svc.Deploy.Resources.Limits != nil && svc.Deploy.Resources.Limits.MemoryBytes > 0 {
		return int64(svc.Deploy.Resources.Limits.MemoryBytes)
	}
	return int64(svc.MemLimit)
}

// checkHostPorts: no two services publish the same host port, and each
// published port is one the container listens on.
func checkHostPorts(p *types.Project) []error {
	type published struct {
		service, ip string
	}
	seen := map[string][]published{} // "8080/tcp" -> who
	var problems []error
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		ports, err := ListenPorts(p, svc)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		for _, pc := range svc.Ports {
			if _, ok := ports[int(pc.Target)]; !ok {
				problems = append(problems, fmt.Errorf("service %q publishes container port %d, but listens on %s",
					name, pc.Target, describePorts(ports)))
			}
			if pc.Published == "" {
				problems = append(problems, fmt.Errorf("service %q publishes container port %d on a random host port: give it a fixed one",
					name, pc.Target))
				continue
			}
			proto := pc.Protocol
			if proto == "" {
				proto = "tcp"
			}
			key := pc.Published + "/" + proto
			for _, other := range seen[key] {
				if other.ip == pc.HostIP || isAnyIP(other.ip) || isAnyIP(pc.HostIP) {
					problems = append(problems, fmt.Errorf("host port %s is published by both %q and %q", key, other.service, name))
				}
			}
			seen[key] = append(seen[key], published{service: name, ip: pc.HostIP})
		}
	}
	return problems
}

func isAnyIP(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

// ImageBuild is what Compose hands the Docker builder for a service's
// build section: the context and Dockerfile resolved against the project
// directory, the target, and the build args that have values.
func ImageBuild(p *types.Project, b *types.BuildConfig) dockerfilecheck.Build {
	ctxDir := b.Context
	if !filepath.IsAbs(ctxDir) {
		ctxDir = filepath.Join(p.WorkingDir, ctxDir)
	}
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(ctxDir, dockerfile)
	}
	args := map[string]string{}
	for k, v := range b.Args {
		if v != nil {
			args[k] = *v
		}
	}
	return dockerfilecheck.Build{ContextDir: ctxDir, Dockerfile: dockerfile, Target: b.Target, Args: args}
}

// checkBuild: the build context and Dockerfile exist, and the target builds
// an image whose entrypoint is the binary the healthcheck runs.
func checkBuild(p *types.Project, svc types.ServiceConfig) []error {
	b := svc.Build
	if b == nil {
		return nil
	}
	build := ImageBuild(p, b)
	if st, err := os.Stat(build.ContextDir); err != nil || !st.IsDir() {
		return []error{fmt.Errorf("service %q: build context %s is not a directory", svc.Name, b.Context)}
	}
	if _, err := os.Stat(build.Dockerfile); err != nil {
		return []error{fmt.Errorf("service %q: dockerfile %s does not exist", svc.Name, b.Dockerfile)}
	}
	res, err := dockerfilecheck.Check(build)
	if err != nil {
		return []error{fmt.Errorf("service %q: %w", svc.Name, err)}
	}
	var problems []error
	for _, e := range res.Problems {
		problems = append(problems, fmt.Errorf("service %q: %w", svc.Name, e))
	}
	entry := res.Entrypoint
	if len(svc.Entrypoint) > 0 {
		if len(entry) > 0 && svc.Entrypoint[0] != entry[0] {
			problems = append(problems, fmt.Errorf("service %q: entrypoint runs %s, but the image's binary is %s",
				svc.Name, svc.Entrypoint[0], entry[0]))
		}
		entry = svc.Entrypoint
	}
	if hc := svc.HealthCheck; longRunning(svc) && hc != nil && len(hc.Test) > 1 && len(entry) > 0 && hc.Test[1] != entry[0] {
		problems = append(problems, fmt.Errorf("service %q: healthcheck runs %s, but the image's entrypoint is %s",
			svc.Name, hc.Test[1], entry[0]))
	}
	return problems
}

func describePorts(ports map[int]string) string {
	if len(ports) == 0 {
		return "no port (no *_ADDR setting with a wildcard host)"
	}
	var parts []string
	for _, port := range sortedKeys(ports) {
		parts = append(parts, strconv.Itoa(port)+" ("+ports[port]+")")
	}
	return strings.Join(parts, ", ")
}

func otherServices(p *types.Project, self string) []string {
	var out []string
	for _, n := range p.ServiceNames() {
		if n != self {
			out = append(out, n)
		}
	}
	return out
}

func sortedKeys[K interface{ ~int | ~string }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
