package server

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pidFile is a pidfile held with an exclusive flock for the life of the process.
// The lock, not the file's presence, says whether a daemon runs: the kernel drops it
// when the holder dies, so a file left by a crash (kill -9) is found unlocked and
// taken over.
type pidFile struct {
	path string
	fd   int
	dev  uint64
	ino  uint64
}

// acquirePidFile opens (creating) path, locks it without waiting and writes the
// process id into it. A lock held by another process returns ErrPidfileHeld naming
// the pid written in the file. stale reports that a file was there unlocked.
func acquirePidFile(path string) (p *pidFile, stale bool, err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("pidfile %s: %w", path, os.NewSyscallError("open", err))
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		old := readPid(fd)
		unix.Close(fd)
		if err == unix.EWOULDBLOCK {
			return nil, false, fmt.Errorf("%w: %s is locked by pid %s; is another ecelerity running?", ErrPidfileHeld, path, old)
		}
		return nil, false, fmt.Errorf("pidfile %s: %w", path, os.NewSyscallError("flock", err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, false, fmt.Errorf("pidfile %s: %w", path, os.NewSyscallError("fstat", err))
	}
	stale = st.Size > 0
	if err := unix.Ftruncate(fd, 0); err != nil {
		unix.Close(fd)
		return nil, false, fmt.Errorf("pidfile %s: %w", path, os.NewSyscallError("ftruncate", err))
	}
	if _, err := unix.Pwrite(fd, []byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		unix.Close(fd)
		return nil, false, fmt.Errorf("pidfile %s: %w", path, os.NewSyscallError("pwrite", err))
	}
	return &pidFile{path: path, fd: fd, dev: st.Dev, ino: st.Ino}, stale, nil
}

func readPid(fd int) string {
	buf := make([]byte, 32)
	n, _ := unix.Pread(fd, buf, 0)
	if n <= 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(buf[:n]))
}

// release removes the pidfile, if it is still ours, and then drops the lock: in that
// order, so that a daemon starting meanwhile never sees our file unlocked and then
// loses it to our unlink.
func (p *pidFile) release() {
	if p == nil || p.fd < 0 {
		return
	}
	var st unix.Stat_t
	if unix.Stat(p.path, &st) == nil && st.Dev == p.dev && st.Ino == p.ino {
		unix.Unlink(p.path)
	}
	unix.Close(p.fd)
	p.fd = -1
}
