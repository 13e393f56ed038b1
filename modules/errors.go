package modules

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of package modules. Errors returned by this package wrap one
// of these (errors.Is works through *ModuleError and *RejectedError).
var (
	// ErrMissing reports a module that the configuration or a dependency names
	// but that no loader can open (unknown name, or a manifest without code).
	ErrMissing = errors.New("modules: module missing")
	// ErrCycle reports msys.requires dependencies that form a cycle.
	ErrCycle = errors.New("modules: dependency cycle")
	// ErrStanza reports a module stanza of the wrong shape: an instance name on
	// a singleton, none on a non-singleton.
	ErrStanza = errors.New("modules: bad module stanza")
	// ErrSetup reports a module whose conf_setup failed. conf_setup runs once
	// per process, so such a module stays failed until the process restarts.
	ErrSetup = errors.New("modules: conf_setup failed")
	// ErrInit reports a module instance whose ext_init failed (init or post-init).
	ErrInit = errors.New("modules: ext_init failed")
	// ErrNotSetUp reports a configuration committed through the config store
	// (for example `config set`) that needs a module conf_setup has not run
	// for; only a reload through the module system may set modules up.
	ErrNotSetUp = errors.New("modules: module not set up")
	// ErrRejected reports a reload or commit that was rejected as a whole; the
	// running generation stays current.
	ErrRejected = errors.New("modules: reload rejected")
	// ErrUnknownCommand reports a control command whose first word names no
	// loaded module instance, or a module without control commands.
	ErrUnknownCommand = errors.New("modules: unknown command")
	// ErrOnLoop reports a reload attempted on the event loop goroutine: the
	// build would block the loop, and the swap waits for the loop.
	ErrOnLoop = errors.New("modules: reload called on the event loop")
	// ErrClosed reports use of a Manager after Close.
	ErrClosed = errors.New("modules: manager closed")
)

// ModuleError is an error of one module (instance) in one phase. It unwraps to
// the phase's sentinel (ErrSetup, ErrInit, ...) and to the module's own error.
type ModuleError struct {
	Module   string
	Instance string // "" for a singleton or when not instance-specific
	Phase    string // "conf_setup", "ext_init(init)", "ext_init(post-init)", "seal", ...
	Kind     error  // the sentinel
	Err      error
}

func (e *ModuleError) Error() string {
	return fmt.Sprintf("modules: %s: %s: %v", label(e.Module, e.Instance), e.Phase, e.Err)
}

// Unwrap returns the sentinel and the module's error.
func (e *ModuleError) Unwrap() []error { return []error{e.Kind, e.Err} }

// RejectedError is every error of a rejected reload, in the order found. It
// unwraps to ErrRejected and to each error.
type RejectedError struct {
	Errs []error
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	b.WriteString("modules: reload rejected")
	if len(e.Errs) == 1 {
		b.WriteString(": ")
		b.WriteString(e.Errs[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, ", %d errors:", len(e.Errs))
	for _, err := range e.Errs {
		b.WriteString("\n\t")
		b.WriteString(strings.ReplaceAll(err.Error(), "\n", "\n\t"))
	}
	return b.String()
}

// Unwrap returns ErrRejected followed by the individual errors.
func (e *RejectedError) Unwrap() []error { return append([]error{ErrRejected}, e.Errs...) }

// rejected returns errs as a *RejectedError, or nil when there are none.
func rejected(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &RejectedError{Errs: errs}
}

// label formats "module" or "module:instance" as the console writes it.
func label(module, instance string) string {
	if instance == "" {
		return module
	}
	return module + ":" + instance
}
