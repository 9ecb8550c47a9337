// Package ledger is the consumer's durable record of the results it
// handled: which job IDs are done, whether they succeeded and when, and the
// counters /stats shows. It lives in one bbolt file in DATA_DIR, so a
// consumer that restarts still answers a redelivered result "duplicate"
// and still tells the producer (Status) which jobs it handled.
//
// Only completed outcomes are durable. A job being handled right now is
// claimed in memory: if the consumer dies mid-job its result was never
// acknowledged, and the workers deliver it again to the new process.
//
// An outcome is committed (fsync) before Complete returns, and Complete
// returns before the Deliver that handled it is acknowledged. Its
// completion time is taken by the ledger as it writes the outcome into its
// transaction, and Complete returns it: what Status reports, and the
// producer ends the job's root span at, is the time the record holds, and
// the moment "handled" became true, not when the caller asked for it
// (which may be a commit earlier under load). Concurrent
// Completes share one transaction (group commit), so the cost of the fsync
// is paid once per batch, not once per result, without delaying a lone
// result the way bbolt's Batch (which waits up to 10 ms for company) would.
//
// Retention is by count: the ledger keeps the last Capacity outcomes in
// completion order and deletes the oldest past that, so the file stays
// bounded whatever the load.
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the ledger's file inside DATA_DIR.
const FileName = "consumer-ledger.db"

// schemaVersion is written into a new ledger; a file with another version
// is refused rather than misread.
const schemaVersion = 1

// maxBatch bounds the outcomes one transaction commits.
const maxBatch = 1024

// lockTimeout bounds the wait for the file lock that keeps two consumers
// off one ledger.
const lockTimeout = 2 * time.Second

var (
	bucketJobs     = []byte("jobs")     // job ID -> record
	bucketOrder    = []byte("order")    // sequence (big endian) -> job ID: completion order, for eviction
	bucketCounters = []byte("counters") // counter name -> uint64
	bucketMeta     = []byte("meta")     // schema, next sequence, count

	keySchema = []byte("schema")
	keyNext   = []byte("next_seq")
	keyCount  = []byte("count")
)

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("ledger is closed")

// Options open a ledger.
type Options struct {
	// Dir is DATA_DIR; it is created (0700) when missing.
	Dir string
	// Capacity is how many outcomes are kept (DEDUP_CAPACITY), at least 1.
	Capacity int

	// noSync skips fsync; only benchmarks set it, to show what it costs.
	noSync bool
	// maxSize caps the file (bbolt's MaxSize); tests use it to make
	// writes fail the way a full disk does.
	maxSize int
	// lockTimeout replaces the default wait for the file lock (tests).
	lockTimeout time.Duration
	// afterCommit, when set, runs after each commit, before its callers
	// hear of it (tests hold a commit in progress with it).
	afterCommit func()
	// Now is the clock that stamps completion times (nil = time.Now).
	Now func() time.Time
}

// Record is what the ledger knows about a completed job.
type Record struct {
	CompletedAt time.Time
	OK          bool
}

// Outcome is one handled result, as Complete records it; the ledger adds
// the completion time.
type Outcome struct {
	JobID string
	Type  string // cache-read | database | vendor-api
	OK    bool
	// FastJobWaited, when set, says from the completion time whether this
	// was a fast job that spent most of its life waiting (counted in
	// fast_jobs_waited).
	FastJobWaited func(completedAt time.Time) bool
}

// ClaimResult says what Claim found for a job ID.
type ClaimResult int

const (
	// Claimed: the ID was new and the caller now holds it; it must call
	// Complete or Forget.
	Claimed ClaimResult = iota
	// InProgress: an earlier attempt holds the ID and has not completed
	// it. It may still give up (Forget), so the caller must not report the
	// result as delivered: it has to ask for a retry.
	InProgress
	// Handled: the outcome is recorded; the caller has a true duplicate.
	Handled
)

// Ledger is the durable record plus the in-memory claims.
type Ledger struct {
	db       *bolt.DB
	path     string
	capacity int
	now      func() time.Time
	// afterCommit: see Options.
	afterCommit func()

	claimsMu sync.Mutex
	claims   map[string]struct{}

	ops      chan *op
	quit     chan struct{}
	stopped  chan struct{}
	closeErr error
	close    sync.Once

	mu       sync.Mutex // guards the fields below, updated after each commit
	counts   Counts
	count    int
	next     uint64
	commits  uint64
	failures uint64
	lastErr  error
}

// op is one write for the committer: a completed job, or (outcome nil) a
// duplicate delivery to count. The committer sets at and waited before it
// sends on done.
type op struct {
	outcome *Outcome
	at      time.Time
	waited  bool
	done    chan error
}

// Open opens (or creates) the ledger in o.Dir. A file that is not a
// readable ledger is refused with an error that names it and says what to
// do; it is never reset.
func Open(o Options) (*Ledger, error) {
	if o.Dir == "" {
		return nil, errors.New("ledger: no directory (DATA_DIR is empty)")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: create DATA_DIR %s: %w", o.Dir, err)
	}
	path := filepath.Join(o.Dir, FileName)
	if o.lockTimeout <= 0 {
		o.lockTimeout = lockTimeout
	}
	db, err := openDB(path, &bolt.Options{
		Timeout:      o.lockTimeout,
		NoSync:       o.noSync,
		MaxSize:      o.maxSize,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("ledger %s is locked by another process: is a second consumer running with the same DATA_DIR? Stop it, or give this one a DATA_DIR of its own", path)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("ledger %s: %w; DATA_DIR must be writable by this user (uid %d)", path, err, os.Getuid())
	case err != nil:
		return nil, corrupt(path, err)
	}
	l := &Ledger{
		db:          db,
		path:        path,
		capacity:    max(o.Capacity, 1),
		now:         o.Now,
		afterCommit: o.afterCommit,
		claims:      map[string]struct{}{},
		ops:         make(chan *op),
		quit:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	if err := l.load(); err != nil {
		_ = db.Close()
		return nil, corrupt(path, err)
	}
	// A smaller DEDUP_CAPACITY than last time takes effect at once.
	if l.now == nil {
		l.now = time.Now
	}
	if l.count > l.capacity {
		if err := db.Update(func(tx *bolt.Tx) error { return l.evict(tx, &l.count) }); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("ledger %s: trimming to DEDUP_CAPACITY=%d: %w", path, l.capacity, err)
		}
	}
	go l.commitLoop()
	return l, nil
}

// openDB is bolt.Open, with its panics on damaged pages (it reads the
// freelist at open) turned into errors. The process then exits, which
// releases what the panicking Open left open.
func openDB(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("damaged file: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

// corrupt wraps an error that makes the file unusable with what to do.
func corrupt(path string, err error) error {
	return fmt.Errorf("ledger %s cannot be used: %w. The consumer will not start on it, so that it never "+
		"forgets handled jobs silently. Move it aside to keep it for inspection (mv %s %s.broken) and start "+
		"again with an empty ledger; results redelivered after that are handled again",
		path, err, path, path)
}

// load creates the buckets of a new file, or checks an existing one and
// reads its counters.
func (l *Ledger) load() (err error) {
	defer func() {
		// bbolt panics on some damaged pages; that is a corrupt file too.
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged file: %v", r)
		}
	}()
	fresh := false
	if err := l.db.View(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(bucketMeta) == nil && isEmpty(tx)
		return nil
	}); err != nil {
		return err
	}
	if fresh {
		if err := l.db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketJobs, bucketOrder, bucketCounters, bucketMeta} {
				if _, err := tx.CreateBucket(b); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion))
		}); err != nil {
			return fmt.Errorf("initialise: %w", err)
		}
	}
	return l.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketJobs) == nil || tx.Bucket(bucketOrder) == nil || tx.Bucket(bucketCounters) == nil {
			return errors.New("not a consumer ledger (its buckets are missing)")
		}
		if v := getU64(meta, keySchema); v != schemaVersion {
			return fmt.Errorf("ledger schema %d, this consumer reads %d", v, schemaVersion)
		}
		for err := range tx.Check() {
			return fmt.Errorf("consistency check: %w", err)
		}
		l.next = getU64(meta, keyNext)
		l.count = int(getU64(meta, keyCount))
		jobs, order := tx.Bucket(bucketJobs).Stats().KeyN, tx.Bucket(bucketOrder).Stats().KeyN
		if jobs != l.count || order != l.count {
			return fmt.Errorf("counts disagree: %d jobs, %d in completion order, %d recorded", jobs, order, l.count)
		}
		if err := tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			if _, _, err := decodeRecord(v); err != nil {
				return fmt.Errorf("record for job %q: %w", k, err)
			}
			return nil
		}); err != nil {
			return err
		}
		c, err := readCounts(tx.Bucket(bucketCounters))
		l.counts = c
		return err
	})
}

func isEmpty(tx *bolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return errors.New("stop") })
	return empty
}

// Path is the ledger file.
func (l *Ledger) Path() string { return l.path }

// Claim takes job id for handling if nobody holds it and it is not done.
// An error means the ledger could not be read.
func (l *Ledger) Claim(id string) (ClaimResult, error) {
	l.claimsMu.Lock()
	defer l.claimsMu.Unlock()
	if _, held := l.claims[id]; held {
		return InProgress, nil
	}
	// Read under claimsMu: Complete records the outcome before it drops
	// the claim, so an ID is always either claimed or recorded here.
	_, done, err := l.Lookup(id)
	if err != nil {
		return 0, err
	}
	if done {
		return Handled, nil
	}
	l.claims[id] = struct{}{}
	return Claimed, nil
}

// Forget drops a claim whose result was not handled or not recorded, so a
// retry is handled.
func (l *Ledger) Forget(id string) {
	l.claimsMu.Lock()
	delete(l.claims, id)
	l.claimsMu.Unlock()
}

// Complete records o durably, then drops its claim, and returns the
// completion time it recorded: when o was written into the transaction
// that made it durable. On error nothing was recorded and the claim is
// dropped too, so the caller must not acknowledge the result: a redelivery
// will be handled again.
func (l *Ledger) Complete(o Outcome) (time.Time, error) {
	w := &op{outcome: &o}
	err := l.submit(w)
	l.Forget(o.JobID)
	if err != nil {
		return time.Time{}, err
	}
	return w.at, nil
}

// Duplicate counts a delivery of a job already handled (the counter is
// durable, like the others in /stats).
func (l *Ledger) Duplicate() error {
	return l.submit(&op{})
}

func (l *Ledger) submit(o *op) error {
	o.done = make(chan error, 1)
	select {
	case l.ops <- o:
	case <-l.quit:
		return ErrClosed
	}
	return <-o.done
}

// Lookup returns the record of job id, if it is remembered.
func (l *Ledger) Lookup(id string) (Record, bool, error) {
	var (
		r     Record
		found bool
	)
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJobs).Get([]byte(id))
		if v == nil {
			return nil
		}
		rec, _, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("ledger %s: record for job %q: %w", l.path, id, err)
		}
		r, found = rec, true
		return nil
	})
	return r, found, err
}

// LookupAll returns the records of ids in one read; missing IDs have no
// entry in the map.
func (l *Ledger) LookupAll(ids []string) (map[string]Record, error) {
	out := make(map[string]Record, len(ids))
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		for _, id := range ids {
			v := b.Get([]byte(id))
			if v == nil {
				continue
			}
			rec, _, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("ledger %s: record for job %q: %w", l.path, id, err)
			}
			out[id] = rec
		}
		return nil
	})
	return out, err
}

// commitLoop writes every op that is waiting in one transaction: the first
// op starts a commit at once, and the ops that arrive meanwhile go into
// the next. One goroutine writes, so transactions never queue on bbolt's
// writer lock.
func (l *Ledger) commitLoop() {
	defer close(l.stopped)
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case o := <-l.ops:
			batch = append(batch[:0], o)
		case <-l.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case o := <-l.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		err := l.commit(batch)
		if l.afterCommit != nil {
			l.afterCommit()
		}
		for i, o := range batch {
			o.done <- err
			batch[i] = nil
		}
	}
}

// commit applies a batch in one transaction and, once it is on disk,
// updates the in-memory counters.
func (l *Ledger) commit(batch []*op) error {
	l.mu.Lock()
	counts, count, next := l.counts.clone(), l.count, l.next
	l.mu.Unlock()
	err := l.db.Update(func(tx *bolt.Tx) error {
		jobs, order, ctr := tx.Bucket(bucketJobs), tx.Bucket(bucketOrder), tx.Bucket(bucketCounters)
		touched := map[string]bool{}
		// The batch's outcomes complete now, as they are written: this
		// transaction is what makes them handled.
		at := l.now()
		for _, o := range batch {
			if o.outcome == nil {
				counts.Duplicates++
				touched[keyDuplicates] = true
				continue
			}
			oc := o.outcome
			o.at = at
			o.waited = oc.FastJobWaited != nil && oc.FastJobWaited(at)
			key := []byte(oc.JobID)
			if old := jobs.Get(key); old != nil {
				// Recorded already (cannot happen while claims work; keep
				// the order index exact anyway).
				if _, seq, err := decodeRecord(old); err == nil {
					if err := order.Delete(u64(seq)); err != nil {
						return err
					}
					count--
				}
			}
			next++
			if err := jobs.Put(key, encodeRecord(oc.OK, at, next)); err != nil {
				return err
			}
			if err := order.Put(u64(next), key); err != nil {
				return err
			}
			count++
			counts.add(oc.Type, oc.OK, o.waited)
			touched[keyHandled] = true
			touched[typeKey(oc.Type, "handled")] = true
			if !oc.OK {
				touched[typeKey(oc.Type, "failed")] = true
			}
			if o.waited {
				touched[typeKey(oc.Type, "fast_jobs_waited")] = true
			}
		}
		if count > l.capacity {
			if err := l.evict(tx, &count); err != nil {
				return err
			}
		}
		for k := range touched {
			if err := ctr.Put([]byte(k), u64(counts.get(k))); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyNext, u64(next)); err != nil {
			return err
		}
		return meta.Put(keyCount, u64(uint64(count)))
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failures++
		l.lastErr = err
		return fmt.Errorf("ledger %s: write failed: %w", l.path, err)
	}
	l.counts, l.count, l.next = counts, count, next
	l.commits++
	l.lastErr = nil
	return nil
}

// evict deletes the oldest outcomes until *count is within capacity.
func (l *Ledger) evict(tx *bolt.Tx, count *int) error {
	jobs, order := tx.Bucket(bucketJobs), tx.Bucket(bucketOrder)
	c := order.Cursor()
	for k, id := c.First(); k != nil && *count > l.capacity; k, id = c.First() {
		if err := jobs.Delete(id); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
		*count--
	}
	if l.capacity < *count {
		return fmt.Errorf("completion order lists %d fewer jobs than recorded", *count-l.capacity)
	}
	return tx.Bucket(bucketMeta).Put(keyCount, u64(uint64(*count)))
}

// Stats is the ledger's part of /stats.
type Stats struct {
	Path       string `json:"path"`
	Remembered int    `json:"remembered"`
	Capacity   int    `json:"capacity"`
	// FileBytes is the file's size: bbolt reuses freed pages, so it stops
	// growing once Capacity outcomes are stored.
	FileBytes int64 `json:"file_bytes"`
	// Commits counts transactions written; each holds one or more outcomes.
	Commits uint64 `json:"commits"`
	// WriteFailures counts transactions that failed (full disk, I/O
	// error); each made its Delivers answer UNAVAILABLE, for a retry.
	WriteFailures uint64 `json:"write_failures"`
	// LastError is the error of the last write while writes keep failing.
	LastError string `json:"last_error,omitempty"`
}

// Stats returns the ledger's numbers.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	s := Stats{Path: l.path, Remembered: l.count, Capacity: l.capacity, Commits: l.commits, WriteFailures: l.failures}
	if l.lastErr != nil {
		s.LastError = l.lastErr.Error()
	}
	l.mu.Unlock()
	if fi, err := os.Stat(l.path); err == nil {
		s.FileBytes = fi.Size()
	}
	return s
}

// Counts returns the durable counters.
func (l *Ledger) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts.clone()
}

// Len is the number of outcomes remembered.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// Healthy is nil unless the last write failed: the consumer then cannot
// accept results, and its health check says why.
func (l *Ledger) Healthy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr != nil {
		return fmt.Errorf("ledger %s: last write failed: %w", l.path, l.lastErr)
	}
	return nil
}

// Close finishes the commit in progress and closes the file. Later calls
// get ErrClosed.
func (l *Ledger) Close() error {
	l.close.Do(func() {
		close(l.quit)
		<-l.stopped
		l.closeErr = l.db.Close()
	})
	return l.closeErr
}

// A record: version, flags (bit 0: ok), completed_at (Unix ns), sequence.
const recordLen = 1 + 1 + 8 + 8

func encodeRecord(ok bool, completedAt time.Time, seq uint64) []byte {
	b := make([]byte, recordLen)
	b[0] = schemaVersion
	if ok {
		b[1] = 1
	}
	binary.BigEndian.PutUint64(b[2:], uint64(completedAt.UnixNano()))
	binary.BigEndian.PutUint64(b[10:], seq)
	return b
}

func decodeRecord(b []byte) (Record, uint64, error) {
	if len(b) != recordLen || b[0] != schemaVersion {
		return Record{}, 0, fmt.Errorf("malformed record (%d bytes)", len(b))
	}
	return Record{
		OK:          b[1]&1 == 1,
		CompletedAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[2:]))),
	}, binary.BigEndian.Uint64(b[10:]), nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
