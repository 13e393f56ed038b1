package esmtp

import "errors"

// Sentinel errors of package esmtp; functions wrap them with %w and context.
var (
	// ErrNoRuntime is returned by ConfSetup when the process did not Provide
	// the loop, pools and generations the listener runs on.
	ErrNoRuntime = errors.New("esmtp: no runtime provided")
	// ErrListen is returned by ExtInit when a Listen address cannot be bound;
	// the reload that needed it is rejected.
	ErrListen = errors.New("esmtp: cannot listen")
	// ErrSpool is returned by ExtInit when the spool cannot be opened.
	ErrSpool = errors.New("esmtp: cannot open spool")
	// ErrUsage is returned by Control for a command it does not know.
	ErrUsage = errors.New("esmtp: usage")
)
