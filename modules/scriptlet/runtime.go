package scriptlet

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/iowrap"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// DefaultWatchdogTick is how often the deadline watchdog looks for overrunning calls when
// Options leave it unset. A call overruns its deadline by at most about one tick.
const DefaultWatchdogTick = 10 * time.Millisecond

// Options configure a Runtime: the process-wide services scripts reach through msys.
type Options struct {
	// Loop is the master loop: timers run on it, pool completions that resume a script
	// come back to it, and calls made on it may neither block nor (without a Suspender)
	// wait. Nil: no loop (tests); timers use the Go runtime's and completions run on the
	// worker that finished the job.
	Loop *sched.Loop
	// Pools runs msys.runInPool and Call.InPool work; nil makes a Manager with the
	// built-in pools.
	Pools *threadpool.Manager
	// Store answers msys.config; nil makes msys.config fail.
	Store *config.Store
	// IO opens msys.core.io_wrapper_open and msys.readfile names; nil means
	// iowrap.Default().
	IO *iowrap.Registry
	// Logger is the paniclog: print and msys.log lines ("<epoch>:scriptlet: text"), script
	// errors, quarantine alarms. Nil means slog.Default().
	Logger *slog.Logger
	// Prefixed says that Logger writes the paniclog's "<epoch>:<tag>: " prefix itself
	// (the daemon's paniclog, tagged "scriptlet"): messages are then logged bare rather
	// than starting with "<epoch>:scriptlet: ".
	Prefixed bool
	// ScriptletDirs are searched, after the configuration's directory, for a script's
	// source (libexec/scriptlets); empty means the "scriptlets" directory of each Libexec
	// directory.
	ScriptletDirs []string
	// Libexec lists the libexec directories, used when ScriptletDirs is empty.
	Libexec []string
	// WatchdogTick is the deadline watchdog's period; 0 means DefaultWatchdogTick.
	WatchdogTick time.Duration
	// Now is the clock for timers and msys.core.get_now_ts; nil means time.Now.
	Now func() time.Time
	// Globals are Go values every script sees as Lua globals of these names (objects of a
	// Class, strings, numbers...): how the daemon hands scripts a process-wide object.
	// Names must be Lua identifiers and not shadow a library (msys, string, ...).
	Globals map[string]Value
	// Msys are Go values every script sees as fields of msys, msys.<name>: how the daemon
	// adds a library of Go functions under msys (a Table of Func values, e.g. msys.cmod
	// with its load function), which require("msys.<name>") also returns when it is a
	// table. Names must be Lua identifiers other than the fields msys has already
	// (core, timer, registerModule ...); breaking that is a programmer error and New
	// panics.
	Msys map[string]Value
}

// msysBuiltin lists the fields installMsys puts in msys, which Options.Msys may not
// replace. Never modified.
var msysBuiltin = map[string]bool{
	"registerModule": true, "registerControl": true, "runInPool": true, "config": true,
	"readfile": true, "state": true, "log": true, "core": true, "timer": true,
	"threadpool": true, "dumper": true,
}

// Runtime is the Lua scriptlet runtime of a process: the scriptlet module (Info), the Lua
// module loader (LuaLoader), the persistent script state that outlives generations, and the
// deadline watchdog. Create it with New, before the module manager, and Close it after.
// Methods are safe for concurrent use.
type Runtime struct {
	opts  Options
	log   *slog.Logger
	loop  *sched.Loop
	pools *threadpool.Manager
	io    *iowrap.Registry
	now   func() time.Time
	base  time.Time // monotonic anchor for deadlines

	// created counts Lua states created; errors and timeouts count failed calls.
	created  atomic.Uint64
	errors   atomic.Uint64
	timeouts atomic.Uint64

	mu sync.Mutex
	// mu guards gens, persisted, deadlines and closed.
	gens      map[*modules.Generation]*genState
	persisted map[string]*persisted
	deadlines map[*deadline]struct{}
	closed    bool

	// statesAdded (buffered, 1) wakes a watchdog asleep for want of states.
	statesAdded chan struct{}
	stop        chan struct{}
	stopOnce    sync.Once
	wg          sync.WaitGroup
}

// New returns a runtime and starts its deadline watchdog. It loads no script: scripts load
// when a configuration with a scriptlet stanza (or a Lua module) is committed.
//
// It panics if opts.Msys names a field that is not a Lua identifier or that msys has
// already: a programmer error of the daemon's wiring.
func New(opts Options) *Runtime {
	for n := range opts.Msys {
		if !isIdent(n) || msysBuiltin[n] {
			panic(fmt.Sprintf("scriptlet: New: Options.Msys may not install msys.%s", n))
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Pools == nil {
		opts.Pools = threadpool.NewManager(threadpool.Options{Loop: opts.Loop, Logger: opts.Logger})
	}
	if opts.IO == nil {
		opts.IO = iowrap.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WatchdogTick <= 0 {
		opts.WatchdogTick = DefaultWatchdogTick
	}
	if len(opts.ScriptletDirs) == 0 {
		for _, d := range opts.Libexec {
			opts.ScriptletDirs = append(opts.ScriptletDirs, filepath.Join(d, "scriptlets"))
		}
	}
	rt := &Runtime{
		opts: opts, log: opts.Logger, loop: opts.Loop, pools: opts.Pools, io: opts.IO, now: opts.Now,
		base:        time.Now(),
		gens:        map[*modules.Generation]*genState{},
		persisted:   map[string]*persisted{},
		deadlines:   map[*deadline]struct{}{},
		stop:        make(chan struct{}),
		statesAdded: make(chan struct{}, 1),
	}
	rt.wg.Add(1)
	go rt.watchdog(opts.WatchdogTick)
	return rt
}

// Close stops the watchdog. Generations still loaded are closed by the module system
// (their Destroy); Close does not wait for them. Idempotent.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	rt.closed = true
	rt.mu.Unlock()
	rt.stopOnce.Do(func() { close(rt.stop) })
	rt.wg.Wait()
	return nil
}

// available returns nil when the runtime can load scripts, or why not.
func (rt *Runtime) available() error {
	if rt == nil {
		return fmt.Errorf("%w: no scriptlet runtime in this process", ErrUnavailable)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return fmt.Errorf("%w: the scriptlet runtime is closed", ErrUnavailable)
	}
	return nil
}

// Stats are the runtime's counters.
type Stats struct {
	// StatesCreated counts Lua states created since New, in every generation.
	StatesCreated uint64
	// Errors and Timeouts count calls that failed with a runtime error or overran their
	// deadline.
	Errors, Timeouts uint64
}

// Stats returns the runtime's counters.
func (rt *Runtime) Stats() Stats {
	return Stats{StatesCreated: rt.created.Load(), Errors: rt.errors.Load(), Timeouts: rt.timeouts.Load()}
}

// onLoop reports whether the caller runs on the master loop: the goroutine that must never
// block.
func (rt *Runtime) onLoop() bool { return rt.loop != nil && rt.loop.OnLoop() }

// mono returns monotonic nanoseconds since the runtime started (never 0 after the first
// nanosecond, which deadlines rely on: 0 means "no call running").
func (rt *Runtime) mono() int64 { return int64(time.Since(rt.base)) + 1 }

// genFor returns the scriptlet generation state of a module generation, or nil.
func (rt *Runtime) genFor(g *modules.Generation) *genState {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.gens[g]
}

// liveGens returns the generation states, oldest first.
func (rt *Runtime) liveGens() []*genState {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]*genState, 0, len(rt.gens))
	for _, g := range rt.gens {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// deadline is the context.Context every Lua state of the runtime runs under. gopher-lua
// checks Done between instructions; a state arms it before each call and disarms it after,
// and the watchdog closes the channel of a state whose call overran. One channel per state
// is reused until it fires, so arming costs a clock read and an atomic store rather than a
// context and a timer per call.
type deadline struct {
	// at is the monotonic deadline of the running call: 0 idle, -1 fired.
	at   atomic.Int64
	done atomic.Pointer[chan struct{}]
}

func newDeadline() *deadline {
	d := &deadline{}
	ch := make(chan struct{})
	d.done.Store(&ch)
	return d
}

func (d *deadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *deadline) Done() <-chan struct{}       { return *d.done.Load() }
func (d *deadline) Value(any) any               { return nil }

// Err returns context.DeadlineExceeded once the channel is closed.
func (d *deadline) Err() error {
	select {
	case <-d.Done():
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// arm starts a call of at most timeout; 0 or less means no deadline. The owner of the
// state calls it.
func (d *deadline) arm(rt *Runtime, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	d.at.Store(rt.mono() + int64(timeout))
}

// disarm ends the call and reports whether the deadline fired during it; a fired channel
// is replaced so that the next call starts clean. The owner of the state calls it.
func (d *deadline) disarm() bool {
	if d.at.Swap(0) != -1 {
		return false
	}
	ch := make(chan struct{})
	d.done.Store(&ch)
	return true
}

// watchdog closes the channels of overrunning calls, every tick, until Close.
// While no Lua state exists (a daemon without scripts) it stops its ticker
// and waits for addDeadline: a ticker that fires for nothing wakes an idle
// processor a hundred times a second and keeps the runtime's monitor thread
// from backing off, which an event loop serving mail pays for.
func (rt *Runtime) watchdog(tick time.Duration) {
	defer rt.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	var ds []*deadline
	for {
		select {
		case <-rt.stop:
			return
		case <-t.C:
		}
		ds = ds[:0]
		rt.mu.Lock()
		for d := range rt.deadlines {
			ds = append(ds, d)
		}
		rt.mu.Unlock()
		if len(ds) == 0 {
			t.Stop()
			select {
			case <-rt.stop:
				return
			case <-rt.statesAdded:
			}
			t.Reset(tick)
			continue
		}
		now := rt.mono()
		for _, d := range ds {
			at := d.at.Load()
			if at <= 0 || now < at {
				continue
			}
			// Load the channel before claiming: the owner replaces it only after seeing
			// the claim, so the channel loaded here is the one the claim closes.
			ch := d.done.Load()
			if d.at.CompareAndSwap(at, -1) {
				close(*ch)
			}
		}
	}
}

// addDeadline registers the deadline of a new Lua state with the watchdog,
// waking it if it sleeps.
func (rt *Runtime) addDeadline(d *deadline) {
	rt.mu.Lock()
	rt.deadlines[d] = struct{}{}
	rt.mu.Unlock()
	select {
	case rt.statesAdded <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (rt *Runtime) removeDeadline(d *deadline) {
	rt.mu.Lock()
	delete(rt.deadlines, d)
	rt.mu.Unlock()
}
