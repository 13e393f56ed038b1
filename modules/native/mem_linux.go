package native

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmem is a block of memory mapped outside the Go heap, for what C reads:
// the host table, argument vectors, copies of strings.
type cmem struct {
	b []byte
}

// mapC maps n bytes (rounded up to pages) of zeroed anonymous memory.
func mapC(n int) (cmem, error) {
	page := unix.Getpagesize()
	n = (n + page - 1) &^ (page - 1)
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return cmem{}, fmt.Errorf("%w: %w", ErrSystem, os.NewSyscallError("mmap", err))
	}
	return cmem{b: b}, nil
}

// addr returns the address of byte off.
func (m cmem) addr(off int) uintptr { return uintptr(unsafe.Pointer(&m.b[off])) }

// unmap releases the block.
func (m cmem) unmap() {
	if m.b != nil {
		_ = unix.Munmap(m.b)
	}
}
