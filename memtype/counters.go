package memtype

import "sync/atomic"

// counters are one type's accounting. They are plain atomics so that allocation and
// free cost a few uncontended atomic adds on the hot path; peaks are raised with a load
// that almost always finds nothing to do.
type counters struct {
	live      atomic.Int64 // live allocations
	peakLive  atomic.Int64
	allocs    atomic.Int64 // allocations since registration
	bytes     atomic.Int64 // variable types only: requested bytes in live allocations
	peakBytes atomic.Int64
	mmaps     atomic.Int64 // live individually mapped raw allocations
	peakMmaps atomic.Int64
	mmapBytes atomic.Int64
}

// raise sets peak to v if v is larger.
func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// noteAlloc accounts one allocation of n bytes.
func (t *Type) noteAlloc(n int) {
	raise(&t.c.peakLive, t.c.live.Add(1))
	t.c.allocs.Add(1)
	if t.kind == Variable {
		raise(&t.c.peakBytes, t.c.bytes.Add(int64(n)))
	}
}

// noteFree accounts the free of one allocation of n bytes.
func (t *Type) noteFree(n int) {
	t.c.live.Add(-1)
	if t.kind == Variable {
		t.c.bytes.Add(-int64(n))
	}
}

// noteResize accounts a reallocation from old to n bytes; it is not a new allocation.
func (t *Type) noteResize(old, n int) {
	raise(&t.c.peakBytes, t.c.bytes.Add(int64(n-old)))
}

// noteMmap accounts a raw allocation of n bytes mapped on its own (delta +1) or its
// unmapping (delta -1).
func (t *Type) noteMmap(delta int64, n int) {
	raise(&t.c.peakMmaps, t.c.mmaps.Add(delta))
	t.c.mmapBytes.Add(delta * int64(n))
}
