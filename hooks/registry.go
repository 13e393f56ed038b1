package hooks

import (
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSampleEvery is how often a hook call is timed when Options leave it
// unset: one call in 256 per hook. A clock read costs more than a short
// provider (about 40ns on a KVM guest against a few ns), so timing every call
// would not be cheap enough to leave on; at 1 in 256 a busy hook still gets
// hundreds of samples a second.
const DefaultSampleEvery = 256

// Options configure a Registry. The zero value is ready to use.
type Options struct {
	// Logger receives provider panics and cleanup panics. Nil means
	// slog.Default().
	Logger *slog.Logger
	// SampleEvery says that one call in SampleEvery of each hook is timed,
	// provider by provider; it is rounded up to a power of two. 0 means
	// DefaultSampleEvery, 1 times every call.
	SampleEvery uint64
	// Clock returns monotonic nanoseconds for the timing samples. Nil means
	// the runtime's monotonic clock. Tests inject a deterministic one.
	Clock func() int64
}

// Registry holds the providers of every hook for one configuration
// generation.
//
// Lifecycle: NewRegistry creates it open for registration and private to the
// goroutine that builds the generation (Register* calls). Seal resolves the
// order of each hook's providers and makes the registry callable; after Seal
// a registration is refused with ErrSealed. Current.Swap installs it, so that
// Call* forms reach it. When a newer registry has been installed, Retire
// marks it superseded: from then on no new call enters it, and once the last
// call in flight has returned and the last Pin is released, the OnRetire
// cleanups run (they destroy the generation's module instances) and Drained
// is closed. A build that fails is cancelled the same way: Retire an unsealed
// registry.
//
// Methods are safe for concurrent use unless their doc says otherwise.
type Registry struct {
	log        *slog.Logger
	clock      func() int64
	sampleMask uint64

	mu sync.Mutex
	// mu guards the fields from here to slots.
	sealed    bool
	retiring  bool
	installed int           // how many Currents hold the registry
	pending   [][]*provider // by hook id: registrations in registration order
	nextSeq   int           // registration sequence, the order among equals
	cleanups  []func()
	cleaned   bool // cleanups have been taken to run

	// slots is indexed by hook id. Seal sets it under mu; it is read-only
	// afterwards, and the call path reads it without the lock: a caller gets
	// a sealed registry through Current's atomic pointer, or from whoever
	// sealed it, both of which order the read after Seal.
	slots []slot

	// retired is set by Retire; the call path reads it to refuse entry.
	retired atomic.Bool
	// pins counts Pin calls not yet matched by Unpin.
	pins atomic.Int64
	// finalized is set once, by whoever finds the retired registry drained.
	finalized atomic.Bool
	drained   chan struct{}
}

// clockBase anchors the default clock; time.Since on it reads the runtime's
// monotonic clock. It is set once at start-up and never changed.
var clockBase = time.Now()

func monotonicNanos() int64 { return int64(time.Since(clockBase)) }

// NewRegistry creates an open registry for a generation being built. When
// prev is not nil, the registrations that were marked Singleton in prev are
// carried over, first and in their old order; every other module registers
// again. Called by the goroutine that builds the generation.
func NewRegistry(prev *Registry, opts Options) *Registry {
	r := &Registry{
		log:     opts.Logger,
		clock:   opts.Clock,
		drained: make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.clock == nil {
		r.clock = monotonicNanos
	}
	every := opts.SampleEvery
	if every == 0 {
		every = DefaultSampleEvery
	}
	if every&(every-1) != 0 {
		every = 1 << bits.Len64(every)
	}
	r.sampleMask = every - 1
	if prev != nil {
		r.carryFrom(prev)
	}
	return r
}

// carryFrom copies prev's singleton registrations into r, which is new and
// not yet shared.
func (r *Registry) carryFrom(prev *Registry) {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	r.pending = make([][]*provider, len(prev.pending))
	for id, regs := range prev.pending {
		for _, p := range regs {
			if !p.singleton {
				continue
			}
			q := p.carried()
			q.seq = r.nextSeq
			r.nextSeq++
			r.pending[id] = append(r.pending[id], q)
		}
	}
}

// add records a registration. It fails once the registry is sealed or
// retired: a sealed registry may be read by live calls.
func (r *Registry) add(d *decl, p *provider) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.retiring:
		return ErrRetired
	case r.sealed:
		return ErrSealed
	}
	for len(r.pending) <= d.id {
		r.pending = append(r.pending, nil)
	}
	p.seq = r.nextSeq
	r.nextSeq++
	r.pending[d.id] = append(r.pending[d.id], p)
	return nil
}

// Seal resolves the call order of every hook's providers (first before last,
// registration order among equals, then the before/after constraints) and
// makes the registry callable. On an ordering cycle it returns an error that
// wraps ErrCycle and names the cycle, and the registry stays open, to be
// retired by the failed build. Called by the goroutine that built it.
func (r *Registry) Seal() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.retiring:
		return fmt.Errorf("hooks: seal: %w", ErrRetired)
	case r.sealed:
		return fmt.Errorf("hooks: seal: %w", ErrSealed)
	}
	decls := declaredSnapshot()
	slots := make([]slot, len(decls))
	var errs []error
	for id, regs := range r.pending {
		if len(regs) == 0 {
			continue
		}
		order, err := resolveOrder(decls[id], regs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		slots[id].provs = order
		slots[id].table = decls[id].newTable(order)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.slots = slots
	r.sealed = true
	return nil
}

// Sealed reports whether Seal has succeeded. Any goroutine.
func (r *Registry) Sealed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sealed
}

// Pin keeps r and its providers valid until the matching Unpin, even if r is
// retired meanwhile: a session that holds its generation for its whole life
// pins it once and then calls the In forms. Pin fails with ErrRetired once
// Retire has been called. Any goroutine.
func (r *Registry) Pin() error {
	r.pins.Add(1)
	if r.retired.Load() {
		// Retire may already have found no pin; it is our Unpin's job then to
		// finish what it started.
		r.Unpin()
		return fmt.Errorf("hooks: pin: %w", ErrRetired)
	}
	return nil
}

// Unpin releases a Pin. On a retired registry, the last Unpin runs the
// OnRetire cleanups on the calling goroutine. Unpin without a Pin is a
// programmer error and panics. Any goroutine.
func (r *Registry) Unpin() {
	n := r.pins.Add(-1)
	if n < 0 {
		panic("hooks: Unpin without Pin")
	}
	if n == 0 && r.retired.Load() {
		r.tryFinalize()
	}
}

// OnRetire adds fn to the cleanups that run once r is retired and drained,
// in the reverse order of adding (as a generation's modules are destroyed in
// the reverse order of their initialisation). fn runs on whichever goroutine
// drops the last reference: Retire's caller, the last Unpin, or the end of
// the last call in flight, possibly the event loop; so it must be short and
// must not block, and longer work is handed off. A panic in fn is logged and
// the other cleanups still run. It fails with ErrRetired once the cleanups
// have started.
func (r *Registry) OnRetire(fn func()) error {
	if fn == nil {
		panic("hooks: OnRetire(nil)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cleaned {
		return fmt.Errorf("hooks: on retire: %w", ErrRetired)
	}
	r.cleanups = append(r.cleanups, fn)
	return nil
}

// Retire marks r superseded: no new call enters it, Pin fails, and when the
// calls in flight have returned and the pins are released the OnRetire
// cleanups run and Drained is closed. Retire refuses a registry still
// installed in a Current (ErrInstalled) and a second Retire (ErrRetired).
// Called by the goroutine that swapped r out or cancelled its build.
func (r *Registry) Retire() error {
	r.mu.Lock()
	switch {
	case r.installed > 0:
		r.mu.Unlock()
		return fmt.Errorf("hooks: retire: %w", ErrInstalled)
	case r.retiring:
		r.mu.Unlock()
		return fmt.Errorf("hooks: retire: %w", ErrRetired)
	}
	r.retiring = true
	r.retired.Store(true)
	r.mu.Unlock()
	r.tryFinalize()
	return nil
}

// Drained returns a channel closed after r has been retired, the last call
// and pin have gone and the cleanups have run. Any goroutine.
func (r *Registry) Drained() <-chan struct{} { return r.drained }

// tryFinalize runs the cleanups if r is retired and nothing uses it any more.
// Every path that drops a use of a retired registry calls it after dropping;
// the atomics are sequentially consistent, so the last of them to drop sees
// all the others' drops and finalizes.
func (r *Registry) tryFinalize() {
	if r.finalized.Load() || r.pins.Load() != 0 {
		return
	}
	for i := range r.slots {
		s := &r.slots[i]
		// exited first: a call that enters and leaves between the two loads
		// then makes the difference positive, never hides one in flight.
		out := s.exited.Load()
		if s.entered.Load() != out {
			return
		}
	}
	if !r.finalized.CompareAndSwap(false, true) {
		return
	}
	r.mu.Lock()
	fns := r.cleanups
	r.cleanups = nil
	r.cleaned = true
	r.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		r.runCleanup(fns[i])
	}
	close(r.drained)
}

// runCleanup runs one cleanup; a panic is logged so that the others run.
func (r *Registry) runCleanup(fn func()) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("hooks: retire cleanup panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// providerPanicked logs and counts a provider's panic. It runs in the
// deferred recover of the call, so the stack it logs is the provider's.
func (r *Registry) providerPanicked(d *decl, p *provider, v any) {
	p.panics.Add(1)
	r.log.Error("hooks: provider panicked",
		"hook", d.full,
		"module", p.module,
		"kind", string(p.kind),
		"site", p.site,
		"panic", v,
		"stack", string(debug.Stack()))
}
