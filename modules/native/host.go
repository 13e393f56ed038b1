package native

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
)

// phase says what a host context may do.
type phase uint8

const (
	// phaseSetup: conf_setup and migrate of a version: options, memory
	// types, hooks (recorded for the generations the version serves) and
	// the persistent state may be set.
	phaseSetup phase = iota
	// phaseLong: the version's conf_setup context after conf_setup; kept by
	// the module for providers, jobs and timers.
	phaseLong
	// phaseInit: ext_init(EC_INIT): hooks go into the generation's registry.
	phaseInit
	// phaseExt: ext_init(EC_POST_INIT / EC_DESTROY).
	phaseExt
	// phaseControl: a console command; has a reply.
	phaseControl
	// phaseCall: a cmod function call; has results.
	phaseCall
)

// hostCtx is what an ec_ctx word stands for: the library and module a call
// is for, the generation and instance it serves, and what the module's calls
// into the host collected (errors, reply text).
type hostCtx struct {
	id       uintptr
	l        *Loader
	lib      *library
	v        *version // nil for cmod calls
	gen      *modules.Generation
	instance string
	reg      *hooks.Registry // phaseInit: the registry being built

	// mu guards the fields below: a long context may be used by jobs in
	// workers and timers on the loop at once.
	mu       sync.Mutex
	ph       phase
	errs     []error
	reply    strings.Builder
	results  []string
	state    uintptr
	stateSet bool
}

// contexts maps ec_ctx words to contexts. Words are never reused, so a word
// a module kept beyond its validity finds nothing rather than someone else's
// context. The guarded registry that the C callbacks need, since a callback
// receives only words.
var contexts struct {
	mu sync.Mutex
	// mu guards next and byID.
	next uintptr
	byID map[uintptr]*hostCtx
}

// newContext registers a context for lib in phase ph.
func newContext(l *Loader, lib *library, v *version, ph phase) *hostCtx {
	c := &hostCtx{l: l, lib: lib, v: v, ph: ph}
	contexts.mu.Lock()
	defer contexts.mu.Unlock()
	if contexts.byID == nil {
		contexts.byID = map[uintptr]*hostCtx{}
	}
	contexts.next++
	c.id = contexts.next
	contexts.byID[c.id] = c
	return c
}

// done unregisters a call context once its call returned.
func (c *hostCtx) done() {
	contexts.mu.Lock()
	defer contexts.mu.Unlock()
	delete(contexts.byID, c.id)
}

// dropContexts unregisters every context of a library being closed (its
// long contexts).
func dropContexts(lib *library) {
	contexts.mu.Lock()
	defer contexts.mu.Unlock()
	for id, c := range contexts.byID {
		if c.lib == lib {
			delete(contexts.byID, id)
		}
	}
}

// lookupContext returns the context of word id, or nil.
func lookupContext(id uintptr) *hostCtx {
	contexts.mu.Lock()
	defer contexts.mu.Unlock()
	return contexts.byID[id]
}

func (c *hostCtx) phase() phase {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ph
}

func (c *hostCtx) setPhase(ph phase) {
	c.mu.Lock()
	c.ph = ph
	c.mu.Unlock()
}

// logger returns the logger of the context's module.
func (c *hostCtx) logger() *slog.Logger {
	if c.v != nil {
		return c.v.s.log()
	}
	return c.lib.c.log.With("library", c.lib.path)
}

// fail records err as a reason the module's current call may fail, logs it
// and returns the header's code for it.
func (c *hostCtx) fail(fn string, err error) int {
	err = fmt.Errorf("%s: %w", fn, err)
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
	c.logger().Warn("native: host function refused", "err", err)
	return codeOf(err)
}

// takeErrs returns and clears the recorded errors.
func (c *hostCtx) takeErrs() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.errs...)
	c.errs = nil
	return err
}

// codeOf maps an error to the header's EC_E* code.
func codeOf(err error) int {
	switch {
	case errors.Is(err, errNotFound):
		return cENOENT
	case errors.Is(err, ErrNoAdapter), errors.Is(err, errPhase), errors.Is(err, ErrRestart):
		return cENOTSUP
	case errors.Is(err, errExists):
		return cEEXIST
	case errors.Is(err, errNoMemory):
		return cENOMEM
	}
	return cEINVAL
}

// Internal causes, wrapped inside the public sentinels' messages, that pick
// the EC_E* code a host function returns.
var (
	errNotFound = errors.New("not found")
	errPhase    = errors.New("not allowed in this phase")
	errExists   = errors.New("registered already with another definition")
	errNoMemory = errors.New("out of memory")
)

// hostTable returns the address of the process's ec_host_api, building it
// the first time: its function pointers are purego callbacks, of which a
// process can make only a bounded number (2000), so there is one table for
// every module and every load.
func hostTable() (uintptr, error) {
	table.once.Do(func() {
		m, err := mapC(hostTableSize)
		if err != nil {
			table.err = err
			return
		}
		*(*uint32)(unsafe.Pointer(&m.b[0])) = ABIVersion
		*(*uint32)(unsafe.Pointer(&m.b[4])) = hostTableSize
		fns := [hostTableSlots]any{
			hostLog, hostHookRegister, hostOptionRegister, hostOptionInt, hostOptionString,
			hostMemtypeRegister, hostMemAlloc, hostMemFree, hostReplyWrite, hostJobQueue,
			hostTimerAfter, hostHandleInt, hostHandleString, hostStateSet,
		}
		for i, fn := range fns {
			*(*uintptr)(unsafe.Pointer(&m.b[8+8*i])) = purego.NewCallback(fn)
		}
		table.addr = m.addr(0)
	})
	return table.addr, table.err
}

// table is the process's host function table, built once and never changed.
var table struct {
	once sync.Once
	addr uintptr
	err  error
}

// guard runs a host function for C: a Go panic must not unwind through C
// frames, so it becomes an error code and a log line.
func guard(name string, ctxID uintptr, f func(c *hostCtx) int) (code int) {
	c := lookupContext(ctxID)
	if c == nil {
		return cEINVAL
	}
	defer func() {
		if r := recover(); r != nil {
			code = c.fail(name, fmt.Errorf("%w: host panic: %v", ErrBadParams, r))
		}
	}()
	return f(c)
}

// The host functions, in the order of struct ec_host_api. Parameters that C
// declares int are int32 here: the upper half of a register holding a C int
// is undefined.

func hostLog(ctx uintptr, level int32, msg uintptr) {
	guard("log", ctx, func(c *hostCtx) int {
		lvl := slog.LevelError
		switch level {
		case 0:
			lvl = slog.LevelDebug
		case 1:
			lvl = slog.LevelInfo
		case 2:
			lvl = slog.LevelWarn
		}
		c.logger().Log(context.Background(), lvl, goString(msg, 64<<10), "load", c.lib.seq)
		return cOK
	})
}

func hostHookRegister(ctx, hook uintptr, position int32, fn, closure uintptr) int {
	return guard("hook_register", ctx, func(c *hostCtx) int {
		name := goString(hook, 256)
		if fn == 0 || (position != cHookFirst && position != cHookLast) {
			return c.fail("hook_register", fmt.Errorf("%w: hook %q: NULL provider or bad position %d", ErrBadParams, name, position))
		}
		pos := hooks.First
		if position == cHookLast {
			pos = hooks.Last
		}
		if err := c.registerHook(name, pos, fn, closure); err != nil {
			return c.fail("hook_register", err)
		}
		return cOK
	})
}

func hostOptionRegister(ctx, name uintptr, typ int32, def uintptr) int {
	return guard("option_register", ctx, func(c *hostCtx) int {
		if c.v == nil || c.phase() != phaseSetup {
			return c.fail("option_register", fmt.Errorf("%w: options are registered in conf_setup", errPhase))
		}
		id, err := c.v.s.defineOption(goString(name, 256), typ, goString(def, 4096), def != 0)
		if err != nil {
			return c.fail("option_register", err)
		}
		return id
	})
}

func hostOptionInt(ctx uintptr, option int32, out uintptr) int {
	return guard("option_int", ctx, func(c *hostCtx) int {
		if out == 0 || c.v == nil {
			return c.fail("option_int", fmt.Errorf("%w: NULL out or no module", ErrBadParams))
		}
		n, err := c.v.s.fetchInt(c, int(option))
		if err != nil {
			return c.fail("option_int", err)
		}
		*(*int64)(cptr(out)) = n
		return cOK
	})
}

func hostOptionString(ctx uintptr, option int32, buf, n uintptr) int {
	return guard("option_string", ctx, func(c *hostCtx) int {
		if c.v == nil {
			return c.fail("option_string", fmt.Errorf("%w: no module", ErrBadParams))
		}
		s, err := c.v.s.fetchString(c, int(option))
		if err != nil {
			return c.fail("option_string", err)
		}
		return putCString(buf, n, s)
	})
}

func hostMemtypeRegister(ctx, name, size uintptr) int {
	return guard("memtype_register", ctx, func(c *hostCtx) int {
		if c.v == nil || c.phase() != phaseSetup {
			return c.fail("memtype_register", fmt.Errorf("%w: memory types are registered in conf_setup", errPhase))
		}
		id, err := c.v.s.defineMemtype(goString(name, 256), int(size))
		if err != nil {
			return c.fail("memtype_register", err)
		}
		return id
	})
}

func hostMemAlloc(ctx uintptr, memtype int32, size uintptr) uintptr {
	var p uintptr
	guard("mem_alloc", ctx, func(c *hostCtx) int {
		t, err := c.memtype(int(memtype))
		if err == nil {
			var up unsafe.Pointer
			up, err = t.AllocRaw(size)
			p = uintptr(up)
		}
		if err != nil {
			return c.fail("mem_alloc", err)
		}
		return cOK
	})
	return p
}

func hostMemFree(ctx uintptr, memtype int32, p uintptr) int {
	return guard("mem_free", ctx, func(c *hostCtx) int {
		t, err := c.memtype(int(memtype))
		if err == nil {
			err = t.FreeRaw(cptr(p))
		}
		if err != nil {
			return c.fail("mem_free", err)
		}
		return cOK
	})
}

func hostReplyWrite(reply, text uintptr) int {
	return guard("reply_write", reply, func(c *hostCtx) int {
		s := goString(text, 1<<20)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch c.ph {
		case phaseControl:
			c.reply.WriteString(s)
		case phaseCall:
			c.results = append(c.results, s)
		default:
			c.errs = append(c.errs, fmt.Errorf("reply_write: %w: no reply in this call", errPhase))
			return cENOTSUP
		}
		return cOK
	})
}

func hostJobQueue(ctx, pool, work, done, arg uintptr) int {
	return guard("job_queue", ctx, func(c *hostCtx) int {
		if err := c.queueJob(goString(pool, 64), work, done, arg); err != nil {
			return c.fail("job_queue", err)
		}
		return cOK
	})
}

func hostTimerAfter(ctx uintptr, millis int64, fn, arg uintptr) int {
	return guard("timer_after", ctx, func(c *hostCtx) int {
		if err := c.after(millis, fn, arg); err != nil {
			return c.fail("timer_after", err)
		}
		return cOK
	})
}

func hostHandleInt(h, field, out uintptr) (code int) {
	defer recoverAccessor(&code)
	v, acc, ok := lookupHandle(h)
	if !ok || acc.Int == nil || out == 0 {
		return cEINVAL
	}
	n, found := acc.Int(v, goString(field, 256))
	if !found {
		return cENOENT
	}
	*(*int64)(cptr(out)) = n
	return cOK
}

func hostHandleString(h, field, buf, n uintptr) (code int) {
	defer recoverAccessor(&code)
	v, acc, ok := lookupHandle(h)
	if !ok || acc.String == nil {
		return cEINVAL
	}
	s, found := acc.String(v, goString(field, 256))
	if !found {
		return cENOENT
	}
	return putCString(buf, n, s)
}

// recoverAccessor turns a panicking accessor into EC_EINVAL: the panic must
// not unwind through the C provider's frames.
func recoverAccessor(code *int) {
	if r := recover(); r != nil {
		*code = cEINVAL
	}
}

func hostStateSet(ctx, state uintptr) int {
	return guard("state_set", ctx, func(c *hostCtx) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.v == nil || c.ph != phaseSetup {
			c.errs = append(c.errs, fmt.Errorf("state_set: %w: the state is set in conf_setup and migrate", errPhase))
			return cENOTSUP
		}
		c.state, c.stateSet = state, true
		return cOK
	})
}
