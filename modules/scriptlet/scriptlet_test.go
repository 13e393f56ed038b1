package scriptlet

import (
	"errors"
	"github.com/ecelerity-go/ecelerity/modules"
	"reflect"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// policy is a script in Momentum's documented style: require, a module table whose
// methods use self, return codes from msys.core, registerModule with the stanza's name.
const policy = `
require("msys.core")
local mod = {}

function mod:init()
  self.greeting = "hello"
  return true
end

function mod:sltest_check(str)
  if str == "reject" then
    return msys.core.VALIDATE_DONE
  end
  if str == "again" then
    return msys.core.VALIDATE_AGAIN
  end
  return msys.core.VALIDATE_CONT
end

function mod:core_sltest_enqueue(str)
  self.count = (self.count or 0) + 1
  return (self.greeting or "replica") .. " " .. str .. " " .. self.count
end

local function helper() end
mod.helper = helper

msys.registerModule("policy", mod)
`

// TestMomentumStyleScript: a script's methods become providers of a module-scope hook
// (sltest_check) and of a core hook (core_sltest_enqueue), with self and return codes;
// helper functions are not providers.
func TestMomentumStyleScript(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("policy.lua", policy)
	h.start(stanza("", "policy=policy"))
	for _, tc := range []struct {
		in   string
		want int
	}{{"ok", ValidateCont}, {"reject", ValidateDone}, {"again", ValidateAgain}} {
		if got := h.check(tc.in); got != tc.want {
			t.Errorf("check(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	var out []string
	hooks.CallVoid2(enqueueHook, h.m.Hooks(), &out, "m1")
	hooks.CallVoid2(enqueueHook, h.m.Hooks(), &out, "m2")
	// init ran in the prime state; providers run in replicas, whose self has no greeting,
	// and a replica keeps its self between calls.
	if want := []string{"replica m1 1", "replica m2 2"}; !reflect.DeepEqual(out, want) {
		t.Errorf("enqueue outputs %q, want %q", out, want)
	}
	d, err := h.m.Hooks().Load().Show("sltest.check")
	if err != nil || len(d.Providers) != 1 || d.Providers[0].Module != "policy" || !strings.HasSuffix(d.Providers[0].Site, "policy.lua:10") {
		t.Errorf("sltest.check providers = %+v (%v), want one of module policy at policy.lua:10", d.Providers, err)
	}
}

// TestLoadErrors: every way a script can fail to load rejects the start (or reload) with
// its sentinel and the script's file:line, before the configuration goes live.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   string
		src    string // contents of bad.lua; "" means no file
		want   error
		inText []string
	}{
		{"syntax", "", "local mod = {}\nfunction mod:init( return true end\n", ErrSyntax, []string{"bad.lua:2:"}},
		{"name mismatch", "", "local mod = {}\nfunction mod:init() return true end\nmsys.registerModule(\"other\", mod)\n", ErrNameMismatch, []string{"bad.lua:3:", `"other"`}},
		{"no usable methods", "", "local mod = {}\nfunction mod.helper() end\nmsys.registerModule(\"bad\", mod)\n", ErrNoMethods, []string{"no usable methods found for module bad in registerModule call"}},
		{"hook without adapter", "", "local mod = {}\nfunction mod:sltest_orphan() end\nmsys.registerModule(\"bad\", mod)\n", ErrNoAdapter, []string{"bad.lua:2", "sltest.orphan"}},
		{"init returns false", "", "local mod = {}\nfunction mod:init() return false end\nmsys.registerModule(\"bad\", mod)\n", ErrInit, []string{"bad.lua", "returned false"}},
		{"init raises", "", "local mod = {}\nfunction mod:init()\n  error(\"boom\")\nend\nmsys.registerModule(\"bad\", mod)\n", ErrInit, []string{"bad.lua:3:", "boom"}},
		{"chunk raises", "", "local x = nil\nx.y = 1\n", ErrLoad, []string{"bad.lua:2:"}},
		{"chunk endless", "call_timeout = 0.05", "while true do end\n", ErrTimeout, []string{"bad.lua"}},
		{"missing source", "", "", ErrNoSource, []string{"bad"}},
		{"oversize", "max_script_size = 64", "local mod = {}\n" + strings.Repeat("-- padding padding padding\n", 10), ErrTooLarge, []string{"over the maximum of 64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			if tc.src != "" {
				h.script("bad.lua", tc.src)
			}
			err := h.m.Start(t.Context(), h.conf(stanza(tc.opts, "bad=bad")))
			if !errors.Is(err, tc.want) || !errors.Is(err, modules.ErrRejected) {
				t.Fatalf("Start = %v, want %v and modules.ErrRejected", err, tc.want)
			}
			for _, s := range tc.inText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// TestSourceResolution: a source is found relative to the configuration's directory, then
// the libexec scriptlet directory; '.' and '/' separate directories; ".lua" is implied.
func TestSourceResolution(t *testing.T) {
	body := func(name string) string {
		return "local mod = {}\nfunction mod:sltest_check(s) return " + map[string]string{"a": "11", "b": "12", "boot": "13"}[name] +
			" end\nmsys.registerModule(\"" + name + "\", mod)\n"
	}
	for _, tc := range []struct {
		name, src, file string
		want            int
	}{
		{"slash", "policies/a", "policies/a.lua", 11},
		{"dots", "policies.b", "policies/b.lua", 12},
		{"lua suffix", "policies/a.lua", "policies/a.lua", 11},
		{"libexec", "msys.boot", "libexec/scriptlets/msys/boot.lua", 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			base := strings.TrimSuffix(tc.file[strings.LastIndex(tc.file, "/")+1:], ".lua")
			h.script(tc.file, body(base))
			h.start(stanza("", base+"="+tc.src))
			if got := h.check("x"); got != tc.want {
				t.Errorf("check = %d, want %d", got, tc.want)
			}
		})
	}
}
