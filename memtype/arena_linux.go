package memtype

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pageSize is the system page size; large raw blocks are mapped in whole pages.
// Set once at initialisation, read-only afterwards.
var pageSize = uintptr(unix.Getpagesize())

// mapAnon maps n bytes of private anonymous memory, readable and writable.
func mapAnon(n uintptr) (unsafe.Pointer, error) {
	p, err := unix.MmapPtr(-1, 0, nil, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return p, nil
}

// unmap returns n bytes at p, which mapAnon returned, to the system.
func unmap(p unsafe.Pointer, n uintptr) error {
	return os.NewSyscallError("munmap", unix.MunmapPtr(p, n))
}
