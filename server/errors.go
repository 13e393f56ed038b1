package server

import "errors"

// Sentinel errors of package server; errors returned wrap one of them.
var (
	// ErrPidfileHeld reports a pidfile locked by a running process: another daemon
	// with the same pidfile is up.
	ErrPidfileHeld = errors.New("server: pidfile held by a running process")
	// ErrControlInUse reports a control socket on which a live server answers.
	ErrControlInUse = errors.New("server: control socket in use by a running server")
	// ErrConfig reports a configuration that was rejected at start-up.
	ErrConfig = errors.New("server: configuration rejected")
	// ErrListen reports a listener that could not be bound.
	ErrListen = errors.New("server: cannot listen")
	// ErrState reports a call out of order: Start twice, Reload before Start.
	ErrState = errors.New("server: wrong state")
	// ErrReload reports a reload that was rejected; the running generation stays.
	ErrReload = errors.New("Reconfigure failed")
)
