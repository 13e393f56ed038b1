package modules

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
)

// participant joins the config store's commits: Prepare builds the module
// generation for the configuration generation being committed, Swap installs
// it and its hook registry in the same step as the store's own pointer, Commit
// retires what it replaced, Abort throws it away. The store calls them one
// transaction at a time; Swap runs wherever the swap runs (the loop, when the
// manager has one), the others on the committing goroutine.
type participant struct{ m *Manager }

var (
	_ config.Participant = participant{}
	_ config.Swapper     = participant{}
)

func (p participant) Prepare(_ *config.Txn, next *config.Generation) error {
	m := p.m
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	pl := m.staged
	if pl == nil || pl.tree != next.Tree() {
		// A commit that did not come through Reload (console `config set`):
		// the modules it needs must be set up already, since conf_setup has
		// to run before validation.
		m.refreshLocked()
		pl = m.resolveLocked(next.Tree())
	}
	m.staged = nil
	privileged := m.building.privileged
	errs := pl.errs
	for _, u := range pl.units {
		if !u.e.setupDone {
			errs = append(errs, fmt.Errorf("%w: %s is needed (%s); use a reload to load it", ErrNotSetUp, u.e.name, u.how))
		}
	}
	m.mu.Unlock()
	if len(errs) > 0 {
		return rejected(errs)
	}
	g, err := m.build(pl, next, privileged)
	if err != nil {
		return err
	}
	m.mu.Lock()
	// Listed from now on: its instances exist. Abort or destroy removes it.
	m.live[g.id] = g
	m.mu.Unlock()
	m.pending.Store(g)
	return nil
}

// Swap installs the prepared generation's hook registry and the generation
// itself, right after the store installed next: with a loop, all three
// pointer stores happen in one dispatched function, so that nothing on the
// loop sees the new configuration with the old hooks or the other way round.
// It takes no lock a builder holds; the registry was private to the builder
// until now, which is how the seed's rule that hooks are registered on the
// master thread only is kept: no live call could read the registry while
// modules registered into it.
func (p participant) Swap(_, next *config.Generation) {
	m := p.m
	g := m.pending.Load()
	if g == nil || g.conf != next {
		// Prepare always leaves the generation it built; anything else is a
		// broken store contract, and continuing would desynchronise hooks
		// from configuration.
		panic("modules: swap of a generation this manager did not prepare")
	}
	if _, err := m.hooksCur.Swap(g.hooks); err != nil {
		// g.hooks is sealed and new: Swap cannot refuse it.
		panic(fmt.Sprintf("modules: installing the hook registry of generation %d: %v", g.id, err))
	}
	m.replaced.Store(m.cur.Swap(g))
}

// Commit finishes what Swap began, on the committing goroutine: the replaced
// generation's registry retires and the manager's reference to it goes, which
// may destroy its instances, so none of it runs on the loop.
func (p participant) Commit(_, next *config.Generation) {
	m := p.m
	g := m.pending.Swap(nil)
	old := m.replaced.Swap(nil)
	if g == nil || g.conf != next {
		panic("modules: commit of a generation this manager did not prepare")
	}
	m.mu.Lock()
	for _, in := range g.units {
		in.e.lastErr = nil
		if in.e.isSingleton() {
			in.e.hooksCommitted = true
		}
	}
	m.mu.Unlock()
	if old != nil {
		if err := old.hooks.Retire(); err != nil {
			m.log.Error("modules: retiring the superseded hook registry", "generation", old.id, "err", err)
		}
		old.Release() // the manager's reference
	}
	hooks.CallVoid1(Committed, m.hooksCur, g.id)
}

func (p participant) Abort(next *config.Generation) {
	m := p.m
	g := m.pending.Load()
	if g == nil || g.conf != next || !m.pending.CompareAndSwap(g, nil) {
		return
	}
	m.mu.Lock()
	if m.live[g.id] == g {
		delete(m.live, g.id)
	}
	m.mu.Unlock()
	g.discard()
}

// onLoop runs swap on the master loop and returns once it has run, timing it
// as the time the loop was blocked by a commit. Without a loop, or on the
// loop already, it runs swap in place. If ctx ends before the loop takes it
// (a stopped loop never runs what is dispatched to it), the caller runs it.
func (m *Manager) onLoop(ctx context.Context, swap func()) {
	done := make(chan struct{})
	do := func() {
		start := time.Now()
		swap()
		m.lastSwap.Store(int64(time.Since(start)))
		close(done)
	}
	loop := m.opts.Loop
	if loop == nil || loop.OnLoop() {
		do()
		return
	}
	// Whoever claims runs the swap: the loop, or this goroutine if ctx ends
	// first.
	var claimed atomic.Bool
	loop.Dispatch(func(time.Time) {
		if claimed.CompareAndSwap(false, true) {
			do()
		}
	})
	select {
	case <-done:
	case <-ctx.Done():
		if claimed.CompareAndSwap(false, true) {
			do()
		} else {
			<-done
		}
	}
}

// build makes the module generation for conf from pl: a hook registry carrying
// the committed singletons' registrations, the first registrations of newly
// loaded singletons, then ext_init(Init) for every enabled instance in load
// order, ext_init(PostInit) for all, and Seal. On any failure it destroys what
// it initialised, retires the registry and returns every error, each naming
// its module. Off the loop.
func (m *Manager) build(pl *plan, conf *config.Generation, privileged bool) (*Generation, error) {
	var prevReg *hooks.Registry
	if cur := m.cur.Load(); cur != nil {
		prevReg = cur.hooks
	}
	g := &Generation{
		m: m, id: conf.ID(), created: m.opts.Now(), conf: conf.Acquire(),
		hooks: hooks.NewRegistry(prevReg, m.opts.HookOptions), privileged: privileged,
		destroyed: make(chan struct{}),
	}
	g.refs.Store(1)

	m.mu.Lock()
	for _, u := range pl.units {
		in := &instance{e: u.e, name: u.instance, sig: u.sig, how: u.how, shared: u.e.shared}
		if u.e.info.Singleton {
			in.obj = u.e.singleton
		} else {
			in.obj = u.e.info.New()
		}
		in.enabled = u.e.enabledOpt.Module(conf, u.instance)
		g.units = append(g.units, in)
	}
	type firstHooks struct {
		e  *entry
		fn func(*hooks.Registry) error
	}
	var first []firstHooks
	for _, in := range g.units {
		if in.e.isSingleton() && in.e.hooksFn != nil && !in.e.hooksCommitted {
			first = append(first, firstHooks{in.e, in.e.hooksFn})
		}
	}
	m.mu.Unlock()

	var errs []error
	failed := map[string]bool{}
	fail := func(in *instance, phase string, kind, err error) {
		me := &ModuleError{Module: in.e.name, Instance: in.name, Phase: phase, Kind: kind, Err: err}
		errs = append(errs, me)
		failed[strings.ToLower(in.e.name)] = true
		m.mu.Lock()
		in.e.lastErr = me
		m.mu.Unlock()
	}
	for _, f := range first {
		err := safeCall(func() error { return f.fn(g.hooks) })
		if err == nil {
			err = checkSingletonHooks(g.hooks, f.e.name)
		}
		if err != nil {
			fail(&instance{e: f.e}, "conf_setup hooks", ErrSetup, err)
		}
	}
	if len(errs) == 0 {
		for _, in := range g.units {
			if !in.enabled {
				continue
			}
			if dep := failedDep(in.e, failed); dep != "" {
				fail(in, "ext_init(init)", ErrInit, fmt.Errorf("not initialised: it requires %s, which failed", dep))
				continue
			}
			ei, ok := in.obj.(ExtIniter)
			if !ok {
				continue
			}
			in.inited = true
			ctx := &InitCtx{module: in.e.name, instance: in.name, privileged: privileged, gen: g, log: m.logFor(in.e.name), shared: in.shared}
			if err := safeCall(func() error { return ei.ExtInit(ctx, Init) }); err != nil {
				fail(in, "ext_init(init)", ErrInit, err)
			}
		}
	}
	if len(errs) == 0 {
		for _, in := range g.units {
			if !in.inited {
				continue
			}
			ei := in.obj.(ExtIniter)
			ctx := &InitCtx{module: in.e.name, instance: in.name, privileged: privileged, gen: g, log: m.logFor(in.e.name), shared: in.shared}
			if err := safeCall(func() error { return ei.ExtInit(ctx, PostInit) }); err != nil {
				fail(in, "ext_init(post-init)", ErrInit, err)
			}
		}
	}
	if len(errs) == 0 {
		if err := g.hooks.Seal(); err != nil {
			errs = append(errs, fmt.Errorf("modules: sealing the hook registry of generation %d: %w", g.id, err))
		}
	}
	if len(errs) > 0 {
		g.discard()
		return nil, rejected(errs)
	}
	if err := g.hooks.Pin(); err != nil {
		g.discard()
		return nil, rejected([]error{err})
	}
	if err := g.armRetire(); err != nil {
		g.hooks.Unpin()
		g.discard()
		return nil, rejected([]error{err})
	}
	return g, nil
}

// failedDep returns a dependency of e that failed in this build, or "".
func failedDep(e *entry, failed map[string]bool) string {
	if e.found == nil {
		return ""
	}
	for _, d := range e.found.Requires {
		if failed[strings.ToLower(d)] {
			return d
		}
	}
	return ""
}

// checkSingletonHooks makes sure every provider module registered through
// SingletonHooks carries hooks.Singleton(): one that does not would silently
// vanish from the next generation.
func checkSingletonHooks(reg *hooks.Registry, module string) error {
	var bad []string
	for _, h := range reg.List() {
		if h.NumProviders == 0 {
			continue
		}
		d, err := reg.Show(h.FullName())
		if err != nil {
			continue
		}
		for _, p := range d.Providers {
			if strings.EqualFold(p.Module, module) && !p.Singleton {
				bad = append(bad, h.FullName())
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("registrations without hooks.Singleton(): %s", strings.Join(bad, ", "))
	}
	return nil
}

// discard ends a generation that never became visible (its build failed or
// its commit was aborted): Destroy for every instance whose Init was called,
// in reverse order, at once (nobody else can hold it), then the registry is
// retired and the config reference dropped.
func (g *Generation) discard() {
	g.confDone.Store(true)
	g.hooksDone.Store(true)
	g.destroyOnce.Do(func() {
		for i := len(g.units) - 1; i >= 0; i-- {
			in := g.units[i]
			if !in.inited {
				continue
			}
			ei := in.obj.(ExtIniter)
			ctx := &InitCtx{module: in.e.name, instance: in.name, privileged: g.privileged, gen: g, log: g.m.logFor(in.e.name), shared: in.shared}
			if err := safeCall(func() error { return ei.ExtInit(ctx, Destroy) }); err != nil {
				g.m.log.Error("module destroy failed", "module", in.label(), "generation", g.id, "err", err)
			}
		}
		close(g.destroyed)
	})
	if err := g.hooks.Retire(); err != nil {
		g.m.log.Error("modules: retiring a rejected hook registry", "generation", g.id, "err", err)
	}
	g.conf.Release()
}
