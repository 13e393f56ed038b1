package sched

import "errors"

// Sentinel errors of package sched. Functions wrap them with %w and context, so
// callers test with errors.Is.
var (
	// ErrStopped is returned by Run on a loop that has already run, and by
	// Shutdown on a loop that stopped before it could drain.
	ErrStopped = errors.New("sched: loop stopped")
	// ErrRunning is returned by Run when the loop is already running.
	ErrRunning = errors.New("sched: loop already running")
	// ErrOnLoop is returned by Shutdown when called on the loop goroutine, where
	// waiting for the loop would deadlock.
	ErrOnLoop = errors.New("sched: called on the loop goroutine")
	// ErrBusy is returned by Add when the descriptor already has a live event.
	ErrBusy = errors.New("sched: descriptor already has an event")
	// ErrBadFD is returned by Add for a negative descriptor.
	ErrBadFD = errors.New("sched: bad descriptor")
	// ErrBadMask is returned by Add for an empty or unknown interest mask.
	ErrBadMask = errors.New("sched: bad interest mask")
	// ErrLineTooLong is returned by ReadState.ReadUntil when no delimiter occurs
	// within the reader's maximum; the reader then skips to the next delimiter.
	ErrLineTooLong = errors.New("sched: line too long")
	// ErrTooLarge is returned by ReadState.ReadN when n exceeds the maximum.
	ErrTooLarge = errors.New("sched: read larger than the maximum")
	// ErrWouldBlock is returned by Accept when no connection is pending.
	ErrWouldBlock = errors.New("sched: operation would block")
	// ErrClosed is returned by operations on a closed connection.
	ErrClosed = errors.New("sched: connection closed")
	// ErrNetwork is returned by Listen for a network it does not support.
	ErrNetwork = errors.New("sched: unsupported network")
)
