package memtype

import (
	"runtime"
	"testing"
)

// benchObject is a typical small per-message record: 128 bytes with a pointer, so the
// garbage collector has to scan it like a real session or message object.
type benchObject struct {
	next  *benchObject
	id    uint64
	flags uint32
	data  [108]byte
}

// sink keeps new(T) results escaping to the heap, as real objects do.
var sink *benchObject

// reportGC reports garbage collections per million operations since before.
func reportGC(b *testing.B, before uint32) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.NumGC-before)*1e6/float64(b.N), "GCs/1Mops")
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// BenchmarkFixedAllocFree gets and puts an object of a fixed-size memtype pool in a hot
// loop; compare with BenchmarkNewLeftToGC in the same run.
func BenchmarkFixedAllocFree(b *testing.B) {
	p, err := NewFixed[benchObject](NewRegistry(Options{}), "bench:object")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	before := numGC()
	for b.Loop() {
		o := p.Get()
		o.id++
		sink = o
		p.Put(o)
	}
	reportGC(b, before)
	sink = nil
}

// BenchmarkNewLeftToGC is the peer: new(T) of the same type, left to the collector.
func BenchmarkNewLeftToGC(b *testing.B) {
	b.ReportAllocs()
	before := numGC()
	for b.Loop() {
		o := new(benchObject)
		o.id++
		sink = o
	}
	reportGC(b, before)
	sink = nil
}

// The parallel pair runs the same on every P, where per-P caches and shared counters
// matter.
func BenchmarkFixedAllocFreeParallel(b *testing.B) {
	p, err := NewFixed[benchObject](NewRegistry(Options{}), "bench:object")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	before := numGC()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o := p.Get()
			o.id++
			p.Put(o)
		}
	})
	reportGC(b, before)
}

func BenchmarkNewLeftToGCParallel(b *testing.B) {
	b.ReportAllocs()
	before := numGC()
	b.RunParallel(func(pb *testing.PB) {
		var keep *benchObject
		for pb.Next() {
			o := new(benchObject)
			o.id++
			o.next = keep // escapes: the compiler cannot keep it on the stack
			keep = o
			keep.next = nil
		}
	})
	reportGC(b, before)
}

// BenchmarkAllocRawFree measures the off-heap path native modules use.
func BenchmarkAllocRawFree(b *testing.B) {
	t, err := NewRegistry(Options{}).Register(Spec{Name: "bench:raw"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, _ := t.AllocRaw(128)
		t.FreeRaw(p)
	}
}
