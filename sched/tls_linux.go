package sched

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// TLSConn is the operator set of crypto/tls over a non-blocking descriptor,
// which may already have carried plain text (a STARTTLS-style upgrade).
//
// The handshake does not run on the loop: it costs public-key operations that
// would stall every other connection, and crypto/tls cannot resume a handshake
// interrupted by a would-block (the error is kept for good). So Handshake
// suspends the event and runs the handshake on a goroutine of its own, over a
// duplicate of the descriptor that Go's network poller waits on; when it is
// over, the duplicate is closed and the event resumed. From then on the record
// layer runs on the loop over the descriptor itself: a read that would block
// returns a temporary net.Error, which crypto/tls treats as retryable, keeping
// partial records; writes never fail for lack of room, because bytes the socket
// does not take are queued here and reported as a need for Write.
type TLSConn struct {
	// HandshakeTimeout bounds the handshake; zero means one minute.
	HandshakeTimeout time.Duration

	fd  int
	raw rawConn
	tc  *tls.Conn

	mu sync.Mutex
	// mu guards the handshake fields below, shared with the handshake goroutine.
	hsStarted bool
	hsDone    bool
	hsErr     error
	closing   bool // Close was called during the handshake
}

var _ Ops = (*TLSConn)(nil)

// Sentinel errors of the TLS operator set, wrapped in ErrClosed's family.
var (
	// errWouldBlock is what rawConn returns when the descriptor has no data; it
	// is a temporary net.Error so that crypto/tls keeps its state.
	errWouldBlock = &wouldBlock{}
	// ErrHandshake is returned by TLSConn.Read and Write before the handshake
	// finished.
	ErrHandshake = errors.New("sched: TLS handshake not finished")
)

type wouldBlock struct{}

func (*wouldBlock) Error() string   { return "sched: operation would block" }
func (*wouldBlock) Timeout() bool   { return false }
func (*wouldBlock) Temporary() bool { return true }

const defaultHandshakeTimeout = time.Minute

// NewTLSServer returns the server side of TLS over fd. Any goroutine may call it;
// start the handshake with Handshake.
func NewTLSServer(fd int, cfg *tls.Config) *TLSConn {
	c := &TLSConn{fd: fd}
	c.raw.fd = fd
	c.tc = tls.Server(&c.raw, cfg)
	return c
}

// NewTLSClient returns the client side of TLS over fd.
func NewTLSClient(fd int, cfg *tls.Config) *TLSConn {
	c := &TLSConn{fd: fd}
	c.raw.fd = fd
	c.tc = tls.Client(&c.raw, cfg)
	return c
}

// Handshake starts the handshake of the connection of ev, which must be the
// event being dispatched: it suspends ev, and returns 0 for the callback to
// return. When the handshake is over, successful or not, the duplicate event is
// resumed with mask and its callback runs; Read and Write then work, or return
// the handshake's error. Loop-only.
func (c *TLSConn) Handshake(ev *Event, mask Mask) Mask {
	l := ev.Loop()
	l.mustOnLoop("TLSConn.Handshake")
	c.mu.Lock()
	if c.hsStarted {
		c.mu.Unlock()
		panic("sched: TLSConn.Handshake called twice")
	}
	c.hsStarted = true
	c.mu.Unlock()
	dup := l.Suspend(ev)
	go c.handshake(dup, mask)
	return 0
}

// handshake runs on its own goroutine while the event is suspended.
func (c *TLSConn) handshake(dup *Event, mask Mask) {
	err := c.blockingHandshake()
	c.mu.Lock()
	c.hsDone, c.hsErr = true, err
	closing := c.closing
	c.mu.Unlock()

	l := dup.Loop()
	if closing {
		// The descriptor is closed on the loop, after its event is gone, so that
		// its number cannot be reused while the table still reserves it.
		l.Dispatch(func(time.Time) {
			l.resume(dup, 0)
			unix.Close(c.fd)
		})
		return
	}
	l.Resume(dup, mask)
}

func (c *TLSConn) blockingHandshake() error {
	dfd, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sched: TLS handshake: %w", os.NewSyscallError("fcntl", err))
	}
	f := os.NewFile(uintptr(dfd), "tls-handshake")
	nc, err := net.FileConn(f) // a second duplicate, owned by nc
	f.Close()
	if err != nil {
		return fmt.Errorf("sched: TLS handshake: %w", err)
	}
	c.mu.Lock()
	closing := c.closing
	if !closing {
		// Under c.mu, so that Close either sees nc to interrupt or is seen.
		c.raw.setBlocking(nc)
	}
	c.mu.Unlock()
	if closing {
		nc.Close()
		return fmt.Errorf("sched: TLS handshake: %w", ErrClosed)
	}

	timeout := c.HandshakeTimeout
	if timeout <= 0 {
		timeout = defaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err = c.tc.HandshakeContext(ctx)
	cancel()

	c.raw.setBlocking(nil)
	nc.Close()
	if err != nil {
		return fmt.Errorf("sched: TLS handshake: %w", err)
	}
	return nil
}

// HandshakeErr reports whether the handshake is over, and its error.
func (c *TLSConn) HandshakeErr() (done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hsDone, c.hsErr
}

// ConnectionState returns the TLS state (version, cipher suite, peer
// certificates) once the handshake is over.
func (c *TLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// ready returns nil when the record layer may run on the loop.
func (c *TLSConn) ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hsDone {
		return ErrHandshake
	}
	return c.hsErr
}

// Read returns decrypted bytes; see Ops. It may need Write when crypto/tls had
// to answer something (a key update) that the socket did not take yet. Loop
// goroutine.
func (c *TLSConn) Read(p []byte) (int, Mask, error) {
	if err := c.ready(); err != nil {
		return 0, 0, err
	}
	if err := c.raw.flush(); err != nil {
		return 0, 0, err
	}
	n, err := c.tc.Read(p)
	if n > 0 {
		return n, 0, nil
	}
	if err == errWouldBlock {
		need := Read
		if c.raw.queued() {
			need |= Write
		}
		return 0, need, nil
	}
	if err == nil {
		// crypto/tls consumed a record without application data (a ticket);
		// try again when more arrives.
		return 0, Read, nil
	}
	return 0, 0, err
}

// maxTLSWrite bounds the plain text encrypted per Write so that the queue of
// ciphertext waiting for the socket stays near one chunk.
const maxTLSWrite = 64 << 10

// Write encrypts p; see Ops. Loop goroutine.
func (c *TLSConn) Write(p []byte) (int, Mask, error) {
	if err := c.ready(); err != nil {
		return 0, 0, err
	}
	if err := c.raw.flush(); err != nil {
		return 0, 0, err
	}
	done := 0
	for {
		if c.raw.queued() {
			return done, Write, nil
		}
		if done == len(p) {
			return done, 0, nil
		}
		chunk := p[done:]
		if len(chunk) > maxTLSWrite {
			chunk = chunk[:maxTLSWrite]
		}
		n, err := c.tc.Write(chunk)
		done += n
		if err != nil {
			return done, 0, err
		}
	}
}

// Close sends close_notify (as far as the socket takes it) and closes the
// descriptor. During a handshake it interrupts the handshake instead, and the
// descriptor is closed once the handshake goroutine let go of it. Loop
// goroutine.
func (c *TLSConn) Close() error {
	c.mu.Lock()
	if c.hsStarted && !c.hsDone {
		c.closing = true
		c.raw.interrupt()
		c.mu.Unlock()
		return nil
	}
	hsOK := c.hsDone && c.hsErr == nil
	c.mu.Unlock()
	if !hsOK {
		return c.raw.Close()
	}
	return c.tc.Close()
}

// rawConn is the net.Conn under tls.Conn. While nc is set (the handshake, off
// the loop) it passes everything to nc; otherwise it does non-blocking IO on fd,
// on the loop.
type rawConn struct {
	fd  int
	out []byte // ciphertext the socket did not take yet
	mu  sync.Mutex
	// mu guards nc: the handshake's blocking connection, set and cleared by the
	// handshake goroutine and also read by the loop (interrupt) and by the
	// goroutine crypto/tls starts to close it when the handshake times out.
	nc net.Conn
}

var _ net.Conn = (*rawConn)(nil)

func (r *rawConn) setBlocking(nc net.Conn) {
	r.mu.Lock()
	r.nc = nc
	r.mu.Unlock()
}

// blocking returns the handshake's connection, or nil on the loop.
func (r *rawConn) blocking() net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nc
}

// interrupt closes the handshake's connection, if any, which fails the
// handshake.
func (r *rawConn) interrupt() {
	if nc := r.blocking(); nc != nil {
		nc.Close()
	}
}

func (r *rawConn) queued() bool { return len(r.out) > 0 }

func (r *rawConn) Read(p []byte) (int, error) {
	if nc := r.blocking(); nc != nil {
		return nc.Read(p)
	}
	for {
		n, err := unix.Read(r.fd, p)
		switch {
		case err == nil && n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return 0, errWouldBlock
		default:
			return 0, os.NewSyscallError("read", err)
		}
	}
}

// Write takes all of p: what the socket does not take now is queued for flush.
func (r *rawConn) Write(p []byte) (int, error) {
	if nc := r.blocking(); nc != nil {
		return nc.Write(p)
	}
	if len(r.out) > 0 {
		r.out = append(r.out, p...)
		return len(p), r.flush()
	}
	n, err := writeSome(r.fd, p)
	if err != nil {
		return n, err
	}
	if n < len(p) {
		r.out = append(r.out, p[n:]...)
	}
	return len(p), nil
}

// flush writes queued ciphertext as far as the socket takes it.
func (r *rawConn) flush() error {
	if len(r.out) == 0 {
		return nil
	}
	n, err := writeSome(r.fd, r.out)
	r.out = r.out[:copy(r.out, r.out[n:])]
	if len(r.out) == 0 {
		r.out = nil // don't keep a burst's buffer on an idle connection
	}
	return err
}

// writeSome writes p until done or EAGAIN.
func writeSome(fd int, p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(fd, p[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN:
			return done, nil
		default:
			return done, os.NewSyscallError("write", err)
		}
	}
	return done, nil
}

func (r *rawConn) Close() error {
	if nc := r.blocking(); nc != nil {
		// A cancelled handshake: crypto/tls closes its connection, which is
		// the duplicate; the descriptor stays for Close on the loop.
		return nc.Close()
	}
	if r.fd < 0 {
		return ErrClosed
	}
	_ = r.flush() // best effort: the close_notify alert
	err := unix.Close(r.fd)
	r.fd = -1
	return os.NewSyscallError("close", err)
}

func (r *rawConn) LocalAddr() net.Addr {
	if nc := r.blocking(); nc != nil {
		return nc.LocalAddr()
	}
	return nil
}

func (r *rawConn) RemoteAddr() net.Addr {
	if nc := r.blocking(); nc != nil {
		return nc.RemoteAddr()
	}
	return nil
}

// Deadlines only apply to the blocking handshake; on the loop nothing blocks.
func (r *rawConn) SetDeadline(t time.Time) error {
	if nc := r.blocking(); nc != nil {
		return nc.SetDeadline(t)
	}
	return nil
}

func (r *rawConn) SetReadDeadline(t time.Time) error {
	if nc := r.blocking(); nc != nil {
		return nc.SetReadDeadline(t)
	}
	return nil
}

func (r *rawConn) SetWriteDeadline(t time.Time) error {
	if nc := r.blocking(); nc != nil {
		return nc.SetWriteDeadline(t)
	}
	return nil
}
