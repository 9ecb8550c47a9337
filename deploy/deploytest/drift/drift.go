// Package drift compares the three places that name a service's
// environment variables — the README's config tables (the contract), the
// service's config code (what it reads) and docker-compose.yml (what Docker
// sets) — and reports every name that is in one and missing from another.
package drift

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/readmeconfig"
)

// GoRuntimeEnv are variables the Go runtime reads; a compose file may set
// them on any Go service.
var GoRuntimeEnv = []string{"GOMEMLIMIT", "GOGC", "GOMAXPROCS", "GODEBUG"}

// tracingPrefix marks the variables pkg/tracing reads for every service
// (the OpenTelemetry SDK's standard names), not the services' config code.
const tracingPrefix = "OTEL_"

// Service is what one service says about its variables.
type Service struct {
	Name    string            // compose service name = README section = services/<Name>
	CodePkg string            // for messages: "services/workers/config"
	Code    []string          // names the config code reads (EnvNames)
	Compose map[string]string // environment docker-compose.yml gives it
}

// Check reports each name that drifted, saying where it is and where it is
// missing.
func Check(readme readmeconfig.Tables, s Service) []error {
	var problems []error
	section := fmt.Sprintf("README \"### %s\" table", s.Name)
	own := readme[s.Name]
	if len(own) == 0 {
		return []error{fmt.Errorf("%s: missing (no `VAR` rows under a \"### %s\" heading)", section, s.Name)}
	}
	contract := map[string]string{} // name -> which table lists it
	tracing := map[string]bool{}
	for _, v := range readme[readmeconfig.AllServices] {
		if strings.HasPrefix(v.Name, tracingPrefix) {
			tracing[v.Name] = true
			continue
		}
		contract[v.Name] = "README \"### All services\" table"
	}
	for _, v := range own {
		contract[v.Name] = section
	}

	code := map[string]bool{}
	for _, name := range s.Code {
		code[name] = true
		if _, ok := contract[name]; !ok && !tracing[name] {
			problems = append(problems, fmt.Errorf("%s: %s reads it, but the README does not list it (add a row to the %s or \"### All services\")",
				name, s.CodePkg, section))
		}
	}
	for _, name := range sortedKeys(contract) {
		if !code[name] {
			problems = append(problems, fmt.Errorf("%s: the %s lists it, but %s.EnvNames() does not read it",
				name, contract[name], s.CodePkg))
		}
	}

	for _, name := range sortedKeys(s.Compose) {
		if !code[name] && !tracing[name] && !slices.Contains(GoRuntimeEnv, name) {
			problems = append(problems, fmt.Errorf("%s: docker-compose.yml sets it on %s, which does not read it (not in %s, not an OTEL_ variable of the README, not a Go runtime variable)",
				name, s.Name, s.CodePkg))
		}
	}
	for _, v := range own {
		value, ok := s.Compose[v.Name]
		if !ok {
			problems = append(problems, fmt.Errorf("%s: the %s lists it, but docker-compose.yml does not set it on %s, so `%s=... docker compose up` cannot change it",
				v.Name, section, s.Name, v.Name))
			continue
		}
		// A listen address keeps its README value, so the README's ports
		// hold in Docker too.
		if strings.HasPrefix(v.Default, ":") && value != v.Default {
			problems = append(problems, fmt.Errorf("%s: docker-compose.yml sets %q on %s, but the %s says %q",
				v.Name, value, s.Name, section, v.Default))
		}
	}
	return problems
}

// CheckKnobDefaults: each ${VAR:-default} of docker-compose.yml falls back to
// the README's default, so the file without .env behaves as documented.
func CheckKnobDefaults(readme readmeconfig.Tables, knobs []composecheck.Knob) []error {
	var problems []error
	for _, k := range knobs {
		v, ok := readme.Lookup(k.Service, k.Var)
		where := fmt.Sprintf("README \"### %s\" table", k.Service)
		if !ok {
			v, ok = readme.Lookup(readmeconfig.AllServices, k.Var)
			where = "README \"### All services\" table"
		}
		if !ok {
			problems = append(problems, fmt.Errorf("%s: docker-compose.yml reads ${%s} for %s, but no README table lists it", k.Var, k.Var, k.Service))
			continue
		}
		// "—" is how the README writes "unset" (an empty default).
		if want := strings.TrimSpace(v.Default); want != k.Default && !(want == "—" && k.Default == "") {
			problems = append(problems, fmt.Errorf("%s: docker-compose.yml defaults it to %q for %s, but the %s (line %d) says %q",
				k.Var, k.Default, k.Service, where, v.Line, v.Default))
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
