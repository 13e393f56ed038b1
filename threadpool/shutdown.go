package threadpool

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Abandoned counts, for one pool, the jobs a shutdown did not run to the end.
type Abandoned struct {
	Pool    string // upper case
	Skipped int    // skip-on-shutdown jobs dropped before they started
	Queued  int    // jobs dropped unstarted because the deadline passed
	Running int    // jobs still running when the deadline passed (they finish unobserved)
}

// ShutdownReport says what Shutdown abandoned; pools that lost nothing are left out.
type ShutdownReport struct {
	Abandoned []Abandoned // sorted by pool name
}

// Total returns the number of jobs abandoned in all pools.
func (r ShutdownReport) Total() int {
	n := 0
	for _, a := range r.Abandoned {
		n += a.Skipped + a.Queued + a.Running
	}
	return n
}

// String renders the report on one line per pool, for a log.
func (r ShutdownReport) String() string {
	if len(r.Abandoned) == 0 {
		return "no jobs abandoned"
	}
	var b strings.Builder
	for i, a := range r.Abandoned {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %d skipped, %d queued, %d running", a.Pool, a.Skipped, a.Queued, a.Running)
	}
	return b.String()
}

// Shutdown stops the pools: submits fail with ErrShutdown from now on, skip-on-shutdown jobs
// that have not started are dropped, and every other accepted job runs, until all pools are
// drained or ctx is done. On ctx's end the jobs that have not started are dropped too and
// ErrDrainTimeout (wrapping ctx's error) is returned; jobs already running cannot be stopped
// and are reported as Running. A dropped job's Err is ErrShutdown, its Free runs and its
// completion does not.
//
// Completions bound for the master loop still go through it, so stop the loop after Shutdown
// returns, not before. Any goroutine but the loop's may call Shutdown; it may be called again,
// reporting the totals so far.
func (m *Manager) Shutdown(ctx context.Context) (ShutdownReport, error) {
	m.stopping.Store(true)
	m.mu.Lock()
	pools := make([]*pool, 0, len(m.pools))
	for _, p := range m.pools {
		pools = append(pools, p)
	}
	m.mu.Unlock()

	for _, p := range pools {
		p.mu.Lock()
		p.stopping = true
		dropped := p.sweepLocked(func(j *Job) bool { return j.SkipOnShutdown })
		p.kickLocked()
		p.room.Broadcast()
		p.checkDrainedLocked()
		p.mu.Unlock()
		m.finishDropped(dropped)
	}

	var err error
	for _, p := range pools {
		select {
		case <-p.drained:
			continue
		case <-ctx.Done():
		}
		err = fmt.Errorf("threadpool: shutdown: %w: %w", ErrDrainTimeout, ctx.Err())
		break
	}
	if err != nil {
		for _, p := range pools {
			p.mu.Lock()
			p.dropAll = true
			dropped := p.sweepLocked(func(*Job) bool { return true })
			p.mu.Unlock()
			m.finishDropped(dropped)
		}
	}

	var r ShutdownReport
	for _, p := range pools {
		p.mu.Lock()
		a := Abandoned{Pool: p.name, Skipped: int(p.st.skipped), Queued: int(p.st.abandoned) + p.parked}
		if err != nil {
			a.Running = p.busy
		}
		p.mu.Unlock()
		if a != (Abandoned{Pool: p.name}) {
			r.Abandoned = append(r.Abandoned, a)
		}
	}
	slices.SortFunc(r.Abandoned, func(a, b Abandoned) int { return strings.Compare(a.Pool, b.Pool) })
	return r, err
}

// sweepLocked removes from the queue the jobs that drop selects, counts them and returns them
// for finishDropped, which the caller runs after unlocking.
func (p *pool) sweepLocked(drop func(*Job) bool) []*Job {
	var out []*Job
	var prev *Job
	for j := p.head; j != nil; {
		next := j.next
		if !drop(j) {
			prev = j
			j = next
			continue
		}
		if prev == nil {
			p.head = next
		} else {
			prev.next = next
		}
		if p.tail == j {
			p.tail = prev
		}
		j.next = nil
		p.queued--
		p.hasWork.Store(p.queued > 0)
		p.countDropLocked(j)
		out = append(out, j)
		j = next
	}
	return out
}
