package sched

import (
	"bytes"
	"fmt"
	"io"
)

// WriteState is a write-all in progress: the bytes a connection still owes its
// peer, kept across callbacks. The zero value is an empty state. Loop goroutine.
type WriteState struct {
	buf []byte
	off int // buf[off:] is unsent
	// queued records that the operator set still holds bytes it accepted (TLS
	// records not yet on the wire), so Flush must call it even with buf empty.
	queued bool
}

// maxKeptWriteBuf bounds the buffer a WriteState keeps for reuse once drained;
// a larger one (after a big reply) is dropped so idle connections stay small.
const maxKeptWriteBuf = 16 << 10

// Write sends p through ops, first after anything still pending, and keeps what
// ops did not take. It returns 0 when everything went out, or the mask to wait
// for before calling Flush. p may be reused when Write returns.
func (w *WriteState) Write(ops Ops, p []byte) (Mask, error) {
	if w.Pending() == 0 && !w.queued {
		n, need, err := ops.Write(p)
		if err != nil {
			return 0, err
		}
		w.queued = need != 0 && n == len(p)
		if n < len(p) {
			w.buf = append(w.buf[:0], p[n:]...)
			w.off = 0
		}
		return need, nil
	}
	w.buf = append(w.buf, p...)
	return w.Flush(ops)
}

// Queue appends p to the pending bytes without writing.
func (w *WriteState) Queue(p []byte) {
	w.buf = append(w.buf, p...)
}

// Flush writes pending bytes through ops. It returns 0 when nothing is pending
// any more, or the mask to wait for before calling Flush again.
func (w *WriteState) Flush(ops Ops) (Mask, error) {
	for w.off < len(w.buf) || w.queued {
		n, need, err := ops.Write(w.buf[w.off:])
		w.off += n
		if err != nil {
			return 0, err
		}
		if need != 0 {
			w.queued = w.off == len(w.buf)
			return need, nil
		}
		w.queued = false
	}
	if cap(w.buf) > maxKeptWriteBuf {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	w.off = 0
	return 0, nil
}

// Pending returns the number of bytes not yet accepted by the operator set.
func (w *WriteState) Pending() int { return len(w.buf) - w.off }

// ReadState is a read buffer kept across callbacks, for reading up to a
// delimiter (ReadUntil) and exactly n bytes (ReadN) from the same stream. Max
// bounds the buffer: a line or block longer than Max is an error, never more
// memory. The zero value needs Max set (or uses DefaultMaxRead). Loop goroutine.
type ReadState struct {
	// Max is the longest line (delimiter included) or block accepted; zero means
	// DefaultMaxRead.
	Max int

	buf        []byte
	start, end int // buf[start:end] is unread
	scanned    int // buf[start:start+scanned] holds no delimiter
	skipping   bool
}

// DefaultMaxRead is the ReadState maximum when Max is zero.
const DefaultMaxRead = 64 << 10

const minReadBuf = 512

func (r *ReadState) max() int {
	if r.Max > 0 {
		return r.Max
	}
	return DefaultMaxRead
}

// Buffered returns the number of bytes read from the connection but not yet
// returned. A callback should consume them before waiting for readiness again:
// the kernel will not report bytes that are already here.
func (r *ReadState) Buffered() int { return r.end - r.start }

// Discard drops the buffered bytes, for example what a client sent after
// STARTTLS before the handshake, which must not be read as protected.
func (r *ReadState) Discard() {
	r.start, r.end, r.scanned = 0, 0, 0
	r.skipping = false
}

// ReadUntil returns the bytes up to and including the next occurrence of delim.
// The line is valid until the next call on r. When the delimiter has not arrived
// and ops would block, it returns need != 0 and keeps what it read. When Max
// bytes arrive without a delimiter it returns ErrLineTooLong once and then skips
// input up to and including the next delimiter; later calls read normally. At
// the end of input it returns io.EOF (buffered bytes without a delimiter are
// dropped).
func (r *ReadState) ReadUntil(ops Ops, delim []byte) (line []byte, need Mask, err error) {
	if len(delim) == 0 {
		panic("sched: ReadUntil with an empty delimiter")
	}
	max := r.max()
	for {
		if line, ok := r.scan(delim); ok {
			if r.skipping {
				r.skipping = false
				continue
			}
			return line, 0, nil
		}
		if r.end-r.start >= max {
			tooLong := !r.skipping
			// Keep the tail that may hold the start of a split delimiter.
			keep := len(delim) - 1
			copy(r.buf, r.buf[r.end-keep:r.end])
			r.start, r.end, r.scanned = 0, keep, 0
			if tooLong {
				r.skipping = true
				return nil, 0, fmt.Errorf("sched: read until %q: %w (max %d)", delim, ErrLineTooLong, max)
			}
		}
		n, need, err := ops.Read(r.space(max))
		r.end += n
		if err != nil {
			return nil, 0, err
		}
		if n == 0 {
			return nil, need, nil
		}
	}
}

// scan looks for delim in the unread bytes.
func (r *ReadState) scan(delim []byte) ([]byte, bool) {
	from := r.start + r.scanned
	i := bytes.Index(r.buf[from:r.end], delim)
	if i < 0 {
		// Next time, start where a delimiter split across reads could begin.
		r.scanned = r.end - r.start - (len(delim) - 1)
		if r.scanned < 0 {
			r.scanned = 0
		}
		return nil, false
	}
	stop := from + i + len(delim)
	line := r.buf[r.start:stop]
	r.start = stop
	r.scanned = 0
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return line, true
}

// space returns free room after the unread bytes, compacting or growing the
// buffer (never beyond max) first.
func (r *ReadState) space(max int) []byte {
	if r.end == len(r.buf) && r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		size := 2 * len(r.buf)
		if size < minReadBuf {
			size = minReadBuf
		}
		if size > max {
			size = max
		}
		if size > len(r.buf) {
			nb := make([]byte, size)
			copy(nb, r.buf[r.start:r.end])
			r.end -= r.start
			r.start = 0
			r.buf = nb
		}
	}
	limit := r.start + max
	if limit > len(r.buf) {
		limit = len(r.buf)
	}
	return r.buf[r.end:limit]
}

// ReadN returns exactly n bytes, valid until the next call on r. Until they have
// all arrived it returns need != 0 (when ops would block) and keeps what it read.
// n greater than Max gives ErrTooLarge. At the end of input before n bytes it
// returns io.ErrUnexpectedEOF.
func (r *ReadState) ReadN(ops Ops, n int) (block []byte, need Mask, err error) {
	max := r.max()
	if n > max || n < 0 {
		return nil, 0, fmt.Errorf("sched: read %d bytes: %w (max %d)", n, ErrTooLarge, max)
	}
	for r.end-r.start < n {
		if len(r.buf)-r.start < n {
			r.grow(n)
		}
		got, need, err := ops.Read(r.buf[r.end:])
		r.end += got
		if err != nil {
			if err == io.EOF && r.end > r.start {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		if got == 0 {
			return nil, need, nil
		}
	}
	block = r.buf[r.start : r.start+n]
	r.start += n
	r.scanned = 0
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return block, 0, nil
}

// grow makes room for n unread bytes from r.start.
func (r *ReadState) grow(n int) {
	if len(r.buf) >= n {
		m := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, m
		return
	}
	nb := make([]byte, n)
	r.end = copy(nb, r.buf[r.start:r.end])
	r.start = 0
	r.buf = nb
}
