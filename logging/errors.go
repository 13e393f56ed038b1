package logging

import "errors"

// Sentinel errors of package logging; errors returned wrap one of them.
var (
	// ErrBadLevel reports a level name that is none of DEBUG, INFO, NOTICE,
	// WARNING, ERROR, CRITICAL.
	ErrBadLevel = errors.New("logging: unknown level")
	// ErrOpen reports a log file that cannot be opened.
	ErrOpen = errors.New("logging: cannot open log file")
	// ErrStale reports a Staged change applied or discarded twice, or applied
	// after another change was applied since it was staged.
	ErrStale = errors.New("logging: staged change no longer valid")
)
