package threadpool

import "sync"

// Limiter is a concurrency limit shared by a group of jobs, whichever pools they run in: at
// most Limit of the jobs that reference it run at once. A job whose limiter is full does not
// hold a worker: it is parked on the limiter and put back at the head of its pool's queue when
// a slot frees, so the other jobs of the pool keep flowing. Create it with NewLimiter; any
// goroutine may share it.
type Limiter struct {
	limit int // immutable

	mu sync.Mutex
	// mu guards active and the parked list (head, tail, parked).
	active     int
	head, tail *Job
	parked     int
}

// NewLimiter returns a limiter letting n jobs run at once. n < 1 is a programmer error and
// panics.
func NewLimiter(n int) *Limiter {
	if n < 1 {
		panic("threadpool: NewLimiter: limit must be at least 1")
	}
	return &Limiter{limit: n}
}

// Limit returns the number of jobs that may run at once.
func (l *Limiter) Limit() int { return l.limit }

// Active returns how many jobs hold a slot now.
func (l *Limiter) Active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active
}

// acquireOrPark takes a slot for j, or parks j (and reports false) when none is free. A parked
// job owns a slot the moment release hands it one.
func (l *Limiter) acquireOrPark(j *Job) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active < l.limit {
		l.active++
		return true
	}
	j.next = nil
	if l.tail == nil {
		l.head = j
	} else {
		l.tail.next = j
	}
	l.tail = j
	l.parked++
	return false
}

// tryAcquire takes a slot if one is free and no job is parked ahead, and reports whether it did.
func (l *Limiter) tryAcquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active < l.limit && l.head == nil {
		l.active++
		return true
	}
	return false
}

// release gives up a slot. When a job is parked, the slot passes straight to it and release
// returns it: the caller must requeue it (or wake its synchronous submitter).
func (l *Limiter) release() *Job {
	l.mu.Lock()
	defer l.mu.Unlock()
	j := l.head
	if j == nil {
		l.active--
		return nil
	}
	l.head = j.next
	if l.head == nil {
		l.tail = nil
	}
	j.next = nil
	l.parked--
	return j
}
