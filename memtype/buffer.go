package memtype

import (
	"fmt"
	"unsafe"
)

// Byte buffers on the Go heap. Each buffer is one allocation: a 16-byte header naming
// the owning type, then the bytes handed out. Free finds the header by stepping back
// from the slice's first byte, so it needs no lock and no side table; the price is that
// Free must be given a slice that starts where Alloc's result started (its length and
// capacity may have changed). Anything else is undefined, as with C's free.
//
// The garbage collector still owns these buffers: Free does the accounting and catches
// misuse, and the memory goes back to the heap once nothing refers to it.

// Alloc returns n accounted bytes of type t. A fixed type only hands out buffers of its
// own size. The bytes are zero, or FillByte in debug-fill mode. Any goroutine may call
// it.
func (t *Type) Alloc(n int) ([]byte, error) {
	if err := t.checkSize(n); err != nil {
		return nil, err
	}
	b := t.newBuffer(n)
	t.fillFresh(b, false)
	t.noteAlloc(n)
	return b, nil
}

// newBuffer allocates header and bytes and writes a live header.
func (t *Type) newBuffer(n int) []byte {
	// One spare byte for n == 0: slicing to an empty tail would not advance the data
	// pointer past the header, and Free could not find the header again.
	full := make([]byte, headerSize+max(n, 1))
	h := (*header)(unsafe.Pointer(&full[0]))
	*h = header{size: uint64(n), id: t.id, magic: magicBuffer, state: stateLive}
	return full[headerSize : headerSize+n : len(full)]
}

// bufferHeader returns the header in front of b.
func bufferHeader(b []byte) *header {
	return (*header)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), -headerSize))
}

// Free releases b, which Alloc, Realloc, Strdup or Strndup of t returned. Freeing with
// another type, freeing twice or freeing a foreign slice is reported loudly, returned
// and leaves the buffer alone; in debug mode it panics. Free(nil) does nothing.
func (t *Type) Free(b []byte) error {
	if b == nil {
		return nil
	}
	h := bufferHeader(b)
	if err := t.check(h, magicBuffer, "buffer"); err != nil {
		return t.reg.misuse(err)
	}
	h.state = stateFree
	t.noteFree(int(h.size))
	return nil
}

// Realloc resizes b, a buffer of the variable type t, to n bytes and returns it; the
// first min(len, n) bytes are kept. Shrinking reuses b; growing copies into a new
// buffer, and b must not be used afterwards. Realloc(nil, n) is Alloc(n). Misuse is
// handled as by Free.
func (t *Type) Realloc(b []byte, n int) ([]byte, error) {
	if b == nil {
		return t.Alloc(n)
	}
	if t.kind != Variable {
		return nil, fmt.Errorf("%w: realloc of fixed type %q", ErrKind, t.name)
	}
	if err := t.checkSize(n); err != nil {
		return nil, err
	}
	h := bufferHeader(b)
	if err := t.check(h, magicBuffer, "buffer"); err != nil {
		return nil, t.reg.misuse(err)
	}
	old := int(h.size)
	// The allocation holds old bytes whatever b's length and capacity are now.
	data := unsafe.SliceData(b)
	if n <= old {
		h.size = uint64(n)
		t.noteResize(old, n)
		return unsafe.Slice(data, n), nil
	}
	nb := t.newBuffer(n)
	copy(nb, unsafe.Slice(data, old))
	t.fillFresh(nb[old:], false)
	h.state = stateFree
	t.noteResize(old, n)
	return nb, nil
}

// Strdup returns an accounted copy of s.
func (t *Type) Strdup(s string) ([]byte, error) {
	b, err := t.Alloc(len(s))
	if err != nil {
		return nil, err
	}
	copy(b, s)
	return b, nil
}

// Strndup returns an accounted copy of at most n bytes of s.
func (t *Type) Strndup(s string, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: strndup of %d bytes as %q", ErrBadSize, n, t.name)
	}
	if n < len(s) {
		s = s[:n]
	}
	return t.Strdup(s)
}

// checkSize validates an allocation size for t.
func (t *Type) checkSize(n int) error {
	if n < 0 || n > MaxSize || (t.kind == Fixed && n != t.size) {
		return fmt.Errorf("%w: %d bytes of type %q (%s, size %d)", ErrBadSize, n, t.name, t.kind, t.size)
	}
	return nil
}
