package spool

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Concurrent fdatasync through Linux native AIO (io_submit(2) with
// IOCB_CMD_FDSYNC, since Linux 4.18): one system call puts the flushes of a
// whole batch in flight, the kernel runs them side by side on its own
// workers, and one io_getevents(2) waits for them all. Flushes of several
// files that are in flight together share their device cache flushes and,
// on a journaling file system, their journal commits; issued one after the
// other, each pays its own. Goroutines blocked in fdatasync(2) would do the
// same at the price of an OS thread each, and measured slower here: the Go
// scheduler hands a blocked thread's processor on only after a delay.

// iocbCmdFdsync is IOCB_CMD_FDSYNC of <linux/aio_abi.h>.
const iocbCmdFdsync = 3

// iocb is struct iocb of <linux/aio_abi.h>. aioKey and aioRWFlags swap
// places on big-endian machines; both stay zero here, so the layout holds for
// every byte order.
type iocb struct {
	aioData    uint64
	aioKey     uint32
	aioRWFlags int32
	opcode     uint16
	reqprio    int16
	fildes     uint32
	buf        uint64
	nbytes     uint64
	offset     int64
	reserved2  uint64
	flags      uint32
	resfd      uint32
}

// ioEvent is struct io_event of <linux/aio_abi.h>.
type ioEvent struct {
	data uint64
	obj  uint64
	res  int64
	res2 int64
}

// aioDepth is the AIO context's capacity: the flushes in flight at once. A
// larger batch is flushed in rounds of this many.
const aioDepth = 128

// syncer flushes the data of many files at once. It is used by the writer
// only (one writer job at a time), so it needs no lock. The zero value has no
// AIO context yet; the first flush makes one.
type syncer struct {
	ctx     uintptr // aio_context_t; 0 before io_setup
	noAIO   bool    // io_setup or IOCB_CMD_FDSYNC is not available: plain fdatasync
	cbs     [aioDepth]iocb
	ptrs    [aioDepth]*iocb
	events  [aioDepth]ioEvent
	pending [aioDepth]bool // submitted in this round, completion not yet taken
}

// fdatasyncAll flushes the data of every descriptor of fds and returns one
// error per descriptor (nil when it is durable). errs must be as long as
// fds. Writer only.
func (y *syncer) fdatasyncAll(fds []int, errs []error) {
	for start := 0; start < len(fds); start += aioDepth {
		end := min(start+aioDepth, len(fds))
		y.round(fds[start:end], errs[start:end])
	}
}

// round flushes at most aioDepth descriptors.
func (y *syncer) round(fds []int, errs []error) {
	if !y.noAIO && y.ctx == 0 {
		if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, aioDepth, uintptr(unsafe.Pointer(&y.ctx)), 0); e != 0 {
			y.noAIO, y.ctx = true, 0
		}
	}
	inFlight := 0
	i := 0
	for i < len(fds) && !y.noAIO {
		n := 0
		for j := i; j < len(fds); j++ {
			y.cbs[n] = iocb{aioData: uint64(j), opcode: iocbCmdFdsync, fildes: uint32(fds[j])}
			y.ptrs[n] = &y.cbs[n]
			n++
		}
		got, _, e := unix.Syscall(unix.SYS_IO_SUBMIT, y.ctx, uintptr(n), uintptr(unsafe.Pointer(&y.ptrs[0])))
		runtime.KeepAlive(&y.cbs)
		switch {
		case e == unix.EINTR || e == unix.EAGAIN:
			if inFlight == 0 {
				// Nothing of ours to wait for: flush this one directly.
				errs[i] = fdatasync(fds[i])
				i++
			} else {
				inFlight -= y.wait(inFlight, errs)
			}
		case e == unix.EINVAL || e == unix.ENOSYS || e == unix.EOPNOTSUPP:
			// A kernel or file system without FDSYNC through AIO: plain
			// fdatasync from here on (it reports any real error).
			y.noAIO = true
		case e != 0:
			// The first iocb was refused (a bad descriptor): its own error.
			errs[i] = os.NewSyscallError("io_submit", e)
			i++
		default:
			for j := i; j < i+int(got); j++ {
				y.pending[j] = true
			}
			inFlight += int(got)
			i += int(got)
		}
	}
	for inFlight > 0 {
		inFlight -= y.wait(inFlight, errs)
	}
	for ; i < len(fds); i++ {
		errs[i] = fdatasync(fds[i])
	}
}

// wait takes the completions of at least one of the inFlight flushes and
// records their results; it returns how many it took.
func (y *syncer) wait(inFlight int, errs []error) int {
	for {
		n, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, y.ctx, 1, uintptr(inFlight), uintptr(unsafe.Pointer(&y.events[0])), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			// Only a broken context fails here. The flushes in flight are
			// lost to us, so their files count as not durable, and later
			// batches use plain fdatasync.
			for j := range errs {
				if y.pending[j] {
					y.pending[j] = false
					errs[j] = os.NewSyscallError("io_getevents", e)
				}
			}
			y.noAIO = true
			return inFlight
		}
		for _, ev := range y.events[:n] {
			y.pending[ev.data] = false
			if ev.res < 0 {
				errs[ev.data] = os.NewSyscallError("fdatasync", unix.Errno(-ev.res))
			}
		}
		return int(n)
	}
}

// close frees the AIO context. Writer only, or once no writer job can run.
func (y *syncer) close() {
	if y.ctx != 0 {
		unix.Syscall(unix.SYS_IO_DESTROY, y.ctx, 0, 0)
		y.ctx = 0
	}
}
