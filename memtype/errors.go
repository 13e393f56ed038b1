package memtype

import "errors"

// Sentinel errors. Every error this package returns wraps one of them, so callers test
// with errors.Is; the wrapping text carries the type names and sizes involved.
var (
	// ErrBadName reports a type name that is empty, too long or holds spaces or control
	// characters.
	ErrBadName = errors.New("memtype: invalid type name")
	// ErrDuplicate reports a second registration of a name: types are registered once
	// for the life of the process.
	ErrDuplicate = errors.New("memtype: type already registered")
	// ErrBadSize reports a negative size, a size above the limit, or a size that does
	// not match a fixed-size type.
	ErrBadSize = errors.New("memtype: invalid size")
	// ErrKind reports an operation that the type's kind does not allow, such as
	// reallocating a fixed-size object.
	ErrKind = errors.New("memtype: operation not valid for this kind of type")
	// ErrWrongType reports memory freed (or reallocated) with a type other than the one
	// that allocated it. The memory is left allocated rather than corrupt a pool.
	ErrWrongType = errors.New("memtype: memory freed with the wrong type")
	// ErrDoubleFree reports memory freed twice.
	ErrDoubleFree = errors.New("memtype: double free")
	// ErrNotOwned reports a pointer or buffer that memtype did not hand out.
	ErrNotOwned = errors.New("memtype: memory not allocated by memtype")
	// ErrNoType reports a lookup of a name that no type is registered under.
	ErrNoType = errors.New("memtype: no such type")
	// ErrNoMemory reports that the system refused to map more memory.
	ErrNoMemory = errors.New("memtype: out of memory")
)
