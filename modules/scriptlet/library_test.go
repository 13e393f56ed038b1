package scriptlet

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// counterClass is a callable class: calling an object adds its argument to the count.
var counterClass = NewClass("counter", map[string]Method{
	CallMethod: func(_ *Call, self any, args []Value) ([]Value, error) {
		c := self.(*counter)
		n, ok := argAt(args, 0).Int()
		if !ok {
			return nil, errors.New("a whole number expected")
		}
		c.n += n
		return []Value{Bool(true), Int(c.n)}, nil
	},
	"get": func(_ *Call, self any, _ []Value) ([]Value, error) { return []Value{Int(self.(*counter).n)}, nil },
}, nil)

type counter struct{ n int64 }

// TestMsysLibrary: Options.Msys installs Go functions and values under msys, reachable
// as msys.<name> and through require; a Go function's results, its error raised in Lua
// with its msys name, and callable objects (CallMethod) called as f(...) with obj:get()
// still a method.
func TestMsysLibrary(t *testing.T) {
	lib := &Table{Fields: []Field{
		{Key: "make", Value: Func(func(_ *Call, args []Value) ([]Value, error) {
			n, _ := argAt(args, 0).Int()
			return []Value{Object(counterClass, &counter{n: n})}, nil
		})},
		{Key: "fail", Value: Func(func(*Call, []Value) ([]Value, error) { return nil, errors.New("refused") })},
		{Key: "version", Value: String("v1")},
	}}
	h := newHarness(t, harnessOpts{msys: map[string]Value{"cnt": TableOf(lib), "answer": Int(42)}})
	h.script("lib.lua", `local mod = {}
function mod:init()
  msys.registerControl("lib", function(cc)
    local c = msys.cnt.make(10)
    print("call", c(5))
    print("again", c(2), c:get())
    print("require", require("msys.cnt") == msys.cnt, msys.cnt.version, msys.answer)
    print("types", type(msys.cnt.make), tostring(c):match("^counter: ") ~= nil)
    print("fail", pcall(msys.cnt.fail))
    print("bad", pcall(c, "x"))
    print("not callable", pcall(function() return msys.cnt.version() end))
  end)
  return true
end
msys.registerModule("lib", mod)
`)
	h.start(stanza("", "lib=lib"))
	out, err := h.m.Control([]string{"scriptlet", "lib"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"call\ttrue\t15",
		"again\ttrue\t17", // c(2) is cut to its first value before another argument
		"require\ttrue\tv1\t42",
		"types\tfunction\ttrue",
		"fail\tfalse\t*msys.cnt.fail: refused",
		"bad\tfalse\t*counter: a whole number expected",
		"not callable\tfalse\t*",
	}
	if len(lines) != len(want) {
		t.Fatalf("reply:\n%s\nwant %d lines", out, len(want))
	}
	for i, w := range want {
		got := lines[i]
		// A '*' in a wanted line stands for the error's position (script:line).
		if head, tail, wild := strings.Cut(w, "*"); wild {
			if !strings.HasPrefix(got, head) || !strings.HasSuffix(got, tail) {
				t.Errorf("line %d = %q, want %q", i+1, got, w)
			}
			continue
		}
		if got != w {
			t.Errorf("line %d = %q, want %q", i+1, got, w)
		}
	}
}

// TestMsysReservedNames: Options.Msys may not replace msys's own fields or use a name
// Lua cannot spell; every field installMsys makes is in the reserved list.
func TestMsysReservedNames(t *testing.T) {
	for _, name := range []string{"core", "registerModule", "timer", "bad name", ""} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted msys.%s", name)
				}
			}()
			New(Options{Msys: map[string]Value{name: Int(1)}}).Close()
		})
	}
	h := newHarness(t, harnessOpts{})
	h.script("keys.lua", `local mod = {}
function mod:init()
  msys.registerControl("keys", function()
    local ks = {}
    for k in pairs(msys) do ks[#ks + 1] = k end
    table.sort(ks)
    print(table.concat(ks, " "))
  end)
  return true
end
msys.registerModule("keys", mod)
`)
	h.start(stanza("", "keys=keys"))
	out, err := h.m.Control([]string{"scriptlet", "keys"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Fields(out) {
		if !msysBuiltin[k] {
			t.Errorf("msys.%s is installed but not in msysBuiltin: Options.Msys could replace it", k)
		}
	}
	if len(strings.Fields(out)) != len(msysBuiltin) {
		t.Errorf("msys has %q; msysBuiltin lists %d names", out, len(msysBuiltin))
	}
}

// TestCommittedHookFromLua: mod:config_generation_committed is a provider of the module
// system's config.generation_committed hook (bound in framework_hooks.go): it runs after
// each commit with the generation's number, in the generation that was committed.
func TestCommittedHookFromLua(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("c.lua", `local st = msys.state("commits", 1)
local mod = {}
function mod:config_generation_committed(gen)
  st.seen = (st.seen or "") .. " " .. tostring(gen)
end
function mod:init()
  msys.registerControl("seen", function() print(st.seen) end)
  return true
end
msys.registerModule("c", mod)
`)
	conf := stanza("", "c=c")
	h.start(conf)
	first := h.gen().ID()
	if err := h.reload(conf + "\n# again\n"); err != nil {
		t.Fatal(err)
	}
	out, err := h.m.Control([]string{"scriptlet", "seen"})
	if err != nil {
		t.Fatal(err)
	}
	g := h.gen()
	if want := fmt.Sprintf("%d %d\n", first, g.ID()); strings.TrimLeft(out, " ") != want {
		t.Errorf("generations seen by the Lua provider: %q, want %q", out, want)
	}
}
