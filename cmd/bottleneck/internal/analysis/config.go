package analysis

import (
	"cmp"
	"slices"
)

// Defaults of the services, used where the spans say nothing: they are
// what the README's configuration tables promise.
const (
	defaultWorkers         = 4
	defaultQueuePerWorker  = 10
	defaultSubmitWaitMS    = 1000
	defaultForwarders      = 1
	defaultConcurrency     = 1
	defaultOverflowPerWork = 1000 // the pool's non-blocking overflow per worker
)

// Bounds of the settings a fix may recommend (services/workers/config,
// services/consumer/config).
const (
	maxWorkers       = 1024
	maxQueueSize     = 1_000_000
	maxResultsBuffer = 100_000
	maxForwarders    = 64
	maxConcurrency   = 64
)

// Config is the services' configuration as the spans show it. Contract v2
// spans carry most of it (pool.workers, queue.capacity, results.forwarders,
// consumer.concurrency); what they don't is inferred from what the spans
// did and listed in Inferred, and a setting nothing tells is a default,
// listed in Defaulted. A setting changed during the window counts with its
// latest value.
type Config struct {
	Workers             int     `json:"workers"`
	QueueCapacity       int     `json:"queue_capacity"` // job queue slots per lane (QUEUE_SIZE)
	SubmitWaitMS        float64 `json:"submit_wait_ms"`
	ResultsBufferCap    int     `json:"results_buffer_cap"` // per lane
	ResultSendMode      string  `json:"result_send_mode"`   // blocking | nonblocking
	PriorityLanes       string  `json:"priority_lanes"`     // on | off | "" (unknown)
	VendorTimeoutMS     float64 `json:"vendor_timeout_ms"`  // 0 = none
	Forwarders          int     `json:"forwarders"`
	ConsumerConcurrency int     `json:"consumer_concurrency"`
	// Inferred names the settings read from what the spans did rather than
	// from an attribute (e.g. workers = distinct worker.id); Defaulted those
	// nothing told, taken as the services' defaults.
	Inferred  []string `json:"inferred"`
	Defaulted []string `json:"defaulted"`
	// Changed names the settings the spans show with more than one value:
	// they changed while the traces read were written, and the window
	// mixes both regimes.
	Changed []string `json:"changed"`
}

// EnvName is the environment variable of a Config field's JSON name.
func EnvName(field string) string {
	switch field {
	case "workers":
		return "WORKERS"
	case "queue_capacity":
		return "QUEUE_SIZE"
	case "results_buffer_cap":
		return "RESULTS_BUFFER"
	case "result_send_mode":
		return "RESULT_SEND"
	case "priority_lanes":
		return "PRIORITY_LANES"
	case "vendor_timeout_ms":
		return "VENDOR_TIMEOUT"
	case "forwarders":
		return "FORWARDERS"
	case "consumer_concurrency":
		return "CONCURRENCY"
	}
	return field
}

// LanesOn reports whether priority lanes are on.
func (c *Config) LanesOn() bool { return c.PriorityLanes == "on" }

// Nonblocking reports whether result sends never block.
func (c *Config) Nonblocking() bool { return c.ResultSendMode == "nonblocking" }

// IsInferred reports whether the named setting (a JSON name) was inferred
// or defaulted rather than read from an attribute.
func (c *Config) IsInferred(name string) bool {
	return slices.Contains(c.Inferred, name) || slices.Contains(c.Defaulted, name)
}

func observedConfig(x *extraction) Config {
	s := &x.seen
	c := Config{Inferred: []string{}, Defaulted: []string{}, Changed: []string{}}
	for _, ch := range []struct {
		name    string
		changed bool
	}{
		{"workers", s.workers.changed}, {"queue_capacity", s.queueCap.changed}, {"results_buffer_cap", s.bufferCap.changed},
		{"result_send_mode", s.sendMode.changed}, {"priority_lanes", s.lanes.changed}, {"vendor_timeout_ms", s.vendorTimeoutMS.changed},
		{"forwarders", s.forwarders.changed}, {"consumer_concurrency", s.concurrency.changed},
	} {
		if ch.changed {
			c.Changed = append(c.Changed, ch.name)
		}
	}
	inferred := func(name string) { c.Inferred = append(c.Inferred, name) }
	defaulted := func(name string) { c.Defaulted = append(c.Defaulted, name) }

	switch {
	case s.workers.set:
		c.Workers = s.workers.v
	case len(s.workerIDs) > 0:
		c.Workers = len(s.workerIDs)
		inferred("workers")
	default:
		c.Workers = defaultWorkers
		defaulted("workers")
	}

	switch {
	case s.queueCap.set:
		c.QueueCapacity = s.queueCap.v
	case len(x.rejectedMS) > 0:
		// queue.depth counts the jobs ahead, so a job accepted into a
		// queue with one slot left shows capacity-1; with submissions
		// refused, the queue was full.
		c.QueueCapacity = s.maxQueueDepth + 1
		inferred("queue_capacity")
	default:
		// It never filled: the default is the floor.
		c.QueueCapacity = max(s.maxQueueDepth+1, c.Workers*defaultQueuePerWorker)
		defaulted("queue_capacity")
	}

	if len(x.rejectedMS) > 0 {
		// A refused Submit waited SUBMIT_WAIT for room; the median drops
		// the odd call that raced with a shrinking queue.
		c.SubmitWaitMS = median(x.rejectedMS)
		inferred("submit_wait_ms")
	} else {
		c.SubmitWaitMS = defaultSubmitWaitMS
		defaulted("submit_wait_ms")
	}

	if s.bufferCap.set {
		c.ResultsBufferCap = s.bufferCap.v
	} else {
		c.ResultsBufferCap = c.Workers
		defaulted("results_buffer_cap")
	}
	c.ResultSendMode = s.sendMode.v
	if !s.sendMode.set {
		c.ResultSendMode = "blocking"
		defaulted("result_send_mode")
	}
	c.PriorityLanes = s.lanes.v
	if !s.lanes.set {
		c.PriorityLanes = "off"
		defaulted("priority_lanes")
	}
	c.VendorTimeoutMS = s.vendorTimeoutMS.v

	switch {
	case s.forwarders.set:
		c.Forwarders = s.forwarders.v
	case len(x.deliveries) > 0:
		c.Forwarders = max(1, maxOverlap(x.deliveries))
		inferred("forwarders")
	default:
		c.Forwarders = defaultForwarders
		defaulted("forwarders")
	}
	switch {
	case s.concurrency.set:
		c.ConsumerConcurrency = s.concurrency.v
	case len(x.processes) > 0:
		c.ConsumerConcurrency = max(1, maxOverlap(x.processes))
		inferred("consumer_concurrency")
	default:
		c.ConsumerConcurrency = defaultConcurrency
		defaulted("consumer_concurrency")
	}
	c.Workers = max(c.Workers, 1)
	c.QueueCapacity = max(c.QueueCapacity, 1)
	c.ResultsBufferCap = max(c.ResultsBufferCap, 1)
	return c
}

// maxOverlap is the largest number of intervals open at one instant.
// Back-to-back intervals do not overlap.
func maxOverlap(iv [][2]int64) int {
	type edge struct {
		at    int64
		delta int
	}
	edges := make([]edge, 0, 2*len(iv))
	for _, i := range iv {
		edges = append(edges, edge{i[0], +1}, edge{i[1], -1})
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	open, most := 0, 0
	for _, e := range edges {
		open += e.delta
		most = max(most, open)
	}
	return most
}
