// Package threadpool runs blocking work off the master loop, in named pools, and brings the
// result back the way the caller asked.
//
// # Pools and classes
//
// A Manager holds the named pools. Names are matched without regard to case and shown in upper
// case. The built-in pools exist even when the configuration names none (DefaultSpecs: SWAPOUT
// 5, SWAPIN 5, UNLINK 6 with a backlog of 100, BATCH_UNLINK 4, CLOSE 0, CPU 4, IO 50,
// SPOOLIN 1). Manager.Apply takes the configuration's `ThreadPool "NAME" { Concurrency = N
// Backlog = N }` stanzas as []Spec and creates, resizes and removes pools in place, as a
// reload does, without losing a queued job:
//   - growing starts workers for the queue at once; shrinking lets the extra workers finish
//     their current job and leave;
//   - a removed pool retires: it takes no new job, its own workers drain its queue at its own
//     concurrency, then it leaves. Draining in place was preferred to moving the queue to
//     another pool because jobs of one class may rely on their pool's concurrency (a pool of
//     1 serialises its jobs) and moving them would break that silently. New jobs of a removed
//     pool's class go to the IO pool, with a warning, as the reference does for a listener
//     whose pool is missing.
//
// A job names its pool by class: Manager.Class maps a name to a ClassID, stable for the
// Manager's life, and ClassName maps it back.
//
// # Jobs and completion modes
//
// A Job is a work function plus closure data and a completion mode (see Completion): none;
// re-arm a suspended sched.Event with a mask; resume a suspended validation context (Resumer)
// on the loop; a callback in the worker; a callback on the master loop; post a Semaphore; or
// synchronous, run inline on the caller's goroutine. Options: a Limiter shared by a group of
// jobs bounds how many of them run at once, across pools; Free is called after completion
// (to give the closure back to its memory type); SkipCompletion leaves the completion to an
// explicit Manager.Complete; SkipOnShutdown lets Shutdown drop the job if it has not started.
//
// Jobs of a pool start in FIFO order. The caller owns Job values and may reuse them once the
// completion starts: queues are intrusive lists, so submitting and completing a job allocates
// nothing.
//
// # Never blocking the loop
//
// A pool's Backlog bounds its queue; a submit that would exceed it waits for room, as the
// reference says — except on the master loop, which must never block: there Submit returns
// ErrBacklogFull at once and the caller decides (retry on a timer, answer a temporary
// failure). TrySubmit never waits, from anywhere. A synchronous job, or any job of a pool of
// concurrency 0, runs inline on the submitter's goroutine by definition: keep those short when
// the submitter is the loop.
//
// # Round trips to the loop
//
// Completions that are functions run on the loop (module, callback on the loop) are batched
// per loop: the first completion after a drain calls sched.Loop.Dispatch once, and that one
// callback completes every job that finished meanwhile. Under load the loop is handed one
// function per batch however many jobs finish, and sched itself writes its wake-up eventfd
// only when the loop sleeps, so there is at most one eventfd write per loop iteration. Event
// completions call sched.Loop.Resume straight from the worker: it is safe from any goroutine
// and already goes through the loop's batched hand-over, so a second queue would only add a
// loop iteration of latency.
//
// At low load a round trip is dominated by two thread wake-ups: a waiting worker's, then the
// sleeping loop's. A worker that has just finished a job therefore polls its queue for a moment
// (Options.Spin, at most half the processors' worth of workers at once) before it waits; a job
// that such a worker takes is announced to its loop (sched.Loop.Expect), which then polls for
// the completion instead of sleeping. A job that needs a waiting worker woken is not announced:
// the woken goroutine needs a processor, and a loop polling meanwhile would hold one. Spins
// that catch nothing are spaced out, so slow jobs do not keep either side spinning.
//
// # Shutdown, panics, statistics
//
// Manager.Shutdown drains every pool except skip-on-shutdown jobs, up to a deadline, and
// returns a ShutdownReport of what was abandoned per pool. A panicking work function is
// recovered, logged with its pool and job name, counted, and the job completes as failed with
// an Err wrapping ErrPanic; the server goes on. Manager.Stats gives per pool the concurrency,
// threads, busy, queued, completed, failed, panics, the mean and 99th percentile queue wait
// and the reference's invocations, observed average concurrency, saturation and average
// wallclock per op; WriteStats and WriteQueue render the console's `threads stats` and
// `threads <pool> queue`.
package threadpool
