package modules

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/internal/refcount"
)

// Generation is one generation of the running system: a configuration
// generation, the hook registry built for it, and the module instances
// initialised for it, swapped in together. It is reference counted: a holder
// (Manager.Current, Acquire) keeps all three valid; Release when done.
//
// Its instances are destroyed (ExtInit with Destroy, in the reverse of load
// order) once it has been superseded and both the configuration generation
// and the hook registry have let go of their last reference: every holder of
// this Generation or of the config.Generation released, and every hook call
// in flight in the registry returned.
type Generation struct {
	m          *Manager
	id         uint64
	created    time.Time
	conf       *config.Generation
	hooks      *hooks.Registry
	units      []*instance // load order
	privileged bool

	// refs counts holders; the manager holds one while the generation is
	// current. At zero the generation's config reference and hook pin go.
	refs refcount.Count
	// confDone and hooksDone record that the config generation and the hook
	// registry have retired; the instances are destroyed when both have.
	confDone, hooksDone atomic.Bool
	destroyOnce         sync.Once
	destroyed           chan struct{}
}

// instance is one module instance in a generation.
type instance struct {
	e       *entry
	name    string // "" for a singleton
	obj     Module
	enabled bool
	inited  bool // ExtInit(Init) was called, so Destroy is owed
	sig     string
	how     string
	shared  any
}

func (in *instance) label() string { return label(in.e.name, in.name) }

// ID returns the generation number, the same as its configuration generation's.
func (g *Generation) ID() uint64 { return g.id }

// Created returns when the generation was built.
func (g *Generation) Created() time.Time { return g.created }

// Config returns the configuration generation. It stays valid while g is held.
func (g *Generation) Config() *config.Generation { return g.conf }

// Hooks returns the generation's hook registry, for the In call forms. It
// stays valid while g is held.
func (g *Generation) Hooks() *hooks.Registry { return g.hooks }

// Modules returns the instances of g in load order, written "name" for a
// singleton and "name:instance" otherwise.
func (g *Generation) Modules() []string {
	out := make([]string, len(g.units))
	for i, in := range g.units {
		out[i] = in.label()
	}
	return out
}

// Instance returns the infrastructure object of module's instance in g (""
// for a singleton), or nil. It is the lookup a hook provider uses to find
// its own instance for the generation a call runs in.
func (g *Generation) Instance(module, inst string) Module {
	for _, in := range g.units {
		if in.name == inst && strings.EqualFold(in.e.name, module) {
			return in.obj
		}
	}
	return nil
}

// Acquire adds a reference for a holder handing g to another goroutine. The
// caller must hold a reference. Any goroutine.
func (g *Generation) Acquire() *Generation {
	g.refs.Acquire("modules")
	return g
}

// tryAcquire adds a reference unless the last one is gone.
func (g *Generation) tryAcquire() bool { return g.refs.TryAcquire() }

// Release drops a reference. When the last goes, g releases its config
// generation and unpins its hook registry; any goroutine, the loop's
// included (what runs then is short: destroying instances is handed off).
func (g *Generation) Release() {
	if g.refs.Release("modules") {
		g.conf.Release()
		g.hooks.Unpin()
	}
}

// Refs returns the number of holders of g (for the generations view).
func (g *Generation) Refs() int64 { return g.refs.Load() }

// Destroyed returns a channel closed once g's instances have been destroyed.
func (g *Generation) Destroyed() <-chan struct{} { return g.destroyed }

// armRetire arranges for g's instances to be destroyed once both its config
// generation and its hook registry have retired. Called by the builder, which
// holds both.
func (g *Generation) armRetire() error {
	g.conf.OnRetire(g.confRetired)
	return g.hooks.OnRetire(g.hooksRetired)
}

// confRetired records that the config generation has retired (or, at Close,
// that the module system is done with it). Idempotent.
func (g *Generation) confRetired() {
	if g.confDone.CompareAndSwap(false, true) && g.hooksDone.Load() {
		g.destroyAsync()
	}
}

// hooksRetired records that the hook registry has drained. Idempotent.
func (g *Generation) hooksRetired() {
	if g.hooksDone.CompareAndSwap(false, true) && g.confDone.Load() {
		g.destroyAsync()
	}
}

// destroyAsync destroys the instances on the goroutine that let go of the
// last reference, unless that is the event loop (the end of the last hook
// call in flight may be): destroying calls module code, which must not block
// the loop, so it then runs on a goroutine of its own. Both steps may see the
// other's flag, so destroy is guarded by a Once.
func (g *Generation) destroyAsync() {
	if l := g.m.opts.Loop; l != nil && l.OnLoop() {
		go g.destroy()
		return
	}
	g.destroy()
}

// destroy calls ExtInit(Destroy) on every instance that was initialised, in
// reverse load order, once.
func (g *Generation) destroy() {
	g.destroyOnce.Do(func() {
		for i := len(g.units) - 1; i >= 0; i-- {
			in := g.units[i]
			if !in.inited {
				continue
			}
			if ei, ok := in.obj.(ExtIniter); ok {
				ctx := &InitCtx{module: in.e.name, instance: in.name, gen: g, log: g.m.logFor(in.e.name), shared: in.shared}
				if err := safeCall(func() error { return ei.ExtInit(ctx, Destroy) }); err != nil {
					g.m.log.Error("module destroy failed", "module", in.label(), "generation", g.id, "err", err)
				}
			}
		}
		g.m.mu.Lock()
		delete(g.m.live, g.id)
		g.m.mu.Unlock()
		close(g.destroyed)
	})
}

// GenerationView is one live generation as the `generations` command shows it.
type GenerationView struct {
	ID      uint64
	Age     time.Duration
	Current bool
	// Refs counts holders of the module generation (the manager's own while
	// current included); ConfigRefs those of its configuration generation.
	Refs, ConfigRefs int64
	Modules          []string
}

// Generations lists the generations whose instances are not yet destroyed,
// oldest first: the current one and those it superseded, not one still being
// committed. Any goroutine.
func (m *Manager) Generations() []GenerationView {
	now := m.opts.Now()
	cur := m.cur.Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]GenerationView, 0, len(m.live))
	for _, g := range m.live {
		if cur != nil && g.id > cur.id {
			continue
		}
		out = append(out, GenerationView{
			ID: g.id, Age: now.Sub(g.created), Current: g == cur,
			Refs: g.refs.Load(), ConfigRefs: g.conf.Refs(), Modules: g.Modules(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FormatGenerations renders the generations view as console text.
func FormatGenerations(gs []GenerationView) string {
	var b []byte
	b = fmt.Appendf(b, "%-10s %-10s %6s %11s  %s\n", "generation", "age", "refs", "config refs", "modules")
	for _, g := range gs {
		id := fmt.Sprint(g.ID)
		if g.Current {
			id += "*"
		}
		mods := "-"
		if len(g.Modules) > 0 {
			mods = joinComma(g.Modules)
		}
		b = fmt.Appendf(b, "%-10s %-10s %6d %11d  %s\n", id, g.Age.Round(time.Second), g.Refs, g.ConfigRefs, mods)
	}
	return string(b)
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// safeCall runs a module's code, turning a panic into an error: a module bug
// fails its reload instead of the process.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}
