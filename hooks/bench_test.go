package hooks_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// benchSession is the first argument of the benchmark hooks.
type benchSession struct{ rejected int }

type benchFunc = func(*benchSession, string) int

var (
	benchValued = hooks.DeclareValued[benchFunc](testScope, "bench_valued", hooks.FirstNonZero[int](), -1)
	benchVoid   = hooks.DeclareVoid[func(*benchSession, string)](testScope, "bench_void")
)

// benchHELO is what the providers check; none of them rejects it, so every
// provider runs on every call.
const benchHELO = "mail.example.com"

// benchProviders returns n distinct closures, each over its own limit as a
// provider closes over its module instance.
func benchProviders(n int) []benchFunc {
	fs := make([]benchFunc, n)
	for i := range fs {
		limit := 200 + i
		fs[i] = func(s *benchSession, helo string) int {
			if len(helo) > limit {
				s.rejected++
				return 550
			}
			return 0
		}
	}
	return fs
}

// benchCurrent installs a registry with fs as providers of benchValued, and
// void counterparts of benchVoid.
func benchCurrent(b *testing.B, fs []benchFunc) *hooks.Current {
	r := hooks.NewRegistry(nil, quiet())
	for i, f := range fs {
		mustNil(b, benchValued.RegisterLast(r, fmt.Sprint("m", i), f))
		mustNil(b, benchVoid.RegisterLast(r, fmt.Sprint("m", i), func(s *benchSession, helo string) { f(s, helo) }))
	}
	cur := &hooks.Current{}
	install(b, cur, r)
	return cur
}

var benchSizes = []int{1, 2, 8}

// directLoop is the peer: the same providers called from a []func, with the
// same first-non-zero rule.
func directLoop(fs []benchFunc, s *benchSession, helo string) int {
	for _, f := range fs {
		if r := f(s, helo); r != 0 {
			return r
		}
	}
	return 0
}

func BenchmarkDirectLoop(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			fs := benchProviders(n)
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				if directLoop(fs, s, benchHELO) != 0 {
					b.Fatal("rejected")
				}
			}
		})
	}
}

// pinPair stands for the least any counted pin costs: one atomic add in, one
// out, and a flag load on each side.
var pinPair struct {
	in, out atomic.Uint64
	retired atomic.Bool
}

// BenchmarkDirectLoopPinned is the direct loop bracketed by that pin: the
// floor for BenchmarkCallValued, showing how much of the gap is the pin.
func BenchmarkDirectLoopPinned(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			fs := benchProviders(n)
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				pinPair.in.Add(1)
				if pinPair.retired.Load() {
					b.Fatal("retired")
				}
				if directLoop(fs, s, benchHELO) != 0 {
					b.Fatal("rejected")
				}
				pinPair.out.Add(1)
				if pinPair.retired.Load() {
					b.Fatal("retired")
				}
			}
		})
	}
}

// directLoopRecovering is the direct loop in a frame of its own with the
// least a call that survives a provider's panic needs: a deferred func that
// recovers only when the loop did not finish. It has no pin and no counter.
//
//go:noinline
func directLoopRecovering(fs []benchFunc, s *benchSession, helo string) (r int) {
	done := false
	defer func() {
		if !done {
			if recover() != nil {
				r = -1
			}
		}
	}()
	r = directLoop(fs, s, helo)
	done = true
	return r
}

// BenchmarkDirectLoopRecovering is the floor that the ratio meets
// before any pin or counter: Go recovers a panic only in a deferred call, and
// a function with a defer has a frame of its own, so this is what any hook
// call that returns the failure value after a panic costs at least.
func BenchmarkDirectLoopRecovering(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			fs := benchProviders(n)
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				if directLoopRecovering(fs, s, benchHELO) != 0 {
					b.Fatal("rejected")
				}
			}
		})
	}
}

// BenchmarkCallValued is Call2 on the installed registry: the per-call pin
// (count in and out), the counters and the 1-in-256 timing sample included.
func BenchmarkCallValued(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cur := benchCurrent(b, benchProviders(n))
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				if hooks.Call2(benchValued, cur, s, benchHELO) != 0 {
					b.Fatal("rejected")
				}
			}
		})
	}
}

// BenchmarkCallValuedIn is Call2In on a registry pinned once with Acquire,
// as a session or a loop iteration that makes many calls would.
func BenchmarkCallValuedIn(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cur := benchCurrent(b, benchProviders(n))
			r := cur.Acquire()
			defer r.Unpin()
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				if hooks.Call2In(benchValued, r, s, benchHELO) != 0 {
					b.Fatal("rejected")
				}
			}
		})
	}
}

// BenchmarkCallWith is the invoke form, for signatures without a direct one.
func BenchmarkCallWith(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cur := benchCurrent(b, benchProviders(n))
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				if hooks.CallWith(benchValued, cur, func(f benchFunc) int { return f(s, benchHELO) }) != 0 {
					b.Fatal("rejected")
				}
			}
		})
	}
}

// BenchmarkCallVoid is CallVoid2; its providers wrap the valued ones, so its
// peer is BenchmarkDirectLoop plus one call per provider.
func BenchmarkCallVoid(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cur := benchCurrent(b, benchProviders(n))
			s := &benchSession{}
			b.ReportAllocs()
			for b.Loop() {
				hooks.CallVoid2(benchVoid, cur, s, benchHELO)
			}
		})
	}
}

// BenchmarkCallValuedParallel calls from every P at once: the cost of the
// shared per-hook counters under contention.
func BenchmarkCallValuedParallel(b *testing.B) {
	cur := benchCurrent(b, benchProviders(2))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := &benchSession{}
		for pb.Next() {
			hooks.Call2(benchValued, cur, s, benchHELO)
		}
	})
}

// BenchmarkDirectLoopParallel is the peer of BenchmarkCallValuedParallel.
func BenchmarkDirectLoopParallel(b *testing.B) {
	fs := benchProviders(2)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := &benchSession{}
		for pb.Next() {
			directLoop(fs, s, benchHELO)
		}
	})
}
