package memtype

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func rawBytes(p unsafe.Pointer, n int) []byte { return unsafe.Slice((*byte)(p), n) }

func TestRawAllocFree(t *testing.T) {
	tests := []struct {
		name  string
		size  uintptr
		large bool
	}{
		{"zero", 0, false},
		{"one", 1, false},
		{"exact smallest block", 32 - headerSize, false},
		{"just over smallest", 32 - headerSize + 1, false},
		{"kilobyte", 1000, false},
		{"largest class", maxClassBlock - headerSize, false},
		{"just over largest class", maxClassBlock - headerSize + 1, true},
		{"megabyte", 1 << 20, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, Options{})
			ty, _ := r.Register(Spec{Name: "native:blob"})
			p, err := ty.AllocRaw(tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if uintptr(p)%16 != 0 {
				t.Errorf("pointer %p not 16-byte aligned", p)
			}
			b := rawBytes(p, int(tc.size))
			for i := range b {
				b[i] = byte(i * 7)
			}
			for i := range b {
				if b[i] != byte(i*7) {
					t.Fatalf("byte %d did not keep its value", i)
				}
			}
			st := ty.Stats()
			wantMmaps := int64(0)
			if tc.large {
				wantMmaps = 1
			}
			if st.Active != 1 || st.Bytes != int64(tc.size) || st.Mmaps != wantMmaps || st.MmapBytes != wantMmaps*int64(tc.size) {
				t.Errorf("stats = %+v, want 1 live, %d bytes, %d mmaps", st, tc.size, wantMmaps)
			}
			if r.MappedBytes() < int64(tc.size) {
				t.Errorf("MappedBytes = %d, less than the %d allocated", r.MappedBytes(), tc.size)
			}
			if err := ty.FreeRaw(p); err != nil {
				t.Fatal(err)
			}
			st = ty.Stats()
			if st.Active != 0 || st.Bytes != 0 || st.Mmaps != 0 || st.PeakMmaps != wantMmaps || st.MmapBytes != 0 {
				t.Errorf("after free: %+v", st)
			}
			if tc.large && r.MappedBytes() != 0 {
				t.Errorf("large block still mapped: MappedBytes = %d", r.MappedBytes())
			}
		})
	}
}

func TestRawFixed(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	ty, _ := r.Register(Spec{Name: "native:conn", Size: 200})
	p, err := ty.AllocRaw(0)
	if err != nil {
		t.Fatal(err)
	}
	if st := ty.Stats(); st.Bytes != 200 || st.Active != 1 {
		t.Errorf("AllocRaw(0) of a fixed type: %+v, want 200 bytes", st)
	}
	if _, err := ty.AllocRaw(100); !errors.Is(err, ErrBadSize) {
		t.Errorf("AllocRaw(100) of a 200-byte type: error = %v, want ErrBadSize", err)
	}
	if _, err := ty.ReallocRaw(p, 300); !errors.Is(err, ErrKind) {
		t.Errorf("ReallocRaw of a fixed type: error = %v, want ErrKind", err)
	}
	if _, err := ty.AllocRaw(^uintptr(0)); !errors.Is(err, ErrBadSize) {
		t.Errorf("AllocRaw(-1 as size_t): error = %v, want ErrBadSize", err)
	}
	if err := ty.FreeRaw(p); err != nil {
		t.Fatal(err)
	}
}

func TestReallocRaw(t *testing.T) {
	tests := []struct {
		name      string
		from, to  uintptr
		wantMoved bool
	}{
		{"grow in block", 10, 16, false},
		{"grow across classes", 10, 500, true},
		{"grow to large", 10, 100_000, true},
		{"shrink in block", 500, 10, false},
		{"shrink large in place", 100_000, 10, false},
		{"grow large within its pages", 100_000, 100_100, false},
		{"grow large beyond its pages", 100_000, 300_000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, Options{Fill: true})
			ty, _ := r.Register(Spec{Name: "native:grow"})
			p, err := ty.AllocRaw(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			for i, b := 0, rawBytes(p, int(tc.from)); i < len(b); i++ {
				b[i] = byte(i)
			}
			np, err := ty.ReallocRaw(p, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if moved := np != p; moved != tc.wantMoved {
				t.Errorf("moved = %v, want %v", moved, tc.wantMoved)
			}
			b := rawBytes(np, int(tc.to))
			keep := int(min(tc.from, tc.to))
			for i := range keep {
				if b[i] != byte(i) {
					t.Fatalf("byte %d = %#x, want %#x", i, b[i], byte(i))
				}
			}
			for i := keep; i < len(b); i++ {
				if b[i] != FillByte {
					t.Fatalf("new byte %d = %#x, want fill %#x", i, b[i], FillByte)
				}
			}
			st := ty.Stats()
			wantMmaps := int64(0)
			if tc.to+headerSize > maxClassBlock || (tc.from+headerSize > maxClassBlock && !tc.wantMoved) {
				wantMmaps = 1
			}
			if st.Active != 1 || st.Allocs != 1 || st.Bytes != int64(tc.to) || st.Mmaps != wantMmaps {
				t.Errorf("stats = %+v, want 1 live of %d bytes, %d mmaps", st, tc.to, wantMmaps)
			}
			if tc.wantMoved {
				if err := ty.FreeRaw(p); !errors.Is(err, ErrNotOwned) && !errors.Is(err, ErrDoubleFree) {
					t.Errorf("freeing the old block after a move: error = %v, want a misuse", err)
				}
			}
			if err := ty.FreeRaw(np); err != nil {
				t.Fatal(err)
			}
			if st := ty.Stats(); st.Active != 0 || st.Bytes != 0 || st.Mmaps != 0 || st.MmapBytes != 0 {
				t.Errorf("after free: %+v", st)
			}
		})
	}
}

// TestRawReusesBlocks shows slabs are reused and that a Zero type gets zeroed memory
// even from a block that held data.
func TestRawReusesBlocks(t *testing.T) {
	r, _ := newTestRegistry(t, Options{Fill: true})
	zeroed, _ := r.Register(Spec{Name: "native:zeroed", Size: 40, Zero: true})
	p, _ := zeroed.AllocRaw(0)
	for i, b := 0, rawBytes(p, 40); i < len(b); i++ {
		b[i] = 0xFF
	}
	if err := zeroed.FreeRaw(p); err != nil {
		t.Fatal(err)
	}
	mapped := r.MappedBytes()
	q, _ := zeroed.AllocRaw(0)
	if q != p {
		t.Errorf("second allocation at %p, want the freed block %p back", q, p)
	}
	if r.MappedBytes() != mapped {
		t.Errorf("MappedBytes grew from %d to %d for a reused block", mapped, r.MappedBytes())
	}
	for i, c := range rawBytes(q, 40) {
		if c != 0 {
			t.Fatalf("byte %d = %#x in a Zero type's reused block", i, c)
		}
	}
	zeroed.FreeRaw(q)
}

// TestRawOutsideGoHeap proves raw memory is mapped by memtype and not taken from the Go
// heap: the runtime's own count of memory it got from the system does not move when a
// large block is allocated, the block lies in a mapping of the process, and the bytes
// are accounted to the type and the arena.
func TestRawOutsideGoHeap(t *testing.T) {
	const size = 64 << 20
	r, _ := newTestRegistry(t, Options{})
	ty, _ := r.Register(Spec{Name: "native:huge"})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := ty.AllocRaw(size)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.Sys) - int64(before.Sys); grew > size/4 {
		t.Errorf("runtime Sys grew by %d bytes for a %d-byte raw block: it came from the Go heap", grew, size)
	}
	small, err := ty.AllocRaw(100)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []unsafe.Pointer{p, small} {
		if m, ok := mappingOf(t, uintptr(q)); !ok {
			t.Errorf("%p is in no mapping of the process", q)
		} else if !strings.Contains(m, "rw-p") {
			t.Errorf("%p is in mapping %q, want a private read-write one", q, m)
		}
	}
	if st := ty.Stats(); st.Bytes != size+100 || st.Mmaps != 1 || st.MmapBytes != size {
		t.Errorf("stats = %+v", st)
	}
	mapping := int64((size + headerSize + pageSize - 1) &^ (pageSize - 1))
	if got := r.MappedBytes(); got != mapping+slabSize {
		t.Errorf("MappedBytes = %d, want %d (the block's pages and one slab)", got, mapping+slabSize)
	}
	ty.FreeRaw(p)
	ty.FreeRaw(small)
	if got := r.MappedBytes(); got != slabSize {
		t.Errorf("after free MappedBytes = %d, want the slab's %d", got, slabSize)
	}
}

// mappingOf returns the /proc/self/maps line of the mapping that holds addr.
func mappingOf(t *testing.T, addr uintptr) (string, bool) {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatalf("no /proc/self/maps to check the mapping against: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); err != nil {
			continue
		}
		if lo <= addr && addr < hi {
			return sc.Text(), true
		}
	}
	return "", false
}

func TestRawConcurrent(t *testing.T) {
	const workers, each = 8, 200
	r, _ := newTestRegistry(t, Options{})
	ty, _ := r.Register(Spec{Name: "native:conc"})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			live := make([]unsafe.Pointer, 0, each)
			sizes := make([]int, 0, each)
			for i := range each {
				n := (i*97 + w*31) % 3000
				if i%50 == 0 {
					n = 40_000 // now and then a block mapped on its own
				}
				p, err := ty.AllocRaw(uintptr(n))
				if err != nil {
					t.Error(err)
					return
				}
				b := rawBytes(p, n)
				for j := range b {
					b[j] = byte(w)
				}
				live = append(live, p)
				sizes = append(sizes, n)
			}
			for i, p := range live {
				for j, c := range rawBytes(p, sizes[i]) {
					if c != byte(w) {
						t.Errorf("worker %d block %d byte %d overwritten with %#x", w, i, j, c)
						return
					}
				}
				if err := ty.FreeRaw(p); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st := ty.Stats()
	if st.Active != 0 || st.Bytes != 0 || st.Mmaps != 0 || st.Allocs != workers*each {
		t.Errorf("after: %+v", st)
	}
}
