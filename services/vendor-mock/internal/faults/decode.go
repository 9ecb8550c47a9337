package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The admin API decodes by hand rather than with json.Unmarshal into the
// structs: every error must name the field by its full path
// (global.degraded.probability), absent fields must keep their base value
// for merging, and null must mean "delete" for routes only. encoding/json
// does none of these.

// Decode reads a whole configuration, as PUT sends it. Fields left out take
// the values of the preset named by "preset" (if any) or of EmptyRule; a
// route's left-out fields take the global rule's values. The result is
// validated.
func Decode(data []byte) (Config, error) {
	return apply(Config{Global: EmptyRule(), Routes: map[string]Rule{}}, data, false)
}

// Merge applies a JSON merge patch, as PATCH sends it, to cur: given fields
// replace, absent fields stay. Routes merge by prefix: a given route's
// fields merge into that route (a new route starts from the global rule),
// and null deletes the route. A "preset" naming a built-in preset resets the
// global rule to it before the rest of the patch applies. cur is not
// changed; the result is validated.
func Merge(cur Config, data []byte) (Config, error) {
	return apply(cur.Clone(), data, true)
}

// fieldError names the field a decoding or validation error is about.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

func errorf(path, format string, args ...any) error {
	return &fieldError{path: path, msg: fmt.Sprintf(format, args...)}
}

func apply(cfg Config, data []byte, merge bool) (Config, error) {
	obj, err := object("body", data)
	if err != nil {
		return Config{}, err
	}
	if err := known("", obj, "preset", "global", "routes"); err != nil {
		return Config{}, err
	}
	// preset, then global, then routes: each may depend on the one before.
	if raw, ok := obj["preset"]; ok {
		var name string
		if err := str("preset", raw, &name); err != nil {
			return Config{}, err
		}
		if name != Custom {
			r, ok := presetRule(name)
			if !ok {
				return Config{}, errorf("preset", "unknown preset %q (want %s or %s)", name, strings.Join(presetOrder, ", "), Custom)
			}
			cfg.Global = r
		}
	}
	if raw, ok := obj["global"]; ok {
		if err := decodeRule("global", raw, &cfg.Global); err != nil {
			return Config{}, err
		}
	}
	if raw, ok := obj["routes"]; ok {
		if err := decodeRoutes(raw, &cfg, merge); err != nil {
			return Config{}, err
		}
	}
	cfg.Preset = labelFor(cfg.Global)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func decodeRoutes(raw json.RawMessage, cfg *Config, merge bool) error {
	if isNull(raw) {
		clear(cfg.Routes)
		return nil
	}
	obj, err := object("routes", raw)
	if err != nil {
		return err
	}
	for _, prefix := range slices.Sorted(maps.Keys(obj)) {
		path := routePath(prefix)
		if isNull(obj[prefix]) {
			if !merge {
				return errorf(path, "null deletes a route and is only allowed in PATCH")
			}
			delete(cfg.Routes, prefix)
			continue
		}
		r, ok := cfg.Routes[prefix]
		if !ok || !merge {
			r = cfg.Global
		}
		if err := decodeRule(path, obj[prefix], &r); err != nil {
			return err
		}
		cfg.Routes[prefix] = r
	}
	return nil
}

func routePath(prefix string) string { return "routes[" + strconv.Quote(prefix) + "]" }

func decodeRule(path string, raw json.RawMessage, r *Rule) error {
	return fields(path, raw, map[string]func(string, json.RawMessage) error{
		"latency": func(p string, v json.RawMessage) error { return decodeRange(p, v, &r.Latency) },
		"jitter":  func(p string, v json.RawMessage) error { return duration(p, v, &r.Jitter) },
		"degraded": func(p string, v json.RawMessage) error {
			return fields(p, v, map[string]func(string, json.RawMessage) error{
				"probability": func(p string, v json.RawMessage) error { return number(p, v, &r.Degraded.Probability) },
				"latency":     func(p string, v json.RawMessage) error { return decodeRange(p, v, &r.Degraded.Latency) },
			})
		},
		"error": func(p string, v json.RawMessage) error {
			return fields(p, v, map[string]func(string, json.RawMessage) error{
				"probability": func(p string, v json.RawMessage) error { return number(p, v, &r.Error.Probability) },
				"status":      func(p string, v json.RawMessage) error { return integer(p, v, &r.Error.Status) },
			})
		},
		"hang": func(p string, v json.RawMessage) error {
			return fields(p, v, map[string]func(string, json.RawMessage) error{
				"probability": func(p string, v json.RawMessage) error { return number(p, v, &r.Hang.Probability) },
				"timeout":     func(p string, v json.RawMessage) error { return duration(p, v, &r.Hang.Timeout) },
			})
		},
	})
}

func decodeRange(path string, raw json.RawMessage, g *Range) error {
	return fields(path, raw, map[string]func(string, json.RawMessage) error{
		"min": func(p string, v json.RawMessage) error { return duration(p, v, &g.Min) },
		"max": func(p string, v json.RawMessage) error { return duration(p, v, &g.Max) },
	})
}

// fields decodes a JSON object whose members are handled by the given
// functions, in sorted key order so the first error reported is stable.
func fields(path string, raw json.RawMessage, handlers map[string]func(string, json.RawMessage) error) error {
	obj, err := object(path, raw)
	if err != nil {
		return err
	}
	if err := known(path, obj, slices.Sorted(maps.Keys(handlers))...); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if err := handlers[k](path+"."+k, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

func object(path string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if kind(raw) != "object" {
		return nil, errorf(path, "want a JSON object, got %s", describe(raw))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, errorf(path, "malformed JSON: %v", err)
	}
	return obj, nil
}

func known(path string, obj map[string]json.RawMessage, names ...string) error {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(names, k) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			return errorf(p, "unknown field (want %s)", strings.Join(names, ", "))
		}
	}
	return nil
}

func str(path string, raw json.RawMessage, s *string) error {
	if kind(raw) != "string" || json.Unmarshal(raw, s) != nil {
		return errorf(path, "want a string, got %s", describe(raw))
	}
	return nil
}

func duration(path string, raw json.RawMessage, d *Duration) error {
	var s string
	if kind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return errorf(path, `want a duration string like "250ms", got %s`, describe(raw))
	}
	v, err := parseDuration(s)
	if err != nil {
		return errorf(path, `%q is not a duration (want e.g. "250ms", "1.5s" or "0")`, s)
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func number(path string, raw json.RawMessage, f *float64) error {
	if kind(raw) != "number" || json.Unmarshal(raw, f) != nil {
		return errorf(path, "want a number from 0 to 1, got %s", describe(raw))
	}
	return nil
}

func integer(path string, raw json.RawMessage, n *int) error {
	if kind(raw) != "number" || json.Unmarshal(raw, n) != nil {
		return errorf(path, "want an integer HTTP status from 400 to 599, got %s", describe(raw))
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return kind(raw) == "null" }

// kind names the JSON type of raw from its first byte.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// describe says what a value was, for error messages, quoting scalars.
func describe(raw json.RawMessage) string {
	k := kind(raw)
	switch k {
	case "string", "number", "boolean":
		v := string(bytes.TrimSpace(raw))
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return k + " " + v
	}
	return k
}
