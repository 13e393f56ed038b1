package scriptlet

import (
	"testing"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// BenchmarkLuaProvider calls a hook whose one provider is a Lua method returning
// VALIDATE_CONT, through the hook's Lua adapter, on the live registry; the peer is
// BenchmarkGoProvider. states-created/op must stay 0: every call takes a warmed state from
// the generation's pool.
func BenchmarkLuaProvider(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	h.script("cont.lua", "require(\"msys.core\")\nlocal mod = {}\nfunction mod:sltest_check(str)\n  return msys.core.VALIDATE_CONT\nend\nmsys.registerModule(\"cont\", mod)\n")
	h.start(stanza("min_states = 1", "cont=cont"))
	cur := h.m.Hooks()
	if hooks.Call1(checkHook, cur, "x") != ValidateCont {
		b.Fatal("the Lua provider did not return VALIDATE_CONT")
	}
	created := h.rt.Stats().StatesCreated
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if hooks.Call1(checkHook, cur, "x") != ValidateCont {
			b.Fatal("wrong result")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(h.rt.Stats().StatesCreated-created)/float64(b.N), "states-created/op")
}

// BenchmarkGoProvider is the peer of BenchmarkLuaProvider: the same hook with one Go
// provider returning VALIDATE_CONT.
func BenchmarkGoProvider(b *testing.B) {
	reg := hooks.NewRegistry(nil, hooks.Options{})
	if err := checkHook.RegisterLast(reg, "go", func(string) int { return ValidateCont }); err != nil {
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
	for b.Loop() {
		if hooks.Call1(checkHook, &cur, "x") != ValidateCont {
			b.Fatal("wrong result")
		}
	}
}
