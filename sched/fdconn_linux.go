package sched

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// FDConn is the operator set of a plain non-blocking descriptor. Its zero value
// is not usable; make one with NewFDConn.
type FDConn struct {
	fd int
}

var _ Ops = (*FDConn)(nil)

// NewFDConn returns the operator set for fd, which should be non-blocking.
func NewFDConn(fd int) *FDConn { return &FDConn{fd: fd} }

// FD returns the descriptor, or -1 after Close.
func (c *FDConn) FD() int { return c.fd }

// Read reads into p; see Ops. A peer's reset comes back as an error that
// errors.Is matches with unix.ECONNRESET. Loop goroutine.
func (c *FDConn) Read(p []byte) (int, Mask, error) {
	if len(p) == 0 {
		return 0, 0, nil
	}
	for {
		n, err := unix.Read(c.fd, p)
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
		n, err := unix.Write(c.fd, p[done:])
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
