package threadpool

import (
	"errors"
	"sync"
	"time"
)

// errRetired tells Submit that the pool it picked was removed meanwhile; it looks again.
var errRetired = errors.New("threadpool: pool retired")

// pool is one named pool: a FIFO queue of jobs and the worker goroutines that run them.
// Workers are started on demand, up to the concurrency, so a pool nobody uses costs nothing;
// they stay until the pool shrinks, retires or shuts down.
type pool struct {
	m       *Manager
	name    string    // upper case, immutable
	class   ClassID   // immutable
	created time.Time // immutable, for the observed average concurrency

	mu sync.Mutex
	// mu guards every field below, and the queue links (Job.next) of the jobs in the queue.
	concurrency int
	backlog     int // 0: unlimited
	head, tail  *Job
	queued      int           // jobs in the queue list
	parked      int           // jobs of this pool parked on a full Limiter; they count toward backlog
	workers     int           // worker goroutines alive
	idle        int           // workers waiting on work and not yet signalled
	waiting     int           // submitters waiting for backlog room
	busy        int           // jobs running (workers and inline)
	retired     bool          // removed by Apply: takes no new job, drains, then leaves the table
	stopping    bool          // Shutdown began: takes no new job, drops skip-on-shutdown jobs
	dropAll     bool          // Shutdown's deadline passed: drops every job that has not started
	closed      bool          // drained has been closed
	drained     chan struct{} // closed when a stopping pool has nothing left
	left        chan struct{} // closed when a retired pool has drained and left the table
	work        *sync.Cond    // workers wait here for a job
	room        *sync.Cond    // submitters wait here for backlog room
	st          poolCounters
}

func newPool(m *Manager, name string, class ClassID, s Spec) *pool {
	p := &pool{
		m:           m,
		name:        name,
		class:       class,
		created:     time.Now(),
		concurrency: s.Concurrency,
		backlog:     s.Backlog,
		drained:     make(chan struct{}),
		left:        make(chan struct{}),
	}
	p.work = sync.NewCond(&p.mu)
	p.room = sync.NewCond(&p.mu)
	return p
}

// maxWorkersLocked is how many workers the pool may have: its concurrency, but at least one
// while jobs are queued, so that a pool shrunk to 0 still drains what it had accepted.
func (p *pool) maxWorkersLocked() int {
	if p.concurrency == 0 && p.queued > 0 {
		return 1
	}
	return p.concurrency
}

// push appends j to the queue. When the backlog is full it waits for room if wait is set and
// fails with ErrBacklogFull otherwise.
func (p *pool) push(j *Job, wait bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.stopping:
			return ErrShutdown
		case p.retired:
			return errRetired
		}
		if p.backlog == 0 || p.queued+p.parked < p.backlog {
			break
		}
		if !wait {
			return ErrBacklogFull
		}
		p.waiting++
		p.room.Wait()
		p.waiting--
	}
	j.pool = p
	j.queuedAt = time.Now()
	j.next = nil
	if p.tail == nil {
		p.head = j
	} else {
		p.tail.next = j
	}
	p.tail = j
	p.queued++
	p.wakeOneLocked()
	return nil
}

// requeueFront puts back a job that was parked on its Limiter and has just been handed a slot.
// It goes to the head of the queue because it already waited its turn. Backlog does not apply:
// the job was counted while parked.
func (p *pool) requeueFront(j *Job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parked--
	j.next = p.head
	p.head = j
	if p.tail == nil {
		p.tail = j
	}
	p.queued++
	p.wakeOneLocked()
}

// popLocked removes the job at the head of the queue, or returns nil.
func (p *pool) popLocked() *Job {
	j := p.head
	if j == nil {
		return nil
	}
	p.head = j.next
	if p.head == nil {
		p.tail = nil
	}
	j.next = nil
	p.queued--
	if p.backlog > 0 {
		// Room for one more submitter. Signal, not Broadcast: one pop makes room for one push.
		p.room.Signal()
	}
	return j
}

// wakeOneLocked gets one worker onto a newly queued job: an idle one if any, else a new one
// while under the limit.
func (p *pool) wakeOneLocked() {
	if p.idle > 0 {
		p.idle--
		p.work.Signal()
		return
	}
	if p.workers < p.maxWorkersLocked() {
		p.workers++
		go p.worker()
	}
}

// kickLocked reconciles workers with the queue after the concurrency or state changed: it wakes
// every idle worker (each re-checks whether it should stay) and starts workers for queued jobs
// up to the new limit.
func (p *pool) kickLocked() {
	p.idle = 0
	p.work.Broadcast()
	for n := p.queued; n > 0 && p.workers < p.maxWorkersLocked(); n-- {
		p.workers++
		go p.worker()
	}
}

// emptyLocked reports whether nothing is queued, parked, running or alive in the pool.
func (p *pool) emptyLocked() bool {
	return p.queued == 0 && p.parked == 0 && p.busy == 0 && p.workers == 0
}

// checkDrainedLocked closes drained once a stopping pool has nothing left.
func (p *pool) checkDrainedLocked() {
	if p.stopping && !p.closed && p.emptyLocked() {
		p.closed = true
		close(p.drained)
	}
}

// worker runs queued jobs until the pool has more workers than it may, or is stopping or
// retired and has nothing queued.
func (p *pool) worker() {
	var dropped []*Job // jobs dropped by shutdown, finished outside the lock
	p.mu.Lock()
	for p.workers <= p.maxWorkersLocked() {
		j := p.popLocked()
		if j == nil {
			if p.stopping || p.retired {
				break
			}
			p.idle++
			p.work.Wait()
			continue
		}
		if p.stopping && (p.dropAll || j.SkipOnShutdown) {
			p.countDropLocked(j)
			dropped = append(dropped, j)
			continue
		}
		if j.Limiter != nil && !j.holdsSlot {
			if !j.Limiter.acquireOrPark(j) {
				p.parked++
				continue
			}
			j.holdsSlot = true
		}
		start := time.Now()
		p.busy++
		p.st.invocations++
		p.st.wait.add(start.Sub(j.queuedAt))
		p.mu.Unlock()

		p.m.finishDropped(dropped)
		dropped = dropped[:0]
		p.m.run(p, j, start)

		p.mu.Lock()
	}
	p.workers--
	p.checkDrainedLocked()
	forget := p.retired && p.emptyLocked()
	p.mu.Unlock()
	p.m.finishDropped(dropped)
	if forget {
		p.m.forget(p)
	}
}

// countDropLocked records j as dropped by shutdown.
func (p *pool) countDropLocked(j *Job) {
	if j.SkipOnShutdown {
		p.st.skipped++
	} else {
		p.st.abandoned++
	}
}

// recordLocked accounts for a finished job.
func (p *pool) recordLocked(run time.Duration, err error, panicked bool) {
	p.busy--
	p.st.completed++
	p.st.runSum += run
	if err != nil {
		p.st.failed++
	}
	if panicked {
		p.st.panics++
	}
}
