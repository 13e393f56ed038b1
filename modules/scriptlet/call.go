package scriptlet

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Provider is one Lua method registered as a hook provider, in one generation. A hook
// binding (see Bind) calls it with Call. It is safe for concurrent use: each call runs in a
// Lua state of its own, taken from the generation's pool.
type Provider struct {
	g      *genState
	idx    int // index in g.providers and in every state's fns
	script *script
	method string
	hook   string // scope.name
	site   string // file:line of the Lua function

	calls    atomic.Uint64
	errors   atomic.Uint64
	timeouts atomic.Uint64
	skipped  atomic.Uint64 // calls not run because the provider is quarantined

	quarantined atomic.Bool
	qmu         sync.Mutex
	// qmu guards fails and qnext: the times of the last quarantine_errors failures.
	fails []time.Time
	qnext int
}

// Name returns "script:method", the provider's name in logs and `scriptlet status`.
func (p *Provider) Name() string { return p.script.name + ":" + p.method }

// Hook returns the full name of the hook the provider is registered on.
func (p *Provider) Hook() string { return p.hook }

// Site returns the file:line where the Lua method is defined.
func (p *Provider) Site() string { return p.site }

// Call runs the Lua method with self (the module table) and args, and returns its first
// result. The call is protected: a Lua error, a deadline overrun (call_timeout), a
// quarantined provider or a closed generation all give Failed, already logged and counted.
//
// s may be nil for a hook whose caller cannot suspend. With a Suspender, a method waiting
// for pool work parks and Call returns Suspended (see Suspender for the protocol), and a
// call whose parked predecessor has finished returns that result. Without one, the same
// request blocks the goroutine when it is not the master loop, and fails the call (a Lua
// error, ErrCannotWait) when it is.
//
// Any goroutine. On the path of a Call that returns without suspending, no Lua state is
// created (the pool was warmed when the generation was built) and nothing is allocated
// but the conversion of object and string arguments.
func (p *Provider) Call(s Suspender, args ...Value) (Value, Outcome) {
	if s != nil {
		if done, waiting := s.Parking().take(p); done != nil {
			return done.result, done.outcome
		} else if waiting {
			return Value{}, Suspended
		}
	}
	if p.quarantined.Load() {
		p.skipped.Add(1)
		return Value{}, Failed
	}
	st := p.g.get()
	if st == nil {
		p.skipped.Add(1)
		return Value{}, Failed
	}
	p.calls.Add(1)
	fn := st.fns[p.idx]
	if fn == nil {
		st.release()
		p.failed(fmt.Errorf("%w: %s: method %s is missing in this Lua state (the script registers different methods each time it loads)", ErrRuntime, p.script.path, p.method))
		return Value{}, Failed
	}
	if s != nil {
		return p.callSuspendable(st, fn, s, args)
	}
	L := st.L
	st.mode = modeBlock
	if p.g.rt.onLoop() {
		st.mode = modeRefuse
	}
	L.Push(fn)
	L.Push(st.mods[p.script.idx])
	for _, a := range args {
		L.Push(st.toLua(a))
	}
	st.dl.arm(p.g.rt, p.g.set.callTimeout)
	err := L.PCall(1+len(args), 1, nil)
	timedOut := st.dl.disarm()
	if err != nil {
		L.SetTop(0)
		err = st.wrapLuaErr(ErrRuntime, err, timedOut, "")
		st.release()
		p.failed(err)
		return Value{}, Failed
	}
	r := st.fromLua(L.Get(-1), 0)
	L.Pop(1)
	st.release()
	return r, Returned
}

// callSuspendable runs the method in the state's coroutine, so that it can yield on pool
// work; the state stays with the parked call until it ends.
func (p *Provider) callSuspendable(st *state, fn *lua.LFunction, s Suspender, args []Value) (Value, Outcome) {
	st.argbuf = append(st.argbuf[:0], st.mods[p.script.idx])
	for _, a := range args {
		st.argbuf = append(st.argbuf, st.toLua(a))
	}
	// The call is parked before it runs: once it has yielded, its completion may finish
	// it on another goroutine before step returns here.
	pk := &parked{p: p}
	parking := s.Parking()
	parking.add(pk)
	var (
		r    Value
		out  Outcome
		sync bool
	)
	st.step(fn, st.argbuf, p.g.set.callTimeout, false, func(vals []lua.LValue, err error, resumed bool) {
		rv, o := Value{}, Returned
		if err != nil {
			p.failed(err)
			o = Failed
		} else if len(vals) > 0 {
			rv = st.fromLua(vals[0], 0)
		}
		st.release()
		if !resumed {
			r, out, sync = rv, o, true
			return
		}
		parking.finish(pk, rv, o)
		s.Resume(p.g.rt.now())
	})
	if sync {
		parking.remove(pk)
		return r, out
	}
	return Value{}, Suspended
}

// step resumes st's coroutine with args (starting fn when the coroutine is fresh) and
// follows it: when the coroutine yields on pool work, the work is submitted and its
// completion steps again (resumed then true); when it ends, fin gets its results or its
// error, and whether that happens in a completion rather than inline in the first step.
// The caller owns st; ownership passes to the chain and ends with fin (which must release
// st).
func (st *state) step(fn *lua.LFunction, args []lua.LValue, timeout time.Duration, resumed bool, fin func(vals []lua.LValue, err error, resumed bool)) {
	rt := st.g.rt
	for {
		st.mode = modeSuspend
		st.dl.arm(rt, timeout)
		rs, err, vals := st.L.Resume(st.th, fn, args...)
		timedOut := st.dl.disarm()
		fn = nil
		switch rs {
		case lua.ResumeOK:
			// A finished coroutine is dead; its stack is empty again, so it can run the
			// next call (threads cost a registry and a call stack to make).
			st.th.Dead = false
			fin(vals, nil, resumed)
			return
		case lua.ResumeError:
			st.newThread()
			st.pending = nil
			fin(nil, st.wrapLuaErr(ErrRuntime, err, timedOut, ""), resumed)
			return
		}
		op := st.pending
		st.pending = nil
		if op == nil {
			st.newThread()
			fin(nil, fmt.Errorf("%w: coroutine.yield called outside a coroutine the script created", ErrRuntime), resumed)
			return
		}
		op.resume = func(results []lua.LValue) {
			st.step(nil, results, timeout, true, fin)
		}
		if err := rt.submitOp(st, op); err != nil {
			args = op.failure(err)
			continue
		}
		return
	}
}

// newThread replaces a coroutine that ended in an error (it cannot be reused).
func (st *state) newThread() {
	st.L.RemoveContext()
	st.th, _ = st.L.NewThread()
	st.L.SetContext(st.dl)
	st.th.SetContext(st.dl)
}

// runDetached runs fn(args) in st's coroutine for a caller that does not wait for the
// result (a timer, a done callback): errors are logged; pool work suspends it. The caller
// owns st; it is released when fn has ended.
func (st *state) runDetached(fn *lua.LFunction, args []lua.LValue, what string) {
	st.step(fn, args, st.g.set.callTimeout, false, func(_ []lua.LValue, err error, _ bool) {
		if err != nil {
			st.g.rt.countFailure(err)
			st.g.rt.logError(st, what+" failed", err)
		}
		st.release()
	})
}

// failed accounts for a failed call of p: logged with the script's file:line, counted,
// and the provider quarantined when quarantine_errors failures fall within
// quarantine_window.
func (p *Provider) failed(err error) {
	rt := p.g.rt
	rt.countFailure(err)
	if errors.Is(err, ErrTimeout) {
		p.timeouts.Add(1)
	} else {
		p.errors.Add(1)
	}
	rt.log.Error(rt.paniclog(fmt.Sprintf("%s %s error: %v", p.Name(), p.hook, err)),
		"script", p.script.path, "hook", p.hook, "generation", p.g.id)
	n := p.g.set.quarantineErrors
	if n <= 0 {
		return
	}
	now := rt.now()
	p.qmu.Lock()
	if p.fails == nil {
		p.fails = make([]time.Time, n)
	}
	p.fails[p.qnext] = now
	p.qnext = (p.qnext + 1) % n
	oldest := p.fails[p.qnext] // the failure n ago, zero until there have been n
	trip := !oldest.IsZero() && now.Sub(oldest) <= p.g.set.quarantineWindow
	p.qmu.Unlock()
	if trip && p.quarantined.CompareAndSwap(false, true) {
		rt.log.Error(rt.paniclog(fmt.Sprintf("ALARM: %s (%s) quarantined after %d failures within %s: skipped until the next reload",
			p.Name(), p.hook, n, p.g.set.quarantineWindow)), "script", p.script.path, "hook", p.hook, "generation", p.g.id)
	}
}

// countFailure counts a failed call in the runtime's totals.
func (rt *Runtime) countFailure(err error) {
	if errors.Is(err, ErrTimeout) {
		rt.timeouts.Add(1)
	} else {
		rt.errors.Add(1)
	}
}

// Call is what a Method receives: the call it runs in. It is valid only during the
// Method's call.
type Call struct {
	st *state
}

// errYield is returned by InPool in a coroutine: the method wrapper yields.
var errYield = errors.New("scriptlet: yield")

// InPool runs work in the named thread pool and returns its results as the Method's. In a
// call that can suspend (a Suspender was given, or a timer), the script suspends and the
// Method must return InPool's results at once, unchanged: they tell the wrapper to yield,
// and when the work is done the script resumes with work's results (or nil and the error
// text) as the Method's return values. Off the master loop otherwise, it waits for the
// work. On the loop with nobody to suspend it fails with ErrCannotWait.
func (c *Call) InPool(pool string, work func() ([]Value, error)) ([]Value, error) {
	st := c.st
	class, ok := st.g.rt.pools.Class(pool)
	if !ok {
		return nil, fmt.Errorf("scriptlet: InPool: no thread pool %q", pool)
	}
	op := &poolOp{class: class, name: "scriptlet " + pool, work: work}
	switch st.mode {
	case modeSuspend:
		st.pending = op
		return nil, errYield
	case modeBlock:
		if _, err := st.g.rt.runBlocking(st, op); err != nil {
			return nil, err
		}
		return op.vals, op.err
	}
	return nil, fmt.Errorf("%w: pool work from a call on the master loop that cannot suspend", ErrCannotWait)
}

// Where returns the file:line of the Lua code that called the Method.
func (c *Call) Where() string { return where(c.st.L) }
