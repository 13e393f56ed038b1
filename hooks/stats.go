package hooks

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// HookStats are the counters of one hook in one registry. They are read
// without stopping calls, so while calls are in flight they are a moment's
// approximation.
type HookStats struct {
	// Calls counts the calls that reached at least one provider (a call of a
	// hook without providers runs nothing and is not counted).
	Calls uint64
	// ShortCircuits counts the calls a provider's result stopped by the
	// hook's policy.
	ShortCircuits uint64
	// Panics counts provider panics.
	Panics uint64
	// SampledCalls and SampledTime cover the calls that were timed: one in
	// Options.SampleEvery.
	SampledCalls uint64
	SampledTime  time.Duration
}

// EstimatedTime extrapolates the cumulative time of all calls from the
// timed ones.
func (s HookStats) EstimatedTime() time.Duration {
	if s.SampledCalls == 0 {
		return 0
	}
	return time.Duration(float64(s.SampledTime) * float64(s.Calls) / float64(s.SampledCalls))
}

// ProviderStats are the counters of one provider in one registry.
type ProviderStats struct {
	// Calls counts the calls that reached the provider. It is derived rather
	// than counted, to keep the call path to one counter per call: every call
	// of the hook reaches the first provider, and each later one is reached
	// by the calls that no earlier provider stopped (by result or, for a
	// valued hook, by panicking).
	Calls uint64
	// ShortCircuits counts the calls this provider's result stopped.
	ShortCircuits uint64
	// Panics counts this provider's panics.
	Panics uint64
	// SampledCalls and SampledTime cover this provider's timed runs.
	SampledCalls uint64
	SampledTime  time.Duration
}

// HookInfo describes a declared hook and its providers in one registry, as
// `hooks list` shows it.
type HookInfo struct {
	Scope     Scope
	Name      string
	Signature string // the provider func type
	Valued    bool
	Policy    string // valued hooks: the policy's name
	Failure   string // valued hooks: the failure value, printed
	// NumProviders counts the providers registered in the registry.
	NumProviders int
	Stats        HookStats
}

// FullName returns "scope.name".
func (i HookInfo) FullName() string { return string(i.Scope) + "." + i.Name }

// ProviderInfo describes one provider, as `hooks show NAME` shows it.
type ProviderInfo struct {
	Module    string
	Kind      Kind
	Site      string // file:line of the registration, or the loader's Site
	Position  Position
	Singleton bool
	Before    []string
	After     []string
	Stats     ProviderStats
}

// HookDetail is a hook with its providers in call order.
type HookDetail struct {
	HookInfo
	Providers []ProviderInfo
}

// List returns every declared hook, sorted by full name, with its provider
// count and counters in r. For an unsealed registry the providers are those
// registered so far and the counters are zero. Any goroutine.
func (r *Registry) List() []HookInfo {
	decls := declaredSnapshot()
	out := make([]HookInfo, 0, len(decls))
	for _, d := range decls {
		out = append(out, r.detail(d).HookInfo)
	}
	slices.SortFunc(out, func(a, b HookInfo) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Show returns the hook named "scope.name" with its providers in r in call
// order (for an unsealed registry: in the default order, before the
// constraints are applied at Seal). An unknown name is ErrUnknownHook. Any
// goroutine.
func (r *Registry) Show(name string) (HookDetail, error) {
	d := lookupDecl(name)
	if d == nil {
		return HookDetail{}, fmt.Errorf("hooks: show %q: %w", name, ErrUnknownHook)
	}
	return r.detail(d), nil
}

// detail gathers what List and Show report about d in r.
func (r *Registry) detail(d *decl) HookDetail {
	info := HookInfo{
		Scope:     d.scope,
		Name:      d.name,
		Signature: d.signature,
		Valued:    d.valued,
		Policy:    d.policy,
		Failure:   d.failure,
	}
	provs, s := r.providersOf(d.id)
	info.NumProviders = len(provs)
	if s != nil {
		info.Stats.Calls = s.entered.Load() - s.backouts.Load() + s.calls.Load()
		info.Stats.SampledCalls = s.sampled.Load()
		info.Stats.SampledTime = time.Duration(s.sampledNanos.Load())
	}
	out := HookDetail{Providers: make([]ProviderInfo, len(provs))}
	reached := info.Stats.Calls
	for i, p := range provs {
		ps := ProviderStats{
			Calls:         reached,
			ShortCircuits: p.stops.Load(),
			Panics:        p.panics.Load(),
			SampledCalls:  p.sampled.Load(),
			SampledTime:   time.Duration(p.sampledNanos.Load()),
		}
		info.Stats.ShortCircuits += ps.ShortCircuits
		info.Stats.Panics += ps.Panics
		if d.valued {
			reached -= min(reached, ps.ShortCircuits+ps.Panics)
		}
		out.Providers[i] = ProviderInfo{
			Module:    p.module,
			Kind:      p.kind,
			Site:      p.site,
			Position:  p.pos,
			Singleton: p.singleton,
			Before:    slices.Clone(p.before),
			After:     slices.Clone(p.after),
			Stats:     ps,
		}
	}
	out.HookInfo = info
	return out
}

// providersOf returns hook id's providers in call order and its slot, or,
// before Seal, its registrations in the default order and no slot.
func (r *Registry) providersOf(id int) ([]*provider, *slot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed {
		if id >= len(r.slots) {
			return nil, nil
		}
		return r.slots[id].provs, &r.slots[id]
	}
	if id >= len(r.pending) {
		return nil, nil
	}
	provs := slices.Clone(r.pending[id])
	slices.SortStableFunc(provs, func(a, b *provider) int {
		return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.seq, b.seq))
	})
	return provs, nil
}
