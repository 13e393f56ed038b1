package hooks

import (
	"fmt"
	"sync"
	"unsafe"
)

// Scope is the namespace of a hook: Core and Config for the framework's own
// hooks, a module's name for the hooks that module declares for others.
type Scope string

// The framework's scopes. A module declares its hooks in Scope(moduleName).
const (
	Core   Scope = "core"
	Config Scope = "config"
)

// Kind says how a provider is implemented. Go providers are registered as Go
// funcs; other kinds go through an Adapter set on the hook for that kind.
type Kind string

// The provider kinds the framework knows. A loader may use any other name
// for a kind of its own, as long as hooks carry an adapter for it.
const (
	KindGo     Kind = "go"
	KindLua    Kind = "lua"
	KindNative Kind = "native"
)

// declarations is the process-wide registry of declared hooks. A (scope,
// name) pair names one hook for the life of the process; the position in list
// is the hook's dense id, which indexes a sealed Registry's slots.
var declarations struct {
	mu sync.Mutex
	// mu guards byName and list.
	byName map[string]*decl
	list   []*decl
}

// decl is the non-generic description of a declared hook: what introspection
// shows and what a Registry needs to build the hook's call table.
type decl struct {
	id        int
	scope     Scope
	name      string
	full      string // scope.name
	signature string // the provider func type, as Go prints it
	valued    bool
	policy    string // valued hooks only
	failure   string // valued hooks only: the failure value, printed
	// newTable turns providers in call order into the hook's *table[F].
	newTable func(order []*provider) unsafe.Pointer
}

// Hook is the part of a declared hook that does not depend on its result:
// its name, registration of providers and the adapters for foreign kinds.
// Valued and Void embed it. A Hook is created only by DeclareValued or
// DeclareVoid and lives for the life of the process.
type Hook[F any] struct {
	d *decl
	// id is d.id, copied so that a call reads it with one load.
	id int

	mu sync.Mutex
	// mu guards adapters.
	adapters map[Kind]Adapter[F]
}

// Valued is a hook whose providers return a result. After each provider the
// hook's Policy decides whether the call stops there; the call returns the
// result that stopped it, or the zero R when none did (also when there is no
// provider: callers that must tell the two apart ask Has first). A provider
// that panics stops the call, which returns the hook's failure value.
// Call it with CallN, CallNIn, CallWith or CallWithIn.
type Valued[F any, R comparable] struct {
	Hook[F]
	policy  Policy[R]
	failure R
}

// Void is a hook whose providers return nothing. A call runs every provider
// in order; a provider that panics is logged and counted, and the call goes on
// with the next one. Call it with CallVoidN, CallVoidNIn, CallVoidWith or
// CallVoidWithIn.
type Void[F any] struct {
	Hook[F]
}

// DeclareValued declares the valued hook scope.name with provider type F (a
// func type returning R), the policy that decides where a call stops, and the
// failure value a call returns when a provider panics. It is meant for
// package-level var declarations. A bad or duplicate name is a programmer
// error and panics. Safe for concurrent use.
func DeclareValued[F any, R comparable](scope Scope, name string, policy Policy[R], failure R) *Valued[F, R] {
	h := &Valued[F, R]{policy: policy, failure: failure}
	h.d = declare(&decl{
		scope:     scope,
		name:      name,
		signature: signatureOf[F](),
		valued:    true,
		policy:    policy.Name(),
		failure:   fmt.Sprintf("%v", failure),
		newTable:  newTableFunc[F](),
	})
	h.id = h.d.id
	return h
}

// DeclareVoid declares the void hook scope.name with provider type F (a func
// type with no result). It is meant for package-level var declarations. A bad
// or duplicate name is a programmer error and panics. Safe for concurrent use.
func DeclareVoid[F any](scope Scope, name string) *Void[F] {
	h := &Void[F]{}
	h.d = declare(&decl{
		scope:     scope,
		name:      name,
		signature: signatureOf[F](),
		newTable:  newTableFunc[F](),
	})
	h.id = h.d.id
	return h
}

// declare enters d into the process-wide declarations, giving it its id and
// full name; d is not changed afterwards.
func declare(d *decl) *decl {
	scope, name := d.scope, d.name
	if !validName(string(scope)) {
		panic(fmt.Sprintf("hooks: declare %q.%q: bad scope", scope, name))
	}
	if !validName(name) {
		panic(fmt.Sprintf("hooks: declare %s.%q: bad name", scope, name))
	}
	full := string(scope) + "." + name
	declarations.mu.Lock()
	defer declarations.mu.Unlock()
	if declarations.byName == nil {
		declarations.byName = make(map[string]*decl)
	}
	if _, dup := declarations.byName[full]; dup {
		panic(fmt.Sprintf("hooks: declare %s: already declared", full))
	}
	d.id = len(declarations.list)
	d.full = full
	declarations.byName[full] = d
	declarations.list = append(declarations.list, d)
	return d
}

// declaredSnapshot returns the hooks declared so far, in id order.
func declaredSnapshot() []*decl {
	declarations.mu.Lock()
	defer declarations.mu.Unlock()
	return declarations.list[:len(declarations.list):len(declarations.list)]
}

// lookupDecl returns the hook declared as scope.name, or nil.
func lookupDecl(full string) *decl {
	declarations.mu.Lock()
	defer declarations.mu.Unlock()
	return declarations.byName[full]
}

// validName reports whether s can be a scope or a hook name: an identifier of
// ASCII letters, digits and underscores that does not start with a digit. The
// dot is excluded because it separates scope and name in "scope.name".
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// signatureOf prints F for introspection (`hooks list` shows each hook's
// prototype). It runs once per declaration, never on a call.
func signatureOf[F any]() string {
	var f F
	return fmt.Sprintf("%T", f)
}

// Name returns the hook's name without its scope.
func (h *Hook[F]) Name() string { return h.d.name }

// Scope returns the hook's scope.
func (h *Hook[F]) Scope() Scope { return h.d.scope }

// FullName returns "scope.name", the form List and Show use.
func (h *Hook[F]) FullName() string { return h.d.full }

// SetAdapter sets the adapter that turns a foreign provider of the given kind
// into an F. Loaders call it once per hook and kind, typically from init;
// setting a second adapter for the same kind, or one for KindGo (Go providers
// need none), is a programmer error and panics. Safe for concurrent use.
func (h *Hook[F]) SetAdapter(kind Kind, a Adapter[F]) {
	if kind == KindGo || kind == "" || a == nil {
		panic(fmt.Sprintf("hooks: %s: SetAdapter(%q): bad kind or nil adapter", h.d.full, kind))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.adapters[kind]; dup {
		panic(fmt.Sprintf("hooks: %s: SetAdapter(%q): adapter already set", h.d.full, kind))
	}
	if h.adapters == nil {
		h.adapters = make(map[Kind]Adapter[F])
	}
	h.adapters[kind] = a
}

// adapter returns the adapter for kind, or nil.
func (h *Hook[F]) adapter(kind Kind) Adapter[F] {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.adapters[kind]
}

// Has reports whether the registry current in c has a provider for the hook.
// It does not pin: a reload may change the answer before a following call,
// so a caller that needs the two to agree pins a registry with
// Current.Acquire and uses HasIn and the In call forms. Any goroutine.
func (h *Hook[F]) Has(c *Current) bool {
	return c.p.Load().has(h.d.id)
}

// HasIn reports whether reg has a provider for the hook. reg may be nil (it
// has none) or unsealed (its registrations are not callable yet, so it has
// none either). Any goroutine.
func (h *Hook[F]) HasIn(reg *Registry) bool {
	return reg.has(h.d.id)
}

// stops reports whether the call stops at result r, by the hook's policy.
func (h *Valued[F, R]) stops(r R) bool {
	if h.policy.stop == nil {
		var zero R
		return r != zero
	}
	return h.policy.stop(r)
}

// failed accounts for a provider's panic and returns the hook's failure value.
func (h *Valued[F, R]) failed(reg *Registry, p *provider, v any) R {
	reg.providerPanicked(h.d, p, v)
	return h.failure
}

// failed accounts for a provider's panic; the call goes on.
func (h *Void[F]) failed(reg *Registry, p *provider, v any) {
	reg.providerPanicked(h.d, p, v)
}
