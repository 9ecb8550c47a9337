// Package readmeconfig reads the configuration tables of the README — the
// contract for every service's environment variables: one table per
// "### <section>" heading, one row per variable, written
// "| `NAME` | `default` | meaning |".
package readmeconfig

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// AllServices is the section whose variables every service reads.
const AllServices = "All services"

// Var is one row of a table.
type Var struct {
	Name    string
	Default string // first `code` of the default cell, else its text
	Line    int    // 1-based line in the README
}

// Tables maps a section ("All services", "producer", "workers", ...) to its
// variables in README order.
type Tables map[string][]Var

// Names lists the variable names of a section.
func (t Tables) Names(section string) []string {
	var out []string
	for _, v := range t[section] {
		out = append(out, v.Name)
	}
	return out
}

// Lookup finds a variable in a section.
func (t Tables) Lookup(section, name string) (Var, bool) {
	for _, v := range t[section] {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

var (
	code    = regexp.MustCompile("`([^`]*)`")
	envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
)

// Parse reads every table under a "### " heading. A section is named by
// its heading's first word ("### workers (gRPC 9090, HTTP 8081)" is
// "workers"), except "All services". A row whose first cell holds several
// `NAMES` gives one Var for each. A name listed twice in one section is an
// error: the README would contradict itself.
func Parse(markdown string) (Tables, error) {
	tables := Tables{}
	section := ""
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(markdown))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "### "):
			title := strings.TrimSpace(strings.TrimPrefix(line, "### "))
			if strings.HasPrefix(title, AllServices) {
				section = AllServices
			} else {
				section = strings.Fields(title)[0]
			}
			seen = map[string]int{}
			continue
		case strings.HasPrefix(line, "#"):
			section = "" // a higher heading ends the tables
			continue
		case section == "" || !strings.HasPrefix(line, "|"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 {
			continue
		}
		var names []string
		for _, m := range code.FindAllStringSubmatch(cells[0], -1) {
			if envName.MatchString(m[1]) {
				names = append(names, m[1])
			}
		}
		def := strings.TrimSpace(cells[1])
		if m := code.FindStringSubmatch(def); m != nil {
			def = m[1]
		}
		for _, name := range names {
			if first, dup := seen[name]; dup {
				return nil, fmt.Errorf("README line %d: %s listed again in %q (first on line %d)", n, name, section, first)
			}
			seen[name] = n
			tables[section] = append(tables[section], Var{Name: name, Default: def, Line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return tables, nil
}
