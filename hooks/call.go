package hooks

import (
	"sync/atomic"
	"unsafe"
)

//go:generate go run ./internal/gencall -o call_arity.go

// The call forms are generated (call_arity.go) for providers of 0 to
// maxArity arguments, plus the With forms that take an invoke func for any
// other signature:
//
//	CallN(h, cur, args...)        valued, on the installed registry, pinned for the call
//	CallNIn(h, reg, args...)      valued, on reg (the seed's _txn form); the caller keeps reg valid
//	CallVoidN(h, cur, args...)    void, as CallN
//	CallVoidNIn(h, reg, args...)  void, as CallNIn
//
// Each arity has its own loop so that a provider is called directly, as a
// loop over a []func would call it: no interface, no reflection, no
// allocation, no wrapper closure per provider.

// slot is one hook's entry in a sealed registry. entered and exited count the
// calls through a Current in and out; their difference is the calls in
// flight, which keeps a retired registry from finalizing (this pair is the
// per-call pin, and entered doubles as the call counter). calls counts the
// In forms, whose caller already keeps the registry valid, so they need one
// atomic add rather than two. The slot is padded to whole cache lines so that
// calls of different hooks on different cores do not contend.
type slot struct {
	// table is the hook's *table[F], nil when it has no provider. It is an
	// unsafe.Pointer rather than an any so that a call converts it without a
	// type check: Seal stores the table its decl built for F, and only the
	// calls of that decl, whose F is the same, read it.
	table        unsafe.Pointer
	provs        []*provider
	entered      atomic.Uint64
	exited       atomic.Uint64
	backouts     atomic.Uint64 // entries that found the registry retired
	calls        atomic.Uint64 // calls of the In forms
	sampled      atomic.Uint64
	sampledNanos atomic.Int64
	_            [128 - 80]byte
}

// The padding above assumes this size; the build fails if it drifts.
var _ [0]struct{} = [unsafe.Sizeof(slot{}) % 64]struct{}{}

// sample adds one timed call of the hook.
func (s *slot) sample(ns int64) {
	s.sampled.Add(1)
	s.sampledNanos.Add(ns)
}

// table is a hook's providers in call order: fns is what the call loop reads,
// provs[i] the registration behind fns[i].
type table[F any] struct {
	fns   []F
	provs []*provider
}

// newTableFunc returns the decl's table builder for provider type F.
func newTableFunc[F any]() func([]*provider) unsafe.Pointer {
	return func(order []*provider) unsafe.Pointer {
		t := &table[F]{fns: make([]F, len(order)), provs: order}
		for i, p := range order {
			t.fns[i] = p.fn.(F)
		}
		return unsafe.Pointer(t)
	}
}

// has reports whether r (possibly nil) has a provider for hook id.
func (r *Registry) has(id int) bool {
	return r != nil && id < len(r.slots) && r.slots[id].table != nil
}

// count counts a call of hook id in r, which the caller keeps valid; it
// returns a nil slot when there is no provider to call.
func (r *Registry) count(id int) (*slot, uint64) {
	if !r.has(id) {
		return nil, 0
	}
	s := &r.slots[id]
	return s, s.calls.Add(1)
}

// exit counts a call out; the last call out of a retired registry finalizes
// it.
func (r *Registry) exit(s *slot) {
	s.exited.Add(1)
	if r.retired.Load() {
		r.tryFinalize()
	}
}

// callState is what a valued call's deferred leave reads: the index of the
// provider running, to name it after a panic, and whether the call finished,
// so that a finished call does not pay for recover.
type callState struct {
	at   int
	done bool
}

// leave is deferred by the pinned valued calls: it recovers a provider's
// panic when the call did not finish, making the hook's failure value the
// result, and counts the call out of reg. It must be the deferred function
// itself, for recover to stop the panic.
func (h *Valued[F, R]) leave(reg *Registry, s *slot, r *R, st *callState) {
	if !st.done {
		if v := recover(); v != nil {
			*r = h.failed(reg, s.provs[st.at], v)
		}
	}
	reg.exit(s)
}

// recoverIn is leave for the In forms, whose caller keeps reg valid: there
// is no call to count out.
func (h *Valued[F, R]) recoverIn(reg *Registry, s *slot, r *R, st *callState) {
	if !st.done {
		if v := recover(); v != nil {
			*r = h.failed(reg, s.provs[st.at], v)
		}
	}
}
