package memtype

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"unicode"

	"golang.org/x/sys/cpu"
)

// MaxNameLen bounds a type name. The `memory` table right-aligns names in 30 columns; a
// longer name widens that column.
const MaxNameLen = 64

// Kind says how a type's objects are sized.
type Kind uint8

const (
	// Fixed types have one object size, given at registration.
	Fixed Kind = iota + 1
	// Variable types size every allocation separately (Momentum's "vsize").
	Variable
)

// String returns "fixed" or "variable".
func (k Kind) String() string {
	switch k {
	case Fixed:
		return "fixed"
	case Variable:
		return "variable"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Spec describes a type to register.
type Spec struct {
	// Name is "module:description" by convention (for example "esmtp:session"); plain
	// names such as "string" are allowed. It must be unique in its registry.
	Name string
	// Size is the object size of a fixed type; 0 registers a variable-size type.
	Size int
	// Zero asks for zeroed memory from every allocation of the type, also in debug-fill
	// mode (Momentum's force_zero). Go-heap allocations are always zeroed unless the
	// registry's fill is on; Zero matters most for raw allocations, which reuse blocks.
	Zero bool
}

// Options configure a Registry. The zero value is the production setting: misuse is
// reported and returned as an error, fresh memory is not filled.
type Options struct {
	// Debug makes every misuse (wrong-type free, double free, foreign pointer) panic
	// after it is reported, so a test or a debugging operator sees the stack.
	Debug bool
	// Fill fills fresh memory with FillByte, so code that reads memory it never wrote
	// shows garbage instead of zeros. Types registered with Spec.Zero stay zeroed.
	Fill bool
	// Report receives every misuse error. Nil logs them at error level with
	// slog.Default(): misuse must be loud even when the caller drops the returned error.
	Report func(error)
}

// FillByte is the garbage that debug fill writes into fresh memory.
const FillByte = 0xA5

// Registry is a guarded set of memory types and the off-heap arena their raw
// allocations come from. Types are registered once and live as long as the registry.
// All methods are safe for concurrent use from any goroutine.
type Registry struct {
	debug  atomic.Bool
	fill   atomic.Bool
	report func(error)

	misuses atomic.Int64

	// mu guards byName and byID. Registration is rare; lookups by id happen only on
	// error paths, so a plain RWMutex is enough.
	mu     sync.RWMutex
	byName map[string]*Type
	byID   []*Type // byID[id-1]

	arena arena
}

// NewRegistry returns an empty registry configured by opts.
func NewRegistry(opts Options) *Registry {
	r := &Registry{report: opts.Report, byName: make(map[string]*Type)}
	r.debug.Store(opts.Debug)
	r.fill.Store(opts.Fill)
	if r.report == nil {
		r.report = func(err error) { slog.Error("memory misuse", "err", err) }
	}
	return r
}

// defaultRegistry is the process-wide registry that modules register their types in:
// memory types outlive configuration generations, and the `memory` command shows them
// all. Its own lock guards it; the variable itself is never reassigned.
var defaultRegistry = NewRegistry(Options{})

// Default returns the process-wide registry.
func Default() *Registry { return defaultRegistry }

// SetDebug switches misuse panics on or off, for example from Debug_Flags on reload.
// Any goroutine may call it.
func (r *Registry) SetDebug(on bool) { r.debug.Store(on) }

// SetFill switches the debug fill of fresh memory on or off. Any goroutine may call it.
func (r *Registry) SetFill(on bool) { r.fill.Store(on) }

// Misuses returns how many misuse errors the registry has reported.
func (r *Registry) Misuses() int64 { return r.misuses.Load() }

// Register adds a type. A second registration of a name fails with ErrDuplicate: a
// type is registered once (a module's conf_setup) and kept for the life of the process.
func (r *Registry) Register(spec Spec) (*Type, error) {
	if err := checkName(spec.Name); err != nil {
		return nil, err
	}
	if spec.Size < 0 || spec.Size > MaxSize {
		return nil, fmt.Errorf("%w: type %q size %d", ErrBadSize, spec.Name, spec.Size)
	}
	t := &Type{reg: r, name: spec.Name, size: spec.Size, zero: spec.Zero, kind: Variable}
	if spec.Size > 0 {
		t.kind = Fixed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[spec.Name]; dup {
		return nil, fmt.Errorf("%w: %q", ErrDuplicate, spec.Name)
	}
	r.byID = append(r.byID, t)
	t.id = uint32(len(r.byID))
	r.byName[spec.Name] = t
	return t, nil
}

// Lookup returns the type registered under name.
func (r *Registry) Lookup(name string) (*Type, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.byName[name]
	return t, ok
}

// Snapshot returns the counters of every type, sorted by name. Each type's counters are
// read one by one while allocations go on, so a row is a near-instant view, not an
// atomic one.
func (r *Registry) Snapshot() []Stats {
	r.mu.RLock()
	types := append([]*Type(nil), r.byID...)
	r.mu.RUnlock()
	out := make([]Stats, len(types))
	for i, t := range types {
		out[i] = t.Stats()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// typeName names the type with the given id for error messages.
func (r *Registry) typeName(id uint32) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if id == 0 || int(id) > len(r.byID) {
		return fmt.Sprintf("unknown type #%d", id)
	}
	return r.byID[id-1].name
}

// misuse reports err loudly, counts it, panics in debug mode and returns it.
func (r *Registry) misuse(err error) error {
	r.misuses.Add(1)
	r.report(err)
	if r.debug.Load() {
		panic(err)
	}
	return err
}

func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, c := range name {
		if unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}

// Type is a registered memory type: its name, kind and size, and the counters that the
// `memory` command shows. A Type is created by Registry.Register and is safe for
// concurrent use from any goroutine.
type Type struct {
	reg  *Registry
	name string
	size int // object size of a fixed type; 0 for a variable type
	kind Kind
	zero bool
	id   uint32 // index in reg.byID plus one; written into allocation headers

	// The pads keep the counters, written on every allocation, off the cache lines of
	// the read-only fields above and of whatever the allocator puts next to this Type.
	_ cpu.CacheLinePad
	c counters
	_ cpu.CacheLinePad
}

// Name returns the type's registered name.
func (t *Type) Name() string { return t.name }

// Kind returns Fixed or Variable.
func (t *Type) Kind() Kind { return t.kind }

// Size returns the object size of a fixed type, 0 for a variable one.
func (t *Type) Size() int { return t.size }

// Registry returns the registry the type belongs to.
func (t *Type) Registry() *Registry { return t.reg }

// String returns the type's name.
func (t *Type) String() string { return t.name }

// Stats returns the type's counters.
func (t *Type) Stats() Stats {
	s := Stats{
		Name:       t.name,
		Kind:       t.kind,
		Size:       t.size,
		Active:     t.c.live.Load(),
		PeakActive: t.c.peakLive.Load(),
		Allocs:     t.c.allocs.Load(),
		Mmaps:      t.c.mmaps.Load(),
		PeakMmaps:  t.c.peakMmaps.Load(),
		MmapBytes:  t.c.mmapBytes.Load(),
	}
	if t.kind == Fixed {
		// A fixed type's bytes follow from its object count; not keeping a separate
		// byte counter saves two atomic operations per allocation.
		s.Bytes = s.Active * int64(t.size)
		s.PeakBytes = s.PeakActive * int64(t.size)
	} else {
		s.Bytes = t.c.bytes.Load()
		s.PeakBytes = t.c.peakBytes.Load()
	}
	return s
}

// Stats is one type's row in the `memory` command.
type Stats struct {
	Name       string
	Kind       Kind
	Size       int   // object size of a fixed type
	Active     int64 // live allocations
	PeakActive int64 // most live allocations at once
	Allocs     int64 // allocations since registration
	Bytes      int64 // bytes in live allocations, as requested
	PeakBytes  int64 // most bytes live at once
	Mmaps      int64 // live raw allocations mapped on their own (large ones)
	PeakMmaps  int64 // most such mappings at once
	MmapBytes  int64 // bytes requested by those mappings
}
