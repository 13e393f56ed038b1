package scriptlet

import (
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/ecelerity-go/ecelerity/threadpool"
)

// poolOp is one piece of pool work requested from Lua: a Lua function (msys.runInPool) or
// a Go function (Call.InPool), run in a worker in the very state that asked for it. That
// state is not running anything meanwhile: the request is synchronous (its coroutine has
// yielded, or its goroutine waits) or it runs after the call ended (async). So Lua closures
// and upvalues need no copying between states.
type poolOp struct {
	class threadpool.ClassID
	name  string
	lfn   *lua.LFunction          // Lua work
	work  func() ([]Value, error) // Go work
	done  *lua.LFunction          // async with a callback: called with the results
	// doneSched runs done on the master loop (ECTP_COMPLETE_CALLBACK_SCHED) rather than
	// in the worker.
	doneSched bool

	// Set by the worker. Lua work: (true, results...) or (false, message), as pcall.
	// Go work: its values, or (nil, message); vals and err keep them for a blocking caller.
	results []lua.LValue
	vals    []Value
	err     error

	resume func([]lua.LValue) // continues a suspended coroutine with results
	job    threadpool.Job
}

// failure returns the results a request that could not be submitted resumes with.
func (op *poolOp) failure(err error) []lua.LValue {
	if op.lfn != nil {
		return []lua.LValue{lua.LFalse, lua.LString(err.Error())}
	}
	return []lua.LValue{lua.LNil, lua.LString(err.Error())}
}

// runWork runs op in st, on the worker goroutine. The caller of the request owns st and
// does not touch it until the completion.
func (rt *Runtime) runWork(st *state, op *poolOp) {
	prevMode, prevIn := st.mode, st.inPool
	st.mode, st.inPool = modeBlock, true
	defer func() { st.mode, st.inPool = prevMode, prevIn }()
	if op.lfn == nil {
		op.vals, op.err = op.work()
		if op.err != nil {
			op.results = []lua.LValue{lua.LNil, lua.LString(op.err.Error())}
			return
		}
		op.results = make([]lua.LValue, len(op.vals))
		for i, v := range op.vals {
			op.results[i] = st.toLua(v)
		}
		return
	}
	op.results = st.pcallCollect(op.lfn, nil, st.g.set.poolTimeout, "runInPool function")
}

// pcallCollect calls fn(args) in st's main thread and returns pcall-style results: true
// and fn's results, or false and the error message (logged and counted).
func (st *state) pcallCollect(fn *lua.LFunction, args []lua.LValue, timeout time.Duration, what string) []lua.LValue {
	L := st.L
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	st.dl.arm(st.g.rt, timeout)
	err := L.PCall(len(args), lua.MultRet, nil)
	timedOut := st.dl.disarm()
	if err != nil {
		L.SetTop(top)
		err = st.wrapLuaErr(ErrRuntime, err, timedOut, "")
		st.g.rt.countFailure(err)
		st.g.rt.logError(st, what+" failed", err)
		return []lua.LValue{lua.LFalse, lua.LString(err.Error())}
	}
	out := make([]lua.LValue, 0, 1+L.GetTop()-top)
	out = append(out, lua.LTrue)
	for i := top + 1; i <= L.GetTop(); i++ {
		out = append(out, L.Get(i))
	}
	L.SetTop(top)
	return out
}

// submitOp queues op for a coroutine that has yielded on it; the completion resumes the
// coroutine on the master loop (on the worker without a loop).
func (rt *Runtime) submitOp(st *state, op *poolOp) error {
	op.job = threadpool.Job{
		Name:  op.name,
		Class: op.class,
		Work: func(*threadpool.Job) error {
			rt.runWork(st, op)
			return nil
		},
		Mode: threadpool.CompleteCallback,
		Done: func(*threadpool.Job) { op.resume(op.results) },
	}
	if rt.loop != nil {
		op.job.Mode = threadpool.CompleteCallbackSched
		op.job.Loop = rt.loop
	}
	return rt.pools.Submit(&op.job)
}

// runBlocking runs op in the pool and waits for it, for a call that may block (off the
// master loop). The call's deadline is suspended while it waits, and restarts in full
// after: waiting for a pool is not running Lua.
func (rt *Runtime) runBlocking(st *state, op *poolOp) ([]lua.LValue, error) {
	done := make(chan struct{})
	op.job = threadpool.Job{
		Name:  op.name,
		Class: op.class,
		Work: func(*threadpool.Job) error {
			rt.runWork(st, op)
			return nil
		},
		Mode: threadpool.CompleteCallback,
		Done: func(*threadpool.Job) { close(done) },
	}
	fired := st.dl.disarm()
	defer st.dl.arm(rt, st.g.set.callTimeout)
	if fired {
		return nil, fmt.Errorf("%w before waiting for the pool", ErrTimeout)
	}
	if err := rt.pools.Submit(&op.job); err != nil {
		return nil, err
	}
	<-done
	return op.results, nil
}

// startDeferred runs async work that a call requested (msys.runInPool with true or a done
// callback) now that the call has ended: op runs in the pool in st, then its done callback
// (in the worker, or on the loop), then st is released, which starts the next deferred op
// or gives st back. The caller owns st.
func (rt *Runtime) startDeferred(st *state, op *poolOp) {
	sched := op.done != nil && op.doneSched && rt.loop != nil
	op.job = threadpool.Job{
		Name:  op.name,
		Class: op.class,
		Work: func(*threadpool.Job) error {
			rt.runWork(st, op)
			if op.done != nil && !sched {
				prev := st.mode
				st.mode = modeBlock
				st.pcallCollect(op.done, op.results, st.g.set.poolTimeout, "runInPool done callback")
				st.mode = prev
			}
			return nil
		},
		Mode: threadpool.CompleteCallback,
		Done: func(*threadpool.Job) {
			if sched {
				st.runDetached(op.done, op.results, "runInPool done callback")
				return
			}
			st.release()
		},
	}
	if sched {
		op.job.Mode = threadpool.CompleteCallbackSched
		op.job.Loop = rt.loop
	}
	if err := rt.pools.Submit(&op.job); err != nil {
		rt.logError(st, "runInPool: async work not started", err)
		st.release()
	}
}

// luaRunInPool is msys.runInPool(pool, fn [, async|done [, mode]]).
func (st *state) luaRunInPool(L *lua.LState) int {
	rt := st.g.rt
	class, name := st.poolArg(L, 1)
	fn := L.CheckFunction(2)
	op := &poolOp{class: class, name: "scriptlet runInPool " + name, lfn: fn}
	switch third := L.Get(3).(type) {
	case *lua.LNilType:
	case lua.LBool:
		if bool(third) {
			st.deferred = append(st.deferred, op)
			return 0
		}
	case *lua.LFunction:
		op.done = third
		mode := L.OptInt(4, int(threadpool.CompleteCallback))
		switch threadpool.Completion(mode) {
		case threadpool.CompleteCallback:
		case threadpool.CompleteCallbackSched:
			op.doneSched = true
		default:
			L.ArgError(4, "completion mode must be msys.core.ECTP_COMPLETE_CALLBACK or ECTP_COMPLETE_CALLBACK_SCHED")
		}
		st.deferred = append(st.deferred, op)
		return 0
	default:
		L.ArgError(3, "expected true (async) or a done function")
	}
	switch st.mode {
	case modeSuspend:
		st.pending = op
		L.SetTop(0)
		return -1
	case modeBlock:
		res, err := rt.runBlocking(st, op)
		if err != nil {
			L.Push(lua.LFalse)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		for _, v := range res {
			L.Push(v)
		}
		return len(res)
	}
	st.raise(L, ErrCannotWait, "msys.runInPool: %v: a synchronous call from the master loop that cannot suspend; use the async form (true or a done function)", ErrCannotWait)
	return 0
}

// poolArg reads a pool argument: a name or a job-class id.
func (st *state) poolArg(L *lua.LState, n int) (threadpool.ClassID, string) {
	pools := st.g.rt.pools
	switch v := L.Get(n).(type) {
	case lua.LString:
		c, ok := pools.Class(string(v))
		if !ok {
			L.ArgError(n, fmt.Sprintf("no thread pool %q", string(v)))
		}
		return c, string(v)
	case lua.LNumber:
		name, ok := pools.ClassName(threadpool.ClassID(v))
		if !ok {
			L.ArgError(n, fmt.Sprintf("no thread pool with id %v", v))
		}
		return threadpool.ClassID(v), name
	}
	L.ArgError(n, "expected a pool name or id")
	return 0, ""
}
