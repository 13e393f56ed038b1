package sched

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBusyLoopYields: a loop that keeps working yields its processor once per
// yieldEvery of its clock, and not at every iteration.
func TestBusyLoopYields(t *testing.T) {
	clock := newFakeClock()
	l := startLoop(t, Options{Clock: clock.Now})
	onLoop(t, l, func(time.Time) {}) // the first iteration may yield: nothing has yet
	before := l.Stats()
	const steps = 40
	for range steps {
		clock.Advance(yieldEvery / 4)
		onLoop(t, l, func(time.Time) {})
	}
	after := l.Stats()
	yields := after.Yields - before.Yields
	iters := after.Iterations - before.Iterations
	// 40 quarter periods of loop time: 10 periods, so about 10 yields (the
	// first iteration of each period yields), however many iterations ran.
	if yields < steps/4-1 || yields > steps/4+1 {
		t.Errorf("%d yields over %d iterations and %v of loop time, want about %d",
			yields, iters, steps*yieldEvery/4, steps/4)
	}
	if iters <= yields {
		t.Errorf("%d iterations, %d yields: the loop yielded at every iteration", iters, yields)
	}
}

// TestLockOSThreadKeepsTheThread: with Options.LockOSThread the loop's work
// runs on one OS thread, even across its yields and while other goroutines
// compete for the processors.
func TestLockOSThreadKeepsTheThread(t *testing.T) {
	clock := newFakeClock()
	l := startLoop(t, Options{Clock: clock.Now, LockOSThread: true})
	// More processors than cores and goroutines that keep entering the
	// scheduler and the kernel: an unlocked loop goroutine would soon be picked
	// up by another thread after one of its yields.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	stop := make(chan struct{})
	defer close(stop)
	for range 8 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					unix.Getppid()
					runtime.Gosched()
				}
			}
		}()
	}
	var first, moved int
	onLoop(t, l, func(time.Time) { first = unix.Gettid() })
	for range 200 {
		clock.Advance(yieldEvery) // every iteration yields
		onLoop(t, l, func(time.Time) {
			if unix.Gettid() != first {
				moved++
			}
		})
	}
	if moved > 0 {
		t.Errorf("%d of 200 iterations ran on another thread than the loop's first", moved)
	}
	if y := l.Stats().Yields; y < 100 {
		t.Fatalf("only %d yields: the test did not exercise them", y)
	}
}
