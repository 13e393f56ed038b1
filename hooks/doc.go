// Package hooks is how modules take part in what the server does: a hook is
// a named extension point that the framework or a module declares, other
// modules provide (Go functions now, Lua and native providers through
// adapters), and callers call with typed arguments.
//
// # Declaring
//
// A hook is declared once per process, usually as a package-level var, with
// its scope (Core, Config, or the declaring module's own Scope), its name and
// its provider func type:
//
//	var ValidateEHLO = hooks.DeclareValued[func(s *Session, helo string) int](
//		hooks.Scope("esmtp"), "validate_ehlo", hooks.FirstNonZero[int](), 1)
//	var MessageQueued = hooks.DeclareVoid[func(m *Message)](hooks.Core, "message_queued")
//
// A (scope, name) pair is unique; a duplicate is a programmer error and
// panics at declaration. A Valued hook has a Policy, run after each provider,
// that may stop the call (FirstNonZero: the first non-zero result is
// returned, all-zero returns zero) and a failure value returned when a
// provider panics. A Void hook runs every provider. Any module may declare a
// hook in its own scope for other modules to provide: a module-to-module API
// without code linkage, including the closure-lookup idiom where a hook
// returns the current generation's instance of the declaring module.
//
// # Registries and generations
//
// This package does not import config or modules: a Registry is a standalone
// object, and the module system ties one to each configuration generation.
// Its lifetime:
//
//   - NewRegistry(prev, opts) creates it for a generation being built: open
//     for registration and private to the goroutine building it. That keeps
//     the seed's rule that hooks are registered only by the master thread
//     during conf_setup/ext_init, whose point is that nobody changes a
//     registry that live calls read. Singleton registrations carry over from
//     prev; every other module registers again.
//   - RegisterFirst/RegisterLast add providers (module name, closure,
//     Before/After constraints; the caller's file:line is recorded).
//   - Seal resolves each hook's call order (first before last, registration
//     order among equals, constraints by topological sort; a cycle is an
//     error naming it) and makes the registry callable. Registering after
//     Seal fails with ErrSealed, naming the hook and the caller.
//   - Current.Swap installs it; the Call forms read the installed registry.
//   - Retire, after it has been swapped out, stops new calls from entering
//     it. Once the calls in flight have returned and every Pin is released,
//     the OnRetire cleanups (module instance destroy) run and Drained closes.
//
// # Calling
//
// CallN(h, cur, args...) calls a valued hook with N arguments on the
// installed registry; CallVoidN does the same for a void hook; the ...In
// forms take the registry explicitly (the seed's _txn forms); CallWith and
// CallVoidWith take an invoke func for signatures without a direct form.
// A call pins the registry it reads for its whole duration, so a reload that
// commits meanwhile cannot destroy a provider's module instance under it: the
// pin is the pair of per-hook counters that also count the calls. A caller
// that makes many calls (a session, a loop iteration) can instead pin once
// with Current.Acquire and use the In forms.
//
// The call path takes no lock and does not allocate: providers sit in a flat
// typed slice per hook, indexed by the hook's dense id, and each arity has
// its own loop (generated, call_arity.go) so providers are called directly.
//
// A provider that panics is recovered, logged (Options.Logger) with the hook,
// module and registration site, and counted. A valued call then stops and
// returns the hook's failure value; a void call goes on with the next
// provider.
//
// # Introspection
//
// Registry.List and Registry.Show back `hooks list` and `hooks show NAME`:
// hooks with scope, signature and provider count; providers in call order
// with module, kind, site and position. Counters per hook and provider
// (calls, short-circuits, panics, time) stay on: a call through a Current
// costs two atomic adds (in and out, which are also its pin), an In call one;
// a short-circuit or a panic one more; per-provider call counts are derived
// from those rather than counted. Time is sampled: one call in
// Options.SampleEvery (default 256) is timed provider by provider, because a
// clock read costs more than a short provider.
package hooks
