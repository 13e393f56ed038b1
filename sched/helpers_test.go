package sched

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startLoop runs a new loop on its own goroutine until the test ends.
func startLoop(t testing.TB, opts Options) *Loop {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return l
}

// onLoop runs fn on the loop and waits for it.
func onLoop(t testing.TB, l *Loop, fn func(now time.Time)) {
	t.Helper()
	done := make(chan struct{})
	l.Dispatch(func(now time.Time) {
		defer close(done)
		fn(now)
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("loop did not run the dispatched function")
	}
}

// socketpair returns a connected pair of non-blocking, close-on-exec stream
// sockets, closed when the test ends.
func socketpair(t testing.TB) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds[0], fds[1]
}

// fakeClock is an Options.Clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// wait receives from ch or fails the test after a generous deadline (a hang,
// not a timing assertion).
func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// inEpollSet reports whether fd is registered in the epoll set epfd, as the
// kernel lists it in /proc/self/fdinfo: evidence that does not depend on the
// loop's own bookkeeping.
func inEpollSet(t testing.TB, epfd, fd int) bool {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", epfd))
	if err != nil {
		t.Fatalf("epoll set: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var tfd int
		if _, err := fmt.Sscanf(line, "tfd: %d", &tfd); err == nil && tfd == fd {
			return true
		}
	}
	return false
}
