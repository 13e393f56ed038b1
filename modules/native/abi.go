package native

import (
	"unsafe"
)

// ABIVersion is the version of the C ABI this host speaks
// (EC_MODULE_ABI_VERSION in include/ecelerity_module.h). A module built for
// another version is refused with both versions named.
const ABIVersion = 1

// EntrySymbol is the one symbol a native module exports.
const EntrySymbol = "ec_module_entry"

// Results of host functions, as the header defines them.
const (
	cOK      = 0
	cEINVAL  = -1
	cENOENT  = -2
	cENOTSUP = -3
	cENOMEM  = -4
	cEEXIST  = -5
	cERANGE  = -6
)

// ext_init modes and option types, as the header defines them.
const (
	cInit     = 0
	cPostInit = 1
	cDestroy  = 2

	cOptString = 1
	cOptInt    = 2
	cOptBool   = 3

	cHookFirst = 0
	cHookLast  = 1
)

// Layout of struct ec_module_info (linux/amd64, LP64): two uint32, two
// pointers, two uint32, four function pointers.
const (
	infoABI        = 0
	infoStateVer   = 4
	infoName       = 8
	infoDesc       = 16
	infoSingleton  = 24
	infoConfSetup  = 32
	infoExtInit    = 40
	infoControl    = 48
	infoMigrate    = 56
	infoSize       = 64
	hostTableSlots = 14 // function pointers in struct ec_host_api
	hostTableSize  = 8 + hostTableSlots*8
	cmodArgsSize   = 40 // struct ec_cmod_args
)

// moduleInfo is a Go copy of a module's ec_module_info, read once per load:
// the strings are copied out of the library so that they outlive it.
type moduleInfo struct {
	abi          uint32
	stateVersion uint32
	name         string
	description  string
	singleton    bool
	confSetup    uintptr
	extInit      uintptr
	control      uintptr
	migrate      uintptr
}

// readInfo copies the ec_module_info at p, C memory of the library.
func readInfo(p uintptr) moduleInfo {
	return moduleInfo{
		abi:          *(*uint32)(cptr(p + infoABI)),
		stateVersion: *(*uint32)(cptr(p + infoStateVer)),
		name:         goString(*(*uintptr)(cptr(p + infoName)), 256),
		description:  goString(*(*uintptr)(cptr(p + infoDesc)), 4096),
		singleton:    *(*uint32)(cptr(p + infoSingleton)) != 0,
		confSetup:    *(*uintptr)(cptr(p + infoConfSetup)),
		extInit:      *(*uintptr)(cptr(p + infoExtInit)),
		control:      *(*uintptr)(cptr(p + infoControl)),
		migrate:      *(*uintptr)(cptr(p + infoMigrate)),
	}
}

// cptr turns the address of C memory (a library's data, a buffer a module
// passed, memory this package mapped) into a pointer. The rule that forbids
// uintptr-to-pointer conversions protects objects the Go collector may move
// or free; memory outside the Go heap is neither, so the conversion goes
// through a variable to say that it is deliberate.
func cptr(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// goString copies the NUL-terminated C string at p, reading at most max
// bytes; NULL gives "".
func goString(p uintptr, max int) string {
	if p == 0 {
		return ""
	}
	b := unsafe.Slice((*byte)(cptr(p)), max)
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	// The bound is on what we read, not on what C may pass: a string without
	// a terminator within max bytes is cut there rather than read beyond.
	return string(b)
}

// putCString writes s and a NUL into the C buffer buf of n bytes, truncating,
// and returns len(s) as snprintf does.
func putCString(buf uintptr, n uintptr, s string) int {
	if buf == 0 || n == 0 {
		return len(s)
	}
	dst := unsafe.Slice((*byte)(cptr(buf)), n)
	k := copy(dst[:n-1], s)
	dst[k] = 0
	return len(s)
}

// argv is a C vector of C strings laid out in one mapped block: the pointers
// (NULL-terminated) first, then the strings. The block may start with room
// for a header the caller fills.
type argv struct {
	mem  cmem
	head int
	argc int
}

// newArgv copies args into C memory.
func newArgv(args []string) (*argv, error) { return newArgvAfter(0, args) }

// newArgvAfter copies args into C memory after head bytes (a multiple of 8)
// left for the caller.
func newArgvAfter(head int, args []string) (*argv, error) {
	size := head + (len(args)+1)*8
	for _, a := range args {
		size += len(a) + 1
	}
	m, err := mapC(size)
	if err != nil {
		return nil, err
	}
	off := head + (len(args)+1)*8
	for i, a := range args {
		*(*uintptr)(unsafe.Pointer(&m.b[head+i*8])) = m.addr(off)
		copy(m.b[off:], a)
		m.b[off+len(a)] = 0
		off += len(a) + 1
	}
	return &argv{mem: m, head: head, argc: len(args)}, nil
}

// ptr returns the address of the vector (char **).
func (a *argv) ptr() uintptr { return a.mem.addr(a.head) }

func (a *argv) free() { a.mem.unmap() }
