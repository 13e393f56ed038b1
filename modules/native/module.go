package native

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/memtype"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// slot is the process-long record of one native module: the library it
// loads, the version new generations bind to, the persistent state carried
// from version to version, and the options and memory types its versions
// share (defined once per process, like every module's).
type slot struct {
	l    *Loader
	name string // as the manifest writes it

	// upgradeMu serialises conf_setup and the reload check of a generation:
	// a version is set up once. It is held across calls into C, which is why
	// it is not mu: the host functions those calls make take mu.
	upgradeMu sync.Mutex

	// mu guards every field below.
	mu          sync.Mutex
	path        string
	singleton   bool
	description string
	shadows     []modules.Kind
	setUp       bool // the first conf_setup succeeded
	reg         *config.Registry
	logger      *slog.Logger
	fallback    string
	cur         *version // holds a library reference of its own
	failed      map[*library]error
	state       uintptr
	stateVer    uint32
	hasState    bool
	checked     uint64 // the last generation whose Init compared the file on disk
	opts        []*optDef
	types       []*memtype.Type
	box         cmem // C memory for migrate's void **state
}

// version is one library load set up as a version of a module.
type version struct {
	s    *slot
	lib  *library
	info moduleInfo
	long *hostCtx // the conf_setup context, valid while the load lives
	// hooks are the registrations made in conf_setup (singletons): each is
	// registered into every generation the version serves. Written during
	// setup only.
	hooks []hookReg
}

type hookReg struct {
	name        string
	pos         hooks.Position
	fn, closure uintptr
}

// optDef is one option a module defined; its id is its index plus one.
type optDef struct {
	name string
	typ  int32
	str  *config.Option[string]
	num  *config.Option[int64]
	flag *config.Option[bool]
}

func (s *slot) log() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logger != nil {
		return s.logger
	}
	return s.l.log.With("module", s.name)
}

// newObject is the module's Info.New: an inert object, bound to library
// versions by ExtInit.
func (s *slot) newObject() modules.Module {
	return &moduleObj{s: s, bound: map[uint64]*version{}}
}

// close drops the slot's reference on its current version (Loader.Close).
func (s *slot) close() {
	s.mu.Lock()
	cur := s.cur
	s.cur = nil
	s.mu.Unlock()
	if cur != nil {
		cur.lib.release()
	}
}

// setupVersion makes lib a version of the module: enters it, migrates the
// persistent state to its state version, runs its conf_setup. first is the
// module's conf_setup in the module system; later calls are reloads, which
// may not define new options or memory types. s.upgradeMu must be held. A
// load whose setup failed fails the same way again without running C again.
func (s *slot) setupVersion(lib *library, first bool) (*version, error) {
	s.mu.Lock()
	if s.cur != nil && s.cur.lib == lib {
		v := s.cur
		s.mu.Unlock()
		return v, nil
	}
	if err := s.failed[lib]; err != nil {
		s.mu.Unlock()
		return nil, err
	}
	state, ver, has := s.state, s.stateVer, s.hasState
	if s.box.b == nil {
		m, err := mapC(8)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.box = m
	}
	s.mu.Unlock()

	v, state, has, err := s.runSetup(lib, state, ver, has, first)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("native: %s (%s load %d): %w", s.name, lib.base(), lib.seq, err)
		s.failed[lib] = err
		return nil, err
	}
	s.state, s.hasState = state, has
	if has {
		s.stateVer = v.info.stateVersion
	}
	lib.mu.Lock()
	lib.module = s.name
	lib.mu.Unlock()
	return v, nil
}

func (s *slot) runSetup(lib *library, state uintptr, ver uint32, has, first bool) (*version, uintptr, bool, error) {
	info, err := lib.entry()
	if err != nil {
		return nil, 0, false, err
	}
	s.mu.Lock()
	singleton := s.singleton
	s.mu.Unlock()
	switch {
	case !strings.EqualFold(info.name, s.name):
		return nil, 0, false, fmt.Errorf("%w: the library calls itself %q", ErrBadModule, info.name)
	case !first && info.singleton != singleton:
		return nil, 0, false, fmt.Errorf("%w: the singleton flag changed", ErrRestart)
	case has && ver > info.stateVersion:
		return nil, 0, false, fmt.Errorf("%w: the persistent state has version %d, this code knows up to version %d; no automatic downgrade", ErrDowngrade, ver, info.stateVersion)
	}
	v := &version{s: s, lib: lib, info: info}
	v.long = newContext(s.l, lib, v, phaseSetup)
	failed := func(err error) (*version, uintptr, bool, error) {
		v.long.done()
		return nil, 0, false, err
	}
	for has && ver < info.stateVersion {
		if info.migrate == 0 {
			return failed(fmt.Errorf("%w: the state has version %d and the module has no migrate function to version %d", ErrMigrate, ver, info.stateVersion))
		}
		s.log().Info("native: migrating persistent state", "from", ver, "to", ver+1, "load", lib.seq)
		s.box.put(state)
		if r := int32(lib.call(info.migrate, v.long.id, s.box.addr(0), uintptr(ver))); r != 0 {
			return failed(fmt.Errorf("%w: from version %d: migrate returned %d%s", ErrMigrate, ver, r, detail(v.long.takeErrs())))
		}
		state = s.box.get()
		ver++
	}
	var argState, argVer uintptr
	if has {
		argState, argVer = state, uintptr(ver)
	}
	if r := int32(lib.call(info.confSetup, v.long.id, argState, argVer)); r != 0 {
		return failed(fmt.Errorf("%w: conf_setup returned %d%s", ErrModule, r, detail(v.long.takeErrs())))
	}
	v.long.mu.Lock()
	if v.long.stateSet {
		state, has = v.long.state, true
	}
	v.long.ph = phaseLong
	v.long.errs = nil
	v.long.mu.Unlock()
	return v, state, has, nil
}

// detail formats the host errors of a failed call for its error message.
func detail(err error) string {
	if err == nil {
		return ""
	}
	return ": " + strings.ReplaceAll(err.Error(), "\n", "; ")
}

// put and get move a word through the C box.
func (m cmem) put(w uintptr) { *(*uintptr)(cptr(m.addr(0))) = w }
func (m cmem) get() uintptr  { return *(*uintptr)(cptr(m.addr(0))) }

// bindGeneration returns the version generation gen serves, with a library
// reference for it. The first call for a generation compares the library on
// disk with the current version: a changed file (when reload is on) is
// loaded and set up as a new version, which this and later generations use;
// older generations keep theirs. On failure the current version is unchanged
// and the reload fails.
func (s *slot) bindGeneration(gen uint64) (*version, error) {
	s.upgradeMu.Lock()
	defer s.upgradeMu.Unlock()
	s.mu.Lock()
	cur, checked, path := s.cur, s.checked == gen, s.path
	s.mu.Unlock()
	if cur == nil {
		return nil, fmt.Errorf("native: %s: %w: the loader is closed", s.name, ErrUnloaded)
	}
	if !checked {
		lib, err := s.l.cache.get(path, s.l.reload())
		if err != nil {
			return nil, fmt.Errorf("native: %s: %w", s.name, err)
		}
		if lib == cur.lib {
			lib.release()
		} else {
			v, err := s.setupVersion(lib, false)
			if err != nil {
				lib.release()
				return nil, err
			}
			s.mu.Lock()
			old := s.cur
			s.cur = v
			s.mu.Unlock()
			s.log().Info("native: module reloaded", "library", path, "old_load", old.lib.seq, "load", lib.seq, "state_version", v.info.stateVersion)
			old.lib.release() // the slot's; generations bound to it hold theirs
			cur = v
		}
		s.mu.Lock()
		s.checked = gen
		s.mu.Unlock()
	}
	cur.lib.acquire()
	return cur, nil
}

// defineOption is option_register: the option in the module's own scope.
// A version after the first gets the id of the same name and type back.
func (s *slot) defineOption(name string, typ int32, def string, hasDef bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.opts {
		if strings.EqualFold(o.name, name) {
			if o.typ != typ {
				return 0, fmt.Errorf("%w: option %q: type %d, defined before as type %d; %w", errExists, name, typ, o.typ, ErrRestart)
			}
			return i + 1, nil
		}
	}
	if s.setUp {
		return 0, fmt.Errorf("%w: option %q is new in this version", ErrRestart, name)
	}
	if !hasDef {
		def = ""
	}
	o := &optDef{name: name, typ: typ}
	var err error
	switch typ {
	case cOptString:
		o.str, err = config.Define(s.reg, config.Spec[string]{Name: name, Fallback: s.fallback, Default: def}, config.StringType())
	case cOptInt:
		o.num, err = config.Define(s.reg, config.Spec[int64]{Name: name, Fallback: s.fallback, Default: def}, config.IntType())
	case cOptBool:
		o.flag, err = config.Define(s.reg, config.Spec[bool]{Name: name, Fallback: s.fallback, Default: def}, config.BoolType())
	default:
		return 0, fmt.Errorf("%w: option %q: unknown type %d", ErrBadParams, name, typ)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: option %q: %w", ErrBadParams, name, err)
	}
	s.opts = append(s.opts, o)
	return len(s.opts), nil
}

// option returns the option of id.
func (s *slot) option(id int) (*optDef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.opts) {
		return nil, fmt.Errorf("%w: option id %d: %w", ErrBadParams, id, errNotFound)
	}
	return s.opts[id-1], nil
}

// confFor returns the configuration generation and instance c fetches
// options from: the call's generation, or for a singleton's long context
// the module system's current one. release must be called after the fetch.
func (s *slot) confFor(c *hostCtx) (cfg *config.Generation, instance string, release func(), err error) {
	if c.gen != nil {
		return c.gen.Config(), c.instance, func() {}, nil
	}
	s.mu.Lock()
	singleton := s.singleton
	s.mu.Unlock()
	if !singleton {
		return nil, "", nil, fmt.Errorf("%w: a non-singleton module fetches options in ext_init or control", errPhase)
	}
	m := s.l.manager.Load()
	if m == nil {
		return nil, "", nil, fmt.Errorf("%w: no module system attached to the native loader", errPhase)
	}
	g := m.Current()
	if g == nil {
		return nil, "", nil, fmt.Errorf("%w: the module system is closed", errPhase)
	}
	return g.Config(), "", g.Release, nil
}

// fetchInt is option_int.
func (s *slot) fetchInt(c *hostCtx, id int) (int64, error) {
	o, err := s.option(id)
	if err != nil {
		return 0, err
	}
	if o.typ == cOptString {
		return 0, fmt.Errorf("%w: option %q is a string", ErrBadParams, o.name)
	}
	cfg, inst, release, err := s.confFor(c)
	if err != nil {
		return 0, err
	}
	defer release()
	if o.flag != nil {
		if o.flag.Module(cfg, inst) {
			return 1, nil
		}
		return 0, nil
	}
	return o.num.Module(cfg, inst), nil
}

// fetchString is option_string.
func (s *slot) fetchString(c *hostCtx, id int) (string, error) {
	o, err := s.option(id)
	if err != nil {
		return "", err
	}
	if o.typ != cOptString {
		return "", fmt.Errorf("%w: option %q is not a string", ErrBadParams, o.name)
	}
	cfg, inst, release, err := s.confFor(c)
	if err != nil {
		return "", err
	}
	defer release()
	return o.str.Module(cfg, inst), nil
}

// defineMemtype is memtype_register. A version after the first gets the id
// of the same name and size back.
func (s *slot) defineMemtype(name string, size int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range s.types {
		if t.Name() == name {
			if t.Size() != size {
				return 0, fmt.Errorf("%w: memory type %q: size %d, registered with size %d; %w", errExists, name, size, t.Size(), ErrRestart)
			}
			return i + 1, nil
		}
	}
	if s.setUp {
		return 0, fmt.Errorf("%w: memory type %q is new in this version", ErrRestart, name)
	}
	t, err := s.l.mem.Register(memtype.Spec{Name: name, Size: size})
	if err != nil {
		if errors.Is(err, memtype.ErrDuplicate) {
			return 0, fmt.Errorf("%w: %w", errExists, err)
		}
		return 0, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	s.types = append(s.types, t)
	return len(s.types), nil
}

// memtype returns the memory type of id for a host call of c.
func (c *hostCtx) memtype(id int) (*memtype.Type, error) {
	if c.v == nil {
		return nil, fmt.Errorf("%w: memory types belong to modules", errPhase)
	}
	s := c.v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > len(s.types) {
		return nil, fmt.Errorf("%w: memory type id %d: %w", ErrBadParams, id, errNotFound)
	}
	return s.types[id-1], nil
}

// registerHook is hook_register.
func (c *hostCtx) registerHook(name string, pos hooks.Position, fn, closure uintptr) error {
	b, ok := lookupBinding(name)
	if !ok {
		if c.reg != nil {
			if _, err := c.reg.Show(name); errors.Is(err, hooks.ErrUnknownHook) {
				return fmt.Errorf("%w: no hook %q is declared: %w", ErrNoAdapter, name, errNotFound)
			}
		}
		return fmt.Errorf("%w: hook %q (bind it with native.Bind to let C modules provide it)", ErrNoAdapter, name)
	}
	if c.v == nil {
		return fmt.Errorf("%w: hooks belong to modules", errPhase)
	}
	switch c.phase() {
	case phaseSetup:
		c.v.s.mu.Lock()
		singleton := c.v.s.singleton
		c.v.s.mu.Unlock()
		if !singleton {
			return fmt.Errorf("%w: hook %q: a non-singleton module registers hooks in ext_init(EC_INIT)", errPhase, name)
		}
		c.v.hooks = append(c.v.hooks, hookReg{name: name, pos: pos, fn: fn, closure: closure})
		return nil
	case phaseInit:
		return b.register(c.reg, pos, c.v.s.name, &Provider{fn: fn, closure: closure, lib: c.lib}, c.lib.site())
	}
	return fmt.Errorf("%w: hook %q: hooks are registered in conf_setup or ext_init(EC_INIT)", errPhase, name)
}

// site names a load for registration listings: file#load.
func (lib *library) site() string { return fmt.Sprintf("%s#%d", lib.base(), lib.seq) }

// queueJob is job_queue: work runs in the named pool with a reference on the
// library until its completion has run.
func (c *hostCtx) queueJob(pool string, work, done, arg uintptr) error {
	pools := c.l.opts.Pools
	if pools == nil {
		return fmt.Errorf("%w: no thread pools configured for native modules", errPhase)
	}
	if work == 0 {
		return fmt.Errorf("%w: NULL work function", ErrBadParams)
	}
	if pool == "" {
		pool = threadpool.PoolCPU
	}
	class, ok := pools.Class(pool)
	if !ok {
		return fmt.Errorf("%w: thread pool %q: %w", ErrBadParams, pool, errNotFound)
	}
	lib := c.lib
	lib.acquire()
	var result int32
	j := &threadpool.Job{Name: "native " + lib.base(), Class: class, Free: lib.release}
	j.Work = func(*threadpool.Job) error {
		if result = int32(lib.call(work, arg)); result != 0 {
			return fmt.Errorf("native job of %s returned %d", lib.base(), result)
		}
		return nil
	}
	if done != 0 {
		j.Done = func(*threadpool.Job) { lib.call(done, arg, uintptr(int64(result))) }
		j.Mode = threadpool.CompleteCallback
		if loop := c.l.opts.Loop; loop != nil {
			j.Mode, j.Loop = threadpool.CompleteCallbackSched, loop
		}
	}
	if err := pools.Submit(j); err != nil {
		lib.release()
		return fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	return nil
}

// after is timer_after: fn runs once on the loop, with a reference on the
// library until it has run.
func (c *hostCtx) after(millis int64, fn, arg uintptr) error {
	loop := c.l.opts.Loop
	if loop == nil {
		return fmt.Errorf("%w: no event loop configured for native modules", errPhase)
	}
	if fn == 0 || millis < 0 {
		return fmt.Errorf("%w: NULL function or negative delay", ErrBadParams)
	}
	lib := c.lib
	lib.acquire()
	d := time.Duration(millis) * time.Millisecond
	fire := func(*sched.Timer, time.Time) {
		lib.call(fn, arg)
		lib.release()
	}
	if loop.OnLoop() {
		loop.After(d, fire, nil)
	} else {
		loop.Dispatch(func(time.Time) { loop.After(d, fire, nil) })
	}
	return nil
}

// moduleObj is a native module's infrastructure object: one per process for
// a singleton, one per instance per generation otherwise. It remembers which
// version serves each generation it was initialised for.
type moduleObj struct {
	s *slot

	// mu guards bound.
	mu    sync.Mutex
	bound map[uint64]*version // by generation; each holds a library reference
}

var (
	_ modules.ConfSetuper = (*moduleObj)(nil)
	_ modules.ExtIniter   = (*moduleObj)(nil)
	_ modules.Controller  = (*moduleObj)(nil)
	_ modules.Describer   = (*moduleObj)(nil)
)

// ConfSetup loads the current library and runs its conf_setup: the module's
// options (in its own scope), memory types, and a singleton's hooks.
func (o *moduleObj) ConfSetup(ctx *modules.SetupCtx) error {
	s := o.s
	s.upgradeMu.Lock()
	defer s.upgradeMu.Unlock()
	s.mu.Lock()
	s.reg, s.logger = ctx.Config(), ctx.Logger()
	s.fallback = s.name
	if s.singleton {
		s.fallback = "[" + s.name + "]"
	}
	path := s.path
	s.mu.Unlock()
	lib, err := s.l.cache.get(path, s.l.reload())
	if err != nil {
		return fmt.Errorf("native: %s: %w", s.name, err)
	}
	v, err := s.setupVersion(lib, true)
	if err != nil {
		lib.release()
		return err
	}
	s.mu.Lock()
	s.cur, s.setUp, s.description = v, true, v.info.description
	s.mu.Unlock()
	return nil
}

// Describe returns the module's description, and what it shadows.
func (o *moduleObj) Describe() string {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.description
	for _, k := range s.shadows {
		if d != "" {
			d += " "
		}
		d += fmt.Sprintf("(native; shadows the %s module %s)", k, s.name)
	}
	return d
}

// ExtInit binds the generation to the module's current version (loading a
// changed library first, see bindGeneration), registers the version's
// conf_setup hooks into the generation and calls the C ext_init.
func (o *moduleObj) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	g := ctx.Generation()
	if mode == modules.Init {
		v, err := o.s.bindGeneration(g.ID())
		if err != nil {
			return err
		}
		o.mu.Lock()
		o.bound[g.ID()] = v
		o.mu.Unlock()
		for _, h := range v.hooks {
			b, _ := lookupBinding(h.name) // checked at registration; bindings are never removed
			if err := b.register(ctx.Hooks(), h.pos, o.s.name, &Provider{fn: h.fn, closure: h.closure, lib: v.lib}, v.lib.site()); err != nil {
				return err
			}
		}
		return o.extInit(ctx, v, cInit, phaseInit)
	}
	o.mu.Lock()
	v := o.bound[g.ID()]
	if mode == modules.Destroy {
		delete(o.bound, g.ID())
	}
	o.mu.Unlock()
	if v == nil {
		return nil // Init failed before binding
	}
	cmode := cPostInit
	if mode == modules.Destroy {
		defer v.lib.release()
		cmode = cDestroy
	}
	return o.extInit(ctx, v, cmode, phaseExt)
}

// extInit calls the version's C ext_init, if it has one.
func (o *moduleObj) extInit(ctx *modules.InitCtx, v *version, mode int, ph phase) error {
	if v.info.extInit == 0 {
		return nil
	}
	c := newContext(o.s.l, v.lib, v, ph)
	c.gen, c.instance = ctx.Generation(), ctx.Instance()
	if ph == phaseInit {
		c.reg = ctx.Hooks()
	}
	defer c.done()
	priv := uintptr(0)
	if ctx.Privileged() {
		priv = 1
	}
	if r := int32(v.lib.call(v.info.extInit, c.id, uintptr(mode), priv)); r != 0 {
		return fmt.Errorf("%w: %s load %d: ext_init(%d) returned %d%s", ErrModule, v.lib.base(), v.lib.seq, mode, r, detail(c.takeErrs()))
	}
	return nil
}

// Control runs a console command in the version serving the command's
// generation.
func (o *moduleObj) Control(ctx *modules.ControlCtx, args []string) (string, error) {
	o.mu.Lock()
	v := o.bound[ctx.Generation().ID()]
	o.mu.Unlock()
	if v == nil {
		return "", fmt.Errorf("%w: %s, generation %d", ErrNotBound, o.s.name, ctx.Generation().ID())
	}
	if v.info.control == 0 {
		return "", fmt.Errorf("%w: %s has no console commands", ErrBadParams, o.s.name)
	}
	a, err := newArgv(args)
	if err != nil {
		return "", err
	}
	defer a.free()
	c := newContext(o.s.l, v.lib, v, phaseControl)
	c.gen, c.instance = ctx.Generation(), ctx.Instance()
	defer c.done()
	r := int32(v.lib.call(v.info.control, c.id, uintptr(a.argc), a.ptr(), c.id))
	c.mu.Lock()
	out := c.reply.String()
	c.mu.Unlock()
	if r != 0 {
		return out, fmt.Errorf("%w: control returned %d%s", ErrModule, r, detail(c.takeErrs()))
	}
	return out, nil
}
