package testenv

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
)

func TestStartLoopRuns(t *testing.T) {
	l := StartLoop(t, sched.Options{})
	ran := make(chan bool, 1)
	l.Dispatch(func(time.Time) { ran <- l.OnLoop() })
	if !<-ran {
		t.Error("the dispatched function did not run on the loop's goroutine")
	}
}

// The loop is still running in cleanups registered after StartLoop, and stopped
// once the test's cleanups are done.
func TestStartLoopStopsAfterLaterCleanups(t *testing.T) {
	var l *sched.Loop
	t.Run("inner", func(t *testing.T) {
		l = StartLoop(t, sched.Options{})
		t.Cleanup(func() {
			ran := make(chan struct{})
			l.Dispatch(func(time.Time) { close(ran) })
			<-ran
		})
	})
	// Run on a loop whose Run has returned says so; on one still running it says
	// ErrRunning.
	if err := l.Run(); !errors.Is(err, sched.ErrStopped) {
		t.Errorf("Run after the test's cleanups = %v, want %v", err, sched.ErrStopped)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	const writers, lines = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(&b, "w%d %d\n", w, i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != writers*lines {
		t.Errorf("%d lines, want %d", n, writers*lines)
	}
}
