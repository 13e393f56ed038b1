package modules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/sched"
)

// Committed is called after every generation swap, on the goroutine that
// committed it, with the new generation's ID: the framework's signal that a
// configuration took effect.
var Committed = hooks.DeclareVoid[func(gen uint64)](hooks.Config, "generation_committed")

// Options configure a Manager.
type Options struct {
	// Store is the configuration store; required. The manager joins its
	// commits as a participant, and defines module scopes and options in its
	// registry.
	Store *config.Store
	// Loop is the master event loop. When set, the swap of a new generation
	// runs on it (through Dispatch) and is the only part of a reload that
	// does; when nil, the swap runs on the committing goroutine.
	Loop *sched.Loop
	// Hooks is where the live hook registry is installed; nil makes a new one
	// (see Manager.Hooks).
	Hooks *hooks.Current
	// HookOptions configure every generation's hook registry.
	HookOptions hooks.Options
	// Loaders open modules, in precedence order; nil means the process-wide
	// built-in modules only.
	Loaders []Loader
	// Libexec lists the directories scanned for .ecm manifests.
	Libexec []string
	// Logger receives module errors that have no caller to return to (a
	// failing Destroy). Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for generation ages; nil means time.Now.
	Now func() time.Time
}

// Manager is the module system: the catalogue of modules, and the builder and
// keeper of generations. Create one with New, start it with Start, reload with
// Reload. Its methods are safe for concurrent use; Start, Reload, DryRun and
// Close are serialised and must not be called on the event loop.
type Manager struct {
	opts     Options
	store    *config.Store
	hooksCur *hooks.Current
	log      *slog.Logger

	// cur is the live generation; the swap replaces it together with the
	// registry installed in hooksCur and the store's configuration.
	cur      atomic.Pointer[Generation]
	lastSwap atomic.Int64 // nanoseconds the last swap took on the loop
	// pending is the generation the participant's Prepare built, until its
	// Commit or Abort; replaced is the one its Swap took out of cur, until
	// Commit. Atomics, because Swap may run on the loop and must not wait
	// for mu; the store orders Prepare, Swap and Commit.
	pending, replaced atomic.Pointer[Generation]
	// closing ends when Close begins: a console commit's swap stops waiting
	// for the loop then.
	closing     context.Context
	closeCancel context.CancelFunc

	// reloadMu serialises Start, Reload, DryRun and Close: one build at a time.
	reloadMu sync.Mutex

	// mu guards everything below, and every entry's fields.
	mu       sync.Mutex
	entries  map[string]*entry // by lower-case name
	order    []*entry          // catalogue order: scan order, then loaders'
	provides map[string][]provider
	problems []error
	live     map[uint64]*Generation // generations not yet destroyed
	staged   *plan                  // the plan Reload resolved for the commit it runs
	building struct {
		privileged bool
	}
	started bool
	closed  bool
}

// New returns a manager over opts.Store. Its first generation wraps the
// store's current configuration with no modules; Start loads the real one.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("modules: New: Options.Store is required")
	}
	if opts.Loaders == nil {
		opts.Loaders = []Loader{DefaultBuiltins().Loader()}
	}
	if opts.Hooks == nil {
		opts.Hooks = new(hooks.Current)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{
		opts: opts, store: opts.Store, hooksCur: opts.Hooks, log: opts.Logger,
		entries: map[string]*entry{}, live: map[uint64]*Generation{},
	}
	m.closing, m.closeCancel = context.WithCancel(context.Background())
	reg := hooks.NewRegistry(nil, opts.HookOptions)
	if err := reg.Seal(); err != nil {
		return nil, fmt.Errorf("modules: New: %w", err)
	}
	conf := m.store.Current()
	g := &Generation{m: m, id: conf.ID(), created: conf.Created(), conf: conf, hooks: reg, destroyed: make(chan struct{})}
	g.refs.Store(1)
	if err := reg.Pin(); err != nil {
		return nil, fmt.Errorf("modules: New: %w", err)
	}
	if err := g.armRetire(); err != nil {
		return nil, fmt.Errorf("modules: New: %w", err)
	}
	if _, err := m.hooksCur.Swap(reg); err != nil {
		return nil, fmt.Errorf("modules: New: %w", err)
	}
	m.cur.Store(g)
	m.live[g.id] = g
	m.mu.Lock()
	m.refreshLocked()
	m.mu.Unlock()
	m.store.AddParticipant(participant{m})
	if opts.Loop != nil {
		// Commits made through the store (the console's `config set`) swap
		// on the loop too.
		m.store.SetSwapRunner(func(swap func()) { m.onLoop(m.closing, swap) })
	}
	return m, nil
}

// Hooks returns the Current that holds the live generation's hook registry:
// what the Call forms are given.
func (m *Manager) Hooks() *hooks.Current { return m.hooksCur }

// Current returns the live generation with a reference the caller must
// Release, or nil after Close. Any goroutine; lock-free.
func (m *Manager) Current() *Generation {
	for {
		g := m.cur.Load()
		if g == nil {
			return nil
		}
		if g.tryAcquire() {
			return g
		}
		// g lost its last reference after being swapped out: the pointer
		// holds its successor now.
	}
}

// LastSwap returns how long the last generation swap took, measured inside
// the swap itself (on the loop when there is one): the time the loop was
// blocked by the reload.
func (m *Manager) LastSwap() time.Duration { return time.Duration(m.lastSwap.Load()) }

// Start loads the configuration at path (the store's path when empty) as the
// start-up generation: conf_setup and ext_init see Privileged() true, for this
// generation only. On success the store is marked started.
func (m *Manager) Start(ctx context.Context, path string) error {
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if started {
		return errors.New("modules: Start called twice")
	}
	if err := m.reload(ctx, path, true); err != nil {
		return err
	}
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	m.store.MarkStarted()
	return nil
}

// Reload replaces the configuration with the file at path (the store's path
// when empty) and commits a new generation; path becomes the store's path,
// what the next Reload("") reads. It builds everything off the event loop:
// parse, resolve modules, conf_setup for modules new to the process,
// validation, a new hook registry, ext_init for every instance; only the swap
// of configuration, hooks and module generation runs on the loop, as one
// dispatched function. Any failure rejects the reload with every error (a
// *RejectedError): the running generation stays current and untouched, and
// the instances the rejected generation created are destroyed before Reload
// returns. ctx bounds the wait for the loop to run the swap; if it ends first
// the swap runs on the caller (the loop has stopped). Not on the loop.
func (m *Manager) Reload(ctx context.Context, path string) error {
	return m.reload(ctx, path, false)
}

func (m *Manager) reload(ctx context.Context, path string, privileged bool) error {
	if m.opts.Loop != nil && m.opts.Loop.OnLoop() {
		return ErrOnLoop
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.isClosed() {
		return ErrClosed
	}
	if path == "" {
		path = m.store.Path()
	}
	tree, err := config.ParseFile(path)
	if err != nil {
		return rejected(flatten(err))
	}
	return m.commitTree(ctx, tree, path, privileged)
}

// ReloadTree is Reload with a tree already parsed (config.Parse), for callers
// that hold the text rather than a file. Not on the loop.
func (m *Manager) ReloadTree(ctx context.Context, tree *config.Tree) error {
	if m.opts.Loop != nil && m.opts.Loop.OnLoop() {
		return ErrOnLoop
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.isClosed() {
		return ErrClosed
	}
	return m.commitTree(ctx, tree, "", false)
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// commitTree runs the pipeline for tree, read from path ("" keeps the store's
// path). m.reloadMu must be held.
func (m *Manager) commitTree(ctx context.Context, tree *config.Tree, path string, privileged bool) error {
	m.mu.Lock()
	m.refreshLocked()
	pl := m.resolveLocked(tree)
	m.mu.Unlock()
	errs := pl.errs
	errs = append(errs, m.setupAll(pl, privileged)...)
	if len(errs) > 0 {
		// Validate too, so that the operator sees every problem at once.
		if g, err := m.store.Registry().Build(tree); err != nil {
			errs = append(errs, flatten(err)...)
		} else {
			g.Release()
		}
		return rejected(errs)
	}
	m.mu.Lock()
	m.staged = pl
	m.building.privileged = privileged
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.staged = nil
		m.building.privileged = false
		m.mu.Unlock()
	}()
	txn := m.store.BeginTree(tree)
	if path != "" {
		txn.SetPath(path)
	}
	p, err := txn.Prepare()
	if err != nil {
		return rejected(flatten(err))
	}
	// The store's pointer, the hook registry and the module generation
	// change in this one function: on the loop, nothing sees them disagree.
	m.onLoop(ctx, p.Swap)
	p.Finish().Release()
	return nil
}

// flatten unpacks a config.ErrorList, and this package's RejectedError inside
// it (a participant's veto), into the errors they hold.
func flatten(err error) []error {
	var list config.ErrorList
	if !errors.As(err, &list) {
		var rej *RejectedError
		if errors.As(err, &rej) {
			return rej.Errs
		}
		return []error{err}
	}
	var out []error
	for _, e := range list {
		var rej *RejectedError
		if errors.As(e, &rej) {
			out = append(out, rej.Errs...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// setupAll runs conf_setup for the plan's modules that are new to the
// process, in load order (dependencies first). Off the loop; m.reloadMu held.
func (m *Manager) setupAll(pl *plan, privileged bool) []error {
	var errs []error
	for _, u := range pl.units {
		m.mu.Lock()
		done := u.e.setupDone
		m.mu.Unlock()
		if done {
			continue
		}
		if err := m.setup(u.e, privileged); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// setup runs one module's conf_setup: define its scope keyword and the
// options every module has (enabled, debug_level), then call ConfSetup. A
// failure is final for the process: definitions made so far cannot be
// withdrawn from the config registry.
func (m *Manager) setup(e *entry, privileged bool) error {
	m.mu.Lock()
	info := *e.info
	name := e.name
	m.mu.Unlock()

	reg := m.store.Registry()
	ctx := &SetupCtx{name: name, singleton: info.Singleton, privileged: privileged, reg: reg, log: m.logFor(name)}
	var obj Module
	var enabled *config.Option[bool]
	err := func() error {
		if err := reg.DefineScope(config.ScopeDef{Keyword: name, Named: !info.Singleton, Parents: []string{"Global"}}); err != nil {
			return err
		}
		fb := name
		if info.Singleton {
			fb = "[" + name + "]"
		}
		var err error
		enabled, err = config.Define(reg, config.Spec[bool]{Name: "enabled", Fallback: fb, Default: "true"}, config.BoolType())
		if err != nil {
			return err
		}
		if _, err := config.Define(reg, config.Spec[string]{Name: "debug_level", Fallback: fb, Default: "ERROR", Validate: validDebugLevel}, config.StringType()); err != nil {
			return err
		}
		// A non-singleton's conf_setup runs on an object made for it alone:
		// its instances are made per generation and get what it kept through
		// SetShared.
		obj = info.New()
		if cs, ok := obj.(ConfSetuper); ok {
			return safeCall(func() error { return cs.ConfSetup(ctx) })
		}
		return nil
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	e.setupDone = true
	if err != nil {
		e.setupErr = &ModuleError{Module: name, Phase: "conf_setup", Kind: ErrSetup, Err: err}
		return e.setupErr
	}
	e.enabledOpt = enabled
	e.shared = ctx.shared
	e.hooksFn = ctx.hooksFn
	if info.Singleton {
		e.singleton = obj
	}
	if d, ok := obj.(Describer); ok {
		e.description = d.Describe()
	}
	return nil
}

var debugLevels = []string{"DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"}

func validDebugLevel(v string) error {
	for _, l := range debugLevels {
		if strings.EqualFold(v, l) {
			return nil
		}
	}
	return fmt.Errorf("debug_level must be one of %s", strings.Join(debugLevels, ", "))
}

func (m *Manager) logFor(module string) *slog.Logger { return m.log.With("module", module) }

// Close ends the manager: it uninstalls the live generation and waits, until
// ctx ends, for every generation's instances to be destroyed (which waits for
// the references still held). Not on the loop.
func (m *Manager) Close(ctx context.Context) error {
	if m.opts.Loop != nil && m.opts.Loop.OnLoop() {
		return ErrOnLoop
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.closeCancel()
	if _, err := m.hooksCur.Swap(nil); err != nil {
		return fmt.Errorf("modules: close: %w", err)
	}
	old := m.cur.Swap(nil)
	// The store keeps the current config generation, which never retires
	// while the process lives; for the module system, Close is its end.
	old.confRetired()
	if err := old.hooks.Retire(); err != nil {
		m.log.Error("modules: close: retiring the hook registry", "err", err)
	}
	old.Release()
	m.mu.Lock()
	var waits []<-chan struct{}
	for _, g := range m.live {
		waits = append(waits, g.destroyed)
	}
	m.mu.Unlock()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("modules: close: waiting for generations to be released: %w", ctx.Err())
		}
	}
	return nil
}
