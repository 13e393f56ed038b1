package hooks

import "errors"

// Sentinel errors of package hooks. Functions wrap them with %w and context
// (the hook, the module and the registration site), so callers test with
// errors.Is.
var (
	// ErrSealed is returned when a provider is registered into, or Seal is
	// called on, a registry that is already sealed: live calls may read it.
	ErrSealed = errors.New("hooks: registry sealed")
	// ErrNotSealed is returned by Current.Swap for a registry still open for
	// registration.
	ErrNotSealed = errors.New("hooks: registry not sealed")
	// ErrRetired is returned when a registry is used after Retire: registering,
	// sealing, pinning, installing or retiring it again.
	ErrRetired = errors.New("hooks: registry retired")
	// ErrInstalled is returned by Retire for a registry that a Current still
	// holds; swap it out first.
	ErrInstalled = errors.New("hooks: registry installed in a Current")
	// ErrNoAdapter is returned when a foreign provider is registered on a hook
	// that has no adapter for the provider's kind.
	ErrNoAdapter = errors.New("hooks: no adapter for provider kind")
	// ErrBadProvider is returned when a provider cannot be registered as given:
	// an empty module name, a constraint naming the provider's own module, a
	// foreign value the adapter refuses.
	ErrBadProvider = errors.New("hooks: bad provider")
	// ErrCycle is returned by Seal when the before/after constraints of a
	// hook's providers form a cycle; the message names the cycle.
	ErrCycle = errors.New("hooks: ordering cycle")
	// ErrUnknownHook is returned by Registry.Show for a name no hook has.
	ErrUnknownHook = errors.New("hooks: unknown hook")
)
