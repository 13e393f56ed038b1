package fdexhaust

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestFillLeavesOne: after Fill exactly one descriptor can be opened; after
// Release many can, and the limit comes back when the test ends.
func TestFillLeavesOne(t *testing.T) {
	var before unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	t.Run("lowered", func(t *testing.T) {
		tb := Lower(t)
		tb.Fill()
		one, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("the descriptor Fill leaves: %v", err)
		}
		defer unix.Close(one)
		if fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != unix.EMFILE {
			unix.Close(fd)
			t.Fatalf("second open after Fill: %v, want EMFILE", err)
		}
		tb.Release()
		var fds []int
		defer func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}()
		for range headroom / 2 {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatalf("open after Release: %v", err)
			}
			fds = append(fds, fd)
		}
	})
	var after unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("RLIMIT_NOFILE %+v after the test, was %+v", after, before)
	}
}
