// Package settings knows the services' settings by the names of the
// README's configuration tables: which service reads which variable, how a
// value is checked (by the service's own config package where that costs
// no heavy dependency), which ones the experiment manages itself, and which
// ones can change on a running service through its admin API.
package settings

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
	consumercfg "github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	vendorcfg "github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
	workerscfg "github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
)

// Service names, as pkg/stack and the README name them.
const (
	Producer   = "producer"
	Workers    = "workers"
	VendorMock = "vendor-mock"
	Consumer   = "consumer"
)

// Services lists the services in pipeline order.
var Services = []string{Producer, Workers, VendorMock, Consumer}

// managed are set by the stack: the addresses from its ports, the
// consumer's data directory per run. A plan must not change them.
var managed = []string{"HTTP_ADDR", "GRPC_ADDR", "WORKERS_ADDR", "CONSUMER_ADDR", "VENDOR_URL", "DATA_DIR"}

// workload are the producer's settings that a row's workload sets.
var workload = []string{"SCENARIO", "STEADY_RATE", "STEADY_MIX", "STEADY_DURATION", "CHECKOUT_EVERY", "CHECKOUT_TIMEOUT"}

// commonNames are the settings every service reads (envconfig.Common).
func commonNames() []string {
	r := envconfig.FromMap(nil)
	r.Common()
	return r.Names()
}

// producerOwn are the producer's settings beyond the common ones, its
// addresses and its load: at-least-once delivery's. The producer's config
// package imports gRPC (through its scenario and tracker packages), which
// would add a third to the CLI's size, so the CLI does not import it; an
// end-to-end test (e2e/settings_drift_test.go) keeps this list true, and
// the producer checks these values itself when it starts.
var producerOwn = []string{"RETRY_AFTER", "MAX_ATTEMPTS"}

// names lists the variables each service reads.
func names(service string) []string {
	switch service {
	case Producer:
		return slices.Concat(commonNames(), []string{"HTTP_ADDR", "WORKERS_ADDR", "CONSUMER_ADDR"}, workload, producerOwn)
	case Workers:
		return workerscfg.EnvNames()
	case VendorMock:
		return vendorcfg.EnvNames()
	case Consumer:
		return consumercfg.EnvNames()
	}
	return nil
}

// Reads reports whether service reads the variable name.
func Reads(service, name string) bool { return slices.Contains(names(service), name) }

// Setting is one KEY=VALUE of a profile. Service "" means every service
// that reads Name, as `bottleneck up --env KEY=VALUE` does.
type Setting struct {
	Service string
	Name    string
	Value   string
}

// Key is the setting's name as a plan writes it: "WORKERS" or "workers:WORKERS".
func (s Setting) Key() string {
	if s.Service == "" {
		return s.Name
	}
	return s.Service + ":" + s.Name
}

// ParseKey reads "NAME" or "service:NAME" and checks that some service (or
// the named one) reads NAME and that a plan may set it.
func ParseKey(key string) (service, name string, err error) {
	name = key
	if before, after, ok := strings.Cut(key, ":"); ok {
		service, name = before, after
		if !slices.Contains(Services, service) {
			return "", "", fmt.Errorf("unknown service %q in %q (want %s)", service, key, strings.Join(Services, ", "))
		}
	}
	switch {
	case name == "":
		return "", "", fmt.Errorf("%q: empty setting name", key)
	case slices.Contains(managed, name):
		return "", "", fmt.Errorf("%s is set by the experiment's stack (addresses from its ports, the consumer's data per run); a plan cannot change it", name)
	case strings.HasPrefix(name, "OTEL_"):
		return "", "", fmt.Errorf("%s: OTEL_* settings are not plan settings: the analysis needs every span, so the experiment keeps tracing on and unsampled", name)
	case slices.Contains(workload, name):
		return "", "", fmt.Errorf("%s is the producer's load: set it in the row's workload (steady: {rate, mix} or checkout: {every, timeout})", name)
	}
	readers := Readers(name)
	if len(readers) == 0 {
		msg := fmt.Sprintf("unknown setting %s: no service reads it", name)
		if s := suggest(name); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return "", "", errors.New(msg)
	}
	if service != "" && !slices.Contains(readers, service) {
		return "", "", fmt.Errorf("%s does not read %s (%s does)", service, name, strings.Join(readers, " and "))
	}
	return service, name, nil
}

// Readers are the services that read name, in pipeline order.
func Readers(name string) []string {
	var out []string
	for _, s := range Services {
		if Reads(s, name) {
			out = append(out, s)
		}
	}
	return out
}

// suggest finds a known setting one or two edits away from name.
func suggest(name string) string {
	best, bestD := "", 3
	seen := map[string]bool{}
	for _, s := range Services {
		for _, n := range names(s) {
			if seen[n] {
				continue
			}
			seen[n] = true
			if d := distance(strings.ToUpper(name), n); d < bestD {
				best, bestD = n, d
			}
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Check validates values (variable → value) the way service would at start,
// by its own config package. Errors name the variable.
func Check(service string, values map[string]string) error {
	lookup := func(k string) (string, bool) { v, ok := values[k]; return v, ok }
	var err error
	switch service {
	case Producer:
		r := envconfig.New(lookup)
		r.Common()
		err = r.Err()
	case Workers:
		_, err = workerscfg.Load(lookup)
	case VendorMock:
		_, err = vendorcfg.Load(lookup)
	case Consumer:
		_, err = consumercfg.Load(lookup)
	default:
		return fmt.Errorf("unknown service %q", service)
	}
	return stripPrefix(err)
}

// stripPrefix drops the "workers config: " the services put in front of
// their errors: a plan's error already says where it is.
func stripPrefix(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range []string{"workers config: ", "consumer config: ", "vendor-mock configuration: ", "producer config: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return errors.New(msg)
}

// CheckSetting validates one setting on every service it applies to.
func CheckSetting(s Setting) error {
	targets := []string{s.Service}
	if s.Service == "" {
		targets = Readers(s.Name)
	}
	for _, svc := range targets {
		if err := Check(svc, map[string]string{s.Name: s.Value}); err != nil {
			return err
		}
	}
	return nil
}

// Env is the settings of every service: service → variable → value.
type Env map[string]map[string]string

// Apply adds settings in order; later ones win. An unscoped setting goes to
// every service that reads it.
func (e Env) Apply(settings ...Setting) {
	for _, s := range settings {
		targets := []string{s.Service}
		if s.Service == "" {
			targets = Readers(s.Name)
		}
		for _, svc := range targets {
			if e[svc] == nil {
				e[svc] = map[string]string{}
			}
			e[svc][s.Name] = s.Value
		}
	}
}

// Clone is a deep copy.
func (e Env) Clone() Env {
	c := make(Env, len(e))
	for k, v := range e {
		c[k] = maps.Clone(v)
	}
	return c
}

// Check validates each service's settings together.
func (e Env) Check() error {
	var errs []error
	for _, svc := range Services {
		if err := Check(svc, e[svc]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", svc, err))
		}
	}
	return errors.Join(errs...)
}

// List returns every service's settings as KEY=VALUE, sorted, for the
// process environment.
func (e Env) List(service string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(e[service])) {
		out = append(out, k+"="+e[service][k])
	}
	return out
}

// Settings flattens e into scoped settings, in service then name order.
func (e Env) Settings() []Setting {
	var out []Setting
	for _, svc := range Services {
		for _, k := range slices.Sorted(maps.Keys(e[svc])) {
			out = append(out, Setting{Service: svc, Name: k, Value: e[svc][k]})
		}
	}
	return out
}

// Scoped expands settings into one per service, in the order given: an
// unscoped setting becomes one for each service that reads it, and a later
// setting of the same service and name replaces the earlier one where it
// stands.
func Scoped(list ...Setting) []Setting {
	var out []Setting
	at := map[string]int{}
	for _, s := range list {
		targets := []string{s.Service}
		if s.Service == "" {
			targets = Readers(s.Name)
		}
		for _, svc := range targets {
			one := Setting{Service: svc, Name: s.Name, Value: s.Value}
			if i, ok := at[one.Key()]; ok {
				out[i] = one
				continue
			}
			at[one.Key()] = len(out)
			out = append(out, one)
		}
	}
	return out
}
