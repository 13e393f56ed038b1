package memtype

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The arena is where raw allocations live: memory mapped from the system, never the Go
// heap, because native modules keep these pointers where the Go garbage collector can
// neither see nor move them.
//
// Blocks of up to maxClassBlock bytes (header included) come from size classes. Each
// class carves slabs of slabSize bytes into equal blocks and keeps a free list; slabs
// are kept for the life of the registry, as a malloc keeps its heap. Fixed types use
// the class that fits their size, so they share slabs with variable types of similar
// sizes instead of each holding a half-empty slab. Larger blocks are mapped one by one
// and unmapped when freed.

// classBlocks are the block sizes, header included: steps of at most 25% so that
// rounding wastes little, all multiples of 16 to keep returned pointers aligned.
// Read-only after initialisation.
var classBlocks = [...]uintptr{
	32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
	5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
}

const (
	maxClassBlock = 32768
	slabSize      = 256 << 10
)

type arena struct {
	classes [len(classBlocks)]sizeClass

	// spansMu guards spans, sorted by start. Slabs are added rarely and never removed,
	// so frees look them up under a read lock.
	spansMu sync.RWMutex
	spans   []span

	// largeMu guards large: block start -> mapping length of individually mapped blocks.
	largeMu sync.Mutex
	large   map[uintptr]uintptr

	mapped atomic.Int64 // bytes currently mapped from the system
}

// sizeClass is one class's free list. mu guards free and the headers of the class's
// blocks while a free or reallocation checks and changes them.
type sizeClass struct {
	mu   sync.Mutex
	free []unsafe.Pointer // free blocks, off-heap; the GC ignores these pointers
}

// span records one slab so that a free can prove a pointer is one of its blocks.
type span struct {
	start, end uintptr
	class      int
}

// classFor returns the index of the smallest class whose blocks hold need bytes, or -1
// if need is too large for any class.
func classFor(need uintptr) int {
	i := sort.Search(len(classBlocks), func(i int) bool { return classBlocks[i] >= need })
	if i == len(classBlocks) {
		return -1
	}
	return i
}

// MappedBytes returns how many bytes the registry's raw arena has mapped from the
// system: slabs (kept once mapped) plus large blocks.
func (r *Registry) MappedBytes() int64 { return r.arena.mapped.Load() }

// alloc returns a block of at least need bytes and its header's class value (class
// index plus one, or 0 for a block mapped on its own). The block's contents are stale.
func (a *arena) alloc(need uintptr) (unsafe.Pointer, uint8, error) {
	ci := classFor(need)
	if ci < 0 {
		p, err := a.mapLarge(need)
		return p, 0, err
	}
	c := &a.classes[ci]
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.free) == 0 {
		if err := a.refillLocked(ci); err != nil {
			return nil, 0, err
		}
	}
	p := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	return p, uint8(ci + 1), nil
}

// refillLocked maps a slab for class ci and puts its blocks on the free list. The
// class's mu must be held.
func (a *arena) refillLocked(ci int) error {
	base, err := mapAnon(slabSize)
	if err != nil {
		return fmt.Errorf("%w: slab of %d bytes: %w", ErrNoMemory, slabSize, err)
	}
	a.mapped.Add(slabSize)
	block := classBlocks[ci]
	n := slabSize / block
	c := &a.classes[ci]
	// Push in reverse so that blocks are handed out in address order.
	for i := n; i > 0; i-- {
		c.free = append(c.free, unsafe.Add(base, (i-1)*block))
	}
	start := uintptr(base)
	a.spansMu.Lock()
	i := sort.Search(len(a.spans), func(i int) bool { return a.spans[i].start > start })
	a.spans = append(a.spans, span{})
	copy(a.spans[i+1:], a.spans[i:])
	a.spans[i] = span{start: start, end: start + slabSize, class: ci}
	a.spansMu.Unlock()
	return nil
}

func (a *arena) mapLarge(need uintptr) (unsafe.Pointer, error) {
	length := (need + pageSize - 1) &^ (pageSize - 1)
	p, err := mapAnon(length)
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes: %w", ErrNoMemory, length, err)
	}
	a.mapped.Add(int64(length))
	a.largeMu.Lock()
	if a.large == nil {
		a.large = make(map[uintptr]uintptr)
	}
	a.large[uintptr(p)] = length
	a.largeMu.Unlock()
	return p, nil
}

// lockBlock finds the block in front of p, locks what guards its header (its class's
// mu, or largeMu for a block mapped on its own) and checks that t owns it live. On
// success the returned mutex is held and the caller unlocks it. A pointer that is not a
// block start is recognised by address alone, before its memory is touched.
func (t *Type) lockBlock(p unsafe.Pointer) (*header, blockRef, *sync.Mutex, error) {
	a := &t.reg.arena
	blk := uintptr(p) - headerSize
	if uintptr(p) < headerSize {
		return nil, blockRef{}, nil, t.notOwned(p)
	}
	a.spansMu.RLock()
	i := sort.Search(len(a.spans), func(i int) bool { return a.spans[i].end > blk })
	var s span
	inSlab := i < len(a.spans) && a.spans[i].start <= blk
	if inSlab {
		s = a.spans[i]
	}
	a.spansMu.RUnlock()

	var ref blockRef
	var mu *sync.Mutex
	if inSlab {
		ref = blockRef{class: s.class, length: classBlocks[s.class]}
		if (blk-s.start)%ref.length != 0 {
			return nil, blockRef{}, nil, t.notOwned(p)
		}
		mu = &a.classes[s.class].mu
		mu.Lock()
	} else {
		mu = &a.largeMu
		mu.Lock()
		length, ok := a.large[blk]
		if !ok {
			mu.Unlock()
			return nil, blockRef{}, nil, t.notOwned(p)
		}
		ref = blockRef{class: -1, length: length}
	}
	h := (*header)(unsafe.Add(p, -headerSize))
	if err := t.check(h, magicRaw, "raw block"); err != nil {
		mu.Unlock()
		return nil, blockRef{}, nil, err
	}
	return h, ref, mu, nil
}

func (t *Type) notOwned(p unsafe.Pointer) error {
	return fmt.Errorf("%w: raw pointer %#x given to %q (freed already, or never allocated)",
		ErrNotOwned, uintptr(p), t.name)
}

// blockRef says where a raw block came from.
type blockRef struct {
	class  int     // class index, or -1 for a block mapped on its own
	length uintptr // class block size, or mapping length
}
