package native

import (
	"errors"
	"fmt"

	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
)

// This file is msys.cmod for Lua scripts, written against the scriptlet
// facade (no Lua type here):
//
//	local m, err = msys.cmod.load("/path/lib.so")   -- module object, or nil, err, kind
//	local f, err = m:load("function")                -- function object, or nil, err, kind
//	local ok, r1, r2 = f("a", 1)                     -- true, results... or nil, err, kind
//	local ok, r1 = f:call("a", 1)                    -- the same
//	print(m.path, m.state)                           -- state: "cached" or "orphan"
//	m:unload(); f:release()
//
// Module and function objects hold references on their load; the Go
// collector releases those the scripts drop without unload/release (the
// Lua collector drops the objects, which are Go values). Errors are typed by
// their third value: LuaErrKind.
//
// The daemon installs the library with the scriptlet runtime's Options.Msys:
//
//	scriptlet.Options{Msys: map[string]scriptlet.Value{"cmod": loader.LuaLibrary()}}

// The kinds of cmod errors, the third value of a failed call.
const (
	KindBadParams  = "bad parameters"
	KindSystem     = "system error"
	KindNoModule   = "no such module"
	KindNoFunction = "no such function"
	KindChanged    = "module changed on disk"
	KindUnloaded   = "module unloaded"
	KindModule     = "module error"
)

// LuaErrKind returns the kind of a cmod error.
func LuaErrKind(err error) string {
	switch {
	case errors.Is(err, ErrBadParams):
		return KindBadParams
	case errors.Is(err, ErrNoLibrary), errors.Is(err, ErrDlopen):
		return KindNoModule
	case errors.Is(err, ErrSymbol):
		return KindNoFunction
	case errors.Is(err, ErrChanged):
		return KindChanged
	case errors.Is(err, ErrUnloaded):
		return KindUnloaded
	case errors.Is(err, ErrModule):
		return KindModule
	}
	return KindSystem
}

// luaFail is what a failed cmod operation returns to Lua.
func luaFail(err error) []scriptlet.Value {
	return []scriptlet.Value{scriptlet.Nil(), scriptlet.String(err.Error()), scriptlet.String(LuaErrKind(err))}
}

// The classes of cmod objects, immutable once made.
var (
	cmodModuleClass = scriptlet.NewClass("cmod.module",
		map[string]scriptlet.Method{"load": luaModuleLoad, "unload": luaModuleUnload},
		map[string]scriptlet.Getter{
			"path":  func(self any) scriptlet.Value { return scriptlet.String(self.(*CModule).Path()) },
			"state": func(self any) scriptlet.Value { return scriptlet.String(self.(*CModule).State()) },
		})
	cmodFuncClass = scriptlet.NewClass("cmod.function",
		map[string]scriptlet.Method{"call": luaFuncCall, scriptlet.CallMethod: luaFuncCall, "release": luaFuncRelease},
		map[string]scriptlet.Getter{
			"name": func(self any) scriptlet.Value { return scriptlet.String(self.(*CFunc).Name()) },
		})
)

// LuaLibrary returns the msys.cmod library of l for the scriptlet runtime's
// Options.Msys: a table whose load function is LuaLoad.
func (l *Loader) LuaLibrary() scriptlet.Value {
	return scriptlet.TableOf(&scriptlet.Table{Fields: []scriptlet.Field{
		{Key: "load", Value: scriptlet.Func(func(_ *scriptlet.Call, args []scriptlet.Value) ([]scriptlet.Value, error) {
			return l.LuaLoad(args), nil
		})},
	}})
}

// LuaLoad is msys.cmod.load(path): a module object, or nil, err, kind. It
// runs on the script's goroutine; a load reads and copies the library, so
// scripts on the loop should load at init.
func (l *Loader) LuaLoad(args []scriptlet.Value) []scriptlet.Value {
	if len(args) != 1 {
		return luaFail(fmt.Errorf("%w: msys.cmod.load takes one path", ErrBadParams))
	}
	path, ok := args[0].Str()
	if !ok {
		return luaFail(fmt.Errorf("%w: msys.cmod.load: the path must be a string", ErrBadParams))
	}
	m, err := l.LoadC(path)
	if err != nil {
		return luaFail(err)
	}
	return []scriptlet.Value{scriptlet.Object(cmodModuleClass, m)}
}

func luaModuleLoad(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
	name, ok := "", len(args) == 1
	if ok {
		name, ok = args[0].Str()
	}
	if !ok {
		return luaFail(fmt.Errorf("%w: module:load takes one function name", ErrBadParams)), nil
	}
	f, err := self.(*CModule).Func(name)
	if err != nil {
		return luaFail(err), nil
	}
	return []scriptlet.Value{scriptlet.Object(cmodFuncClass, f)}, nil
}

func luaModuleUnload(_ *scriptlet.Call, self any, _ []scriptlet.Value) ([]scriptlet.Value, error) {
	if err := self.(*CModule).Unload(); err != nil {
		return luaFail(err), nil
	}
	return []scriptlet.Value{scriptlet.Bool(true)}, nil
}

func luaFuncRelease(_ *scriptlet.Call, self any, _ []scriptlet.Value) ([]scriptlet.Value, error) {
	if err := self.(*CFunc).Release(); err != nil {
		return luaFail(err), nil
	}
	return []scriptlet.Value{scriptlet.Bool(true)}, nil
}

// luaFuncCall calls the C function with its arguments as strings (numbers
// and booleans as Lua prints them; nil, objects and tables are bad
// parameters) and returns true and the results.
func luaFuncCall(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
	strs := make([]string, len(args))
	for i, a := range args {
		switch a.Kind() {
		case scriptlet.StringKind, scriptlet.NumberKind, scriptlet.BoolKind:
			strs[i] = a.String()
		default:
			return luaFail(fmt.Errorf("%w: cmod arguments are strings, numbers or booleans", ErrBadParams)), nil
		}
	}
	res, err := self.(*CFunc).Call(strs...)
	if err != nil {
		return luaFail(err), nil
	}
	out := make([]scriptlet.Value, 0, len(res)+1)
	out = append(out, scriptlet.Bool(true))
	for _, r := range res {
		out = append(out, scriptlet.String(r))
	}
	return out, nil
}
