package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

func open(t *testing.T, o Options) *Ledger {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Capacity == 0 {
		o.Capacity = 100
	}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func claim(t *testing.T, l *Ledger, id string) ClaimResult {
	t.Helper()
	r, err := l.Claim(id)
	if err != nil {
		t.Fatalf("Claim(%s): %v", id, err)
	}
	return r
}

// handle claims and completes id as Deliver does.
func handle(t *testing.T, l *Ledger, o Outcome) {
	t.Helper()
	if got := claim(t, l, o.JobID); got != Claimed {
		t.Fatalf("Claim(%s) = %v, want Claimed", o.JobID, got)
	}
	if _, err := l.Complete(o); err != nil {
		t.Fatalf("Complete(%s): %v", o.JobID, err)
	}
}

// clock is a settable time for the ledger's Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func TestClaimOnceThenHandled(t *testing.T) {
	at := time.Unix(100, 5)
	l := open(t, Options{Now: func() time.Time { return at }})
	if got := claim(t, l, "a"); got != Claimed {
		t.Fatalf("first claim = %v, want Claimed", got)
	}
	// Not done yet: the earlier attempt may still give up, so this is not a
	// duplicate the caller could count as delivered.
	if got := claim(t, l, "a"); got != InProgress {
		t.Fatalf("second claim of a pending job = %v, want InProgress", got)
	}
	l.Forget("a")
	if got := claim(t, l, "a"); got != Claimed {
		t.Fatalf("claim after Forget = %v, want Claimed", got)
	}
	if got, err := l.Complete(Outcome{JobID: "a", Type: "cache-read", OK: true}); err != nil || !got.Equal(at) {
		t.Fatalf("Complete = %v, %v; want the ledger's time %v", got, err, at)
	}
	if got := claim(t, l, "a"); got != Handled {
		t.Fatalf("claim of a completed job = %v, want Handled", got)
	}
	l.Forget("a") // a recorded outcome is not forgotten
	r, ok, err := l.Lookup("a")
	if err != nil || !ok || !r.OK || !r.CompletedAt.Equal(at) {
		t.Errorf("Lookup(a) = %+v %v %v", r, ok, err)
	}
	if _, ok, _ := l.Lookup("never"); ok {
		t.Error("Lookup of an unknown job found something")
	}
}

// A result's completion time is the time of the transaction that records
// it, not of the call: one that waits behind a commit in progress (group
// commit under load) completes when its own transaction is written, and
// the record holds the time Complete returned. Status reports that time
// and the producer ends the job's root at it, so it must not be earlier
// than the moment the job was really handled.
func TestCompletionTimeIsTakenWhenTheOutcomeIsWritten(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	l := open(t, Options{afterCommit: func() {
		once.Do(func() { close(entered); <-release }) // hold the first commit
	}})
	first := make(chan error, 1)
	go func() { handleErr(l, "first", first) }()
	<-entered

	second := make(chan time.Time, 1)
	go func() {
		if got := claim(t, l, "second"); got != Claimed {
			t.Errorf("Claim(second) = %v", got)
		}
		at, err := l.Complete(Outcome{JobID: "second", Type: "cache-read", OK: true})
		if err != nil {
			t.Error(err)
		}
		second <- at
	}()
	time.Sleep(20 * time.Millisecond) // let the second call queue behind the first commit
	released := time.Now()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	at := <-second
	if at.Before(released) {
		t.Errorf("the result queued behind a commit completed at %v, %s before that commit let it through",
			at.Format(time.StampMicro), released.Sub(at))
	}
	if r, ok, err := l.Lookup("second"); err != nil || !ok || !r.CompletedAt.Equal(at) {
		t.Errorf("Lookup(second) = %+v, %v, %v; want the time Complete returned, %v", r, ok, err, at)
	}
}

func handleErr(l *Ledger, id string, done chan<- error) {
	if r, err := l.Claim(id); err != nil || r != Claimed {
		done <- fmt.Errorf("Claim(%s) = %v, %v", id, r, err)
		return
	}
	_, err := l.Complete(Outcome{JobID: id, Type: "cache-read", OK: true})
	done <- err
}

// The point of the ledger: a consumer that restarts still knows what it
// handled (dedup and Status) and keeps counting from where it was.
func TestRestartKeepsDedupStatusAndCounters(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	clk := &clock{t: at}
	l, err := Open(Options{Dir: dir, Capacity: 100, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	waited := func(completed time.Time) bool { return completed.Equal(at) }
	handle(t, l, Outcome{JobID: "c-1", Type: "cache-read", OK: true, FastJobWaited: waited})
	clk.set(at.Add(time.Second))
	handle(t, l, Outcome{JobID: "v-1", Type: "vendor-api", OK: false, FastJobWaited: waited})
	if err := l.Duplicate(); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, l, "in-flight"); got != Claimed {
		t.Fatal(got)
	}
	// The process dies with "in-flight" claimed but not completed.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2 := open(t, Options{Dir: dir, Capacity: 100})
	for _, id := range []string{"c-1", "v-1"} {
		if got := claim(t, l2, id); got != Handled {
			t.Errorf("after restart Claim(%s) = %v, want Handled", id, got)
		}
	}
	// Only completed outcomes are durable: the unacknowledged one is
	// handled when it is delivered again.
	if got := claim(t, l2, "in-flight"); got != Claimed {
		t.Errorf("after restart Claim(in-flight) = %v, want Claimed", got)
	}
	recs, err := l2.LookupAll([]string{"c-1", "v-1", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if r := recs["c-1"]; !r.OK || !r.CompletedAt.Equal(at) {
		t.Errorf("c-1 after restart: %+v", r)
	}
	if r := recs["v-1"]; r.OK || !r.CompletedAt.Equal(at.Add(time.Second)) {
		t.Errorf("v-1 after restart: %+v", r)
	}
	if _, ok := recs["nope"]; ok || len(recs) != 2 {
		t.Errorf("LookupAll found %v", recs)
	}
	c := l2.Counts()
	want := Counts{Handled: 2, Duplicates: 1, ByType: map[string]TypeCounts{
		"cache-read": {Handled: 1, FastJobsWaited: 1},
		"vendor-api": {Handled: 1, Failed: 1},
	}}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("counters after restart %+v, want %+v", c, want)
	}
	if l2.Len() != 2 {
		t.Errorf("remembered %d after restart, want 2", l2.Len())
	}
}

func TestRetentionKeepsTheNewestCapacity(t *testing.T) {
	const capacity = 5
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * capacity {
		handle(t, l, Outcome{JobID: fmt.Sprint("j", i), Type: "database", OK: true})
		if n := l.Len(); n > capacity {
			t.Fatalf("after %d outcomes the ledger holds %d, more than its capacity %d", i+1, n, capacity)
		}
	}
	for i := range 3 * capacity {
		_, ok, err := l.Lookup(fmt.Sprint("j", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := i >= 2*capacity; ok != want {
			t.Errorf("j%d remembered = %v, want %v (the newest %d are kept)", i, ok, want, capacity)
		}
	}
	// The counters count every outcome, evicted or not.
	if c := l.Counts(); c.Handled != 3*capacity || c.ByType["database"].Handled != 3*capacity {
		t.Errorf("counters %+v, want 15 handled", c)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A smaller DEDUP_CAPACITY at the next start trims at once.
	l2 := open(t, Options{Dir: dir, Capacity: 2})
	if n := l2.Len(); n != 2 {
		t.Fatalf("reopened with capacity 2: holds %d", n)
	}
	for i, want := range map[int]bool{12: false, 13: true, 14: true} {
		if _, ok, _ := l2.Lookup(fmt.Sprint("j", i)); ok != want {
			t.Errorf("after trimming, j%d remembered = %v, want %v", i, ok, want)
		}
	}
}

// The file stops growing once it holds Capacity outcomes: bbolt reuses the
// pages that eviction frees.
func TestFileSizeIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 6000 outcomes")
	}
	const capacity = 1000
	l := open(t, Options{Capacity: capacity, noSync: true})
	fill := func(from, n int) {
		for i := from; i < from+n; i++ {
			handle(t, l, Outcome{JobID: fmt.Sprintf("checkout-0123abcd-%06d", i), Type: "cache-read", OK: true})
		}
	}
	fill(0, 2*capacity)
	settled := l.Stats().FileBytes
	fill(2*capacity, 4*capacity)
	if grown := l.Stats().FileBytes; grown > settled*3/2 {
		t.Errorf("file grew from %d to %d bytes while the ledger stayed at %d outcomes", settled, grown, capacity)
	}
}

func TestConcurrentCompletesAreAllRecorded(t *testing.T) {
	l := open(t, Options{Capacity: 10000})
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if r, err := l.Claim(id); err != nil || r != Claimed {
					t.Errorf("Claim(%s) = %v, %v", id, r, err)
					return
				}
				if _, err := l.Complete(Outcome{JobID: id, Type: "cache-read", OK: true}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	if st.Remembered != writers*each || l.Counts().Handled != writers*each {
		t.Fatalf("remembered %d, handled %d; want %d", st.Remembered, l.Counts().Handled, writers*each)
	}
	if st.Commits == 0 || st.Commits > writers*each {
		t.Errorf("%d commits for %d outcomes", st.Commits, writers*each)
	}
	t.Logf("%d outcomes in %d commits", writers*each, st.Commits)
}

func TestSecondConsumerOnTheSameDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, Options{Dir: dir})
	_, err := Open(Options{Dir: dir, Capacity: 10, lockTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
		t.Fatalf("second Open: %v; want an error naming the file and the lock", err)
	}
}

func TestUnwritableDataDirIsNamed(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Dir: filepath.Join(dir, "data"), Capacity: 10})
	if err == nil || !strings.Contains(err.Error(), "DATA_DIR") {
		t.Fatalf("Open in a read-only directory: %v; want an error naming DATA_DIR", err)
	}
}

// A file the ledger cannot trust stops the consumer at start with what to
// do, and is left as it was: never reset, never half-read.
func TestCorruptFileIsReportedNotReset(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{"not a database", func(t *testing.T, path string) {
			write(t, path, []byte(strings.Repeat("this is not a bbolt file\n", 2000)))
		}, "invalid"},
		{"truncated", func(t *testing.T, path string) {
			fill(t, path)
			if err := os.Truncate(path, 4096+100); err != nil {
				t.Fatal(err)
			}
		}, "cannot be used"},
		{"data pages overwritten", func(t *testing.T, path string) {
			fill(t, path)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			junk := []byte(strings.Repeat("\xde\xad\xbe\xef", int(st.Size()-4*4096)/4))
			if _, err := f.WriteAt(junk, 4*4096); err != nil { // keep the meta pages (0, 1) and overwrite the rest
				t.Fatal(err)
			}
		}, "cannot be used"},
		{"another program's bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
			_ = db.Close()
		}, "not a consumer ledger"},
		{"a record of the wrong size", func(t *testing.T, path string) {
			fill(t, path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketJobs).Put([]byte("job-3"), []byte("short")) })
			_ = db.Close()
		}, `record for job "job-3"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			c.damage(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := Open(Options{Dir: dir, Capacity: 100})
			if err == nil {
				_ = l.Close()
				t.Fatal("Open accepted a damaged ledger")
			}
			msg := err.Error()
			for _, want := range []string{path, c.want, "mv " + path + " " + path + ".broken", "will not start"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q\ndoes not contain %q", msg, want)
				}
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(before) {
				t.Error("Open changed the damaged file")
			}
		})
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fill writes a real ledger with enough outcomes to span several pages.
func fill(t *testing.T, path string) {
	t.Helper()
	l, err := Open(Options{Dir: filepath.Dir(path), Capacity: 1000, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		handle(t, l, Outcome{JobID: fmt.Sprint("job-", i), Type: "cache-read", OK: true})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// A write that fails (here: the file may not grow, as on a full disk) is an
// error for every Complete in it: nothing is acknowledged that is not
// recorded, the claim is dropped so that the redelivery is handled, and the
// ledger says it is unhealthy until a write succeeds again.
func TestFailedWriteIsAnErrorNeverAnAck(t *testing.T) {
	l := open(t, Options{Capacity: 1_000_000, maxSize: 64 << 10, noSync: true})
	var failed error
	n := 0
	for ; n < 10_000 && failed == nil; n++ {
		id := fmt.Sprintf("job-%05d-%s", n, strings.Repeat("x", 100))
		if got := claim(t, l, id); got != Claimed {
			t.Fatalf("Claim(%s) = %v", id, got)
		}
		_, failed = l.Complete(Outcome{JobID: id, Type: "cache-read", OK: true})
		if failed != nil {
			if _, ok, _ := l.Lookup(id); ok {
				t.Errorf("a failed Complete left a record of %s", id)
			}
			if got := claim(t, l, id); got != Claimed {
				t.Errorf("after a failed Complete, Claim(%s) = %v, want Claimed (the redelivery is handled)", id, got)
			}
		}
	}
	if failed == nil {
		t.Fatal("10000 outcomes fit in a 64 KiB file?")
	}
	if !errors.Is(failed, berrors.ErrMaxSizeReached) || !strings.Contains(failed.Error(), "write failed") || !strings.Contains(failed.Error(), l.Path()) {
		t.Errorf("error %q: want it to name the file and the cause", failed)
	}
	st := l.Stats()
	if st.WriteFailures != 1 || st.LastError == "" || l.Healthy() == nil {
		t.Errorf("after a failed write: %+v, healthy %v", st, l.Healthy())
	}
	if st.Remembered != n-1 || l.Counts().Handled != uint64(n-1) {
		t.Errorf("remembered %d, handled %d; want %d (the failed one not counted)", st.Remembered, l.Counts().Handled, n-1)
	}
}

func TestClosedLedgerAnswersErrClosed(t *testing.T) {
	l := open(t, Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Complete(Outcome{JobID: "late", Type: "cache-read"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Complete after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Claim("late"); err == nil {
		t.Error("Claim after Close succeeded")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
