package scriptlet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/modules"
)

const greeterScript = `local mod = {}
function mod:init()
  msys.registerControl("hello", function(cc) print("hello from greeter") end)
  return true
end
function mod:sltest_check(s) return 21 end
msys.registerModule("greeter", mod)
`

func (h *harness) status(name string) modules.ModuleStatus {
	for _, st := range h.m.Modules() {
		if strings.EqualFold(st.Name, name) {
			return st
		}
	}
	h.t.Fatalf("module %s not in the catalogue", name)
	return modules.ModuleStatus{}
}

// TestLuaModuleByName: a stanza naming greeter, with no built-in greeter, loads
// greeter.lua from the Lua module directory as a Lua module that requires the scriptlet
// runtime (loaded for it with no stanza); its providers and commands work.
func TestLuaModuleByName(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("lua/greeter.lua", greeterScript)
	h.start("greeter { }\n")
	if got := h.check("x"); got != 21 {
		t.Errorf("check = %d, want 21 from the Lua module", got)
	}
	if got := h.gen().Modules(); strings.Join(got, " ") != "scriptlet:scriptlet greeter" {
		t.Errorf("loaded %v, want the runtime before the Lua module", got)
	}
	if st := h.status("greeter"); st.Kind != modules.Lua || st.State != modules.Loaded {
		t.Errorf("greeter is %s/%s, want lua/loaded", st.Kind, st.State)
	}
	out, err := h.m.Control([]string{"greeter", "hello"})
	if err != nil || out != "hello from greeter\n" {
		t.Errorf("greeter hello = %q, %v", out, err)
	}
}

// TestLuaModuleMissing: without a runtime, or over the maximum size, the Lua module is
// reported missing with that reason, and a configuration naming it is rejected.
func TestLuaModuleMissing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ho     harnessOpts
		want   error
		reason string
	}{
		{"no runtime", harnessOpts{noRuntime: true}, ErrUnavailable, "runtime unavailable"},
		{"oversize", harnessOpts{luaMaxSize: 32}, ErrTooLarge, "over the maximum of 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.ho)
			h.script("lua/greeter.lua", greeterScript)
			err := h.m.Start(t.Context(), h.conf("greeter { }\n"))
			if !errors.Is(err, modules.ErrMissing) {
				t.Errorf("Start = %v, want modules.ErrMissing", err)
			}
			st := h.status("greeter")
			if st.State != modules.Missing || !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("greeter is %s (%q), want missing because %q", st.State, st.Reason, tc.reason)
			}
		})
	}
}

// TestLuaModuleLoadErrorRejects: a Lua module whose script fails rejects the reload like
// a stanza script.
func TestLuaModuleLoadErrorRejects(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("lua/greeter.lua", greeterScript)
	h.start("greeter { }\n")
	if err := os.WriteFile(filepath.Join(h.luaD, "greeter.lua"), []byte("local mod = {}\nmsys.registerModule(\"other\", mod)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := h.reload("greeter { }\n")
	if !errors.Is(err, ErrNameMismatch) || !strings.Contains(err.Error(), "greeter.lua:2:") {
		t.Errorf("reload = %v, want ErrNameMismatch at greeter.lua:2", err)
	}
	if got := h.check("x"); got != 21 {
		t.Errorf("check = %d, want 21 (old module still serving)", got)
	}
}
