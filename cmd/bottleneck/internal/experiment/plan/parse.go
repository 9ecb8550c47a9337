package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/envconfig"
)

// MaxFileBytes bounds a plan file: a plan is a page of YAML, not data.
const MaxFileBytes = 1 << 20

// ReadFile reads and checks the plan in path.
func ReadFile(path string) (*Plan, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("plan %s: %d bytes; a plan is at most %d", path, fi.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Errors are all the problems of a plan, each with its place.
type Errors struct {
	File string
	List []string
}

func (e *Errors) Error() string {
	name := e.File
	if name == "" {
		name = "plan"
	}
	if len(e.List) == 1 {
		return fmt.Sprintf("%s: %s", name, e.List[0])
	}
	return fmt.Sprintf("%s: %d problems:\n  %s", name, len(e.List), strings.Join(e.List, "\n  "))
}

// parser collects errors while it walks the YAML tree.
type parser struct {
	errs []string
	// names are every row's name, read before the rows, so that a
	// reference to a later row says so.
	names []string
}

// failf records a problem at node's line, in a row or the plan's top level.
func (p *parser) failf(n *yaml.Node, where, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if where != "" {
		msg = where + ": " + msg
	}
	if n != nil && n.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", n.Line, msg)
	}
	p.errs = append(p.errs, msg)
}

// Parse reads a plan from data; file names it in messages and gives the
// plan its default name.
func Parse(data []byte, file string) (*Plan, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Errors{File: file, List: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	p := &parser{}
	plan := p.plan(&doc, file)
	if len(p.errs) > 0 {
		return nil, &Errors{File: file, List: p.errs}
	}
	return plan, nil
}

// fields walks a mapping node: each key must be one of allowed, once.
func (p *parser) fields(n *yaml.Node, where string, allowed []string, each func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.failf(n, where, "want a mapping of %s", strings.Join(allowed, ", "))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(allowed, k.Value):
			p.failf(k, where, "unknown field %q (want %s)", k.Value, strings.Join(allowed, ", "))
		case seen[k.Value]:
			p.failf(k, where, "%s given twice", k.Value)
		default:
			seen[k.Value] = true
			each(k.Value, k, v)
		}
	}
}

var planFields = []string{"name", "description", "warmup", "duration", "profile", "workload", "rows"}
var rowFields = []string{"name", "description", "profile", "profile_from", "workload", "warmup", "duration"}

func (p *parser) plan(doc *yaml.Node, file string) *Plan {
	plan := &Plan{File: file, Name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.failf(nil, "", "the plan is empty: want a mapping with rows")
		return nil
	}
	root := doc.Content[0]
	var (
		warmup, duration = DefaultWarmup, DefaultDuration
		profile          []settings.Setting
		workload         *Workload
		rowsNode         *yaml.Node
	)
	p.fields(root, "", planFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			plan.Name = p.text(v, "name")
		case "description":
			plan.Description = p.text(v, "description")
		case "warmup":
			warmup = p.duration(v, "", "warmup", 0, MaxWarmup)
		case "duration":
			duration = p.duration(v, "", "duration", MinDuration, MaxDuration)
		case "profile":
			profile = p.profile(v, "profile")
		case "workload":
			workload = p.workload(v, "workload")
		case "rows":
			rowsNode = v
		}
	})
	if root.Kind != yaml.MappingNode {
		return nil
	}
	if rowsNode == nil || (rowsNode.Kind == yaml.SequenceNode && len(rowsNode.Content) == 0) || rowsNode.Tag == "!!null" {
		p.failf(rowsNode, "rows", "the plan has no rows: want a list of rows, each with at least a name")
		return plan
	}
	if rowsNode.Kind != yaml.SequenceNode {
		p.failf(rowsNode, "rows", "want a list of rows")
		return plan
	}
	if len(rowsNode.Content) > MaxRows {
		p.failf(rowsNode, "rows", "%d rows; a plan has at most %d", len(rowsNode.Content), MaxRows)
		return plan
	}
	for _, n := range rowsNode.Content {
		if n.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == "name" {
					p.names = append(p.names, n.Content[j+1].Value)
				}
			}
		}
	}
	for i, n := range rowsNode.Content {
		r := p.row(n, i, warmup, duration, profile, workload, plan)
		plan.Rows = append(plan.Rows, r)
	}
	return plan
}

var rowName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

func (p *parser) row(n *yaml.Node, i int, warmup, duration time.Duration, profile []settings.Setting, workload *Workload, plan *Plan) Row {
	r := Row{Line: n.Line, Warmup: warmup, Duration: duration, Profile: slices.Clone(profile)}
	where := fmt.Sprintf("row %d", i+1)
	// The name first, so that every other message can use it.
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" {
				v := n.Content[j+1]
				r.Name = p.text(v, where+": name")
				switch {
				case r.Name == "":
					p.failf(v, where, "name is empty")
				case len(r.Name) > MaxNameLen || !rowName.MatchString(r.Name):
					p.failf(v, where, "name %q: want up to %d letters, digits and . _ + - (no spaces), starting with a letter or digit", r.Name, MaxNameLen)
				default:
					where = fmt.Sprintf("row %q", r.Name)
					if _, dup := plan.Row(r.Name); dup {
						p.failf(v, where, "two rows are named %q; names must be unique", r.Name)
					}
				}
				break
			}
		}
	}
	hasName := false
	var own *Workload
	p.fields(n, where, rowFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			hasName = true
		case "description":
			r.Description = p.text(v, where+": description")
		case "profile":
			r.Profile = append(r.Profile, p.profile(v, where+": profile")...)
		case "profile_from":
			r.RecommendedBy = p.profileFrom(v, where, plan)
		case "workload":
			own = p.workload(v, where+": workload")
		case "warmup":
			r.Warmup = p.duration(v, where, "warmup", 0, MaxWarmup)
		case "duration":
			r.Duration = p.duration(v, where, "duration", MinDuration, MaxDuration)
		}
	})
	if n.Kind == yaml.MappingNode && !hasName {
		p.failf(n, where, "no name: every row needs one")
	}
	switch {
	case own != nil:
		r.Workload = *own
	case workload != nil:
		r.Workload = *workload
	default:
		if n.Kind == yaml.MappingNode {
			p.failf(n, where, "no workload: give the row one, or give the plan a workload for every row")
		}
	}
	return r
}

func (p *parser) profileFrom(n *yaml.Node, where string, plan *Plan) string {
	var ref string
	var refNode *yaml.Node
	p.fields(n, where+": profile_from", []string{"recommended_by"}, func(_ string, _, v *yaml.Node) {
		ref, refNode = p.text(v, where+": profile_from.recommended_by"), v
	})
	if n.Kind != yaml.MappingNode {
		return ""
	}
	if refNode == nil {
		p.failf(n, where, "profile_from: want recommended_by: <an earlier row's name>")
		return ""
	}
	if _, ok := plan.Row(ref); ok {
		return ref
	}
	switch {
	case where == fmt.Sprintf("row %q", ref):
		p.failf(refNode, where, "profile_from.recommended_by: a row cannot apply its own recommendation; name an earlier row")
	case slices.Contains(p.names, ref):
		p.failf(refNode, where, "profile_from.recommended_by: row %q comes later; a row can only apply the recommendation of a row measured before it", ref)
	default:
		p.failf(refNode, where, "profile_from.recommended_by: no row %q before this one (rows so far: %s)", ref, orNone(plan.names()))
	}
	return ""
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// profile reads a mapping of settings, "NAME: value" or "service:NAME: value".
func (p *parser) profile(n *yaml.Node, where string) []settings.Setting {
	var out []settings.Setting
	if n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.failf(n, where, "want a mapping of settings, e.g. WORKERS: 8 or consumer:CONCURRENCY: 16")
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		service, name, err := settings.ParseKey(k.Value)
		if err != nil {
			p.failf(k, where, "%v", err)
			continue
		}
		s := settings.Setting{Service: service, Name: name}
		if seen[s.Key()] {
			p.failf(k, where, "%s given twice", s.Key())
			continue
		}
		seen[s.Key()] = true
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.failf(v, where, "%s: want a value (a number, a duration like 300ms, or a word)", s.Key())
			continue
		}
		s.Value = v.Value
		if err := settings.CheckSetting(s); err != nil {
			p.failf(v, where, "%v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) workload(n *yaml.Node, where string) *Workload {
	var w Workload
	kinds := 0
	p.fields(n, where, []string{"steady", "checkout"}, func(key string, _, v *yaml.Node) {
		kinds++
		switch key {
		case "steady":
			w.Steady = p.steady(v, where+".steady")
		case "checkout":
			w.Checkout = p.checkout(v, where+".checkout")
		}
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if kinds != 1 {
		p.failf(n, where, "want exactly one of steady: {rate, mix} or checkout: {every, timeout}")
		return nil
	}
	if w.Steady == nil && w.Checkout == nil {
		return nil
	}
	return &w
}

func (p *parser) steady(n *yaml.Node, where string) *Steady {
	s := &Steady{Mix: DefaultMix()}
	hasRate := false
	p.fields(n, where, []string{"rate", "mix"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "rate":
			hasRate = true
			f, err := strconv.ParseFloat(v.Value, 64)
			if v.Kind != yaml.ScalarNode || err != nil || !(f > 0 && f <= MaxRate) {
				p.failf(v, where, "rate %q: want jobs per second, more than 0 and at most %d", v.Value, MaxRate)
				return
			}
			s.Rate = f
		case "mix":
			s.Mix = p.mix(v, where+".mix")
		}
	})
	if n.Kind == yaml.MappingNode && !hasRate {
		p.failf(n, where, "no rate: want rate: <jobs per second>")
	}
	return s
}

func (p *parser) mix(n *yaml.Node, where string) map[string]float64 {
	m := map[string]float64{}
	if n.Kind != yaml.MappingNode {
		p.failf(n, where, "want weights by job type, e.g. {cache-read: 60, database: 20, vendor-api: 20}")
		return DefaultMix()
	}
	sum := 0.0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(JobTypes, k.Value) {
			p.failf(k, where, "unknown job type %q (want %s)", k.Value, strings.Join(JobTypes, ", "))
			continue
		}
		if _, dup := m[k.Value]; dup {
			p.failf(k, where, "%s given twice", k.Value)
			continue
		}
		f, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil || !(f >= 0 && f <= MaxWeight) {
			p.failf(v, where, "%s: weight %q, want a number from 0 to %g", k.Value, v.Value, float64(MaxWeight))
			continue
		}
		m[k.Value] = f
		sum += f
	}
	if len(m) > 0 && sum <= 0 {
		p.failf(n, where, "the weights must add up to more than 0")
	}
	return m
}

func (p *parser) checkout(n *yaml.Node, where string) *Checkout {
	c := &Checkout{Timeout: DefaultCheckoutTO}
	hasEvery := false
	p.fields(n, where, []string{"every", "timeout"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "every":
			hasEvery = true
			c.Every = p.duration(v, where, "every", MinCheckoutEvery, MaxCheckoutEvery)
		case "timeout":
			c.Timeout = p.duration(v, where, "timeout", MinCheckoutTimeout, MaxCheckoutTimeout)
		}
	})
	if n.Kind == yaml.MappingNode && !hasEvery {
		p.failf(n, where, "no every: want every: <how often the burst repeats>, e.g. 2s")
	}
	return c
}

func (p *parser) text(n *yaml.Node, where string) string {
	if n.Kind != yaml.ScalarNode {
		p.failf(n, where, "want text")
		return ""
	}
	return n.Value
}

func (p *parser) duration(n *yaml.Node, where, field string, lo, hi time.Duration) time.Duration {
	d, err := envconfig.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		p.failf(n, where, "%s %q: want a duration like 8s or 500ms", field, n.Value)
		return lo
	}
	if d < lo || d > hi {
		p.failf(n, where, "%s %s: want %s to %s", field, d, fmtDuration(lo), hi)
		return lo
	}
	return d
}

func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}
