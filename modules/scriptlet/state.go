package scriptlet

import (
	"errors"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// waitMode says what a blocking request from Lua (a synchronous runInPool, Call.InPool)
// does in the call that makes it.
type waitMode uint8

const (
	// modeRefuse: on the master loop with nobody to suspend: the request fails.
	modeRefuse waitMode = iota
	// modeBlock: off the loop: the goroutine waits for the work.
	modeBlock
	// modeSuspend: inside a coroutine: the call yields and resumes when the work is done.
	modeSuspend
)

// state is one Lua interpreter of a generation: a gopher-lua LState with the whitelisted
// libraries and the msys API, every script of the generation loaded, and a reusable
// coroutine thread for calls that may suspend. A state is used by one goroutine at a time:
// its owner, who took it from the generation (get, lockState, withState) and gives it back
// with release. Every field below g is the owner's.
type state struct {
	g     *genState
	L     *lua.LState
	th    *lua.LState // coroutine for suspendable calls; replaced after an error
	dl    *deadline
	prime bool // the generation's first state: init, deinit, controls and migrations run here

	mods []*lua.LTable    // by script index: the table given to registerModule
	fns  []*lua.LFunction // by provider index: the provider's method in this state

	classMeta map[*Class]*lua.LTable
	metaClass map[*lua.LTable]*Class
	proxyMeta *lua.LTable // metatable of persistent-state proxies

	call     Call         // handed to Methods
	argbuf   []lua.LValue // scratch for Resume arguments
	loading  *script      // the script whose chunk runs now
	mode     waitMode
	pending  *poolOp   // set by a Go function just before it yields
	deferred []*poolOp // async runInPool work, run once the current call has ended
	printTo  *strings.Builder
	raised   error // a sentinel to wrap the Lua error raised next with
	inPool   bool  // running pool work: blocking calls (io) are allowed
	closed   bool

	// Guarded by g.mu: whether an owner holds the state, and who waits for it.
	owned   bool
	waiters []func()
}

// luaOptions size new interpreters small: states are many (one per concurrent call) and
// most calls are short, so stacks start small and grow on demand.
var luaOptions = lua.Options{
	SkipOpenLibs:        true,
	CallStackSize:       200,
	RegistrySize:        256,
	RegistryMaxSize:     256 * 1024,
	RegistryGrowStep:    256,
	MinimizeStackMemory: true,
}

// newState creates an interpreter for g with every script loaded. prime says whether it is
// the generation's prime state (whose registerModule registers providers); the prime state
// is created empty and scripts are added with loadScript. It counts as a state creation.
func (g *genState) newState(prime bool) (*state, error) {
	g.rt.created.Add(1)
	st := &state{
		g: g, prime: prime, dl: newDeadline(),
		classMeta: map[*Class]*lua.LTable{}, metaClass: map[*lua.LTable]*Class{},
	}
	st.call.st = st
	st.L = lua.NewState(luaOptions)
	// The thread is made before the context is set: NewThread would otherwise derive a
	// cancellable child context, which costs a goroutine per thread.
	st.th, _ = st.L.NewThread()
	st.L.SetContext(st.dl)
	st.th.SetContext(st.dl)
	g.rt.addDeadline(st.dl)
	if err := st.openLibs(g.set.libs); err != nil {
		st.close()
		return nil, err
	}
	st.installMsys()
	if !prime {
		st.mods = make([]*lua.LTable, len(g.scripts))
		for _, sc := range g.scripts {
			if err := st.loadScript(sc); err != nil {
				st.close()
				return nil, err
			}
		}
		st.fns = make([]*lua.LFunction, len(g.providers))
		for i, p := range g.providers {
			if mod := st.mods[p.script.idx]; mod != nil {
				st.fns[i], _ = mod.RawGetString(p.method).(*lua.LFunction)
			}
		}
	}
	return st, nil
}

// close releases the interpreter. Idempotent.
func (st *state) close() {
	if st.closed {
		return
	}
	st.closed = true
	st.g.rt.removeDeadline(st.dl)
	st.L.Close()
}

// libSet is the operator's choice of unsafe libraries (enable_libraries).
type libSet struct {
	os     bool // the whole os library (execute, remove, rename, getenv, exit ...)
	io     bool // the io library (files, popen)
	dofile bool // dofile and loadfile of arbitrary paths
}

// openLibs opens the libraries a policy needs: base without file loading, string, table,
// math, coroutine, and os reduced to time, clock, date and difftime; the rest only when
// the operator enables it.
func (st *state) openLibs(libs libSet) error {
	L := st.L
	open := func(name string, fn lua.LGFunction) error {
		L.Push(L.NewFunction(fn))
		L.Push(lua.LString(name))
		return L.PCall(1, 0, nil)
	}
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs},
	} {
		if err := open(lib.name, lib.fn); err != nil {
			return fmt.Errorf("scriptlet: opening Lua library %q: %w", lib.name, err)
		}
	}
	if libs.io {
		if err := open(lua.IoLibName, lua.OpenIo); err != nil {
			return fmt.Errorf("scriptlet: opening Lua library io: %w", err)
		}
	}
	if !libs.os {
		if os, ok := L.GetGlobal("os").(*lua.LTable); ok {
			safe := L.NewTable()
			for _, k := range []string{"time", "clock", "date", "difftime"} {
				safe.RawSetString(k, os.RawGetString(k))
			}
			L.SetGlobal("os", safe)
		}
	}
	G := L.G.Global
	// require and module come from the package library, which is not opened: require is
	// replaced by one that knows msys; print goes to the paniclog (or a control reply).
	for _, k := range []string{"module", "_printregs"} {
		G.RawSetString(k, lua.LNil)
	}
	if !libs.dofile {
		G.RawSetString("dofile", lua.LNil)
		G.RawSetString("loadfile", lua.LNil)
	}
	// pairs honours a __pairs metamethod (Lua 5.2), so that persistent-state proxies
	// iterate like tables.
	basePairs := G.RawGetString("pairs")
	G.RawSetString("pairs", L.NewFunction(func(L *lua.LState) int {
		v := L.CheckAny(1)
		if mt, ok := L.GetMetatable(v).(*lua.LTable); ok {
			if fn, ok := mt.RawGetString("__pairs").(*lua.LFunction); ok {
				L.Push(fn)
				L.Push(v)
				L.Call(1, 3)
				return 3
			}
		}
		L.Push(basePairs)
		L.Push(v)
		L.Call(1, 3)
		return 3
	}))
	return nil
}

// loadScript runs sc's compiled chunk in st. In the prime state its registerModule call
// registers providers; in a replica it only records the module table.
func (st *state) loadScript(sc *script) error {
	for len(st.mods) <= sc.idx {
		st.mods = append(st.mods, nil)
	}
	st.loading = sc
	defer func() { st.loading = nil }()
	st.mode = modeBlock
	if st.g.rt.onLoop() {
		st.mode = modeRefuse
	}
	fn := st.L.NewFunctionFromProto(sc.proto)
	st.L.Push(fn)
	st.dl.arm(st.g.rt, st.g.set.callTimeout)
	err := st.L.PCall(0, 0, nil)
	timedOut := st.dl.disarm()
	if err != nil {
		return st.wrapLuaErr(ErrLoad, err, timedOut, sc.path)
	}
	return nil
}

// wrapLuaErr turns a Lua error into this package's error: the sentinel a Go function
// recorded in st.raised, ErrTimeout, or kind, with the Lua message (which starts with the
// script's file:line).
func (st *state) wrapLuaErr(kind error, err error, timedOut bool, where string) error {
	msg := luaMessage(err)
	sentinel := kind
	switch {
	case timedOut:
		sentinel = ErrTimeout
	case st.raised != nil:
		sentinel = st.raised
	}
	st.raised = nil
	if where != "" && !strings.HasPrefix(msg, where) {
		msg = where + ": " + msg
	}
	return fmt.Errorf("%w: %s", sentinel, msg)
}

// luaMessage returns a Lua error's message without its traceback.
func luaMessage(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Object != nil {
		return strings.TrimSpace(ae.Object.String())
	}
	return strings.TrimSpace(err.Error())
}

// raise records sentinel for wrapLuaErr and raises msg as a Lua error at the caller's
// position. It does not return.
func (st *state) raise(L *lua.LState, sentinel error, format string, args ...any) {
	st.raised = sentinel
	L.RaiseError(format, args...)
}

// release gives the state back: first to its deferred async work, then to a waiter for
// this very state, then to the generation's pool (or closes it when the generation has
// closed). The owner calls it once, at the end of its use.
func (st *state) release() {
	st.printTo = nil
	st.mode = modeRefuse
	if len(st.deferred) > 0 {
		op := st.deferred[0]
		st.deferred = st.deferred[1:]
		st.g.rt.startDeferred(st, op)
		return
	}
	st.g.put(st)
}

// where returns "file:line" of the Lua code that called the running Go function.
func where(L *lua.LState) string {
	return strings.TrimSuffix(L.Where(1), ":")
}

// nowTS is msys.core.get_now_ts.
func (st *state) nowTS() time.Time { return st.g.rt.now() }
