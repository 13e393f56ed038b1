// Package backoff holds the rule that spaces out spins which do not pay, shared by
// the event loop (sched, polling epoll for an expected hand-over) and the thread
// pools (threadpool, a worker polling its queue for the next job). Both spin to
// avoid an OS thread wake-up, and both must stop spinning on work slower than the
// spin budget without giving up spinning for good.
package backoff
