package sched

import (
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FDConn is the operator set of a plain non-blocking descriptor. Its zero value
// is not usable; make one with NewFDConn.
type FDConn struct {
	fd int
	// raw: the descriptor is non-blocking, so reads and writes go to the
	// kernel without telling the Go scheduler (see rawRW).
	raw bool
}

var _ Ops = (*FDConn)(nil)

// NewFDConn returns the operator set for fd, which should be non-blocking. A
// descriptor that is not (O_NONBLOCK unset) still works, through ordinary
// system calls, but then a read or write can block the loop.
func NewFDConn(fd int) *FDConn {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return &FDConn{fd: fd, raw: err == nil && fl&unix.O_NONBLOCK != 0}
}

// NewNonblockingFDConn is NewFDConn for a descriptor its caller knows to be
// non-blocking, such as one from Accept or a socket made with SOCK_NONBLOCK:
// it skips NewFDConn's fcntl, a system call per connection. On a blocking
// descriptor a read or write would block the loop.
func NewNonblockingFDConn(fd int) *FDConn {
	return &FDConn{fd: fd, raw: true}
}

// FD returns the descriptor, or -1 after Close.
func (c *FDConn) FD() int { return c.fd }

// rawRW makes a read or write system call (trap SYS_READ or SYS_WRITE) on a
// non-blocking descriptor without entering the Go scheduler's system call
// state. That state exists for calls that may block: while the loop is in
// it, the runtime's monitor may hand the loop's processor to another thread
// after 20µs, and a write on a loopback socket, which runs the receiver's
// TCP input too, often takes that long; each hand-off then costs a thread
// wake-up and keeps the monitor polling every 20µs instead of backing off.
// A call on a non-blocking descriptor returns as soon as the kernel has
// copied what fits, so there is nothing to hand over. p is not empty.
func rawRW(trap uintptr, fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func (c *FDConn) read(p []byte) (int, error) {
	if c.raw {
		return rawRW(unix.SYS_READ, c.fd, p)
	}
	return unix.Read(c.fd, p)
}

func (c *FDConn) write(p []byte) (int, error) {
	if c.raw {
		return rawRW(unix.SYS_WRITE, c.fd, p)
	}
	return unix.Write(c.fd, p)
}

// Read reads into p; see Ops. A peer's reset comes back as an error that
// errors.Is matches with unix.ECONNRESET. Loop goroutine.
func (c *FDConn) Read(p []byte) (int, Mask, error) {
	if len(p) == 0 {
		return 0, 0, nil
	}
	for {
		n, err := c.read(p)
		switch {
		case err == nil && n > 0:
			return n, 0, nil
		case err == nil:
			return 0, 0, io.EOF
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, Read, nil
		default:
			return 0, 0, os.NewSyscallError("read", err)
		}
	}
}

// Write writes as much of p as the descriptor takes; see Ops. Loop goroutine.
func (c *FDConn) Write(p []byte) (int, Mask, error) {
	done := 0
	for done < len(p) {
		n, err := c.write(p[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil:
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return done, Write, nil
		default:
			return done, 0, os.NewSyscallError("write", err)
		}
	}
	return done, 0, nil
}

// CloseWrite shuts down the writing half (the peer reads end of file) while
// reads go on. Loop goroutine.
func (c *FDConn) CloseWrite() error {
	return os.NewSyscallError("shutdown", unix.Shutdown(c.fd, unix.SHUT_WR))
}

// Close closes the descriptor. Loop goroutine.
func (c *FDConn) Close() error {
	if c.fd < 0 {
		return ErrClosed
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return os.NewSyscallError("close", err)
}
