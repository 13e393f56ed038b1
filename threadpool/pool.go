package threadpool

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/internal/backoff"
	"github.com/ecelerity-go/ecelerity/sched"
)

// Internal answers of pool.push to Submit, never returned to callers.
var (
	// errRetired: the pool Submit picked was removed meanwhile; it looks again.
	errRetired = errors.New("threadpool: pool retired")
	// errInline: the pool has concurrency 0, so Submit runs the job itself. push tells,
	// rather than Submit looking first, so that a submit takes the pool's lock once.
	errInline = errors.New("threadpool: pool runs jobs inline")
)

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
	spinning    int           // workers polling for a job instead of waiting on work (see spin)
	backoff     backoff.Spin  // spins skipped after spins that caught nothing
	work        *sync.Cond    // workers wait here for a job
	room        *sync.Cond    // submitters wait here for backlog room
	st          poolCounters

	// hasWork mirrors queued > 0 for spinning workers, which poll it without the lock. It is
	// written under mu.
	hasWork atomic.Bool
	// kicks counts kickLocked calls, so that a spinning worker notices a resize, a retirement
	// or a shutdown at once rather than at the end of its spin. It is written under mu.
	kicks atomic.Uint32
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

// push appends j to the queue, or returns errInline for a pool of concurrency 0. When the
// backlog is full it waits for room if wait is set and fails with ErrBacklogFull otherwise.
// loop is the loop j completes on, or nil.
func (p *pool) push(j *Job, wait bool, loop *sched.Loop) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.concurrency == 0 {
		return errInline
	}
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
	p.hasWork.Store(true)
	if loop != nil && p.queued <= p.spinning {
		// A spinning worker takes the job at once, so its completion will be back within
		// microseconds: tell the loop, which then polls for it instead of sleeping. A job
		// for a waiting worker is not announced: that worker's thread must be woken first,
		// and a loop spinning meanwhile would only keep busy the processor it could run on
		// (announcing every job made a 1-in-flight round trip 90µs instead of 14µs on two
		// virtual processors). Announced here, under mu, because the worker may complete
		// the job as soon as mu is released.
		j.expecting = loop
		loop.Expect(1)
	}
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
	p.hasWork.Store(true)
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
	if p.queued == 0 {
		p.hasWork.Store(false)
	}
	if p.backlog > 0 {
		// Room for one more submitter. Signal, not Broadcast: one pop makes room for one push.
		p.room.Signal()
	}
	return j
}

// wakeOneLocked gets one worker onto a newly queued job: a spinning one if any is not yet
// spoken for (it sees the job without being woken), else an idle one, else a new one while
// under the limit.
func (p *pool) wakeOneLocked() {
	if p.queued <= p.spinning {
		return
	}
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
// every idle worker and ends every spin (each worker re-checks whether it should stay) and
// starts workers for queued jobs up to the new limit.
func (p *pool) kickLocked() {
	p.kicks.Add(1)
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
	ran := false       // a job ran since this worker last waited or spun
	p.mu.Lock()
	for p.workers <= p.maxWorkersLocked() {
		j := p.popLocked()
		if j == nil {
			if p.stopping || p.retired {
				break
			}
			if ran && p.m.spin > 0 && p.backoff.Try() && p.m.spinEnter() {
				// Just finished a job: poll for the next one for a moment before
				// waiting on work, where a job would need this goroutine's thread
				// woken (see spin).
				ran = false
				p.spinning++
				kicks := p.kicks.Load()
				p.mu.Unlock()
				caught := p.spin(kicks)
				p.m.spinLeave()
				p.mu.Lock()
				p.spinning--
				if caught || p.queued > 0 {
					p.backoff.Hit()
				} else {
					p.backoff.Miss()
				}
				continue
			}
			ran = false
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
			// A parked job may wait long for its slot, so it is no longer announced to its
			// loop. The announcement is taken off before parking: once parked, the job
			// belongs to whoever releases the slot.
			announced := j.expecting
			j.expecting = nil
			if !j.Limiter.acquireOrPark(j) {
				if announced != nil {
					announced.Expect(-1)
				}
				p.parked++
				continue
			}
			j.expecting = announced
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
		ran = true

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

// defaultSpin bounds how long a worker that has just finished a job polls the queue before it
// waits on the pool's condition (Options.Spin). A waiting worker's goroutine sleeps with its OS
// thread parked in the kernel, and the submitter (the master loop, busy in its own) can
// only make it runnable: another thread must then be woken to run it, and on a virtual machine
// whose other processor sits idle that takes tens of microseconds, paid on every job of a
// round trip at low load. A spinning worker is still on its thread and sees the job at once.
// The budget must outlast the loop's own turn-around (its wake-up if it slept, the completion,
// the next submit), or the first round trip after a pause never reaches the spinning state;
// the Manager caps how many workers spin at once.
const defaultSpin = 50 * time.Microsecond

// spinYield is how many polls a spinning worker makes between yields of its processor.
const spinYield = 64

// spin polls hasWork for up to the Manager's spin budget and reports whether a job appeared;
// it also stops when the pool is kicked (kicks moves on from the value read under mu before
// the spin). It yields the processor now and then, so goroutines
// that become runnable meanwhile wait microseconds at most; yielding on every poll would send
// this goroutine through the global run queue each time, where the loop's thread, wanting a
// processor back after a system call, has to queue behind it.
func (p *pool) spin(kicks uint32) bool {
	start := time.Now()
	for i := 1; ; i++ {
		if p.hasWork.Load() {
			return true
		}
		if i%spinYield == 0 {
			if p.kicks.Load() != kicks || time.Since(start) > p.m.spin {
				return false
			}
			runtime.Gosched()
		}
	}
}
