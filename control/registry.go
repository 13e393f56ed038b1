package control

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Command is one console command.
type Command struct {
	// Name is the command's words in lower case, e.g. "version" or "config reload".
	// Requests are matched case-insensitively, longest name first.
	Name string
	// Usage shows the arguments, e.g. "config reload [path]"; Name when empty.
	Usage string
	// Help is shown by `help <name>`; its first line also appears in `help`.
	Help string
	// Blocking says that Run may take long (disk, network, a pool): it then runs on the
	// connection's goroutine instead of through the server's Executor, so it never
	// stalls the master loop, and it must not touch loop state without handing work
	// over itself.
	Blocking bool
	// Mutating says that the command changes server state; every call is written to
	// the audit log with its result.
	Mutating bool
	// Hidden leaves the command out of `help` and completion.
	Hidden bool
	// Run executes the command with the words that follow its name and returns the
	// reply body, or an error whose text becomes the ERR reply. It runs in the
	// Executor (the master loop, for the daemon) unless Blocking is set. A panic is
	// recovered, logged and answered as an error.
	Run func(ctx *Ctx, args []string) (string, error)
	// Complete, when set, returns candidates for the last of args (the word being
	// typed; possibly ""), given the words before it. The server keeps only candidates
	// that start with that word. It runs where Run would.
	Complete func(args []string) []string
}

// Ctx describes the request a command is running for.
type Ctx struct {
	// Conn identifies the connection the request came on: unique among the
	// connections of one Server for its whole life, the same for every request of a
	// connection, never 0. Key per-connection state by it, not by Peer: one process
	// may hold several connections, and a TCP port is reused.
	Conn uint64
	// Peer names the other end: "uid=1000 pid=42" on a unix socket, ip:port on TCP.
	Peer string
	// User is the login name on TCP, the peer's user name on a unix socket.
	User string
	// Line is the request line as received.
	Line string

	conn *conn // nil in a Ctx the server did not make
	ctx  context.Context
}

// Context returns a context cancelled when the server closes and stops waiting for the
// commands in progress (see Server.CloseContext); long Blocking commands should watch
// it.
func (c *Ctx) Context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// OnClose registers fn to be called once when the request's connection ends, however
// it ends: the client quits or hangs up, it idles out, or the server closes. It is the
// place to drop per-connection state (an open transaction) at once rather than leave
// it to an expiry. Callbacks run in the order registered, on the connection's
// goroutine after the socket is closed and after its last command has returned; a
// panic in one is logged and the rest still run. When the connection has already ended
// (or c was not made by a Server) fn is called at once, on the caller's goroutine.
// OnClose may be called from any goroutine, including from Run on the Executor.
func (c *Ctx) OnClose(fn func()) {
	if c.conn == nil || !c.conn.addOnClose(fn) {
		fn()
	}
}

// Modules routes commands that start with a module's name, `name[:instance] args...`.
// The daemon implements it over its module system. Its methods are called through the
// server's Executor (on the master loop, for the daemon), never concurrently.
type Modules interface {
	// Route returns the command that handles args for the named module (instance is
	// "" when none was written), and false when no such module is loaded. The
	// returned command's Run receives args; its Name is only used in logs. Routed
	// commands are always audited, as module commands may change state.
	Route(module, instance string, args []string) (Command, bool)
	// Names returns the names of loaded modules that take commands, for completion.
	Names() []string
}

// Registry holds the commands of a server. The zero value is not usable; call
// NewRegistry. It is safe for concurrent use: modules may register and unregister while
// the server answers requests.
type Registry struct {
	// mu guards commands and longest.
	mu       sync.RWMutex
	commands map[string]Command // by Name
	longest  int                // most words in any Name
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{commands: make(map[string]Command)}
}

// Register adds a command. A name that is taken returns ErrDuplicate; an empty name or
// handler, or a name that is not lower-case words separated by single spaces, returns
// ErrBadCommand.
func (r *Registry) Register(c Command) error {
	if c.Run == nil || !validName(c.Name) {
		return fmt.Errorf("%w: %q", ErrBadCommand, c.Name)
	}
	if c.Usage == "" {
		c.Usage = c.Name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.commands[c.Name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, c.Name)
	}
	r.commands[c.Name] = c
	r.longest = max(r.longest, strings.Count(c.Name, " ")+1)
	return nil
}

// Unregister removes the named command and reports whether it was there; a module
// that goes away takes its commands with it.
func (r *Registry) Unregister(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.commands[name]
	delete(r.commands, name)
	return ok
}

// Lookup finds the command with the longest name that the leading words spell, and
// returns it with the number of words its name took.
func (r *Registry) Lookup(words []string) (Command, int, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for n := min(len(words), r.longest); n > 0; n-- {
		name := strings.ToLower(strings.Join(words[:n], " "))
		if c, ok := r.commands[name]; ok {
			return c, n, true
		}
	}
	return Command{}, 0, false
}

// Commands returns the registered commands sorted by name, hidden ones included.
func (r *Registry) Commands() []Command {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Command, 0, len(r.commands))
	for _, c := range r.commands {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Command) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// nameCandidates returns the next word of every visible command name that continues
// prefix (whole words, case-insensitive) with a word starting with partial.
func (r *Registry) nameCandidates(prefix []string, partial string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for name, c := range r.commands {
		if c.Hidden {
			continue
		}
		words := strings.Fields(name)
		if len(words) <= len(prefix) {
			continue
		}
		match := true
		for i, w := range prefix {
			if !strings.EqualFold(words[i], w) {
				match = false
				break
			}
		}
		if match && hasPrefixFold(words[len(prefix)], partial) {
			out = append(out, words[len(prefix)])
		}
	}
	return out
}

func validName(name string) bool {
	if name == "" || strings.HasPrefix(name, " ") || strings.HasSuffix(name, " ") || strings.Contains(name, "  ") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ' ') {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
