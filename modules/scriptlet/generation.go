package scriptlet

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
)

// script is one compiled script of a generation.
type script struct {
	idx   int
	name  string // the stanza (or Lua module) name registerModule must use
	path  string // the resolved source file, the chunk name in Lua errors
	proto *lua.FunctionProto

	// Set while the prime state loads the script (builder goroutine), read-only after.
	registered bool
	init       *lua.LFunction // the prime state's mod.init, or nil
	deinit     *lua.LFunction
	mod        *lua.LTable // the prime state's module table
	inited     bool        // init() returned true: deinit() is owed
}

// genState is the scriptlet runtime's part of one module generation: its scripts, the
// providers they registered, and its pool of Lua states. The scriptlet instance's Init
// creates it (scripts of the stanza), Lua modules add their script during their own Init,
// PostInit warms the pool, the generation_committed hook starts its timers, and the
// instance's Destroy closes it.
type genState struct {
	rt   *Runtime
	mg   *modules.Generation
	id   uint64
	inst string // the scriptlet instance name
	set  settings

	// Written by the builder goroutine during Init, read-only once the generation is
	// sealed (PostInit).
	reg       *hooks.Registry // open for registration during Init; nil after
	sealed    bool            // seal ran: the prime state left the builder
	scripts   []*script
	providers []*Provider
	prime     *state
	// roots and pendingRoots are the persistent tables this generation resolved
	// (msys.state), and those it migrated or created, promoted when it commits.
	roots        map[string]*pnode
	pendingRoots map[string]*persisted

	mu sync.Mutex
	// mu guards everything below, and every state's owned and waiters.
	free      []*state
	states    int // open states, free or owned
	closing   bool
	committed bool
	controls  map[string]*control
	timers    map[int]*luaTimer
	nextTimer int
}

// settings are a scriptlet instance's options for one generation.
type settings struct {
	callTimeout      time.Duration
	poolTimeout      time.Duration
	quarantineErrors int
	quarantineWindow time.Duration
	maxScriptSize    int64
	minStates        int
	maxSpare         int
	libs             libSet
}

// control is a console command registered with msys.registerControl.
type control struct {
	name string
	fn   *lua.LFunction
	st   *state
	site string
}

// newGen creates the generation state for mg and makes it the runtime's.
func (rt *Runtime) newGen(mg *modules.Generation, inst string, set settings, reg *hooks.Registry) (*genState, error) {
	g := &genState{
		rt: rt, mg: mg, id: mg.ID(), inst: inst, set: set, reg: reg,
		roots: map[string]*pnode{}, pendingRoots: map[string]*persisted{},
		controls: map[string]*control{}, timers: map[int]*luaTimer{},
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return nil, ErrClosed
	}
	if other, dup := rt.gens[mg]; dup {
		return nil, fmt.Errorf("scriptlet: only one scriptlet instance is allowed (%q and %q)", other.inst, inst)
	}
	rt.gens[mg] = g
	return g, nil
}

// ensurePrime creates the prime state on first use. Builder goroutine.
func (g *genState) ensurePrime() error {
	if g.prime != nil {
		return nil
	}
	st, err := g.newState(true)
	if err != nil {
		return err
	}
	st.owned = true // the builder owns it until PostInit
	g.prime = st
	g.mu.Lock()
	g.states++
	g.mu.Unlock()
	return nil
}

// addScripts compiles and loads scripts into the prime state and runs their init(), in
// order. Every compile error is reported; loading stops at the first load error, since
// later scripts may depend on earlier ones. Builder goroutine, during Init.
func (g *genState) addScripts(srcs []source) error {
	var errs []error
	var added []*script
	for _, src := range srcs {
		proto, err := compile(src.path, src.text)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		added = append(added, &script{name: src.name, path: src.path, proto: proto})
	}
	if len(errs) > 0 {
		return joinErrs(errs)
	}
	if err := g.ensurePrime(); err != nil {
		return err
	}
	for _, sc := range added {
		sc.idx = len(g.scripts)
		g.scripts = append(g.scripts, sc)
		if err := g.prime.loadScript(sc); err != nil {
			return err
		}
	}
	for _, sc := range added {
		if err := g.runInit(sc); err != nil {
			return err
		}
	}
	return nil
}

// runInit calls sc's init(), which must return true, and marks sc as owed its deinit().
// Builder goroutine.
func (g *genState) runInit(sc *script) error {
	if sc.init == nil {
		// Nothing to refuse: a loaded script without init still gets its deinit.
		sc.inited = sc.registered
		return nil
	}
	st := g.prime
	st.mode = modeBlock
	if g.rt.onLoop() {
		st.mode = modeRefuse
	}
	st.loading = sc // timers and controls made by init belong to the script
	defer func() { st.loading = nil }()
	st.L.Push(sc.init)
	st.L.Push(sc.mod)
	st.dl.arm(g.rt, g.set.callTimeout)
	err := st.L.PCall(1, 1, nil)
	timedOut := st.dl.disarm()
	if err != nil {
		return st.wrapLuaErr(ErrInit, err, timedOut, sc.path)
	}
	ret := st.L.Get(-1)
	st.L.Pop(1)
	if ret != lua.LTrue {
		return fmt.Errorf("%w: %s: init() returned %s, not true", ErrInit, sc.path, ret.String())
	}
	sc.inited = true
	return nil
}

// seal ends the generation's build: no more scripts or providers, the prime state goes to
// its waiters, and min_states replicas are created so that calls find a state ready.
// Builder goroutine, at PostInit.
func (g *genState) seal() error {
	g.reg = nil
	g.sealed = true
	if g.prime != nil {
		// Async work that init() asked for starts now, in the prime state.
		g.prime.release()
	}
	for i := 0; i < g.set.minStates; i++ {
		st, err := g.newState(false)
		if err != nil {
			return err
		}
		g.mu.Lock()
		g.states++
		g.free = append(g.free, st)
		g.mu.Unlock()
	}
	return nil
}

// get returns a free replica state, owned by the caller, creating one when none is free;
// nil once the generation is closing or when a state cannot be made (logged). Any
// goroutine.
func (g *genState) get() *state {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		return nil
	}
	if n := len(g.free); n > 0 {
		st := g.free[n-1]
		g.free = g.free[:n-1]
		st.owned = true
		g.mu.Unlock()
		return st
	}
	g.states++
	g.mu.Unlock()
	st, err := g.newState(false)
	if err != nil {
		g.mu.Lock()
		g.states--
		g.mu.Unlock()
		g.rt.logError(nil, "cannot create a Lua state", err)
		return nil
	}
	st.owned = true
	return st
}

// put ends the owner's use of st: a waiter for this state takes it over, or it goes back
// to the free list (a replica) or becomes free (the prime state); it is closed instead
// when the generation is closing, or when more than max_spare replicas are free.
func (g *genState) put(st *state) {
	g.mu.Lock()
	if len(st.waiters) > 0 && !g.closing {
		next := st.waiters[0]
		st.waiters = st.waiters[1:]
		g.mu.Unlock()
		next() // ownership passes to the waiter
		return
	}
	st.owned = false
	st.waiters = nil
	if g.closing || (!st.prime && len(g.free) >= g.set.maxSpare) {
		g.states--
		g.mu.Unlock()
		st.close()
		return
	}
	if !st.prime {
		g.free = append(g.free, st)
	}
	g.mu.Unlock()
}

// withState runs fn once the caller owns st: at once on this goroutine when st is free,
// otherwise from the goroutine that releases it. It reports false (and runs nothing) when
// the generation is closing. fn must end with st.release().
func (g *genState) withState(st *state, fn func()) bool {
	g.mu.Lock()
	if g.closing || st.closed {
		g.mu.Unlock()
		return false
	}
	if st.owned {
		st.waiters = append(st.waiters, fn)
		g.mu.Unlock()
		return true
	}
	st.owned = true
	if i := slices.Index(g.free, st); i >= 0 {
		g.free = slices.Delete(g.free, i, i+1)
	}
	g.mu.Unlock()
	fn()
	return true
}

// lockState waits until the caller owns st, or ctx ends. Not on the loop.
func (g *genState) lockState(ctx context.Context, st *state) error {
	got := make(chan struct{})
	if !g.withState(st, func() { close(got) }) {
		return ErrClosed
	}
	select {
	case <-got:
		return nil
	case <-ctx.Done():
		// The hand-over may still come: whoever gets it must give it back.
		go func() {
			<-got
			st.release()
		}()
		return fmt.Errorf("scriptlet: waiting for a busy Lua state: %w", ctx.Err())
	}
}

// commit is called once the generation is live: its persistent tables replace the stored
// ones, its timers start, and the timers of older generations stop (their scripts are
// superseded; calls in flight on them finish). Goroutine of the commit.
func (g *genState) commit() {
	g.rt.promote(g)
	g.mu.Lock()
	g.committed = true
	ts := make([]*luaTimer, 0, len(g.timers))
	for _, t := range g.timers {
		ts = append(ts, t)
	}
	g.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	for _, t := range ts {
		t.start()
	}
	for _, old := range g.rt.liveGens() {
		if old.id < g.id {
			old.stopTimers()
		}
	}
}

// destroy closes the generation: deinit() of every script whose init succeeded, in
// reverse order; timers stopped; free states closed now and owned ones when released.
// Builder (or retiring) goroutine, at the scriptlet instance's Destroy.
func (g *genState) destroy() {
	g.stopTimers()
	if p := g.prime; p != nil {
		// Before seal the builder (this goroutine) still owns the prime state.
		owned := !g.sealed
		if !owned {
			ctx, cancel := context.WithTimeout(context.Background(), g.set.callTimeout+g.set.poolTimeout)
			err := g.lockState(ctx, p)
			cancel()
			if err != nil {
				g.rt.logError(nil, "deinit skipped", err)
			}
			owned = err == nil
		}
		if owned {
			for i := len(g.scripts) - 1; i >= 0; i-- {
				g.runDeinit(g.scripts[i])
			}
			// Work deinit deferred has no generation left to run in.
			p.deferred = nil
			g.mu.Lock()
			p.owned, p.waiters = false, nil
			g.mu.Unlock()
		}
	}
	g.mu.Lock()
	g.closing = true
	free := g.free
	g.free = nil
	g.states -= len(free)
	primeFree := g.prime != nil && !g.prime.owned
	if primeFree {
		g.states--
	}
	g.mu.Unlock()
	for _, st := range free {
		st.close()
	}
	if primeFree {
		g.prime.close()
	}
	g.rt.mu.Lock()
	if g.rt.gens[g.mg] == g {
		delete(g.rt.gens, g.mg)
	}
	g.rt.mu.Unlock()
}

// runDeinit calls sc's deinit() if its init succeeded. The caller owns the prime state.
func (g *genState) runDeinit(sc *script) {
	if !sc.inited || sc.deinit == nil {
		return
	}
	sc.inited = false
	st := g.prime
	st.mode = modeBlock
	if g.rt.onLoop() {
		st.mode = modeRefuse
	}
	st.L.Push(sc.deinit)
	st.L.Push(sc.mod)
	st.dl.arm(g.rt, g.set.callTimeout)
	err := st.L.PCall(1, 1, nil)
	timedOut := st.dl.disarm()
	if err != nil {
		g.rt.logError(nil, "deinit failed", st.wrapLuaErr(ErrRuntime, err, timedOut, sc.path))
		return
	}
	if ret := st.L.Get(-1); ret != lua.LTrue {
		g.rt.log.Warn(g.rt.paniclog(sc.path + ": deinit() did not return true"))
	}
	st.L.Pop(1)
}

// luaTimer is a msys.timer: a Lua function called on the master loop after a delay, at a
// time, or every interval, in the state that created it.
type luaTimer struct {
	id    int
	g     *genState
	st    *state
	fn    *lua.LFunction
	site  string
	delay time.Duration // after, every
	at    time.Time     // at (zero otherwise)
	every bool

	// Loop goroutine only (or the Go timer's goroutine without a loop), after start.
	stopped bool
	lt      *sched.Timer
	gt      *time.Timer
}

// addTimer records a timer of st; it starts at once when the generation is live, or when
// it commits. Returns the timer's id.
func (g *genState) addTimer(t *luaTimer) int {
	g.mu.Lock()
	g.nextTimer++
	t.id = g.nextTimer
	g.timers[t.id] = t
	live := g.committed
	g.mu.Unlock()
	if live {
		t.start()
	}
	return t.id
}

// cancelTimer stops a timer by id and reports whether it existed.
func (g *genState) cancelTimer(id int) bool {
	g.mu.Lock()
	t, ok := g.timers[id]
	delete(g.timers, id)
	g.mu.Unlock()
	if ok {
		t.stop()
	}
	return ok
}

// stopTimers stops every timer of the generation.
func (g *genState) stopTimers() {
	g.mu.Lock()
	ts := g.timers
	g.timers = map[int]*luaTimer{}
	g.mu.Unlock()
	for _, t := range ts {
		t.stop()
	}
}

// start arms the timer. Any goroutine: with a loop, arming is handed to it.
func (t *luaTimer) start() {
	rt := t.g.rt
	if rt.loop == nil {
		t.g.mu.Lock()
		if !t.stopped {
			t.gt = time.AfterFunc(t.wait(rt.now()), func() { t.fire(rt.now()) })
		}
		t.g.mu.Unlock()
		return
	}
	arm := func(now time.Time) {
		if !t.stopped {
			t.lt = rt.loop.After(t.wait(now), func(_ *sched.Timer, now time.Time) { t.fire(now) }, nil)
		}
	}
	if rt.onLoop() {
		arm(rt.loop.Now())
		return
	}
	rt.loop.Dispatch(arm)
}

// wait is the delay from now to the next firing.
func (t *luaTimer) wait(now time.Time) time.Duration {
	if !t.at.IsZero() {
		return t.at.Sub(now)
	}
	return t.delay
}

// stop cancels the timer. Any goroutine.
func (t *luaTimer) stop() {
	rt := t.g.rt
	if rt.loop == nil {
		t.g.mu.Lock()
		t.stopped = true
		gt := t.gt
		t.g.mu.Unlock()
		if gt != nil {
			gt.Stop()
		}
		return
	}
	cancel := func(time.Time) {
		t.stopped = true
		if t.lt != nil {
			rt.loop.Cancel(t.lt)
		}
	}
	if rt.onLoop() {
		cancel(time.Time{})
		return
	}
	rt.loop.Dispatch(cancel)
}

// fire runs the timer's function in its state (waiting for the state if it is busy) and
// re-arms a repeating timer.
func (t *luaTimer) fire(time.Time) {
	g := t.g
	if t.isStopped() {
		return
	}
	if t.every {
		t.start()
	} else {
		g.mu.Lock()
		delete(g.timers, t.id)
		g.mu.Unlock()
	}
	run := func() {
		t.st.runDetached(t.fn, nil, "timer at "+t.site)
	}
	g.withState(t.st, func() {
		if g.rt.loop != nil && !g.rt.onLoop() {
			// A hand-over from another goroutine: timers run on the loop.
			g.rt.loop.Dispatch(func(time.Time) { run() })
			return
		}
		run()
	})
}

func (t *luaTimer) isStopped() bool {
	if t.g.rt.loop == nil {
		t.g.mu.Lock()
		defer t.g.mu.Unlock()
	}
	return t.stopped
}

// addControl records a console command. Builder goroutine (init or the chunk).
func (g *genState) addControl(c *control) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := strings.ToLower(c.name)
	if key == "status" {
		return fmt.Errorf("scriptlet: registerControl(%q): the name is reserved", c.name)
	}
	if prev, dup := g.controls[key]; dup {
		return fmt.Errorf("scriptlet: registerControl(%q): already registered at %s", c.name, prev.site)
	}
	g.controls[key] = c
	return nil
}

// runControl runs a registered console command: its function gets cc (argc, argv with
// argv[0] the command) and whatever it prints is the reply. Not on the loop: the command
// may wait for pool work.
func (g *genState) runControl(args []string) (string, error) {
	g.mu.Lock()
	c := g.controls[strings.ToLower(args[0])]
	g.mu.Unlock()
	if c == nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownCommand, args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.set.callTimeout+g.set.poolTimeout)
	defer cancel()
	st := c.st
	if err := g.lockState(ctx, st); err != nil {
		return "", err
	}
	var out strings.Builder
	st.printTo = &out
	st.mode = modeBlock
	L := st.L
	cc := L.NewTable()
	cc.RawSetString("argc", lua.LNumber(len(args)))
	argv := L.NewTable()
	for i, a := range args {
		argv.RawSetInt(i, lua.LString(a))
	}
	cc.RawSetString("argv", argv)
	L.Push(c.fn)
	L.Push(cc)
	st.dl.arm(g.rt, g.set.callTimeout)
	err := L.PCall(1, 0, nil)
	timedOut := st.dl.disarm()
	st.release()
	if err != nil {
		err = st.wrapLuaErr(ErrRuntime, err, timedOut, "")
		g.rt.countFailure(err)
		return out.String(), err
	}
	return out.String(), nil
}

// controlNames lists the registered console commands, sorted.
func (g *genState) controlNames() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.controls))
	for _, c := range g.controls {
		out = append(out, c.name)
	}
	sort.Strings(out)
	return out
}

// joinErrs joins errors one per line, keeping them for errors.Is.
func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return &multiError{errs}
}

type multiError struct{ errs []error }

func (m *multiError) Error() string {
	parts := make([]string, len(m.errs))
	for i, e := range m.errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

func (m *multiError) Unwrap() []error { return m.errs }
