package threadpool

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test them with errors.Is.
var (
	// ErrBacklogFull is returned when a push would exceed a pool's backlog and the caller may
	// not wait for room: a submit from the master loop (which must never block) or TrySubmit.
	ErrBacklogFull = errors.New("threadpool: backlog full")
	// ErrUnknownClass is returned for a job class that names no pool.
	ErrUnknownClass = errors.New("threadpool: unknown job class")
	// ErrInvalidJob is returned when a job lacks what its completion mode needs.
	ErrInvalidJob = errors.New("threadpool: invalid job")
	// ErrInvalidSpec is returned by Apply for a pool spec it cannot use; nothing is changed.
	ErrInvalidSpec = errors.New("threadpool: invalid pool spec")
	// ErrJobBusy is returned when a job is submitted again before its completion started.
	ErrJobBusy = errors.New("threadpool: job already submitted")
	// ErrNotPending is returned by Complete for a job that is not waiting for it.
	ErrNotPending = errors.New("threadpool: job is not awaiting completion")
	// ErrShutdown is returned for a submit after Shutdown began, and set as the Err of a
	// job that shutdown abandoned.
	ErrShutdown = errors.New("threadpool: shut down")
	// ErrPanic is wrapped in the Err of a job whose work function panicked.
	ErrPanic = errors.New("threadpool: job panicked")
	// ErrLimiterBusy is returned for a synchronous job submitted from the master loop whose
	// shared concurrency limit is reached: the loop may not wait for a slot.
	ErrLimiterBusy = errors.New("threadpool: concurrency limit reached")
	// ErrDrainTimeout is returned by Shutdown when its deadline passed before every pool
	// drained; the report says what was abandoned.
	ErrDrainTimeout = errors.New("threadpool: drain deadline exceeded")
	// ErrNoPool is returned by Queue for a pool name that does not exist.
	ErrNoPool = errors.New("threadpool: no such pool")
)
