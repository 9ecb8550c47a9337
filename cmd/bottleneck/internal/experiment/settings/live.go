package settings

import (
	"fmt"
	"slices"
	"strconv"
)

// Live says how a setting changes on a running service: through a field
// of its admin API.
type Live struct {
	Service string
	// Field is the JSON field of PUT /admin/config (workers, consumer);
	// for the vendor's FAULT_PRESET it is "preset": POST
	// /admin/faults/presets/{name}.
	Field string
	// Int fields are sent as JSON numbers, the others as strings.
	Int bool
}

// Preset is the Field of FAULT_PRESET.
const Preset = "preset"

// live maps the settings the services can change at run time to their
// admin fields.
var live = map[string]Live{
	Workers + ":WORKERS":            {Workers, "workers", true},
	Workers + ":QUEUE_SIZE":         {Workers, "queue_size", true},
	Workers + ":RESULTS_BUFFER":     {Workers, "results_buffer", true},
	Workers + ":RESULT_SEND":        {Workers, "result_send", false},
	Workers + ":PRIORITY_LANES":     {Workers, "priority_lanes", false},
	Workers + ":VENDOR_TIMEOUT":     {Workers, "vendor_timeout", false},
	Workers + ":FORWARDERS":         {Workers, "forwarders", true},
	Workers + ":SUBMIT_WAIT":        {Workers, "submit_wait", false},
	Workers + ":CACHE_LATENCY":      {Workers, "cache_latency", false},
	Workers + ":DB_ACQUIRE_LATENCY": {Workers, "db_acquire_latency", false},
	Workers + ":DB_QUERY_LATENCY":   {Workers, "db_query_latency", false},
	Consumer + ":PROCESS_DELAY":     {Consumer, "process_delay", false},
	Consumer + ":CONCURRENCY":       {Consumer, "concurrency", true},
	VendorMock + ":FAULT_PRESET":    {VendorMock, Preset, false},
}

// LiveField returns how service's variable name changes at run time, and
// false when it can only be set at start.
func LiveField(service, name string) (Live, bool) {
	l, ok := live[service+":"+name]
	return l, ok
}

// LiveNames lists the settings that can change at run time, as
// "service:NAME", sorted.
func LiveNames() []string {
	var out []string
	for k := range live {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// JSONValue is the admin API's value for a setting: a number for Int
// fields, else the text.
func (l Live) JSONValue(value string) (any, error) {
	if !l.Int {
		return value, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not an integer", l.Field, value)
	}
	return n, nil
}
