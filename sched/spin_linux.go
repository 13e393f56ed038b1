package sched

import (
	"time"

	"golang.org/x/sys/unix"
)

// defaultSpin bounds how long the loop polls instead of sleeping while a
// hand-over is expected (Options.Spin). Waking a loop asleep in epoll_wait costs
// an eventfd write and an OS thread wake-up: several microseconds when the
// thread's processor is free, tens when the kernel has to wake an idle virtual
// processor. A thread pool job that does a little work comes back well within
// the budget; a millisecond-scale job does not, and the budget caps what a poll
// wastes on it. Polling only while something is expected keeps an idle or purely
// network-driven loop (the echo benchmark) from spending any CPU on it.
const defaultSpin = 50 * time.Microsecond

// Expect tells the loop that delta more hand-overs (Dispatch, Resume) are on
// their way soon, or, negative, that expected ones have been handed over or will
// not come soon. A thread pool counts +1 for a job that a running worker takes
// and -1 once the job's completion is queued for the loop. While the count is
// positive the loop polls epoll with a zero timeout for up to Options.Spin
// before it sleeps, so that a quick completion finds it awake: no eventfd write
// and no wake-up of the loop's thread.
//
// The count is a hint, never needed for correctness: a hand-over that nobody
// announced wakes the loop as usual, and a count left positive only costs a
// bounded poll. After polls that ran out of budget the loop passes over the next
// 1, 3, 7 ... 63 chances to poll, until one catches its hand-over, so slow work
// does not make it spin each time it waits. Any goroutine may call Expect.
func (l *Loop) Expect(delta int) {
	l.expected.Add(int64(delta))
}

// wait waits for the next iteration's work: descriptors ready (returned in
// evbuf), a hand-over, a stop or the next timer. When hand-overs are expected
// and polling has been paying off, it first polls for up to Options.Spin.
func (l *Loop) wait() (int, error) {
	d, timed := l.untilTimer()
	if timed && d <= 0 || l.q.nonEmpty.Load() {
		return unix.EpollWait(l.epfd, l.evbuf, 0)
	}
	if budget := l.opts.Spin; budget > 0 && l.expected.Load() > 0 && l.backoff.Try() {
		limit := budget
		if timed && d < limit {
			limit = d
		}
		n, err, spent, caught := l.spin(limit)
		switch {
		case caught:
			l.backoff.Hit()
			return n, err
		case spent >= budget:
			// Ran out of budget, not cut short by a timer or by nothing being
			// expected any more: the work is slower than a spin.
			l.backoff.Miss()
		}
		d -= spent
		if timed && d <= 0 {
			return 0, nil
		}
	}
	timeout := -1
	if timed {
		timeout = msCeil(d)
	}
	// Announce the sleep, then look at the queue again: a producer that enqueued
	// before seeing sleeping == true is caught by this check, one that enqueues
	// after it sees sleeping and writes the eventfd.
	l.sleeping.Store(true)
	if l.q.nonEmpty.Load() || l.stopping.Load() {
		timeout = 0
	}
	n, err := unix.EpollWait(l.epfd, l.evbuf, timeout)
	l.sleeping.Store(false)
	return n, err
}

// spin polls epoll with a zero timeout until a descriptor is ready, a hand-over
// arrives or a stop is asked for (caught reports any of these, or an error),
// nothing is expected any more, or limit has passed. It returns the time it
// spent. The loop keeps its P while it spins: epoll_wait with a zero timeout
// returns long before the runtime would hand the P to another thread.
func (l *Loop) spin(limit time.Duration) (n int, err error, spent time.Duration, caught bool) {
	start := time.Now()
	for {
		n, err = unix.EpollWait(l.epfd, l.evbuf, 0)
		l.stats.polls.Add(1)
		if n != 0 || err != nil || l.q.nonEmpty.Load() || l.stopping.Load() {
			return n, err, time.Since(start), true
		}
		spent = time.Since(start)
		if l.expected.Load() <= 0 || spent >= limit {
			return 0, nil, spent, false
		}
	}
}

// untilTimer returns the time from the iteration's start to the next timer, and
// false when no timer is scheduled.
func (l *Loop) untilTimer() (time.Duration, bool) {
	next, ok := l.wheel.next()
	if !ok {
		return 0, false
	}
	return next - l.now.Sub(l.base), true
}

// msCeil converts a positive duration to an epoll_wait timeout in milliseconds,
// rounded up so that the loop never wakes before a deadline.
func msCeil(d time.Duration) int {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}
