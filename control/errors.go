package control

import "errors"

// Sentinel errors. Every error this package returns wraps one of them, so callers test
// with errors.Is; the wrapping text names the address, file or command involved. An
// error the server sends back in reply to a command is a *ReplyError instead.
var (
	// ErrBadAddress reports a console address that is neither a socket path nor
	// host:port (or user@host:port, [v6]:port).
	ErrBadAddress = errors.New("control: invalid address")
	// ErrInsecureDir reports a socket directory that another user owns or may write:
	// a socket placed in it could be swapped for an impostor's.
	ErrInsecureDir = errors.New("control: insecure socket directory")
	// ErrInUse reports a socket path on which a live server already answers. The
	// socket is left alone: a second server never steals it.
	ErrInUse = errors.New("control: socket in use by a running server")
	// ErrNotSocket reports a socket path that holds something other than a socket,
	// which is never removed.
	ErrNotSocket = errors.New("control: path exists and is not a socket")
	// ErrSecret reports a TCP listener's secret file that is missing, empty, or
	// readable by users other than its owner.
	ErrSecret = errors.New("control: unusable secret file")
	// ErrNotAuthorized reports a login the server refused.
	ErrNotAuthorized = errors.New("control: not authorized")
	// ErrSyntax reports a request line that cannot be split into words (an
	// unterminated quote) or holds a newline.
	ErrSyntax = errors.New("control: syntax error in request")
	// ErrLineTooLong reports a request line longer than MaxRequestLine bytes.
	ErrLineTooLong = errors.New("control: request line too long")
	// ErrProtocol reports bytes that do not follow the protocol described in the
	// package comment, e.g. a peer that is not an ecelerity control endpoint.
	ErrProtocol = errors.New("control: protocol error")
	// ErrDuplicate reports a second registration of a command name.
	ErrDuplicate = errors.New("control: command already registered")
	// ErrBadCommand reports a command registration without a name or handler, or
	// with a name holding characters other than lower-case words.
	ErrBadCommand = errors.New("control: invalid command")
	// ErrClosed reports the use of a closed server or client.
	ErrClosed = errors.New("control: closed")
)

// ReplyError is a failure the server reported for one command (an ERR reply). The
// connection stays usable after it, unless the server closed it (a refused login, an
// over-long line).
type ReplyError struct {
	// Command is the request line as sent.
	Command string
	// Message is the server's error text, possibly several lines.
	Message string
}

// Error returns the server's message unchanged, so that the console can print it as
// the operator would expect.
func (e *ReplyError) Error() string { return e.Message }
