package memtype

import (
	"fmt"
	"unsafe"
)

// Raw allocations are for native modules: memory outside the Go heap (see arena.go),
// addressed by unsafe.Pointer, with the same accounting and misuse checks as the Go
// API. Each block starts with a header; the pointer handed out is just past it and
// 16-byte aligned. These methods are safe for concurrent use from any goroutine,
// including purego callbacks on threads that C started.

// AllocRaw returns size bytes of type t outside the Go heap. For a fixed type size must
// be its size, or 0 meaning its size. The memory is zeroed for types registered with
// Spec.Zero, FillByte in debug-fill mode, and otherwise unspecified, as malloc's is.
func (t *Type) AllocRaw(size uintptr) (unsafe.Pointer, error) {
	n, err := t.rawSize(size)
	if err != nil {
		return nil, err
	}
	p, err := t.placeRaw(n)
	if err != nil {
		return nil, err
	}
	t.noteAlloc(n)
	return p, nil
}

// FreeRaw releases p, which AllocRaw or ReallocRaw of t returned. A pointer of another
// type, a second free, or a pointer that is not a raw block of this registry is
// reported loudly and returned, and the memory is left alone; in debug mode FreeRaw
// panics. FreeRaw(nil) does nothing.
func (t *Type) FreeRaw(p unsafe.Pointer) error {
	if p == nil {
		return nil
	}
	n, err := t.releaseRaw(p)
	if err != nil {
		return err
	}
	t.noteFree(n)
	return nil
}

// ReallocRaw resizes p, a block of the variable type t, to size bytes and returns the
// block, which may have moved; the first min(old, size) bytes are kept and the new tail
// is prepared as AllocRaw prepares memory. If it fails, p is untouched and still valid.
// ReallocRaw(nil, size) is AllocRaw(size). Misuse is handled as by FreeRaw.
func (t *Type) ReallocRaw(p unsafe.Pointer, size uintptr) (unsafe.Pointer, error) {
	if p == nil {
		return t.AllocRaw(size)
	}
	if t.kind != Variable {
		return nil, fmt.Errorf("%w: realloc of fixed type %q", ErrKind, t.name)
	}
	n, err := t.rawSize(size)
	if err != nil {
		return nil, err
	}
	h, ref, mu, err := t.lockBlock(p)
	if err != nil {
		return nil, t.reg.misuse(err)
	}
	old := int(h.size)
	if uintptr(n)+headerSize <= ref.length {
		h.size = uint64(n)
		mu.Unlock()
		if ref.class < 0 {
			t.c.mmapBytes.Add(int64(n - old))
		}
		if n > old {
			t.fillFresh(unsafe.Slice((*byte)(unsafe.Add(p, old)), n-old), true)
		}
		t.noteResize(old, n)
		return p, nil
	}
	mu.Unlock()

	np, err := t.placeRaw(n)
	if err != nil {
		return nil, err
	}
	copy(unsafe.Slice((*byte)(np), old), unsafe.Slice((*byte)(p), old))
	// placeRaw prepared the whole block; the kept prefix now holds the old bytes.
	if _, err := t.releaseRaw(p); err != nil {
		// p was freed by someone else since we checked it: a misuse that releaseRaw has
		// reported. Keep the new block's accounting straight and hand it out anyway.
		t.noteAlloc(n)
		return np, nil
	}
	t.noteResize(old, n)
	return np, nil
}

// placeRaw takes a block for n bytes, writes its header and prepares its memory. It
// accounts a block mapped on its own, not the allocation.
func (t *Type) placeRaw(n int) (unsafe.Pointer, error) {
	blk, class, err := t.reg.arena.alloc(uintptr(n) + headerSize)
	if err != nil {
		return nil, fmt.Errorf("memtype: allocating %d bytes of %q: %w", n, t.name, err)
	}
	*(*header)(blk) = header{size: uint64(n), id: t.id, magic: magicRaw, class: class, state: stateLive}
	p := unsafe.Add(blk, headerSize)
	// A fresh mapping is already zero, and touching it would commit every page of it.
	t.fillFresh(unsafe.Slice((*byte)(p), n), class != 0)
	if class == 0 {
		t.noteMmap(1, n)
	}
	return p, nil
}

// releaseRaw checks and frees p and returns its accounted size. It accounts an unmapped
// block, not the free, and reports misuse.
func (t *Type) releaseRaw(p unsafe.Pointer) (int, error) {
	h, ref, mu, err := t.lockBlock(p)
	if err != nil {
		return 0, t.reg.misuse(err)
	}
	n := int(h.size)
	h.state = stateFree
	blk := unsafe.Add(p, -headerSize)
	a := &t.reg.arena
	if ref.class >= 0 {
		c := &a.classes[ref.class]
		c.free = append(c.free, blk)
		mu.Unlock()
		return n, nil
	}
	delete(a.large, uintptr(blk))
	mu.Unlock()
	a.mapped.Add(-int64(ref.length))
	t.noteMmap(-1, n)
	if err := unmap(blk, ref.length); err != nil {
		// The block is out of our books either way; a failed munmap only leaks address
		// space, which is worth a loud report but not a failed free.
		t.reg.report(fmt.Errorf("memtype: unmapping %d bytes of %q: %w", ref.length, t.name, err))
	}
	return n, nil
}

// rawSize validates a raw allocation size for t and returns it as an int.
func (t *Type) rawSize(size uintptr) (int, error) {
	if t.kind == Fixed && size == 0 {
		return t.size, nil
	}
	if size > MaxSize {
		return 0, fmt.Errorf("%w: %d bytes of type %q", ErrBadSize, size, t.name)
	}
	n := int(size)
	return n, t.checkSize(n)
}
