// Package control is the control protocol of ecelerity: the socket on which the
// daemon takes commands (`config reload`, `memory`, `shutdown`, a module's own
// commands) and through which ec_console talks to it. It is a package of its own, at the
// top level, because both ends speak it: the daemon runs a Server, the console a Client,
// and neither should import the other's internals.
//
// # Main types
//
//   - Server listens on a unix socket (mode 0600 by default) and optionally on TCP
//     (loopback unless an address is given; always authenticated), runs one goroutine
//     per connection, and answers each request from a Registry of Commands. Commands
//     that touch server state run through an Executor (the daemon's runs them on the
//     master loop); commands marked Blocking run on the connection's goroutine, so a
//     slow one never stalls the loop. Mutating commands go to an audit log. Each
//     connection has an id (Ctx.Conn) and close callbacks (Ctx.OnClose), so that
//     commands keep per-connection state and drop it when the connection ends.
//   - Registry holds the commands; modules add theirs. A first word that is no command
//     but names a module (`name[:instance] args...`) is routed through Modules.
//   - Client dials an address (see ParseAddress) and sends requests with Do.
//
// # Protocol
//
// The protocol is line-based for requests and length-prefixed for replies, so that a
// reply can hold any bytes (several lines, an empty body, text that looks like a header)
// and an error can never be mistaken for output.
//
// On connect the server sends one greeting line:
//
//	EC-CONTROL 1                  no login needed (unix socket)
//	EC-CONTROL 1 AUTH <nonce>     login needed (TCP); nonce is 64 hex digits (32 random bytes)
//
// After an AUTH greeting the client's first line must be
//
//	AUTH <user> <mac>
//
// where mac is the lower-case hex HMAC-SHA256, keyed with the shared secret, of the raw
// nonce bytes followed by the user name. The secret itself never crosses the wire and
// the user is bound to the answer. The server replies `OK 0` and the session begins, or,
// after a delay, `ERR` with the body "Not Authorized" and closes the connection. Any
// other first line gets the same refusal at once.
//
// A request is one line of UTF-8 ending in "\n" (a "\r" before it is dropped), at most
// MaxRequestLine bytes including the newline; a longer line is answered with an ERR
// reply and the connection is closed, since the rest of it cannot be told from the next
// request. The line is split into words at spaces and tabs. A double quote starts a
// quoted part that runs to the next unescaped double quote; inside it a backslash takes
// the next character literally (`\"`, `\\`). Quoted parts may touch unquoted text and
// join it into one word; `""` is an empty word. Outside quotes a backslash is an ordinary
// character, so regular expressions need no doubling. An empty line is a no-op that gets
// `OK 0`.
//
// Every request gets exactly one reply:
//
//	OK <n>\n<n bytes of output>
//	ERR <n>\n<n bytes of error text>
//
// where n is a decimal byte count. Replies come in request order; a client may send the
// next request before reading the previous reply.
//
// The server closes a connection that sends no request for its idle timeout (60 s by
// default, Momentum's `Timeout`). `quit` is answered with `OK 0` and the connection is
// closed. When the server shuts down, a request already running is answered before
// the connection is closed (within a deadline); requests sent after it get no reply.
//
// # Commands
//
// The words are matched against the registered names, longest first, so "config
// reload" wins over "config". A few commands are built in: `help [command]`, `version`,
// `pid`, `quit`, and the hidden `__complete word... partial`, which returns one
// completion candidate per line for the last word (pass "" for an empty one) so that the
// console completes commands, sub-commands and module names that only the server knows.
package control
