package memtype

import (
	"fmt"
	"unsafe"
)

// MaxSize bounds a single allocation and a fixed type's size. It is far above any real
// need and catches sizes that are really negative numbers cast to unsigned.
const MaxSize = 1 << 36

// header sits in the 16 bytes before every byte buffer and raw allocation. It names
// the owning type, so a free with the wrong type is caught with one load and no side
// table, and it keeps the returned pointer 16-byte aligned, as malloc's is.
type header struct {
	size  uint64 // bytes requested, as accounted
	id    uint32 // owning Type.id
	magic uint16 // magicBuffer or magicRaw: tells our memory from a stray pointer
	class uint8  // raw only: size class index plus one; 0 means mapped on its own
	state uint8  // stateLive or stateFree
}

const headerSize = 16

var _ [headerSize - unsafe.Sizeof(header{})]struct{} // header must fit its slot

const (
	magicBuffer uint16 = 0xEC6B
	magicRaw    uint16 = 0xEC6A
	magicPool   uint16 = 0xEC6F

	stateLive uint8 = 0xA1
	stateFree uint8 = 0xF7
)

// check validates a header found before memory that t is asked to free or reallocate.
// It returns the misuse, unreported; the caller reports it after dropping its locks.
func (t *Type) check(h *header, magic uint16, what string) error {
	if h.magic != magic {
		return fmt.Errorf("%w: %s given to %q", ErrNotOwned, what, t.name)
	}
	if h.id != t.id {
		return fmt.Errorf("%w: %s of %d bytes allocated as %q, freed as %q",
			ErrWrongType, what, h.size, t.reg.typeName(h.id), t.name)
	}
	if h.state != stateLive {
		return fmt.Errorf("%w: %s of %d bytes of type %q", ErrDoubleFree, what, h.size, t.name)
	}
	return nil
}

// fillFresh prepares memory that an allocation hands out for the first time: zeroed if
// the type asks for it (or zero is already guaranteed and fill is off), otherwise
// filled with FillByte in debug-fill mode. dirty says whether b may hold old contents.
func (t *Type) fillFresh(b []byte, dirty bool) {
	switch {
	case t.zero && dirty:
		clear(b)
	case !t.zero && t.reg.fill.Load():
		for i := range b {
			b[i] = FillByte
		}
	}
}
