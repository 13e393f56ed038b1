package scriptlet

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// maxTableDepth bounds the copy of nested Lua tables into Go values (and the dumper), so
// that a table that contains itself cannot recurse forever.
const maxTableDepth = 32

// toLua converts v for st. Objects become userdata with their class's metatable (made once
// per state and class); tables become new Lua tables; functions new Lua functions.
func (st *state) toLua(v Value) lua.LValue { return st.toLuaNamed(v, "function") }

// toLuaNamed is toLua with the name a Go function is reached by in Lua (msys.cmod.load),
// which its errors start with; a table's functions are named after their keys.
func (st *state) toLuaNamed(v Value, name string) lua.LValue {
	switch v.kind {
	case BoolKind:
		return lua.LBool(v.num != 0)
	case NumberKind:
		return lua.LNumber(v.num)
	case StringKind:
		return lua.LString(v.str)
	case ObjectKind:
		ud := st.L.NewUserData()
		ud.Value = v.ref
		ud.Metatable = st.metaFor(v.cls)
		return ud
	case TableKind:
		t := v.ref.(*Table)
		lt := st.L.CreateTable(len(t.List), len(t.Fields))
		for i, e := range t.List {
			lt.RawSetInt(i+1, st.toLuaNamed(e, name))
		}
		for _, f := range t.Fields {
			lt.RawSetString(f.Key, st.toLuaNamed(f.Value, name+"."+f.Key))
		}
		return lt
	case FunctionKind:
		f := v.ref.(Function)
		m := func(c *Call, _ any, args []Value) ([]Value, error) { return f(c, args) }
		return st.L.NewFunction(func(L *lua.LState) int { return st.callGo(L, 1, name, nil, m) })
	}
	return lua.LNil
}

// fromLua converts a Lua value. Userdata of a class become objects; tables are copied
// (depth-limited); functions, threads and foreign userdata become nil.
func (st *state) fromLua(lv lua.LValue, depth int) Value {
	switch x := lv.(type) {
	case lua.LBool:
		return Bool(bool(x))
	case lua.LNumber:
		return Number(float64(x))
	case lua.LString:
		return String(string(x))
	case *lua.LUserData:
		if mt, ok := x.Metatable.(*lua.LTable); ok {
			if c := st.metaClass[mt]; c != nil {
				return Object(c, x.Value)
			}
		}
	case *lua.LTable:
		if depth >= maxTableDepth {
			return Value{}
		}
		t := &Table{}
		n := x.Len()
		for i := 1; i <= n; i++ {
			t.List = append(t.List, st.fromLua(x.RawGetInt(i), depth+1))
		}
		x.ForEach(func(k, val lua.LValue) {
			if kn, ok := k.(lua.LNumber); ok && float64(kn) >= 1 && float64(kn) <= float64(n) && float64(kn) == float64(int(kn)) {
				return
			}
			t.Fields = append(t.Fields, Field{Key: k.String(), Value: st.fromLua(val, depth+1)})
		})
		sort.Slice(t.Fields, func(i, j int) bool { return t.Fields[i].Key < t.Fields[j].Key })
		return TableOf(t)
	}
	return Value{}
}

// metaFor returns st's metatable for class c, making it on first use: __index finds a
// method (a Go function checking its self) or a field, __tostring names the class.
func (st *state) metaFor(c *Class) *lua.LTable {
	if mt := st.classMeta[c]; mt != nil {
		return mt
	}
	L := st.L
	mt := L.NewTable()
	methods := L.NewTable()
	for name, m := range c.methods {
		methods.RawSetString(name, L.NewFunction(st.methodFunc(c, name, m)))
	}
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		ud := L.CheckUserData(1)
		key := L.CheckString(2)
		if m := methods.RawGetString(key); m != lua.LNil {
			L.Push(m)
			return 1
		}
		if g := c.fields[key]; g != nil {
			L.Push(st.toLua(g(ud.Value)))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s objects are read-only (setting %q)", c.name, L.CheckString(2))
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(fmt.Sprintf("%s: %p", c.name, L.CheckUserData(1).Value)))
		return 1
	}))
	if c.call != nil {
		mt.RawSetString("__call", L.NewFunction(st.methodFunc(c, CallMethod, c.call)))
	}
	mt.RawSetString("__metatable", lua.LString(c.name))
	st.classMeta[c] = mt
	st.metaClass[mt] = c
	return mt
}

// methodFunc wraps a Method as a Lua function: it checks that self is an object of c,
// converts the arguments and results, raises the Method's error, and yields when the Method
// asked for pool work in a coroutine.
func (st *state) methodFunc(c *Class, name string, m Method) lua.LGFunction {
	what := c.name + ":" + name
	if name == CallMethod {
		what = c.name
	}
	return func(L *lua.LState) int {
		ud, ok := L.Get(1).(*lua.LUserData)
		if !ok || st.metaClass[asTable(ud.Metatable)] != c {
			L.RaiseError("%s.%s: call it as a method (obj:%s(...)) on a %s", c.name, name, name, c.name)
			return 0
		}
		return st.callGo(L, 2, what, ud.Value, m)
	}
}

// callGo runs m(self, args) for Lua: the arguments from index from on are converted, and
// so are the results; an error is raised in Lua (prefixed with what), and a request for
// pool work inside a coroutine yields.
func (st *state) callGo(L *lua.LState, from int, what string, self any, m Method) int {
	n := L.GetTop()
	args := make([]Value, 0, max(n-from+1, 0))
	for i := from; i <= n; i++ {
		args = append(args, st.fromLua(L.Get(i), 0))
	}
	res, err := m(&st.call, self, args)
	if errors.Is(err, errYield) {
		L.SetTop(0)
		return -1
	}
	if err != nil {
		if errors.Is(err, ErrCannotWait) {
			st.raised = ErrCannotWait
		}
		L.RaiseError("%s: %v", what, err)
		return 0
	}
	for _, r := range res {
		L.Push(st.toLua(r))
	}
	return len(res)
}

func asTable(v lua.LValue) *lua.LTable {
	t, _ := v.(*lua.LTable)
	return t
}

// dump renders a Lua value as msys.dumper.Dumper does: tables recursively with sorted
// keys, strings quoted.
func (st *state) dump(b *strings.Builder, v lua.LValue, indent string, depth int) {
	switch x := v.(type) {
	case lua.LString:
		fmt.Fprintf(b, "%q", string(x))
	case *lua.LTable:
		if depth >= maxTableDepth {
			b.WriteString("{ ... }")
			return
		}
		type kv struct {
			k string
			v lua.LValue
		}
		var kvs []kv
		x.ForEach(func(k, val lua.LValue) {
			ks := k.String()
			if s, ok := k.(lua.LString); ok {
				ks = fmt.Sprintf("%q", string(s))
			}
			kvs = append(kvs, kv{"[" + ks + "]", val})
		})
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
		if len(kvs) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for _, e := range kvs {
			b.WriteString(indent + "  " + e.k + " = ")
			st.dump(b, e.v, indent+"  ", depth+1)
			b.WriteString(",\n")
		}
		b.WriteString(indent + "}")
	case *lua.LUserData:
		if n, ok := x.Value.(*pnode); ok {
			st.dump(b, n.snapshot(st.L), indent, depth)
			return
		}
		b.WriteString(lua.LVAsString(st.L.ToStringMeta(x)))
	default:
		b.WriteString(v.String())
	}
}
