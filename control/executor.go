package control

import "sync"

// Executor runs the commands that are not Blocking. The daemon's runs fn on the master
// loop (through the scheduler's dispatch) and waits for it, so that commands may read
// and change loop state without locks.
type Executor interface {
	// Run calls fn once and returns after fn has returned; what fn wrote must be
	// visible to the caller then (the hand-over must synchronise, as a channel does).
	// It is called from connection goroutines, possibly several at once.
	Run(fn func())
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(fn func())

// Run calls f(fn).
func (f ExecutorFunc) Run(fn func()) { f(fn) }

// serialExecutor is the default Executor: it runs commands on the caller's goroutine,
// one at a time, so that commands see each other's effects as they would on a loop.
type serialExecutor struct {
	mu sync.Mutex // held while a command runs
}

func (e *serialExecutor) Run(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn()
}
