package smtpproto

import "errors"

// Sentinel errors of package smtpproto. ParseCommand wraps them with %w and
// the part of the line at fault; callers test with errors.Is and choose the
// reply (500 for an unknown verb, 501 for bad arguments).
var (
	// ErrUnknownCommand is returned for a verb this package does not know.
	ErrUnknownCommand = errors.New("smtpproto: unknown command")
	// ErrSyntax is returned for a known verb with malformed or missing
	// arguments.
	ErrSyntax = errors.New("smtpproto: syntax error")
	// ErrBadPath is returned for a MAIL or RCPT path that is not a valid
	// mailbox (or the null path where it is allowed).
	ErrBadPath = errors.New("smtpproto: bad path")
	// ErrBadParam is returned for a malformed or unknown ESMTP parameter.
	ErrBadParam = errors.New("smtpproto: bad parameter")
	// ErrTooLong is returned for a path or a part of one over the RFC 5321
	// limits (local part 64, domain 255, path 256 octets).
	ErrTooLong = errors.New("smtpproto: too long")
	// ErrBadChar is returned for a line holding a NUL or another control
	// character where none may appear.
	ErrBadChar = errors.New("smtpproto: bad character")
)
