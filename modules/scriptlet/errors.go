package scriptlet

import "errors"

// Sentinel errors of package scriptlet. Errors returned by this package wrap one of them
// with %w and context (the script, its file:line, the hook or the module), so callers test
// them with errors.Is.
var (
	// ErrSyntax reports a script that does not compile; the message carries file:line.
	ErrSyntax = errors.New("scriptlet: syntax error")
	// ErrLoad reports a script whose chunk, registerModule call or init() failed at load.
	ErrLoad = errors.New("scriptlet: load failed")
	// ErrNoSource reports a script whose source resolves to no readable file.
	ErrNoSource = errors.New("scriptlet: script source not found")
	// ErrTooLarge reports a script over the configured maximum size.
	ErrTooLarge = errors.New("scriptlet: script too large")
	// ErrNameMismatch reports a script whose msys.registerModule name differs from its
	// stanza (or Lua module) name.
	ErrNameMismatch = errors.New("scriptlet: registerModule name does not match the stanza")
	// ErrNoMethods reports a registerModule call whose table has no usable method.
	ErrNoMethods = errors.New("scriptlet: no usable methods")
	// ErrNoAdapter reports a method named after a declared hook that has no Lua adapter.
	ErrNoAdapter = errors.New("scriptlet: hook has no Lua adapter")
	// ErrInit reports an init() that did not return true.
	ErrInit = errors.New("scriptlet: init failed")
	// ErrDowngrade reports a script whose persistent state version is older than the
	// stored state: there is no automatic downgrade.
	ErrDowngrade = errors.New("scriptlet: persistent state is newer than the script")
	// ErrMigration reports a persistent-state migration that failed.
	ErrMigration = errors.New("scriptlet: state migration failed")
	// ErrRuntime reports a Lua runtime error in a call.
	ErrRuntime = errors.New("scriptlet: runtime error")
	// ErrTimeout reports a call that overran its deadline.
	ErrTimeout = errors.New("scriptlet: call deadline exceeded")
	// ErrCannotWait reports a blocking call (a synchronous msys.runInPool, Call.InPool,
	// msys.readfile, msys.core.io_wrapper_open) made where the caller can neither suspend
	// nor block: on the master loop, from a hook whose caller passed no Suspender.
	ErrCannotWait = errors.New("scriptlet: cannot wait here")
	// ErrUnavailable reports a Lua module whose scriptlet runtime is unavailable.
	ErrUnavailable = errors.New("scriptlet: runtime unavailable")
	// ErrClosed reports use of a generation or runtime that has been closed.
	ErrClosed = errors.New("scriptlet: closed")
	// ErrUnknownCommand reports a console command no script registered.
	ErrUnknownCommand = errors.New("scriptlet: unknown command")
)
