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
	// ErrShuttingDown is returned by ExtInit when a generation would bind an
	// address after Drain began.
	ErrShuttingDown = errors.New("esmtp: shutting down")
	// ErrDrainTimeout is returned by Drain when sessions were still open at
	// its context's deadline and had to be cut off.
	ErrDrainTimeout = errors.New("esmtp: sessions cut off at the shutdown deadline")
	// ErrUsage is returned by Control for a command it does not know.
	ErrUsage = errors.New("esmtp: usage")
)
