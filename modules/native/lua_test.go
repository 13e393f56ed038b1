package native

import (
	"testing"

	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
)

// msys.cmod's functions, called as the scriptlet runtime would call them:
// results, typed failures, the path and state fields.
func TestLuaCmod(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod")
	s := scriptlet.String
	mv := e.loader.LuaLoad([]scriptlet.Value{s(e.soPath("testmod"))})
	m, ok := mv[0].ObjectOf(cmodModuleClass)
	if !ok {
		t.Fatalf("load = %v", mv)
	}
	fv, _ := luaModuleLoad(nil, m, []scriptlet.Value{s("echo")})
	f, ok := fv[0].ObjectOf(cmodFuncClass)
	if !ok {
		t.Fatalf("m:load(echo) = %v", fv)
	}
	got, _ := luaFuncCall(nil, f, []scriptlet.Value{s("x"), scriptlet.Int(42), scriptlet.Bool(true)})
	if len(got) != 4 || !got[0].Truthy() || got[1].String() != "x" || got[2].String() != "42" || got[3].String() != "true" {
		t.Errorf("f:call = %v", got)
	}
	cases := []struct {
		name string
		ret  []scriptlet.Value
		kind string
	}{
		{"load without path", e.loader.LuaLoad(nil), KindBadParams},
		{"load of a missing file", e.loader.LuaLoad([]scriptlet.Value{s(e.libexec + "/none.so")}), KindNoModule},
		{"no such function", first(luaModuleLoad(nil, m, []scriptlet.Value{s("nosuch")})), KindNoFunction},
		{"bad argument", first(luaFuncCall(nil, f, []scriptlet.Value{scriptlet.Nil()})), KindBadParams},
		{"failing function", first(luaFuncCall(nil, mustFunc(t, m.(*CModule), "fail"), nil)), KindModule},
	}
	for _, c := range cases {
		if len(c.ret) != 3 || !c.ret[0].IsNil() || c.ret[2].String() != c.kind {
			t.Errorf("%s: %v, want nil, err, %q", c.name, c.ret, c.kind)
		}
	}
	e.install("testmod", "VERSION=2")
	if r := first(luaModuleLoad(nil, m, []scriptlet.Value{s("echo")})); len(r) != 3 || r[2].String() != KindChanged {
		t.Errorf("load after a change: %v", r)
	}
	if r := first(luaModuleUnload(nil, m, nil)); !r[0].Truthy() {
		t.Errorf("unload: %v", r)
	}
	if r := first(luaModuleUnload(nil, m, nil)); len(r) != 3 || r[2].String() != KindUnloaded {
		t.Errorf("second unload: %v", r)
	}
}

func first(v []scriptlet.Value, _ error) []scriptlet.Value { return v }

func mustFunc(t *testing.T, m *CModule, name string) *CFunc {
	t.Helper()
	f, err := m.Func(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
