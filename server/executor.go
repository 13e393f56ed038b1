package server

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/logging"
	"github.com/ecelerity-go/ecelerity/sched"
)

// loopExecutor runs console commands on the master loop: Dispatch, then wait. Once
// the loop has stopped (shutdown), commands run on the caller under a mutex, so that
// the control listener can still answer while it closes and nothing races with the
// loop, which no longer runs.
type loopExecutor struct {
	loop     *sched.Loop
	loopDone <-chan struct{}
	plog     *logging.Paniclog
	mu       sync.Mutex // serialises commands after the loop stopped
}

// Run calls fn on the loop and returns once it has returned. A panic in fn is caught
// on the loop and logged, so that it never takes the loop down.
func (e *loopExecutor) Run(fn func()) {
	done := make(chan struct{})
	e.loop.Dispatch(func(time.Time) {
		defer close(done)
		defer e.recover("console command")
		fn()
	})
	select {
	case <-done:
	case <-e.loopDone:
		// The loop stopped: either fn ran in its last iteration, or it never will.
		select {
		case <-done:
			return
		default:
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		defer e.recover("console command")
		fn()
	}
}

func (e *loopExecutor) recover(who string) {
	if p := recover(); p != nil {
		e.plog.Log(logging.Critical, "", fmt.Sprintf("panic in %s on the master loop, recovered: %v\n%s", who, p, debug.Stack()))
	}
}
