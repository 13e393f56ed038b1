package threadpool

import (
	"math/bits"
	"time"
)

// waitBuckets is the size of the wait-time histogram. Bucket 0 counts waits under 1µs and
// bucket i (i >= 1) waits in [2^(i-1), 2^i) µs, so the last bucket starts at about 9 minutes;
// a power-of-two histogram is fixed-size, needs no allocation when a job is recorded, and its
// percentiles are within a factor of two, which is what an operator needs to see a queue
// backing up.
const waitBuckets = 30

// waitHist is a fixed histogram of queue wait times. The owner's lock guards it.
type waitHist struct {
	counts [waitBuckets]uint64
	n      uint64
	sum    time.Duration
}

// add records one wait.
func (h *waitHist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	i := bits.Len64(us) // 0 for <1µs, k for [2^(k-1), 2^k) µs
	if i >= waitBuckets {
		i = waitBuckets - 1
	}
	h.counts[i]++
	h.n++
	h.sum += d
}

// mean returns the mean wait, 0 when nothing was recorded.
func (h *waitHist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// quantile returns the upper bound of the bucket holding the q-th quantile (0 < q <= 1), so the
// figure errs on the pessimistic side; 0 when nothing was recorded.
func (h *waitHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(uint64(1)<<uint(i)) * time.Microsecond
		}
	}
	return time.Duration(uint64(1)<<uint(waitBuckets-1)) * time.Microsecond
}

// poolCounters are a pool's running totals. The pool's mu guards them.
type poolCounters struct {
	invocations uint64 // jobs whose work started
	completed   uint64 // jobs whose work returned (failed ones included)
	failed      uint64 // jobs whose work returned an error or panicked
	panics      uint64 // jobs whose work panicked
	skipped     uint64 // skip-on-shutdown jobs dropped by Shutdown
	abandoned   uint64 // jobs dropped unstarted when Shutdown's deadline passed
	runSum      time.Duration
	wait        waitHist
}

// PoolStats is a snapshot of one pool, the data behind the console's `threads` command.
type PoolStats struct {
	Name        string // upper case
	Class       ClassID
	Concurrency int
	Backlog     int  // 0: unlimited
	Retiring    bool // removed by Apply, still draining its queue

	Threads int // worker goroutines alive
	Busy    int // jobs running now
	Queued  int // jobs waiting, including those parked on a full Limiter
	Waiting int // submitters waiting for backlog room

	Invocations uint64 // jobs started
	Completed   uint64 // jobs finished, failed ones included
	Failed      uint64 // jobs finished with an error (panics included)
	Panics      uint64 // jobs whose work panicked
	Skipped     uint64 // skip-on-shutdown jobs dropped at shutdown
	Abandoned   uint64 // jobs dropped unstarted when the shutdown deadline passed

	MeanWait time.Duration // mean time from queue to start
	P99Wait  time.Duration // 99th percentile of the same, to the histogram's power of two

	// AvgWallclock is the mean time a job's work took.
	AvgWallclock time.Duration
	// AvgConcurrency is the observed average number of jobs running at once since the pool
	// was created: total work time divided by the pool's age.
	AvgConcurrency float64
	// Saturation is AvgConcurrency as a percentage of Concurrency (0 for a pool of 0).
	Saturation float64
}

// snapshotLocked fills a PoolStats; the caller holds p.mu.
func (p *pool) snapshotLocked(now time.Time) PoolStats {
	c := &p.st
	s := PoolStats{
		Name:        p.name,
		Class:       p.class,
		Concurrency: p.concurrency,
		Backlog:     p.backlog,
		Retiring:    p.retired,
		Threads:     p.workers,
		Busy:        p.busy,
		Queued:      p.queued + p.parked,
		Waiting:     p.waiting,
		Invocations: c.invocations,
		Completed:   c.completed,
		Failed:      c.failed,
		Panics:      c.panics,
		Skipped:     c.skipped,
		Abandoned:   c.abandoned,
		MeanWait:    c.wait.mean(),
		P99Wait:     c.wait.quantile(0.99),
	}
	if c.completed > 0 {
		s.AvgWallclock = c.runSum / time.Duration(c.completed)
	}
	if age := now.Sub(p.created); age > 0 {
		s.AvgConcurrency = float64(c.runSum) / float64(age)
	}
	if p.concurrency > 0 {
		s.Saturation = 100 * s.AvgConcurrency / float64(p.concurrency)
	}
	return s
}
