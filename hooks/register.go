package hooks

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
)

// Position says where a provider goes in its hook's call order: every First
// provider runs before every Last one, and among equals the one registered
// earlier runs earlier (the order of the modules in the configuration).
// Before/After constraints are applied on top of that order when the registry
// is sealed, and win over it.
type Position uint8

// The two positions.
const (
	First Position = iota
	Last
)

// String returns "first" or "last".
func (p Position) String() string {
	if p == First {
		return "first"
	}
	return "last"
}

// RegisterOption adds to a registration.
type RegisterOption func(*registration)

// registration collects the options of one Register call.
type registration struct {
	before, after []string
	singleton     bool
	site          string
}

// Before constrains the provider to run before every provider of the named
// module on the same hook. A module with no provider on the hook is ignored:
// constraints name modules that may not be loaded.
func Before(module string) RegisterOption {
	return func(o *registration) { o.before = append(o.before, module) }
}

// After constrains the provider to run after every provider of the named
// module on the same hook, as Before.
func After(module string) RegisterOption {
	return func(o *registration) { o.after = append(o.after, module) }
}

// Singleton marks the registration as a singleton module's: registered once
// (in conf_setup) and carried over into every registry created from this one.
func Singleton() RegisterOption {
	return func(o *registration) { o.singleton = true }
}

// Site sets the registration site shown by introspection and in panic logs.
// Go registrations record their caller's file:line without it; foreign
// loaders pass the script or library position of the provider.
func Site(site string) RegisterOption {
	return func(o *registration) { o.site = site }
}

// provider is one registration. The static part is set at registration; the
// counters are updated by calls of the sealed registry it belongs to.
type provider struct {
	module    string
	kind      Kind
	site      string
	pos       Position
	singleton bool
	before    []string
	after     []string
	seq       int // registration sequence in its registry
	fn        any // the F; Seal copies it into the hook's typed table

	// Counters of the registry's calls. Calls are derived: see ProviderStats.
	stops        atomic.Uint64
	panics       atomic.Uint64
	sampled      atomic.Uint64
	sampledNanos atomic.Int64
}

// carried returns a copy of p's registration with fresh counters, for a
// singleton carried into a new registry.
func (p *provider) carried() *provider {
	return &provider{
		module:    p.module,
		kind:      p.kind,
		site:      p.site,
		pos:       p.pos,
		singleton: p.singleton,
		before:    p.before,
		after:     p.after,
		fn:        p.fn,
	}
}

// sample adds one timed run of the provider.
func (p *provider) sample(ns int64) {
	p.sampled.Add(1)
	p.sampledNanos.Add(ns)
}

// RegisterFirst registers fn as a provider of the hook in reg, before every
// provider registered Last; module names the registering module and the
// caller's file:line is recorded as the registration site. It fails with
// ErrSealed once reg is sealed and ErrRetired once it is retired; the error
// names the hook, the module and the site. Called by the goroutine building
// reg, during module setup (conf_setup / ext_init).
func (h *Hook[F]) RegisterFirst(reg *Registry, module string, fn F, opts ...RegisterOption) error {
	return h.register(reg, First, KindGo, module, fn, collect(opts, callerSite(1)))
}

// RegisterLast registers fn as a provider of the hook in reg, after every
// provider registered First. Otherwise as RegisterFirst.
func (h *Hook[F]) RegisterLast(reg *Registry, module string, fn F, opts ...RegisterOption) error {
	return h.register(reg, Last, KindGo, module, fn, collect(opts, callerSite(1)))
}

// RegisterForeign registers a provider of the given kind: the hook's adapter
// for that kind wraps foreign into an F (for KindGo, foreign must be an F
// already). It fails with ErrNoAdapter when the hook has no adapter for the
// kind and with ErrBadProvider when the adapter refuses foreign; otherwise as
// RegisterFirst. Loaders pass Site with the provider's script or library
// position.
func (h *Hook[F]) RegisterForeign(reg *Registry, pos Position, kind Kind, module string, foreign any, opts ...RegisterOption) error {
	o := collect(opts, callerSite(1))
	var fn F
	if kind == KindGo {
		f, ok := foreign.(F)
		if !ok {
			return h.regError(module, kind, o.site, fmt.Errorf("%w: %T is not %s", ErrBadProvider, foreign, h.d.signature))
		}
		fn = f
	} else {
		a := h.adapter(kind)
		if a == nil {
			return h.regError(module, kind, o.site, ErrNoAdapter)
		}
		f, err := a.Wrap(foreign)
		if err != nil {
			return h.regError(module, kind, o.site, fmt.Errorf("%w: %w", ErrBadProvider, err))
		}
		fn = f
	}
	return h.register(reg, pos, kind, module, fn, o)
}

// collect applies opts; site is the registration site unless Site overrides
// it.
func collect(opts []RegisterOption, site string) registration {
	var o registration
	for _, opt := range opts {
		opt(&o)
	}
	if o.site == "" {
		o.site = site
	}
	return o
}

func (h *Hook[F]) register(reg *Registry, pos Position, kind Kind, module string, fn F, o registration) error {
	if reg == nil {
		panic("hooks: register " + h.d.full + " into a nil Registry")
	}
	if module == "" {
		return h.regError(module, kind, o.site, fmt.Errorf("%w: empty module name", ErrBadProvider))
	}
	if slices.Contains(o.before, module) || slices.Contains(o.after, module) {
		return h.regError(module, kind, o.site, fmt.Errorf("%w: constraint names the provider's own module", ErrBadProvider))
	}
	p := &provider{
		module:    module,
		kind:      kind,
		site:      o.site,
		pos:       pos,
		singleton: o.singleton,
		before:    o.before,
		after:     o.after,
		fn:        fn,
	}
	if err := reg.add(h.d, p); err != nil {
		return h.regError(module, kind, o.site, err)
	}
	return nil
}

// regError names the hook, the module, its kind and the registration site.
func (h *Hook[F]) regError(module string, kind Kind, site string, err error) error {
	return fmt.Errorf("hooks: register %s for module %q (%s) at %s: %w", h.d.full, module, kind, site, err)
}

// callerSite returns "dir/file.go:line" of the caller skip frames above its
// own caller: the directory keeps sites of same-named files apart
// (setup.go), the rest of the path is noise in a listing.
func callerSite(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "unknown"
	}
	dir, base := filepath.Split(file)
	return filepath.Base(dir) + "/" + base + ":" + strconv.Itoa(line)
}
