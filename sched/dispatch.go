package sched

import (
	"sync"
	"sync/atomic"
	"time"
)

// dispatchQueue is the hand-over queue: producers append under mu, the loop swaps
// the whole slice out and runs it without the lock. A mutex held for one append
// is as cheap as a lock-free queue at this size and keeps the batch a plain slice
// that the loop reuses, so a hand-over allocates nothing beyond what the caller
// made (a Dispatch's closure; a Resume makes none).
type dispatchQueue struct {
	mu sync.Mutex
	// mu guards tasks.
	tasks []task
	// nonEmpty mirrors len(tasks) > 0 for the loop's lock-free checks.
	nonEmpty atomic.Bool
	// spare is the loop's previous batch, kept for reuse; loop goroutine only.
	spare []task
}

// task is one hand-over: a dispatched function, or, when ev is set, the
// Resume of ev with mask (kept as data, not wrapped in a closure, since a
// Resume ends every suspension and a closure would be an allocation each).
type task struct {
	fn   func(time.Time)
	ev   *Event
	mask Mask
}

// push queues t and wakes the loop. Any goroutine.
func (l *Loop) push(t task) {
	if l.finished.Load() {
		return
	}
	q := &l.q
	q.mu.Lock()
	q.tasks = append(q.tasks, t)
	q.nonEmpty.Store(true)
	q.mu.Unlock()
	l.wake()
}

// Dispatch queues fn to run on the loop goroutine soon, with the iteration's
// time; functions run in the order they were queued. Any goroutine may call it,
// the loop's included (fn then runs in a later iteration, never inside the
// caller). On a loop that has stopped, fn never runs.
func (l *Loop) Dispatch(fn func(now time.Time)) {
	l.push(task{fn: fn})
}

// runDispatched runs the functions queued so far. Functions queued while they run
// wait for the next iteration, so a function that re-queues itself cannot starve
// fd events.
func (l *Loop) runDispatched() {
	q := &l.q
	if !q.nonEmpty.Load() {
		return
	}
	q.mu.Lock()
	batch := q.tasks
	q.tasks = q.spare[:0]
	q.nonEmpty.Store(false)
	q.mu.Unlock()
	// Counted first, so that whoever learns from a function that it ran
	// finds it in the count.
	l.stats.dispatched.Add(uint64(len(batch)))
	for i := range batch {
		t := batch[i]
		batch[i] = task{} // let the closure or event go as soon as it ran
		if t.ev != nil {
			l.resume(t.ev, t.mask)
		} else {
			t.fn(l.now)
		}
	}
	q.spare = batch[:0]
}

// Stats are counters of a loop since it started.
type Stats struct {
	// Iterations counts passes through the loop: one wait for work each, which
	// is a single epoll_wait unless the loop polled (see Polls).
	Iterations uint64
	// Wakeups counts eventfd writes made to wake the loop from epoll_wait.
	Wakeups uint64
	// Dispatched counts functions run from the hand-over queue (Dispatch, Resume).
	Dispatched uint64
	// Callbacks counts fd callbacks run.
	Callbacks uint64
	// Timers counts timers fired.
	Timers uint64
	// Polls counts the zero-timeout epoll_wait calls the loop made while it
	// polled for an expected hand-over instead of sleeping (see Loop.Expect).
	Polls uint64
	// EpollCtls counts the epoll_ctl calls made for fd events (registrations,
	// interest changes, removals): a cost per connection that the mask a
	// callback returns, Suspend and AddAndCall exist to keep low.
	EpollCtls uint64
	// Yields counts the times a busy loop yielded its processor to the Go
	// scheduler, about once per 5ms of work (see yieldEvery).
	Yields uint64
	// Expected is the count of hand-overs announced with Loop.Expect and not
	// yet withdrawn: zero whenever nothing is on its way.
	Expected int64
}

type counters struct {
	iterations, wakeups, dispatched, callbacks, timers, polls, yields, ctls atomic.Uint64
}

// Stats returns the loop's counters. Any goroutine may call it.
func (l *Loop) Stats() Stats {
	return Stats{
		Iterations: l.stats.iterations.Load(),
		Wakeups:    l.stats.wakeups.Load(),
		Dispatched: l.stats.dispatched.Load(),
		Callbacks:  l.stats.callbacks.Load(),
		Timers:     l.stats.timers.Load(),
		Polls:      l.stats.polls.Load(),
		Yields:     l.stats.yields.Load(),
		EpollCtls:  l.stats.ctls.Load(),
		Expected:   l.expected.Load(),
	}
}
