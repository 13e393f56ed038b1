package native

import (
	"fmt"
	"sync"

	"github.com/ebitengine/purego"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// Word is one C argument or result: a machine word, as the header's ec_word.
type Word = uintptr

// Bind lets native modules provide hook h: conv makes, for one C provider,
// the Go func of h's provider type F that turns its arguments into C words
// (scalars as they are, strings with Frame.String, objects as opaque handles
// with Frame.Handle), calls the provider with one of Provider's Call methods
// and turns the result word back. It sets h's adapter for hooks.KindNative
// and makes the hook known by its full name to hook_register. A hook without
// a binding cannot be registered from C (hook_register fails with
// EC_ENOTSUP, and the load's error names the hook).
//
// Bind is meant for init functions of the package that declares the hook, or
// of the daemon; binding a hook twice is a programmer error and panics. A
// conversion that needs no Frame keeps a call free of Go allocations.
//
//	native.Bind(&Connect.Hook, func(p *native.Provider) func(port int) int {
//		return func(port int) int { return int(int32(p.Call1(native.Word(port)))) }
//	})
func Bind[F any](h *hooks.Hook[F], conv func(p *Provider) F) {
	name := h.FullName()
	bindings.mu.Lock()
	defer bindings.mu.Unlock()
	if bindings.byName == nil {
		bindings.byName = map[string]binder{}
	}
	if _, dup := bindings.byName[name]; dup {
		panic("native: Bind: hook " + name + " bound twice")
	}
	h.SetAdapter(hooks.KindNative, hooks.AdapterFunc[F](func(foreign any) (F, error) {
		p, ok := foreign.(*Provider)
		if !ok || p == nil {
			var zero F
			return zero, fmt.Errorf("%w: native provider of %s is %T, not *native.Provider", ErrBadParams, name, foreign)
		}
		return conv(p), nil
	}))
	bindings.byName[name] = binding[F]{h: h}
}

// bindings is the process-wide set of hooks bound for native providers, by
// full name: the guarded registry hook_register consults.
var bindings struct {
	mu sync.Mutex
	// mu guards byName.
	byName map[string]binder
}

// binder registers a native provider on one bound hook, whatever its F.
type binder interface {
	register(reg *hooks.Registry, pos hooks.Position, module string, p *Provider, site string) error
}

type binding[F any] struct{ h *hooks.Hook[F] }

func (b binding[F]) register(reg *hooks.Registry, pos hooks.Position, module string, p *Provider, site string) error {
	return b.h.RegisterForeign(reg, pos, hooks.KindNative, module, p, hooks.Site(site))
}

// lookupBinding returns the binding of the hook named full ("scope.name").
func lookupBinding(full string) (binder, bool) {
	bindings.mu.Lock()
	defer bindings.mu.Unlock()
	b, ok := bindings.byName[full]
	return b, ok
}

// Provider is one C provider of a hook: a function of a loaded library and
// the closure the module registered with it. Its Call methods call the
// function with the closure first and the given words after it, holding a
// reference on the library for the call, and return the function's result
// word. They take no lock and allocate nothing; they may be called from any
// goroutine the hook is called on.
type Provider struct {
	fn, closure uintptr
	lib         *library
}

// The Call methods. Results narrower than a word (C int) are in the low bits:
// convert with int(int32(r)).
//
// purego.SyscallN takes its words as a variadic slice that escapes (it is
// marked uintptrescapes), so a slice made per call would cost an allocation;
// the words travel in a pooled buffer instead, which the pool keeps per P.

// argWords is the buffer a call's words travel in: the closure and up to
// five arguments.
type argWords [6]uintptr

var argPool = sync.Pool{New: func() any { return new(argWords) }}

// call calls the provider with the first n words of w, holding a reference
// on the library for the call.
func (p *Provider) call(w *argWords, n int) Word {
	w[0] = p.closure
	p.lib.acquire()
	r, _, _ := purego.SyscallN(p.fn, w[:n]...)
	p.lib.release()
	argPool.Put(w)
	return r
}

// Call0 calls the provider with no argument but its closure.
func (p *Provider) Call0() Word {
	return p.call(argPool.Get().(*argWords), 1)
}

// Call1 calls the provider with one argument word.
func (p *Provider) Call1(a Word) Word {
	w := argPool.Get().(*argWords)
	w[1] = a
	return p.call(w, 2)
}

// Call2 calls the provider with two argument words.
func (p *Provider) Call2(a, b Word) Word {
	w := argPool.Get().(*argWords)
	w[1], w[2] = a, b
	return p.call(w, 3)
}

// Call3 calls the provider with three argument words.
func (p *Provider) Call3(a, b, c Word) Word {
	w := argPool.Get().(*argWords)
	w[1], w[2], w[3] = a, b, c
	return p.call(w, 4)
}

// Call4 calls the provider with four argument words.
func (p *Provider) Call4(a, b, c, d Word) Word {
	w := argPool.Get().(*argWords)
	w[1], w[2], w[3], w[4] = a, b, c, d
	return p.call(w, 5)
}

// Call5 calls the provider with five argument words (the most: with the
// closure they fill the six integer argument registers of the C ABI).
func (p *Provider) Call5(a, b, c, d, e Word) Word {
	w := argPool.Get().(*argWords)
	w[1], w[2], w[3], w[4], w[5] = a, b, c, d, e
	return p.call(w, 6)
}

// Accessors read the fields of a host object that a hook passes to C as an
// opaque handle: the header's handle_int and handle_string call them with
// the object and the field name C asked for. A nil func makes every field of
// that kind unknown. They run on the goroutine calling the hook, during the
// provider call.
type Accessors struct {
	Int    func(v any, field string) (int64, bool)
	String func(v any, field string) (string, bool)
}

// frameScratch is the size of a Frame's C memory for strings; longer strings
// get memory of their own for the call.
const frameScratch = 16 << 10

// maxHandles bounds the handles of one Frame.
const maxHandles = 15

// Frame holds what one provider call passes by reference: copies of strings
// in C memory and the objects behind handles. Get one with NewFrame for each
// call, pass what String and Handle return to a Call method, then Release it;
// frames are reused, so a call costs no Go allocation unless a string is
// longer than the scratch space. A Frame belongs to one goroutine at a time.
type Frame struct {
	id      uint32
	scratch cmem
	used    int
	extra   []cmem
	handles [maxHandles]struct {
		v   any
		acc *Accessors
	}
	nh int
}

// frames is the process-wide table of frames: handle words carry a frame's
// index, which a C callback turns back into the frame.
var frames struct {
	mu sync.Mutex
	// mu guards all and free.
	all  []*Frame
	free []*Frame
}

// NewFrame returns a frame for one provider call. Any goroutine. It panics
// only when the system refuses memory for a new frame's scratch space.
func NewFrame() *Frame {
	frames.mu.Lock()
	if n := len(frames.free); n > 0 {
		f := frames.free[n-1]
		frames.free = frames.free[:n-1]
		frames.mu.Unlock()
		return f
	}
	frames.mu.Unlock()
	m, err := mapC(frameScratch)
	if err != nil {
		panic("native: NewFrame: " + err.Error())
	}
	f := &Frame{scratch: m}
	frames.mu.Lock()
	f.id = uint32(len(frames.all))
	frames.all = append(frames.all, f)
	frames.mu.Unlock()
	return f
}

// String copies s into C memory as a NUL-terminated string valid until
// Release and returns its address.
func (f *Frame) String(s string) Word {
	n := len(s) + 1
	if f.used+n > len(f.scratch.b) {
		m, err := mapC(n)
		if err != nil {
			panic("native: Frame.String: " + err.Error())
		}
		f.extra = append(f.extra, m)
		copy(m.b, s)
		m.b[len(s)] = 0
		return m.addr(0)
	}
	off := f.used
	copy(f.scratch.b[off:], s)
	f.scratch.b[off+len(s)] = 0
	f.used += n
	return f.scratch.addr(off)
}

// Handle makes v readable from C through acc until Release and returns the
// opaque handle word. It panics when a frame holds more than 15 handles (a
// hook with that many object arguments is a declaration error).
func (f *Frame) Handle(v any, acc *Accessors) Word {
	if f.nh == maxHandles {
		panic("native: Frame.Handle: more than 15 handles in one call")
	}
	f.handles[f.nh].v, f.handles[f.nh].acc = v, acc
	f.nh++
	return Word(f.id)<<4 | Word(f.nh)
}

// Release ends the call's use of the frame: its strings and handles become
// invalid and the frame is reused.
func (f *Frame) Release() {
	for i := range f.nh {
		f.handles[i].v, f.handles[i].acc = nil, nil
	}
	f.nh, f.used = 0, 0
	for _, m := range f.extra {
		m.unmap()
	}
	f.extra = f.extra[:0]
	frames.mu.Lock()
	frames.free = append(frames.free, f)
	frames.mu.Unlock()
}

// lookupHandle returns the object and accessors behind a handle word.
func lookupHandle(h uintptr) (any, *Accessors, bool) {
	id, slot := h>>4, int(h&15)
	frames.mu.Lock()
	defer frames.mu.Unlock()
	if id >= uintptr(len(frames.all)) || slot == 0 {
		return nil, nil, false
	}
	f := frames.all[id]
	if slot > f.nh || f.handles[slot-1].acc == nil {
		return nil, nil, false
	}
	return f.handles[slot-1].v, f.handles[slot-1].acc, true
}
