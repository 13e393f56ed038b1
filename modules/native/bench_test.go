package native

import (
	"testing"

	"github.com/ebitengine/purego"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// benchEnv starts the test module and registers a Go provider of the peer
// hook in the same registry, so both benchmarks call through the same
// machinery: a hook with one provider.
func benchEnv(b *testing.B) *env {
	e := newEnv(b, nil)
	e.install("testmod")
	e.start(`testmod { }`)
	return e
}

// BenchmarkNativeProvider calls a valued hook whose one provider is C
// (x + 1), through the live registry. Goal: <= 150 ns, 0 allocations.
func BenchmarkNativeProvider(b *testing.B) {
	e := benchEnv(b)
	cur := e.m.Hooks()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r := hooks.Call1(benchHook, cur, i); r != i+1 {
			b.Fatalf("bench(%d) = %d", i, r)
		}
	}
}

// BenchmarkGoProvider is the peer: the same hook shape with one Go provider.
func BenchmarkGoProvider(b *testing.B) {
	reg := hooks.NewRegistry(nil, hooks.Options{})
	if err := goBenchHook.RegisterLast(reg, "gomod", func(x int) int { return x + 1 }); err != nil {
		b.Fatal(err)
	}
	if err := reg.Seal(); err != nil {
		b.Fatal(err)
	}
	var cur hooks.Current
	if _, err := cur.Swap(reg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r := hooks.Call1(goBenchHook, &cur, i); r != i+1 {
			b.Fatalf("gobench(%d) = %d", i, r)
		}
	}
}

// BenchmarkNativeProviderFrame calls a provider that gets a handle and a C
// string (a Frame per call) and reads the handle back through two host
// callbacks: what a hook with object arguments costs.
func BenchmarkNativeProviderFrame(b *testing.B) {
	e := benchEnv(b)
	cur := e.m.Hooks()
	s := &subject{name: "bob", n: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := hooks.Call2(greetHook, cur, s, "hi"); r != 10203 {
			b.Fatalf("greet = %d", r)
		}
	}
}

// The two ways purego calls C, measured on the same C function: SyscallN
// (what Provider uses) and a func made by RegisterFunc.
func BenchmarkCallSyscallN(b *testing.B) {
	fn, closure := benchSymbol(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := uintptr(0); b.Loop(); i++ {
		if r, _, _ := purego.SyscallN(fn, closure, i); r != i+1 {
			b.Fatal(r)
		}
	}
}

func BenchmarkCallRegisterFunc(b *testing.B) {
	fn, closure := benchSymbol(b)
	var call func(closure, x uintptr) uintptr
	purego.RegisterFunc(&call, fn)
	b.ReportAllocs()
	b.ResetTimer()
	for i := uintptr(0); b.Loop(); i++ {
		if r := call(closure, i); r != i+1 {
			b.Fatal(r)
		}
	}
}

// benchSymbol returns the C bench provider's address through a cmod load.
func benchSymbol(b *testing.B) (fn, closure uintptr) {
	e := newEnv(b, nil)
	e.install("testmod")
	m, err := e.loader.LoadC(e.soPath("testmod"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Unload() })
	fn, err = m.lib.sym("bench_entry")
	if err != nil {
		b.Fatal(err)
	}
	return fn, 0
}
