package native

import "errors"

// Sentinel errors of package native. Errors returned by this package wrap one
// of these with %w and context (the module, the library path, the version),
// so callers test with errors.Is.
var (
	// ErrABI reports a module built for an ABI version this host does not
	// know; the message names both versions.
	ErrABI = errors.New("native: unknown module ABI version")
	// ErrSymbol reports a library without the symbol asked for: the module
	// entry point, or a cmod function.
	ErrSymbol = errors.New("native: no such symbol")
	// ErrNoLibrary reports a manifest without a shared object beside it.
	ErrNoLibrary = errors.New("native: no shared object")
	// ErrBadModule reports a module whose description is unusable: a NULL
	// entry result, a name that does not match its manifest, a missing
	// conf_setup.
	ErrBadModule = errors.New("native: bad module")
	// ErrNoExec reports a runtime directory on a file system mounted noexec:
	// the copies of libraries could not be mapped executable there.
	ErrNoExec = errors.New("native: runtime directory is mounted noexec")
	// ErrDlopen reports a library the dynamic linker refused.
	ErrDlopen = errors.New("native: dlopen failed")
	// ErrDowngrade reports code older than the persistent state it would
	// inherit: there is no automatic downgrade, the reload fails.
	ErrDowngrade = errors.New("native: state version newer than the module")
	// ErrMigrate reports a failed migration step of the persistent state.
	ErrMigrate = errors.New("native: state migration failed")
	// ErrRestart reports a change that a reload cannot apply: a new option or
	// memory type, a changed singleton flag. It takes a restart.
	ErrRestart = errors.New("native: change needs a restart")
	// ErrModule reports a module function that returned failure; the errors
	// of host functions it called are attached.
	ErrModule = errors.New("native: module function failed")
	// ErrNoAdapter reports a hook that native providers cannot register for:
	// it was not bound with Bind.
	ErrNoAdapter = errors.New("native: hook has no native adapter")
	// ErrBadParams reports bad arguments to a cmod call or a host function.
	ErrBadParams = errors.New("native: bad parameters")
	// ErrSystem reports a failed system call (copy, mmap, statfs).
	ErrSystem = errors.New("native: system error")
	// ErrChanged reports a cmod module whose file changed on disk since it
	// was loaded: load it again.
	ErrChanged = errors.New("native: module changed on disk")
	// ErrUnloaded reports use of a cmod module or function after unload.
	ErrUnloaded = errors.New("native: module unloaded")
	// ErrNotBound reports a module instance asked to work in a generation it
	// was not initialised for.
	ErrNotBound = errors.New("native: instance not initialised for this generation")
)
