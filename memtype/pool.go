package memtype

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// Pool hands out accounted objects of a fixed-size type and takes them back for reuse,
// so hot paths do not make the garbage collector chase one fresh object per operation.
//
// It is built on sync.Pool rather than a locked free list: sync.Pool keeps a cache per
// P, so Get and Put from every core proceed without a shared lock, and it lets idle
// objects go at garbage collection (after two cycles), so a burst does not pin its peak
// memory forever. The cost is that after a collection the next Gets allocate again,
// which is what new(T) would have done anyway.
//
// Every object carries a small trailer naming its type, so Put catches an object that a
// different Pool of the same Go type handed out, and an object put back twice.
//
// A Pool is safe for concurrent use from any goroutine.
type Pool[T any] struct {
	t        *Type
	pool     sync.Pool // of *slot[T] whose state is stateFree
	fillable bool      // T holds no pointers, so debug fill cannot fool the GC
}

// slot is what a Pool allocates: the object first, so that the *T handed out is also
// the slot's address, then the owner trailer.
type slot[T any] struct {
	val   T
	id    uint32
	magic uint16
	state uint8
}

// NewFixed registers a fixed-size type named name whose objects are T, in r, and
// returns its pool. It fails like Registry.Register, and for a T of size zero.
func NewFixed[T any](r *Registry, name string) (*Pool[T], error) {
	size := int(unsafe.Sizeof(*new(T)))
	if size == 0 {
		return nil, fmt.Errorf("%w: type %q has objects of size 0", ErrBadSize, name)
	}
	t, err := r.Register(Spec{Name: name, Size: size})
	if err != nil {
		return nil, err
	}
	return &Pool[T]{t: t, fillable: !hasPointers(reflect.TypeFor[T]())}, nil
}

// Type returns the pool's memory type.
func (p *Pool[T]) Type() *Type { return p.t }

// Get returns an object, reused when one is free. It is zeroed, as new(T) would be;
// in debug-fill mode a T without pointers is filled with FillByte instead.
func (p *Pool[T]) Get() *T {
	s, _ := p.pool.Get().(*slot[T])
	if s == nil {
		s = &slot[T]{id: p.t.id, magic: magicPool}
	} else {
		var zero T
		s.val = zero
	}
	if p.fillable {
		p.t.fillFresh(unsafe.Slice((*byte)(unsafe.Pointer(&s.val)), p.t.size), false)
	}
	s.state = stateLive
	p.t.noteAlloc(p.t.size)
	return &s.val
}

// Put returns v, which Get of some Pool returned, for reuse. An object of another
// Pool (the wrong type) or one already put back is reported loudly, returned and not
// reused; in debug mode Put panics. Put(nil) does nothing. Passing a *T that no Pool
// handed out is undefined: Put reads the trailer behind it.
func (p *Pool[T]) Put(v *T) error {
	if v == nil {
		return nil
	}
	s := (*slot[T])(unsafe.Pointer(v))
	if s.magic != magicPool {
		return p.t.reg.misuse(fmt.Errorf("%w: object given to %q", ErrNotOwned, p.t.name))
	}
	if s.id != p.t.id {
		return p.t.reg.misuse(fmt.Errorf("%w: object of %d bytes allocated as %q, freed as %q",
			ErrWrongType, p.t.size, p.t.reg.typeName(s.id), p.t.name))
	}
	if s.state != stateLive {
		return p.t.reg.misuse(fmt.Errorf("%w: object of type %q", ErrDoubleFree, p.t.name))
	}
	s.state = stateFree
	p.t.noteFree(p.t.size)
	p.pool.Put(s)
	return nil
}

// hasPointers reports whether values of t hold pointers the garbage collector follows.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}
