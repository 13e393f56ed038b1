// Package fdexhaust runs a test's process out of file descriptors, so that
// a test can see what a server does when accept(2) fails with EMFILE.
//
// It changes process-wide state (RLIMIT_NOFILE and the descriptor table):
// a test that uses it must not run in parallel with others.
package fdexhaust

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// headroom is how far above the descriptors open now the limit is set: the
// table then fills with a few dozen opens, not the system's default limit.
const headroom = 64

// Table is the lowered descriptor table of the test process.
type Table struct {
	t       testing.TB
	fillers []int
}

// Lower sets the soft RLIMIT_NOFILE a little above the descriptors open now.
// When the test ends, the fillers are closed and the limit is restored.
func Lower(t testing.TB) *Table {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("open descriptors: %v", err)
	}
	low := lim
	low.Cur = uint64(len(open)) + headroom
	if low.Cur > lim.Cur {
		low.Cur = lim.Cur
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	tb := &Table{t: t}
	t.Cleanup(func() {
		tb.Release()
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Errorf("restore RLIMIT_NOFILE: %v", err)
		}
	})
	return tb
}

// Fill takes every free descriptor but one, which is left for the test's
// client: the server's next accept then finds none.
func (tb *Table) Fill() {
	tb.t.Helper()
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if err != unix.EMFILE {
				tb.t.Fatalf("fill the descriptor table: %v", err)
			}
			break
		}
		tb.fillers = append(tb.fillers, fd)
	}
	if len(tb.fillers) == 0 {
		tb.t.Fatal("fill the descriptor table: it was full already")
	}
	unix.Close(tb.fillers[len(tb.fillers)-1])
	tb.fillers = tb.fillers[:len(tb.fillers)-1]
}

// Release closes what Fill took.
func (tb *Table) Release() {
	for _, fd := range tb.fillers {
		unix.Close(fd)
	}
	tb.fillers = nil
}
