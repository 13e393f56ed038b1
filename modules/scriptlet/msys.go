package scriptlet

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/iowrap"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// maxReadFile bounds msys.readfile.
const maxReadFile = 64 << 20

// installMsys installs the msys global (no require needed), a require that returns it for
// "msys" and "msys.<part>", and print.
func (st *state) installMsys() {
	L := st.L
	fn := func(f lua.LGFunction) *lua.LFunction { return L.NewFunction(f) }
	msys := L.NewTable()
	msys.RawSetString("registerModule", fn(st.luaRegisterModule))
	msys.RawSetString("registerControl", fn(st.luaRegisterControl))
	msys.RawSetString("runInPool", fn(st.luaRunInPool))
	msys.RawSetString("config", fn(st.luaConfig))
	msys.RawSetString("readfile", fn(st.luaReadfile))
	msys.RawSetString("state", fn(st.luaState))
	msys.RawSetString("log", fn(st.luaLog))

	core := L.NewTable()
	for name, v := range map[string]int{
		"VALIDATE_CONT":                ValidateCont,
		"VALIDATE_DONE":                ValidateDone,
		"VALIDATE_AGAIN":               ValidateAgain,
		"VCTX_MESS":                    VctxMess,
		"VCTX_CONN":                    VctxConn,
		"ECTP_COMPLETE_CALLBACK":       int(threadpool.CompleteCallback),
		"ECTP_COMPLETE_CALLBACK_SCHED": int(threadpool.CompleteCallbackSched),
		"O_RDONLY":                     os.O_RDONLY,
		"O_WRONLY":                     os.O_WRONLY,
		"O_RDWR":                       os.O_RDWR,
		"O_CREAT":                      os.O_CREATE,
		"O_EXCL":                       os.O_EXCL,
		"O_TRUNC":                      os.O_TRUNC,
		"O_APPEND":                     os.O_APPEND,
	} {
		core.RawSetString(name, lua.LNumber(v))
	}
	core.RawSetString("get_now_ts", fn(func(L *lua.LState) int {
		L.Push(lua.LNumber(st.nowTS().Unix()))
		return 1
	}))
	core.RawSetString("io_wrapper_open", fn(st.luaIOOpen))
	msys.RawSetString("core", core)

	timer := L.NewTable()
	timer.RawSetString("after", fn(func(L *lua.LState) int { return st.luaTimer(L, "after") }))
	timer.RawSetString("at", fn(func(L *lua.LState) int { return st.luaTimer(L, "at") }))
	timer.RawSetString("every", fn(func(L *lua.LState) int { return st.luaTimer(L, "every") }))
	timer.RawSetString("cancel", fn(func(L *lua.LState) int {
		L.Push(lua.LBool(st.g.cancelTimer(L.CheckInt(1))))
		return 1
	}))
	msys.RawSetString("timer", timer)

	tp := L.NewTable()
	tp.RawSetString("count", fn(func(L *lua.LState) int {
		L.Push(lua.LNumber(len(st.g.rt.pools.Stats())))
		return 1
	}))
	tp.RawSetString("find", fn(st.luaPoolFind))
	tp.RawSetString("stat", fn(st.luaPoolStat))
	msys.RawSetString("threadpool", tp)

	dumper := L.NewTable()
	dumper.RawSetString("Dumper", fn(func(L *lua.LState) int {
		var b strings.Builder
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				b.WriteString("\n")
			}
			st.dump(&b, L.Get(i), "", 0)
		}
		L.Push(lua.LString(b.String()))
		return 1
	}))
	msys.RawSetString("dumper", dumper)

	extra := make([]string, 0, len(st.g.rt.opts.Msys))
	for n := range st.g.rt.opts.Msys {
		extra = append(extra, n)
	}
	sort.Strings(extra)
	for _, n := range extra {
		msys.RawSetString(n, st.toLuaNamed(st.g.rt.opts.Msys[n], "msys."+n))
	}

	names := make([]string, 0, len(st.g.rt.opts.Globals))
	for n := range st.g.rt.opts.Globals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if isIdent(n) && L.GetGlobal(n) == lua.LNil && n != "msys" {
			L.SetGlobal(n, st.toLua(st.g.rt.opts.Globals[n]))
		}
	}
	L.SetGlobal("msys", msys)
	L.SetGlobal("print", fn(st.luaPrint))
	L.SetGlobal("require", fn(func(L *lua.LState) int {
		name := L.CheckString(1)
		if name == "msys" {
			L.Push(msys)
			return 1
		}
		if part, ok := strings.CutPrefix(name, "msys."); ok {
			if t, ok := msys.RawGetString(part).(*lua.LTable); ok {
				L.Push(t)
				return 1
			}
			// msys.extended.* and other Momentum modules that group functions this
			// runtime keeps on msys itself: requiring them is harmless.
			L.Push(msys)
			return 1
		}
		L.RaiseError("require(%q): only the msys modules can be required", name)
		return 0
	}))
}

// luaRegisterModule is msys.registerModule(name, mod).
func (st *state) luaRegisterModule(L *lua.LState) int {
	name := L.CheckString(1)
	mod := L.CheckTable(2)
	sc := st.loading
	if sc == nil {
		L.RaiseError("msys.registerModule(%q) must be called while the script loads", name)
	}
	if !strings.EqualFold(name, sc.name) {
		st.raise(L, ErrNameMismatch, "msys.registerModule(%q): %v: the stanza names this script %q", name, ErrNameMismatch, sc.name)
	}
	if st.mods[sc.idx] != nil {
		L.RaiseError("msys.registerModule(%q) called twice", name)
	}
	st.mods[sc.idx] = mod
	if st.prime {
		if sentinel, err := st.g.registerProviders(sc, mod); err != nil {
			st.raise(L, sentinel, "%v", err)
		}
	}
	return 0
}

// registerProviders turns the module table's methods into hook providers: init and
// deinit are kept; a method bound to a hook (see Bind) is registered on it; a method named
// after a declared hook that has no Lua adapter is an error; other functions are the
// script's own helpers. Prime state, builder goroutine. It returns the error's sentinel
// and the error.
func (g *genState) registerProviders(sc *script, mod *lua.LTable) (sentinel error, err error) {
	if g.reg == nil {
		return ErrLoad, fmt.Errorf("scriptlet: %s: registerModule after the generation was built", sc.path)
	}
	type method struct {
		name string
		fn   *lua.LFunction
	}
	var ms []method
	mod.ForEach(func(k, v lua.LValue) {
		ks, ok1 := k.(lua.LString)
		fn, ok2 := v.(*lua.LFunction)
		if ok1 && ok2 {
			ms = append(ms, method{string(ks), fn})
		}
	})
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	usable := 0
	for _, m := range ms {
		switch m.name {
		case "init":
			sc.init = m.fn
			usable++
			continue
		case "deinit":
			sc.deinit = m.fn
			usable++
			continue
		}
		site := fmt.Sprintf("%s:%d", m.fn.Proto.SourceName, m.fn.Proto.LineDefined)
		b := bindingFor(m.name)
		if b == nil {
			if hook := declaredHook(g, m.name); hook != "" {
				return ErrNoAdapter, fmt.Errorf("scriptlet: %s: method %s provides hook %s, which has no Lua adapter", site, m.name, hook)
			}
			continue
		}
		p := &Provider{g: g, idx: len(g.providers), script: sc, method: m.name, hook: b.hook, site: site}
		if err := b.register(g.reg, sc.name, p, site); err != nil {
			return ErrLoad, fmt.Errorf("scriptlet: %s: %w", site, err)
		}
		g.providers = append(g.providers, p)
		usable++
	}
	if usable == 0 {
		return ErrNoMethods, fmt.Errorf("scriptlet: no usable methods found for module %s in registerModule call (%s)", sc.name, sc.path)
	}
	sc.registered, sc.mod = true, mod
	return nil, nil
}

// declaredHook returns the full name of a declared hook a method name would provide
// ("<scope>_<name>" split at any underscore), or "".
func declaredHook(g *genState, method string) string {
	for i := 1; i < len(method)-1; i++ {
		if method[i] != '_' {
			continue
		}
		full := method[:i] + "." + method[i+1:]
		if _, err := g.reg.Show(full); err == nil {
			return full
		}
	}
	return ""
}

// luaRegisterControl is msys.registerControl(name, fn).
func (st *state) luaRegisterControl(L *lua.LState) int {
	name := L.CheckString(1)
	fn := L.CheckFunction(2)
	if st.loading == nil {
		L.RaiseError("msys.registerControl(%q) must be called while the script loads (its chunk or init)", name)
	}
	if !st.prime {
		return 0 // the prime state registered it; replicas load the same chunk
	}
	if !isIdent(strings.ReplaceAll(name, "-", "_")) {
		L.ArgError(1, "a command name is a word of letters, digits, '_' and '-'")
	}
	if err := st.g.addControl(&control{name: name, fn: fn, st: st, site: where(L)}); err != nil {
		L.RaiseError("%v", err)
	}
	return 0
}

// luaTimer is msys.timer.after(seconds, fn), at(epoch, fn) and every(seconds, fn); it
// returns the timer's id for msys.timer.cancel.
func (st *state) luaTimer(L *lua.LState, kind string) int {
	n := float64(L.CheckNumber(1))
	fn := L.CheckFunction(2)
	if st.loading != nil && !st.prime {
		// A chunk loading into a replica: the prime state armed this timer already.
		L.Push(lua.LNumber(0))
		return 1
	}
	t := &luaTimer{g: st.g, st: st, fn: fn, site: where(L)}
	switch kind {
	case "at":
		sec := int64(n)
		t.at = time.Unix(sec, int64((n-float64(sec))*1e9))
	case "every":
		if n <= 0 {
			L.ArgError(1, "the interval must be positive")
		}
		t.every = true
		t.delay = time.Duration(n * float64(time.Second))
	default:
		t.delay = time.Duration(n * float64(time.Second))
	}
	L.Push(lua.LNumber(st.g.addTimer(t)))
	return 1
}

// luaConfig is msys.config(verb, args...): the console's config get and eval; it returns
// the value (nil when unset) and the console's text.
func (st *state) luaConfig(L *lua.LState) int {
	store := st.g.rt.opts.Store
	n := L.GetTop()
	args := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		args = append(args, L.CheckString(i))
	}
	if len(args) == 0 || (!strings.EqualFold(args[0], "get") && !strings.EqualFold(args[0], "eval")) {
		L.ArgError(1, `msys.config supports "get" and "eval"`)
	}
	if store == nil {
		L.RaiseError("msys.config: no configuration store")
	}
	var sess config.Session
	text, err := store.Command(&sess, args)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(configValue(text))
	L.Push(lua.LString(text))
	return 2
}

// configValue extracts the value of a "Name = value" console line; nil when the text is
// not one (an unset option's message).
func configValue(text string) lua.LValue {
	line, _, _ := strings.Cut(text, "\n")
	_, v, ok := strings.Cut(line, " = ")
	if !ok {
		return lua.LNil
	}
	v = strings.TrimSpace(v)
	if u, err := strconv.Unquote(v); err == nil {
		v = u
	}
	if v == "(" {
		// An array: keep the console's rendering of the items, one per line.
		return lua.LString(strings.TrimSpace(text[len(line):]))
	}
	return lua.LString(v)
}

// luaReadfile is msys.readfile(name): the content of a file or URL, or nil and the error.
// It blocks, so it is refused on the master loop.
func (st *state) luaReadfile(L *lua.LState) int {
	name := L.CheckString(1)
	if st.g.rt.onLoop() {
		st.raise(L, ErrCannotWait, "msys.readfile(%q) blocks: call it in init() or inside msys.runInPool", name)
	}
	data, err := st.g.rt.io.ReadFile(context.Background(), name, maxReadFile)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LString(data))
	return 1
}

// luaPrint is print(...): the paniclog, or the reply of a console command being run.
func (st *state) luaPrint(L *lua.LState) int {
	text := st.joinArgs(L, 1)
	if st.printTo != nil {
		st.printTo.WriteString(text)
		st.printTo.WriteString("\n")
		return 0
	}
	st.g.rt.log.Info(st.g.rt.paniclog(text), "script", where(L))
	return 0
}

// luaLog is msys.log(level, ...): a paniclog line at a Momentum debug level (DEBUG, INFO,
// NOTICE, WARNING, ERROR, CRITICAL).
func (st *state) luaLog(L *lua.LState) int {
	level := strings.ToUpper(L.CheckString(1))
	text := st.joinArgs(L, 2)
	rt := st.g.rt
	msg := rt.paniclog(text)
	switch level {
	case "DEBUG":
		rt.log.Debug(msg, "script", where(L))
	case "INFO", "NOTICE":
		rt.log.Info(msg, "script", where(L))
	case "WARNING":
		rt.log.Warn(msg, "script", where(L))
	case "ERROR", "CRITICAL":
		rt.log.Error(msg, "script", where(L))
	default:
		L.ArgError(1, "level must be DEBUG, INFO, NOTICE, WARNING, ERROR or CRITICAL")
	}
	return 0
}

// joinArgs renders arguments from n on as print does: tostring, tab-separated.
func (st *state) joinArgs(L *lua.LState, from int) string {
	var b strings.Builder
	for i := from; i <= L.GetTop(); i++ {
		if i > from {
			b.WriteString("\t")
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	return b.String()
}

// paniclog formats a paniclog line: "<epoch>:scriptlet: text", or the bare text when the
// Logger writes that prefix itself (Options.Prefixed).
func (rt *Runtime) paniclog(text string) string {
	if rt.opts.Prefixed {
		return text
	}
	return fmt.Sprintf("%d:scriptlet: %s", rt.now().Unix(), text)
}

// logError writes a script error to the paniclog.
func (rt *Runtime) logError(st *state, what string, err error) {
	args := []any{"err", err}
	if st != nil {
		args = append(args, "generation", st.g.id)
	}
	rt.log.Error(rt.paniclog(fmt.Sprintf("%s: %v", what, err)), args...)
}

// luaPoolFind is msys.threadpool.find(name|id): the id of a pool name, or the name of an
// id; nil when there is none.
func (st *state) luaPoolFind(L *lua.LState) int {
	pools := st.g.rt.pools
	switch v := L.CheckAny(1).(type) {
	case lua.LString:
		if c, ok := pools.Class(string(v)); ok {
			L.Push(lua.LNumber(c))
			return 1
		}
	case lua.LNumber:
		if n, ok := pools.ClassName(threadpool.ClassID(v)); ok {
			L.Push(lua.LString(n))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

// luaPoolStat is msys.threadpool.stat(name|id): the pool's statistics, or nil.
func (st *state) luaPoolStat(L *lua.LState) int {
	pools := st.g.rt.pools
	var name string
	switch v := L.CheckAny(1).(type) {
	case lua.LString:
		name = strings.ToUpper(string(v))
	case lua.LNumber:
		name, _ = pools.ClassName(threadpool.ClassID(v))
	}
	for _, s := range pools.Stats() {
		if s.Name != name || s.Retiring {
			continue
		}
		t := L.NewTable()
		set := func(k string, v lua.LValue) { t.RawSetString(k, v) }
		set("name", lua.LString(s.Name))
		set("invocations", lua.LNumber(s.Invocations))
		set("avg_concurrency", lua.LNumber(s.AvgConcurrency))
		set("saturation", lua.LNumber(s.Saturation))
		set("avg_wallclock_time_per_op", lua.LNumber(float64(s.AvgWallclock)/float64(time.Millisecond)))
		set("queue_sz", lua.LNumber(s.Queued))
		set("num_threads", lua.LNumber(s.Concurrency))
		set("num_active_threads", lua.LNumber(s.Busy))
		set("num_inactive_threads", lua.LNumber(s.Threads-s.Busy))
		set("job_num_queued", lua.LNumber(s.Queued))
		set("job_num_running", lua.LNumber(s.Busy))
		L.Push(t)
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// ioClass is the handle msys.core.io_wrapper_open returns: write(s [, len]), read(n),
// seek(offset, whence), close(). Like the open, its methods block, so they belong in a pool.
var ioClass = NewClass("io_wrapper", map[string]Method{
	"write": func(c *Call, self any, args []Value) ([]Value, error) {
		if err := c.mayBlock("io_wrapper:write"); err != nil {
			return nil, err
		}
		s, _ := argAt(args, 0).Str()
		if n, ok := argAt(args, 1).Int(); ok && n >= 0 && int(n) < len(s) {
			s = s[:n]
		}
		n, err := self.(iowrap.File).Write([]byte(s))
		if err != nil {
			return []Value{Nil(), String(err.Error())}, nil
		}
		return []Value{Int(int64(n))}, nil
	},
	"read": func(c *Call, self any, args []Value) ([]Value, error) {
		if err := c.mayBlock("io_wrapper:read"); err != nil {
			return nil, err
		}
		n, ok := argAt(args, 0).Int()
		if !ok || n <= 0 || n > maxReadFile {
			return nil, fmt.Errorf("read: a positive length up to %d expected", maxReadFile)
		}
		buf := make([]byte, n)
		got, err := self.(iowrap.File).Read(buf)
		if got == 0 && err != nil {
			return []Value{Nil(), String(err.Error())}, nil
		}
		return []Value{String(string(buf[:got]))}, nil
	},
	"seek": func(c *Call, self any, args []Value) ([]Value, error) {
		if err := c.mayBlock("io_wrapper:seek"); err != nil {
			return nil, err
		}
		off, _ := argAt(args, 0).Int()
		whence, _ := argAt(args, 1).Int()
		pos, err := self.(iowrap.File).Seek(off, int(whence))
		if err != nil {
			return []Value{Nil(), String(err.Error())}, nil
		}
		return []Value{Int(pos)}, nil
	},
	"close": func(c *Call, self any, args []Value) ([]Value, error) {
		if err := c.mayBlock("io_wrapper:close"); err != nil {
			return nil, err
		}
		if err := self.(iowrap.File).Close(); err != nil {
			return []Value{Nil(), String(err.Error())}, nil
		}
		return []Value{Bool(true)}, nil
	},
}, nil)

func argAt(args []Value, i int) Value {
	if i < len(args) {
		return args[i]
	}
	return Value{}
}

// mayBlock refuses blocking IO on the master loop.
func (c *Call) mayBlock(what string) error {
	if c.st.g.rt.onLoop() {
		return fmt.Errorf("%w: %s blocks: call it inside msys.runInPool", ErrCannotWait, what)
	}
	return nil
}

// luaIOOpen is msys.core.io_wrapper_open(path, flags, mode): a handle, or nil and the
// error. It blocks, so it is refused on the master loop.
func (st *state) luaIOOpen(L *lua.LState) int {
	name := L.CheckString(1)
	flags := L.OptInt(2, os.O_RDONLY)
	mode := L.OptInt(3, 0o644)
	if st.g.rt.onLoop() {
		st.raise(L, ErrCannotWait, "msys.core.io_wrapper_open(%q) blocks: call it inside msys.runInPool", name)
	}
	f, err := st.g.rt.io.Open(name, flags, fs.FileMode(mode))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(st.toLua(Object(ioClass, f)))
	return 1
}
