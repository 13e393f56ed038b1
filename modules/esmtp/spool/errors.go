package spool

import "errors"

// Sentinel errors of package spool; functions wrap them with %w and context.
var (
	// ErrCorrupt is returned for a spool file whose trailer or envelope does
	// not check.
	ErrCorrupt = errors.New("spool: corrupt message file")
	// ErrNotFound is returned by Drop and Load for an id the spool does not
	// hold.
	ErrNotFound = errors.New("spool: no such message")
	// ErrBadID is returned for an id that cannot name a spool file.
	ErrBadID = errors.New("spool: bad message id")
	// ErrDuplicate is returned by a commit whose message id the spool
	// already holds.
	ErrDuplicate = errors.New("spool: message id already spooled")
	// ErrClosed is returned for work handed to a closed spool.
	ErrClosed = errors.New("spool: closed")
	// ErrOptions is returned by Open for unusable options.
	ErrOptions = errors.New("spool: bad options")
)
