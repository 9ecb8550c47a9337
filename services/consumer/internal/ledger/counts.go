package ledger

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Counts are the counters that matter across restarts: they live in the
// ledger file and change in the same transaction as the outcomes.
type Counts struct {
	Handled    uint64
	Duplicates uint64
	ByType     map[string]TypeCounts
}

// TypeCounts are one job type's counters.
type TypeCounts struct {
	Handled        uint64
	Failed         uint64
	FastJobsWaited uint64
}

// Counter keys in the counters bucket.
const (
	keyHandled    = "handled"
	keyDuplicates = "duplicates"
	typePrefix    = "type/" // type/<job type>/<handled|failed|fast_jobs_waited>
)

func typeKey(jobType, field string) string { return typePrefix + jobType + "/" + field }

func (c *Counts) clone() Counts {
	out := *c
	out.ByType = maps.Clone(c.ByType)
	if out.ByType == nil {
		out.ByType = map[string]TypeCounts{}
	}
	return out
}

func (c *Counts) add(typ string, ok, fastJobWaited bool) {
	c.Handled++
	t := c.ByType[typ]
	t.Handled++
	if !ok {
		t.Failed++
	}
	if fastJobWaited {
		t.FastJobsWaited++
	}
	c.ByType[typ] = t
}

// get reads the counter a key names.
func (c *Counts) get(key string) uint64 {
	switch key {
	case keyHandled:
		return c.Handled
	case keyDuplicates:
		return c.Duplicates
	}
	typ, field, _ := splitTypeKey(key)
	t := c.ByType[typ]
	switch field {
	case "handled":
		return t.Handled
	case "failed":
		return t.Failed
	case "fast_jobs_waited":
		return t.FastJobsWaited
	}
	return 0
}

func splitTypeKey(key string) (typ, field string, ok bool) {
	rest, ok := strings.CutPrefix(key, typePrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

func readCounts(b *bolt.Bucket) (Counts, error) {
	c := Counts{ByType: map[string]TypeCounts{}}
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("counter %q: malformed value (%d bytes)", k, len(v))
		}
		n := getU64(b, k)
		switch key := string(k); key {
		case keyHandled:
			c.Handled = n
		case keyDuplicates:
			c.Duplicates = n
		default:
			typ, field, ok := splitTypeKey(key)
			if !ok {
				return fmt.Errorf("unknown counter %q", key)
			}
			t := c.ByType[typ]
			switch field {
			case "handled":
				t.Handled = n
			case "failed":
				t.Failed = n
			case "fast_jobs_waited":
				t.FastJobsWaited = n
			default:
				return errors.New("unknown counter " + key)
			}
			c.ByType[typ] = t
		}
		return nil
	})
	return c, err
}
