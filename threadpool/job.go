package threadpool

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
)

// Completion says how a job reports back once its work function has returned.
type Completion uint8

// The completion modes, after the seed's job completion kinds.
const (
	// CompleteNone: nothing happens after the work (fire and forget).
	CompleteNone Completion = iota
	// CompleteEvent: the suspended sched.Event in Job.Event is re-armed with Job.Mask
	// (sched.Loop.Resume, called from the worker); its callback then runs on its loop.
	CompleteEvent
	// CompleteModule: Job.Resumer.Resume is called on the master loop, to resume a suspended
	// validation context.
	CompleteModule
	// CompleteCallback: Job.Done is called in the worker goroutine, right after the work.
	CompleteCallback
	// CompleteCallbackSched: Job.Done is called on the master loop.
	CompleteCallbackSched
	// CompleteSemaphore: Job.Sem is posted, from the worker goroutine.
	CompleteSemaphore
	// CompleteSync: the job does not go through the queue; Submit runs the work and then
	// Job.Done (when set) inline on the caller's goroutine and returns afterwards.
	CompleteSync
)

var completionNames = [...]string{
	CompleteNone:          "none",
	CompleteEvent:         "event",
	CompleteModule:        "module",
	CompleteCallback:      "callback",
	CompleteCallbackSched: "callback_sched",
	CompleteSemaphore:     "semaphore",
	CompleteSync:          "sync",
}

// String returns the mode's lower-case name.
func (c Completion) String() string {
	if int(c) < len(completionNames) {
		return completionNames[c]
	}
	return "completion(" + strconv.Itoa(int(c)) + ")"
}

// viaLoopQueue reports whether the mode's completion is a function run on the master loop,
// batched by loopQueue. CompleteEvent also ends on the loop, but through sched.Loop.Resume.
func (c Completion) viaLoopQueue() bool {
	return c == CompleteModule || c == CompleteCallbackSched
}

// Resumer is resumed by a CompleteModule job. Resume is called on the master loop goroutine
// and must not block; now is the loop's time for the iteration.
type Resumer interface {
	Resume(now time.Time)
}

// Job states. A job is idle until submitted; it is idle again from the moment its completion
// starts, so a completion may submit the same Job once more (callers reuse Job values to keep
// the hot path free of allocation).
const (
	jobIdle uint32 = iota
	jobInFlight
	jobAwaiting // SkipCompletion: work done, waiting for Manager.Complete
)

// Job is one unit of work for a pool. The caller owns the Job value: it fills the exported
// fields, submits it with Manager.Submit and must not touch it again until its completion
// starts (the completion may read Err and Data, and may submit the Job again). The zero value
// is not submittable: Class and Work must be set.
type Job struct {
	// Name identifies the job in logs, panics and queue listings (e.g. "spool unlink").
	Name string
	// Class names the pool the job runs in; see Manager.Class.
	Class ClassID
	// Work runs in a worker goroutine (inline for CompleteSync and concurrency-0 pools). Its
	// error becomes Err. It may block: that is what pools are for.
	Work func(j *Job) error
	// Data is the job's closure data; the package never reads it.
	Data any

	// Mode is the completion mode; the fields below it are what each mode needs.
	Mode Completion
	// Event and Mask: CompleteEvent re-arms Event (a duplicate returned by sched.Loop.Suspend)
	// with Mask on Event's loop.
	Event *sched.Event
	Mask  sched.Mask
	// Resumer: resumed by CompleteModule.
	Resumer Resumer
	// Done: called by CompleteCallback (worker goroutine), CompleteCallbackSched (loop) and
	// CompleteSync (caller's goroutine; optional there).
	Done func(j *Job)
	// Sem: posted by CompleteSemaphore.
	Sem *Semaphore
	// Loop overrides the Manager's loop for CompleteModule and CompleteCallbackSched, for a
	// server running several loops. CompleteEvent always uses Event's own loop.
	Loop *sched.Loop

	// Limiter, when set, bounds how many jobs sharing it run at once, across pools.
	Limiter *Limiter
	// Free, when set, is called once after the completion has run (on the goroutine that ran
	// it; for CompleteEvent, on the loop after the resumed callback), to release the job's
	// closure data, e.g. back to its memory type. It is also called for a job abandoned at
	// shutdown.
	Free func()
	// SkipCompletion leaves the job awaiting after its work: the completion runs only when
	// Manager.Complete is called for it.
	SkipCompletion bool
	// SkipOnShutdown lets Shutdown drop the job if it has not started; it is then reported as
	// abandoned and its completion never runs.
	SkipOnShutdown bool

	// Err is the work function's result, or an error wrapping ErrPanic, or ErrShutdown for a
	// job abandoned at shutdown. Submit clears it.
	Err error

	// The fields below belong to the package while the job is in flight.
	state    atomic.Uint32
	next     *Job      // link in a pool queue, a limiter's wait list or a loop batch
	pool     *pool     // the pool that accepted the job
	queuedAt time.Time // when the job entered its pool's queue, for wait statistics
	// holdsSlot says the job owns a slot of its Limiter (taken, or handed over by release).
	holdsSlot bool
	// syncWake is set while a synchronous submitter waits for a Limiter slot; release closes it.
	syncWake chan struct{}
	// expecting is the loop told (sched.Loop.Expect) that this job's completion is coming, or
	// nil; see Manager.expect.
	expecting *sched.Loop
}
