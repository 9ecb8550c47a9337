package composecheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Knob is a setting the shell (or .env) can change: an environment entry
// written `KEY: ${KEY:-default}`.
type Knob struct {
	Service string
	Var     string
	Default string
}

var knobExpr = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}$`)

// Knobs reads the knobs of a project loaded with Options.Raw. A variable
// that is interpolated any other way is a problem: the shell must use the
// same name as the service (the README's name), and a default must be
// there so the file works without .env. A knob shared by several services
// must have one default.
func Knobs(raw *types.Project) ([]Knob, []error) {
	var knobs []Knob
	var problems []error
	defaults := map[string]Knob{}
	for _, name := range raw.ServiceNames() {
		svc := raw.Services[name]
		for _, key := range sortedKeys(svc.Environment) {
			v := svc.Environment[key]
			if v == nil || !strings.Contains(*v, "$") {
				continue
			}
			m := knobExpr.FindStringSubmatch(*v)
			if m == nil {
				problems = append(problems, fmt.Errorf("service %q: %s: %s: write it as ${%s:-default}", name, key, *v, key))
				continue
			}
			if m[1] != key {
				problems = append(problems, fmt.Errorf("service %q: %s reads shell variable %s: use the same name, ${%s:-...}", name, key, m[1], key))
				continue
			}
			k := Knob{Service: name, Var: key, Default: m[2]}
			if prev, ok := defaults[key]; ok && prev.Default != k.Default {
				problems = append(problems, fmt.Errorf("%s defaults to %q in service %q but %q in service %q", key, prev.Default, prev.Service, k.Default, name))
			}
			defaults[key] = k
			knobs = append(knobs, k)
		}
	}
	return knobs, problems
}

// CheckDotEnv: every .env entry is a knob of the compose file (otherwise
// editing it does nothing) and holds the knob's default.
func CheckDotEnv(knobs []Knob, dotenv map[string]string) []error {
	byVar := map[string]Knob{}
	for _, k := range knobs {
		byVar[k.Var] = k
	}
	var names []string
	for k := range dotenv {
		names = append(names, k)
	}
	sort.Strings(names)
	var problems []error
	for _, name := range names {
		k, ok := byVar[name]
		if !ok {
			problems = append(problems, fmt.Errorf(".env sets %s, but docker-compose.yml never reads ${%s}", name, name))
			continue
		}
		if dotenv[name] != k.Default {
			problems = append(problems, fmt.Errorf(".env sets %s=%s, but docker-compose.yml defaults it to %s (service %q)", name, dotenv[name], k.Default, k.Service))
		}
	}
	return problems
}
