package native

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
)

// TestCmodFromScript: msys.cmod as a script sees it once the loader's LuaLibrary is
// installed in the scriptlet runtime: load, path, state, a function called as f(...)
// and as f:call(...), typed failures, unload; after a rebuild a new load is cached and
// the held one orphaned, and the function looked up before the rebuild still runs the
// old code.
func TestCmodFromScript(t *testing.T) {
	var rt *scriptlet.Runtime
	b := modules.NewBuiltins()
	e := newEnv(t, nil, b.Loader())
	rt = scriptlet.New(scriptlet.Options{
		Logger: slog.New(e.logs),
		Msys:   map[string]scriptlet.Value{"cmod": e.loader.LuaLibrary()},
	})
	t.Cleanup(func() { rt.Close() })
	b.Register(rt.Info())
	e.install("testmod")
	so := e.soPath("testmod")
	script := `local held, heldf
local mod = {}
function mod:init()
  msys.registerControl("first", function(cc)
    local m, err, kind = msys.cmod.load(cc.argv[1])
    print("load", m.path == cc.argv[1], m.state)
    local f = m:load("echo")
    print("call", f("x", 42, true))
    print("method", f:call("y"))
    print("fail", m:load("fail")())
    print("nosuch", m:load("nosuch"))
    print("missing", msys.cmod.load(cc.argv[1] .. ".none"))
    print("badarg", msys.cmod.load())
    print("unload", m:unload())
    print("again", m:unload())
    held = msys.cmod.load(cc.argv[1])
    heldf = held:load("whoami")
  end)
  msys.registerControl("second", function(cc)
    local m = msys.cmod.load(cc.argv[1])
    print("states", m.state, held.state)
    print("old", heldf())
    print("new", m:load("whoami")())
  end)
  return true
end
msys.registerModule("cm", mod)
`
	if err := os.WriteFile(filepath.Join(e.libexec, "cm.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(`scriptlet "scriptlet" { script "cm" { source = "cm" } }`)
	out := e.control("scriptlet", "first", so)
	want := []string{
		"load\ttrue\tcached",
		"call\ttrue\tx\t42\ttrue",
		"method\ttrue\ty",
		"fail\tnil\t*\t" + KindModule,
		"nosuch\tnil\t*\t" + KindNoFunction,
		"missing\tnil\t*\t" + KindNoModule,
		"badarg\tnil\t*\t" + KindBadParams,
		"unload\ttrue",
		"again\tnil\t*\t" + KindUnloaded,
	}
	matchLines(t, out, want)

	e.install("testmod", "VERSION=2")
	out = e.control("scriptlet", "second", so)
	matchLines(t, out, []string{"states\tcached\torphan", "old\ttrue\tv1", "new\ttrue\tv2"})
}

// matchLines compares a reply line by line; a '*' in a wanted line matches any text.
func matchLines(t *testing.T, out string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("reply:\n%s\nwant %d lines:\n%s", out, len(want), strings.Join(want, "\n"))
	}
	for i, w := range want {
		head, tail, wild := strings.Cut(w, "*")
		if ok := lines[i] == w || wild && strings.HasPrefix(lines[i], head) && strings.HasSuffix(lines[i], tail); !ok {
			t.Errorf("line %d = %q, want %q", i+1, lines[i], w)
		}
	}
}
